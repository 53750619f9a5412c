"""The clinsite benchmark: a synthetic corpus, whole-process timings, a Markdown table.

Run it with ``python -m clinsite.bench --help``; docs/performance.md explains the output.
"""
