"""``python -m bench [NAME ...] [--quick]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from bench import BenchContext, discover, run_benchmark


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); 1 if one of them broke, whatever the figures."""
    registered = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", choices=[[], *(b.name for b in registered)])
    parser.add_argument("--quick", action="store_true", help="one run of everything (smoke)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    options = parser.parse_args(argv)
    if options.list:
        print("\n".join(entry.name for entry in registered))
        return 0
    chosen = [entry for entry in registered if not options.names or entry.name in options.names]
    context = BenchContext(quick=options.quick)
    broken = 0
    started = time.perf_counter()
    try:
        for entry in chosen:
            begun = time.perf_counter()
            try:
                tables = run_benchmark(entry.name, context)
            except Exception:
                broken += 1
                print(f"{entry.name}: FAILED", flush=True)
                traceback.print_exc()
                continue
            for table in tables:
                print(table.render(), end="\n\n", flush=True)
            print(f"({entry.name}: {time.perf_counter() - begun:.1f} s)", end="\n\n", flush=True)
    finally:
        context.close()
    print(f"{len(chosen)} benchmarks in {time.perf_counter() - started:.1f} s, {broken} failed")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
