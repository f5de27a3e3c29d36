"""Measure the peak memory of ``promwatchd check metrics`` on a generated large payload.

Writes a valid text-format payload of --size-mb megabytes (default 100) to a temporary
directory, runs ``promwatchd check metrics FILE`` in a child process, and reports the child's
peak resident set size (ru_maxrss) and wall time. Target: peak under 100 MB.

The payload mixes realistic families: counters with 500 label sets, gauges, and histograms
with 100 label sets of 12 buckets each. Family names are unique, so the per-family state is
freed at each family end, while the set of family names grows with the payload.

Usage: python bench/exposition_memory.py [--size-mb N] [--lint] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from harness import machine_info

BUCKET_BOUNDS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")


def write_counter(out: TextIO, index: int) -> None:
    name = f"app_requests_{index}_total"
    out.write(f"# HELP {name} Requests handled, by handler and status code.\n# TYPE {name} counter\n")
    for series in range(500):
        out.write(f'{name}{{handler="/api/v1/item/{series}",code="200",instance="host-{series % 7}"}} {series * 17}\n')


def write_gauge(out: TextIO, index: int) -> None:
    name = f"app_queue_{index}_bytes"
    out.write(f"# HELP {name} Queue size.\n# TYPE {name} gauge\n")
    for series in range(50):
        out.write(f'{name}{{queue="q{series}"}} {series * 1.5}\n')


def write_histogram(out: TextIO, index: int) -> None:
    name = f"app_latency_{index}_seconds"
    out.write(f"# HELP {name} Request latency.\n# TYPE {name} histogram\n")
    for series in range(100):
        labels = f'handler="/api/v1/item/{series}",method="GET"'
        for position, bound in enumerate(BUCKET_BOUNDS):
            out.write(f'{name}_bucket{{{labels},le="{bound}"}} {position * 10}\n')
        out.write(f"{name}_sum{{{labels}}} 12.5\n{name}_count{{{labels}}} {(len(BUCKET_BOUNDS) - 1) * 10}\n")


def generate_payload(path: Path, size_bytes: int) -> int:
    """Write families until the file reaches ``size_bytes``; return the number of families."""
    families = 0
    with open(path, "w", encoding="utf-8") as out:
        while out.tell() < size_bytes:
            write_counter(out, families)
            write_gauge(out, families + 1)
            write_histogram(out, families + 2)
            families += 3
    return families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100, help="payload size in megabytes (10^6 bytes; default 100)")
    parser.add_argument("--lint", action="store_true", help="run the check with --lint (naming conventions too)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    promwatchd = shutil.which("promwatchd", path=str(Path(sys.executable).parent)) or shutil.which("promwatchd")
    command = [promwatchd] if promwatchd else [sys.executable, "-m", "promwatchd.cli"]
    with tempfile.TemporaryDirectory(prefix="exposition-memory-") as directory:
        payload = Path(directory) / "large.prom.txt"
        families = generate_payload(payload, args.size_mb * 1_000_000)
        size = payload.stat().st_size
        started = time.perf_counter()
        check_command = [*command, "check", "metrics", *(["--lint"] if args.lint else []), str(payload)]
        completed = subprocess.run(check_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB, largest child so far

    results = {
        "payload_bytes": size,
        "lint": args.lint,
        "families": families,
        "exit_code": completed.returncode,
        "summary": (completed.stdout.strip().splitlines() or [""])[-1],
        "stderr": completed.stderr.strip(),
        "peak_rss_mib": peak_kib / 1024,
        "wall_seconds": seconds,
        "megabytes_per_second": size / seconds / 1e6,
        "machine": machine_info(None),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    machine = results["machine"]
    print(f"payload: {size} bytes, {families} families (generated)")
    print(f"machine: nproc {machine['nproc']}, {machine['cpu_model']}, Python {machine['python']}")
    print(
        f"promwatchd check metrics{' --lint' if args.lint else ''}: exit {completed.returncode}, "
        f"{seconds:.1f} s ({results['megabytes_per_second']:.1f} MB/s)"
    )
    print(f"peak RSS (ru_maxrss of the child): {results['peak_rss_mib']:.1f} MiB (target < 100 MB)")
    print(f"output: {results['summary']}")
    if completed.stderr:
        print(f"stderr: {results['stderr']}")


if __name__ == "__main__":
    main()
