"""The output formats of each command, apart from the renderers: the command line lists them
in every command's options at start-up, and should not have to import every renderer (and
the analysis it renders) to do so."""

from __future__ import annotations

CONNLIST = ("txt", "json", "csv", "md", "dot")
GROUPED = ("txt", "json", "md", "dot")
BLAST = ("txt", "json")
COVERAGE = ("text", "json", "md")
COVERAGE_TOP = 10
"""How many workloads coverage's "do next" lists by default (text and md)."""
DIFF = ("txt", "json", "csv", "md")
LINT = ("text", "json", "sarif")
