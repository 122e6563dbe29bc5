"""Run every benchmark and print the ratios table (Markdown) for benchmarks/README.md.

Usage: ``python benchmarks/run.py [area ...]`` where area is one of the ``bench_*.py`` modules
(core, sqlite, dynamodb, otlp, ingest, viewer, bedrock, privacy); all by default. Exit status 1
when a target is missed.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

from _harness import Report

AREAS = ["core", "sqlite", "dynamodb", "otlp", "ingest", "viewer", "bedrock", "privacy"]


def main(argv: list[str]) -> int:
    """Run the chosen areas' benchmarks into one report."""
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    areas = argv or [a for a in AREAS if (here / f"bench_{a}.py").exists()]
    # The library's own warnings (a bounded in-memory tracer evicting, say) are expected here.
    logging.getLogger("generative_ai_toolkit.tracer").setLevel(logging.ERROR)
    report = Report()
    for area in areas:
        print(f"== {area}", flush=True)
        module = importlib.import_module(f"bench_{area}")
        module.run(report)
    print()
    print(report.markdown())
    return 0 if report.all_met else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
