"""``make bench``: performance figures printed as text tables.

A benchmark is a function registered with :func:`benchmark` that takes the :class:`BenchContext` and
returns one or more :class:`Table`. Every module of this package is imported by :func:`discover`, so a
new ``bench/<topic>.py`` that registers benchmarks (or operations, see :mod:`bench.stack`) shows up in
``python -m bench`` without further wiring. Goals belong in the printed figures, never in timed tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

Cell = str | int | float | None
T = TypeVar("T")


@dataclass(frozen=True)
class Table:
    """A titled table; numbers are right-aligned, floats printed with one decimal."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    notes: Sequence[str] = ()

    def column(self, name: str) -> list[Cell]:
        """The values of one column, top to bottom."""
        index = list(self.columns).index(name)
        return [row[index] for row in self.rows]

    def render(self) -> str:
        """The table as aligned text."""
        cells = [[_format(value) for value in row] for row in self.rows]
        widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(self.columns)]
        numeric = [
            bool(self.rows) and all(isinstance(row[i], int | float) or row[i] is None for row in self.rows)
            for i in range(len(self.columns))
        ]

        def line(values: Sequence[str]) -> str:
            parts = [
                value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
                for i, value in enumerate(values)
            ]
            return "  ".join(parts).rstrip()

        out = [self.title, "=" * len(self.title), line(self.columns), line(["-" * w for w in widths])]
        out += [line(row) for row in cells]
        out += [f"  {note}" for note in self.notes]
        return "\n".join(out)


def _format(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@dataclass
class BenchContext:
    """What benchmarks share in one run: the scale, and resources opened once (a moto server)."""

    quick: bool = False  # tiny scale (smoke tests): fewest runs that still produce every row
    endpoint: str | None = None  # a moto server already running with AWS_* set; None starts one
    resources: ExitStack = field(default_factory=ExitStack)
    _shared: dict[str, Any] = field(default_factory=dict)

    def runs(self, full: int) -> int:
        """How many repetitions to make of something ``full`` times at full scale."""
        return 1 if self.quick else full

    def shared(self, key: str, factory: Callable[[BenchContext], T]) -> T:
        """A value made once per context by ``factory`` (which may enter ``self.resources``)."""
        if key not in self._shared:
            self._shared[key] = factory(self)
        value: T = self._shared[key]
        return value

    def close(self) -> None:
        """Release everything opened for the benchmarks."""
        self.resources.close()
        self._shared.clear()


Benchmark = Callable[[BenchContext], Table | Sequence[Table]]


@dataclass(frozen=True)
class Registered:
    """A registered benchmark."""

    name: str
    run: Benchmark
    order: int


BENCHMARKS: dict[str, Registered] = {}


def benchmark(name: str, *, order: int = 100) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark; lower ``order`` runs first, then by name."""

    def register(function: Benchmark) -> Benchmark:
        if name in BENCHMARKS and BENCHMARKS[name].run is not function:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = Registered(name, function, order)
        return function

    return register


def discover() -> list[Registered]:
    """Import every module of this package; returns the benchmarks in running order."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return sorted(BENCHMARKS.values(), key=lambda entry: (entry.order, entry.name))


def run_benchmark(name: str, context: BenchContext) -> list[Table]:
    """Run one benchmark by name."""
    result = BENCHMARKS[name].run(context)
    return [result] if isinstance(result, Table) else list(result)


def median_and_min(samples: Sequence[float]) -> tuple[float, float]:
    """The median and the minimum of ``samples``."""
    return statistics.median(samples), min(samples)
