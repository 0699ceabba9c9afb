"""`python -m bench`: run every benchmark, print one table, write the same figures to bench/results/latest.json.

    .venv/bin/python -m bench [--quick] [--only gate,cluster,ticks,system] [--runs 3] [--out FILE]

Exit 0 when every section ran (targets missed are reported, not failures), 1 when a section failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench import exit_on_sigterm
from bench.suite import REPO, RUNNERS, SECTIONS, Row, Settings

DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older numpy prints instead of returning
        blas_name = "unknown"
    return {"cpu": cpu, "cpus_logical": psutil.cpu_count(), "cpus_physical": psutil.cpu_count(logical=False),
            "load_average_start": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas_name,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}


def number(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(rows: list[Row]) -> str:
    """A Markdown table: readable in a terminal and pasted as is into docs/benchmarks.md."""
    lines = ["| figure | median | min | max | runs | target | met | note |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        unit = f" {r.unit}" if r.unit and r.unit not in ("/s", "%") else r.unit
        target = f"{r.target}{unit}" if r.target else ""
        met = {True: "yes", False: "**no**", None: ""}[r.met]
        lines.append(f"| {r.label} | {number(r.median)}{unit} | {number(r.min)} | {number(r.max)} | {r.runs} "
                     f"| {target} | {met} | {r.note} |")
    return "\n".join(lines)


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m['cpu']}, {m['cpus_logical']} CPUs ({m['cpus_physical']} physical), {m['memory_gb']} GB; "
            f"load average at start {' '.join(str(x) for x in m['load_average_start'])}; "
            f"Python {m['python']}, numpy {m['numpy']} with {m['blas']} (OPENBLAS_NUM_THREADS {m['openblas_num_threads']}); "
            f"{m['platform']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short durations, 2 runs, one cold start, no gapped-price row: under a minute")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run, from {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3, with --quick 2)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON file to write (default {DEFAULT_OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    args.runs = args.runs if args.runs is not None else (2 if args.quick else 3)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown or not args.sections or args.runs < 1:
        parser.error(f"--only takes {', '.join(SECTIONS)}; got {args.only!r}" if unknown or not args.sections
                     else "--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    settings = Settings(quick=args.quick, runs=args.runs)
    info = machine()
    print(f"machine: {machine_line(info)}", flush=True)
    started = time.time()
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for section in args.sections:
        t0 = time.perf_counter()
        print(f"running {section} ...", flush=True)
        try:
            section_rows, raw[section] = RUNNERS[section](settings)
            rows.extend(section_rows)
        except Exception as exc:
            failed[section] = f"{type(exc).__name__}: {exc}"
            print(f"  {section} FAILED: {failed[section]}\n{traceback.format_exc(limit=4)}", file=sys.stderr, flush=True)
        print(f"  {section}: {time.perf_counter() - t0:.0f} s", flush=True)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    duration_s = time.time() - started
    print()
    print(table(rows))
    print()
    missed = [r.label for r in rows if r.met is False]
    print(f"median, min and max over the runs the runs column counts{' (--quick: short durations, one cold start)' if args.quick else ''}; "
          f"met compares the median with the target. Took {duration_s:.0f} s; "
          f"load average at end {' '.join(str(x) for x in info['load_average_end'])}.")
    print("targets missed: " + "; ".join(missed) if missed else "every target met")
    for section, error in failed.items():
        print(f"section {section} FAILED: {error}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), "duration_s": round(duration_s, 1),
        "machine": info, "settings": {"quick": args.quick, "runs": args.runs, "sections": args.sections},
        "rows": [r.as_dict() for r in rows], "failed": failed, "raw": raw,
    }, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
