"""The benchmark runner: ``make bench`` (or ``.venv/bin/python -m bench.run``).

Runs every group of figures (or those named with --only), prints one table with each figure beside
its same-run baseline, saves it as JSON and a chart under bench/results/, and rewrites the groups'
sections of docs/performance.md. --quick runs every figure at a small volume, in seconds: what the
smoke test does (it checks completion, never times); quick figures never reach docs/performance.md.
--write-docs-only rewrites that page from the result files already saved, running nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import perf_page
from bench.groups import GROUPS
from bench.procs import machine_cpu_seconds
from bench.report import Figure, save, table


def run(groups: list[str], *, quick: bool) -> tuple[list[Figure], dict[str, dict[str, Any]]]:
    """Run the groups; return their figures and, per group, its seconds, the machine's steal, failure."""
    figures: list[Figure] = []
    seen: dict[str, dict[str, Any]] = {}
    for name in groups:
        started, machine = time.monotonic(), machine_cpu_seconds()
        print(f"== {name} …", flush=True)
        failed = False
        try:
            module = importlib.import_module(f"bench.figures.{name}")
            got: list[Figure] = module.run(quick=quick)
        except Exception:  # one group failing must not hide the others' figures
            traceback.print_exc()
            failed, got = True, []
        seconds, steal = time.monotonic() - started, machine_cpu_seconds()["steal"] - machine["steal"]
        seen[name] = {"seconds": round(seconds, 1), "steal_s": round(steal, 2), "failed": failed}
        if got:
            figures.extend(got)
            print(table(got), flush=True)
        print(f"   ({seconds:.0f} s)", flush=True)
    return figures, seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=list(GROUPS), help="run only these groups")
    parser.add_argument("--quick", action="store_true", help="small volumes: seconds, not minutes")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument(
        "--docs", type=Path, default=perf_page.PAGE, help="the page the figures are written to"
    )
    parser.add_argument(
        "--write-docs-only",
        action="store_true",
        help="rewrite the page from the result files in --out, running nothing",
    )
    args = parser.parse_args(argv)
    if args.write_docs_only:
        results = sorted(args.out.glob("bench-*.json"))
        updated = perf_page.write(results, args.docs)
        print(
            f"wrote {args.docs} from {len(results)} result files: {', '.join(updated) or 'no group'} updated"
        )
        return 0
    figures, seen = run(args.only or list(GROUPS), quick=args.quick)
    print("\n== all figures")
    print(table(figures))
    json_path, chart = save(figures, args.out, quick=args.quick, groups=seen)
    print(f"\nsaved {json_path}" + (f" and {chart}" if chart else " (install the bench extra for a chart)"))
    if not args.quick:
        updated = perf_page.write([json_path], args.docs)
        print(f"wrote {args.docs}: {', '.join(updated) or 'no group'} updated")
    failed = [name for name, s in seen.items() if s["failed"]]
    if failed:
        print(f"failed groups: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
