"""Shared test data for the reference stage: the sample store and a small site writer."""
# ruff: noqa: E501  (the sample store is kept verbatim: its line numbers are asserted)

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# A verbatim copy of the project's sample reference store (shared/sample-references.bib):
# tests assert exact Vancouver strings and exact file positions against it.
SAMPLE_BIB = """\
% sample-references.bib -- the reference store of the clinsite sample site
% (valacyclovir / HSV example pages).
% Each entry's verification status is listed in sample-content-facts.md.
% Entries without doi/pmid: the identifier could not be confirmed, so it was
% left out rather than guessed.

@article{workowski2021sti,
  author  = {Workowski, Kimberly A. and Bachmann, Laura H. and Chan, Philip A. and Johnston, Christine M. and Muzny, Christina A. and Park, Ina and Reno, Hilary and Zenilman, Jonathan M. and Bolan, Gail A.},
  title   = {Sexually Transmitted Infections Treatment Guidelines, 2021},
  journal = {MMWR Recomm Rep},
  year    = {2021},
  month   = jul,
  volume  = {70},
  number  = {4},
  pages   = {1--187},
  doi     = {10.15585/mmwr.rr7004a1},
  pmid    = {34292926},
  pmcid   = {PMC8344968},
  note    = {Centers for Disease Control and Prevention; published 2021 Jul 23},
  kind    = {guideline}
}

@article{piret2011resistance,
  author  = {Piret, Jocelyne and Boivin, Guy},
  title   = {Resistance of herpes simplex viruses to nucleoside analogues: mechanisms, prevalence, and management},
  journal = {Antimicrob Agents Chemother},
  year    = {2011},
  month   = feb,
  volume  = {55},
  number  = {2},
  pages   = {459--472},
  doi     = {10.1128/AAC.00615-10},
  pmid    = {21078929},
  pmcid   = {PMC3028810},
  note    = {Epub 2010 Nov 15},
  kind    = {review}
}

@article{gilbert2002resistance,
  author  = {Gilbert, Christian and Bestman-Smith, Julie and Boivin, Guy},
  title   = {Resistance of herpesviruses to antiviral drugs: clinical impacts and molecular mechanisms},
  journal = {Drug Resist Updat},
  year    = {2002},
  volume  = {5},
  number  = {2},
  pages   = {88--114},
  note    = {Issue number, author given names, DOI and PMID not verified; DOI and PMID left out},
  kind    = {review}
}

@article{bacon2003resistance,
  author  = {Bacon, Teresa H. and Levin, Myron J. and Leary, Jeffry J. and Sarisky, Robert T. and Sutton, David},
  title   = {Herpes simplex virus resistance to acyclovir and penciclovir after two decades of antiviral therapy},
  journal = {Clin Microbiol Rev},
  year    = {2003},
  month   = jan,
  volume  = {16},
  number  = {1},
  pages   = {114--128},
  doi     = {10.1128/CMR.16.1.114-128.2003},
  pmid    = {12525428},
  pmcid   = {PMC145299},
  kind    = {review}
}

@article{spruance2003valacyclovir,
  author  = {Spruance, Spotswood L. and Jones, Terry M. and Blatter, Mark M. and Vargas-Cortes, Mauricio and Barber, Judy and Hill, Joanne and Goldstein, Donna and Schultz, Margaret},
  title   = {High-dose, short-duration, early valacyclovir therapy for episodic treatment of cold sores: results of two randomized, placebo-controlled, multicenter studies},
  journal = {Antimicrob Agents Chemother},
  year    = {2003},
  month   = mar,
  volume  = {47},
  number  = {3},
  pages   = {1072--1080},
  doi     = {10.1128/AAC.47.3.1072-1080.2003},
  pmid    = {12604544},
  note    = {PMID from memory, unverified},
  kind    = {research}
}

@article{safrin1991foscarnet,
  author  = {Safrin, Sharon and Crumpacker, Clyde and Chatis, Peter and Davis, Richard and Hafner, Richard and Rush, James and Kessler, Harold A. and Landry, Barbara and Mills, John},
  title   = {A controlled trial comparing foscarnet with vidarabine for acyclovir-resistant mucocutaneous herpes simplex in the acquired immunodeficiency syndrome},
  journal = {N Engl J Med},
  year    = {1991},
  month   = aug,
  volume  = {325},
  number  = {8},
  pages   = {551--555},
  doi     = {10.1056/NEJM199108223250805},
  pmid    = {1649971},
  note    = {For the AIDS Clinical Trials Group. Co-author list and given names from memory, unverified},
  kind    = {research}
}

@article{lalezari1997cidofovir,
  author  = {Lalezari, Jacob and others},
  title   = {A randomized, double-blind, placebo-controlled trial of cidofovir gel for the treatment of acyclovir-unresponsive mucocutaneous herpes simplex virus infection in patients with {AIDS}},
  journal = {J Infect Dis},
  year    = {1997},
  volume  = {176},
  number  = {4},
  pages   = {892--898},
  note    = {Full author list, month, DOI and PMID not verified; DOI and PMID left out},
  kind    = {research}
}

@misc{oipanel_adult_hsv,
  author       = {{Panel on Guidelines for the Prevention and Treatment of Opportunistic Infections in Adults and Adolescents with HIV}},
  title        = {Guidelines for the Prevention and Treatment of Opportunistic Infections in Adults and Adolescents with {HIV}: Herpes Simplex Virus},
  organization = {National Institutes of Health, Centers for Disease Control and Prevention, HIV Medicine Association of the Infectious Diseases Society of America},
  howpublished = {Web guideline (living document), clinicalinfo.hiv.gov},
  url          = {https://clinicalinfo.hiv.gov/en/guidelines/adult-and-adolescent-opportunistic-infection/herpes-simplex-virus},
  urldate      = {2026-11-21},
  note         = {Canonical title verified. Section URL and current update date are not verified; an older copy (last updated 2015 Sep 17) was hosted at aidsinfo.nih.gov},
  kind         = {guideline}
}

@misc{valtrex2022label,
  author       = {{GlaxoSmithKline LLC}},
  title        = {{VALTREX} (valacyclovir hydrochloride) tablets, for oral use: Full Prescribing Information},
  organization = {GlaxoSmithKline LLC},
  howpublished = {US FDA-approved prescribing information, DailyMed},
  year         = {2022},
  url          = {https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=0173-0933&searchdb=ndc},
  urldate      = {2026-11-21},
  note         = {DailyMed record for NDC 0173-0933/0173-0565 updated 2022 Nov 14; the label's own revision date is not confirmed},
  kind         = {label}
}

@article{weller1993pharmacokinetics,
  author  = {Weller, S. and Blum, M. R. and Doucette, M. and others},
  title   = {Pharmacokinetics of the acyclovir pro-drug valaciclovir after escalating single- and multiple-dose administration to normal volunteers},
  journal = {Clin Pharmacol Ther},
  year    = {1993},
  month   = dec,
  volume  = {54},
  number  = {6},
  pages   = {595--605},
  doi     = {10.1038/clpt.1993.196},
  pmid    = {8275615},
  note    = {PMID taken from a PubMed mirror address, not from PubMed itself},
  kind    = {research}
}

@article{schalkwijk2022acyclovir,
  author  = {Schalkwijk, Hanna H. and Snoeck, Robert and Andrei, Graciela},
  title   = {Acyclovir resistance in herpes simplex viruses: prevalence and therapeutic alternatives},
  journal = {Biochem Pharmacol},
  year    = {2022},
  volume  = {206},
  pages   = {115322},
  doi     = {10.1016/j.bcp.2022.115322},
  note    = {Article number 115322. DOI follows the journal's pattern but was not seen in a source (from memory, unverified); PMID not verified and left out},
  kind    = {review}
}

@article{balfour1994management,
  author  = {Balfour, Henry H. and Benson, Constance and Braun, James and Cassens, Brett and Erice, Alejo and Friedman-Kien, Alvin and Klein, Thomas and Polsky, Bruce and Safrin, Sharon},
  title   = {Management of acyclovir-resistant herpes simplex and varicella-zoster virus infections},
  journal = {J Acquir Immune Defic Syndr (1988)},
  year    = {1994},
  month   = mar,
  volume  = {7},
  number  = {3},
  pages   = {254--260},
  pmid    = {8106965},
  note    = {Consensus (round-table) report; no DOI found},
  kind    = {guideline}
}

@misc{foscavir_label,
  author       = {{Clinigen}},
  title        = {{FOSCAVIR} (foscarnet sodium) injection: Prescribing Information},
  organization = {Clinigen},
  howpublished = {US FDA-approved prescribing information, DailyMed},
  url          = {https://dailymed.nlm.nih.gov/dailymed/search.cfm?query=foscavir},
  urldate      = {2026-11-21},
  note         = {Boxed warning and warnings checked against label reprints; revision year and DailyMed setid not verified (a 2024 Clinigen listing was seen)},
  kind         = {label}
}
"""


def write_refs(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``references/<name>`` files under `root` and return `root`."""
    folder = root / "references"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if isinstance(data, bytes):
            (folder / name).write_bytes(data)
        else:
            (folder / name).write_text(data, encoding="utf-8")
    return root
