"""Generators of the reference pages in docs/ from the code's own tables: the error
catalogue, the configuration reference and the metrics catalogue (`python -m
tools.docgen`; `--check` fails when a page is stale)."""
