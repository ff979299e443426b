"""Stage 6, the site: everything computed -> per-language views -> HTML -> files.

``views`` gathers what each page shows; ``pages`` renders it; ``writer`` writes the site folder and ``results``
its results.json; ``webfont``, ``bundle`` (one self-contained file), ``printing`` (PDF) and ``serve`` (a local
preview) finish and publish it.
"""
