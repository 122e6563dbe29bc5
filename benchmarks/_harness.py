"""Shared measuring and reporting for the benchmark script.

Machines here are shared and noisy, so every figure is reported as a ratio against a baseline
measured in the same run, interleaved (baseline and case alternate, best of several rounds).
"""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def best_time_per_op(
    fn: Callable[[], object], *, ops_per_call: int, number: int, rounds: int
) -> float:
    """Best-of-``rounds`` seconds per op; one ``fn()`` call does ``ops_per_call`` ops."""
    best = float("inf")
    for _ in range(rounds):
        # Collected before each round, then left on: programs run with it, and the floor's dicts
        # and a tracer's spans pay for it alike.
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed / (number * ops_per_call))
    return best


def interleaved(
    cases: dict[str, Callable[[], object]], *, ops_per_call: int, number: int, rounds: int
) -> dict[str, float]:
    """Seconds per op of each case, measured round-robin so drift hits all cases alike."""
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t = best_time_per_op(fn, ops_per_call=ops_per_call, number=number, rounds=1)
            best[name] = min(best[name], t)
    return best


@dataclass
class Row:
    case: str
    measured: str
    target: str
    ok: bool


@dataclass
class Report:
    """Rows of (case, measured figure, target, met?) printed as a Markdown table."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, case: str, measured: str, target: str, ok: bool) -> None:
        self.rows.append(Row(case, measured, target, ok))
        print(f"  {'ok  ' if ok else 'MISS'} {case}: {measured} (target {target})", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def markdown(self) -> str:
        lines = [
            f"Machine: {platform.machine()}, {platform.python_implementation()} "
            f"{platform.python_version()}, {platform.system()} {platform.release()}",
            "",
            "| case | measured | target | met |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.case} | {r.measured} | {r.target} | {'yes' if r.ok else 'NO'} |"
            for r in self.rows
        ]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    @property
    def all_met(self) -> bool:
        return all(r.ok for r in self.rows)
