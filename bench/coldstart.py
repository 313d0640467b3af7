"""Cold-start import time of every Lambda handler: the API and each function of template.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import BenchContext, Table, benchmark, median_and_min
from chalicelib.jobs.template import STACK_NAME, load_template, read_wiring

ROOT = Path(__file__).resolve().parent.parent
API_HANDLER = "app.app"
RUNS = 7
GOALS_MS: dict[str, float] = {API_HANDLER: 400.0}  # the API's goal, from the issue

# Timed inside the child so that interpreter start-up is excluded, as Lambda's init phase reports it.
_CHILD = """
import importlib, sys, time
started = time.perf_counter()
module_name, _, attribute = sys.argv[1].rpartition(".")
getattr(importlib.import_module(module_name), attribute)
print(time.perf_counter() - started)
"""


def handlers() -> list[tuple[str, str]]:
    """(name, ``module.attr``) of the API and of every function in template.yaml."""
    wiring = read_wiring(load_template(ROOT / "template.yaml"), STACK_NAME)
    return [("API", API_HANDLER), *sorted(wiring.functions.items())]


def import_ms(handler: str) -> float:
    """Milliseconds to import ``handler`` in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, handler], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing {handler} failed:\n{completed.stderr}")
    return float(completed.stdout.strip().splitlines()[-1]) * 1000


def measure(handler: str, runs: int) -> list[float]:
    """``runs`` import times of ``handler``, after one unmeasured run that writes the bytecode caches."""
    import_ms(handler)
    return [import_ms(handler) for _ in range(runs)]


@benchmark("cold-start", order=10)
def cold_start(context: BenchContext) -> Table:
    """Import time of each handler: median and minimum, against its goal where one is set."""
    runs = context.runs(RUNS)
    rows: list[list[str | int | float | None]] = []
    for name, handler in handlers():
        median, fastest = median_and_min(measure(handler, runs))
        goal = GOALS_MS.get(handler)
        status = None if goal is None else ("PASS" if median < goal else "OVER")
        rows.append([name, handler, median, fastest, goal, status])
    return Table(
        title=f"Cold-start import time (ms, {runs} fresh interpreters each)",
        columns=["function", "handler", "median", "min", "goal", "status"],
        rows=rows,
        notes=[
            "import of module.attr timed inside the child; interpreter start-up excluded; .pyc caches warm",
            "status compares the median with the goal; OVER does not fail the command",
        ],
    )
