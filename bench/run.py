"""The benchmark runner: ``make bench`` (or ``.venv/bin/python -m bench.run``).

Runs every group of figures (or those named with --only), prints one table with each figure beside
its same-run baseline, and saves it as JSON and a chart under bench/results/. --quick runs every
figure at a small volume, in seconds: what the smoke test does (it checks completion, never times).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

from bench.report import Figure, save, table

# Group name → module of bench/figures; run in this order (cheap first).
GROUPS = ["sweep", "board", "intake", "throughput", "resume", "idle", "spiff"]


def run(groups: list[str], *, quick: bool, out: Path) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    failed: list[str] = []
    for name in groups:
        started = time.monotonic()
        print(f"== {name} …", flush=True)
        try:
            module = importlib.import_module(f"bench.figures.{name}")
            got = module.run(quick=quick)
        except Exception:  # one group failing must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        figures.extend(got)
        print(table(got), flush=True)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return figures, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=GROUPS, help="run only these groups")
    parser.add_argument("--quick", action="store_true", help="small volumes: seconds, not minutes")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    figures, failed = run(args.only or GROUPS, quick=args.quick, out=args.out)
    print("\n== all figures")
    print(table(figures))
    json_path, chart = save(figures, args.out)
    print(f"\nsaved {json_path}" + (f" and {chart}" if chart else " (install the bench extra for a chart)"))
    if failed:
        print(f"failed groups: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
