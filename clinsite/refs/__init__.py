"""References in: exported records (RIS, CSL-JSON, PubMed/MEDLINE) or identifiers -> BibTeX.

One module per step: the readers (`ris`, `csl`, `medline`) turn a file into `Work`
values; `bibtex` turns a `Work` into a keyed entry; `importer` refuses duplicates of
the store and appends the rest; `fetch` asks Crossref or PubMed; `check` reports on
the store as the pipeline sees it.
"""
