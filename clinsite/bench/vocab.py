"""The fixed word lists the synthetic benchmark corpus is drawn from.

Data only. Every word is plain ASCII letters, so a word count is a count of
``[A-Za-z]+`` runs; none of it is a clinical claim.
"""

from __future__ import annotations

_WORDS_TEXT = """
patients adults children infants older adolescents women men cohort population
participants group groups clinicians prescribers nurses pharmacists caregivers
dose doses dosing regimen regimens course courses interval intervals duration
therapy therapies treatment treatments intervention interventions comparator
placebo trial trials study studies review reviews analysis analyses evidence
outcome outcomes endpoint endpoints mortality morbidity admission admissions
relapse recurrence remission response responses failure resistance tolerance
infection infections inflammation fever pain nausea rash oedema bleeding
clearance exposure absorption distribution metabolism excretion interaction
renal hepatic cardiac pulmonary neurological gastrointestinal dermatological
oral intravenous topical subcutaneous intramuscular inhaled extended immediate
acute chronic severe mild moderate early late recurrent persistent refractory
randomised controlled observational prospective retrospective systematic
pooled adjusted unadjusted absolute relative modest marked consistent similar
higher lower shorter longer fewer more less reduced increased unchanged stable
benefit benefits harm harms risk risks rate rates ratio ratios incidence
prevalence adherence monitoring follow up assessment screening diagnosis
testing culture sequencing imaging biopsy serum plasma level levels threshold
baseline week weeks month months year years day days hour hours episode episodes
first second third initial subsequent maintenance loading tapering stopping
switching escalation reduction adjustment selection choice guidance practice
label labelling guideline guidelines recommendation recommendations consensus
panel society committee authors investigators reviewers editors sources
the a an of in with without for among after before during within between versus
and or but than when while whereas although because so that which who whose
was were is are be been may might can could should did not no also only both
compared associated reported observed found showed suggested confirmed noted
measured recorded defined described estimated assessed treated enrolled
randomly allocated followed stratified excluded included limited uncertain
clear unclear small large overall common rare frequent important relevant
"""
WORDS: tuple[str, ...] = tuple(_WORDS_TEXT.split())

HEADINGS: tuple[str, ...] = (
    "Background", "Who is at risk", "Dosing", "Monitoring", "Evidence from trials",
    "Adverse effects", "Interactions", "Special populations", "Renal impairment",
    "Hepatic impairment", "Duration of therapy", "When to refer", "Comparison of options",
    "Practical points", "Uncertainties", "Follow up", "Stopping treatment", "Diagnosis",
)

TITLE_STEMS: tuple[str, ...] = (
    "Should", "Does", "Is", "When should", "How long should", "Which patients should",
    "Can", "What dose of",
)

AGENTS: tuple[str, ...] = (
    "aciclomab", "bentorivir", "cardaxolol", "dermapril", "eluvatide", "fenoxastat",
    "glucaferon", "hepazolin", "ibrulimab", "jentaprazole", "kelocycline", "lumivastin",
    "metrafloxin", "neuramidone", "oxaparinol", "pentoglitazar",
)

CONDITIONS: tuple[str, ...] = (
    "sepsis", "pneumonia", "cellulitis", "asthma", "heart failure", "atrial fibrillation",
    "type 2 diabetes", "migraine", "gout", "urinary infection", "psoriasis", "epilepsy",
    "hypertension", "osteoporosis", "depression", "chronic kidney disease",
)

POPULATIONS: tuple[str, ...] = (
    "adults", "older adults", "children", "pregnancy", "renal impairment",
    "hepatic impairment", "primary care", "hospital inpatients",
)

TAGS: tuple[str, ...] = (
    "antibiotics", "antivirals", "cardiology", "dermatology", "endocrinology", "geriatrics",
    "infection", "nephrology", "neurology", "paediatrics", "pharmacology", "pregnancy",
    "prescribing", "primary-care", "respiratory", "rheumatology", "safety", "screening",
)

SURNAMES: tuple[str, ...] = (
    "Smith", "Okafor", "Nguyen", "Garcia", "Kowalski", "Haddad", "Tanaka", "Johansson",
    "Rossi", "Patel", "O'Brien", "Fischer", "Mensah", "Silva", "Novak", "Andersen",
    "Kim", "Dubois", "Moreno", "Lindqvist", "Chen", "Abdullah", "Murphy", "Ivanova",
    "Walker", "Bianchi", "Hughes", "Sato", "Van der Berg", "Costa", "Nakamura", "Khan",
)
# A few surnames written with BibTeX accents, as real stores have them.
ACCENTED: tuple[tuple[str, str], ...] = (
    ("M{\\\"u}ller", "muller"), ("Garc{\\'i}a-L{\\'o}pez", "garcialopez"),
    ("Br{\\o}nsted", "bronsted"), ("Sch{\\\"o}n", "schon"), ("Fran{\\c{c}}ois", "francois"),
)

GIVEN: tuple[str, ...] = (
    "Anna", "James", "Maria", "Wei", "Olu", "Sofia", "David", "Aisha", "Lars", "Elena",
    "Tomasz", "Yuki", "Kwame", "Priya", "Liam", "Nadia", "Carlos", "Ingrid", "Samuel",
    "Hana", "Mateo", "Grace", "Omar", "Julia", "Henrik", "Amara", "Paolo", "Ruth",
)

JOURNALS: tuple[str, ...] = (
    "N Engl J Med", "Lancet", "JAMA", "BMJ", "Ann Intern Med", "Clin Infect Dis",
    "J Antimicrob Chemother", "Antimicrob Agents Chemother", "Circulation", "Eur Heart J",
    "Diabetes Care", "Thorax", "Pediatrics", "Br J Clin Pharmacol", "Cochrane Database Syst Rev",
    "J Am Geriatr Soc", "Kidney Int", "Neurology", "Rheumatology (Oxford)", "Br J Dermatol",
)

ORGANISATIONS: tuple[tuple[str, str], ...] = (
    ("National Institute for Health and Care Excellence", "www.nice.org.uk"),
    ("World Health Organization", "www.who.int"),
    ("Centers for Disease Control and Prevention", "www.cdc.gov"),
    ("European Medicines Agency", "www.ema.europa.eu"),
    ("Scottish Intercollegiate Guidelines Network", "www.sign.ac.uk"),
)

MONTHS: tuple[str, ...] = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
)

TABLE_OUTCOMES: tuple[str, ...] = (
    "Clinical cure", "Relapse at one year", "Serious adverse events", "Discontinuation",
    "Hospital admission", "Mortality", "Symptom resolution", "Recurrence",
)
