"""Benchmark the exposition validator against prometheus_client's parser and promtool.

Two comparisons on one payload (default: node_exporter's end-to-end test fixture, from the
conformance payloads in ../shared beside the repository):

1. In one process: ``validate_bytes`` on the raw bytes, without and with the naming-convention
   lint, against ``prometheus_client.parser.text_string_to_metric_families`` on the decoded
   string.
2. Whole processes: ``promwatchd check metrics FILE`` against ``promtool check metrics < FILE``,
   wall time including start-up. A third process runs the same check through
   ``promwatchd.commands.check_metrics`` without importing ``promwatchd.cli``, to separate the
   validator from the start-up cost of the rest of the command line.

Every figure is the median of --runs runs. Targets: at least 5 times faster than
prometheus_client, and the whole process no slower than promtool.

Usage: python bench/exposition_throughput.py [--payload FILE] [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import machine_info

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PAYLOAD = REPO.parent / "shared" / "conformance" / "metrics" / "payloads" / "node_exporter_e2e-output.prom.txt"

# Runs the check without promwatchd.cli, whose imports (settings, config checks) are not part of the validator.
DIRECT_CHECK = """
import argparse, sys
from promwatchd.commands import check_metrics
parser = argparse.ArgumentParser()
check_metrics.add_parser(parser.add_subparsers())
sys.exit(check_metrics.run(parser.parse_args(["metrics", *sys.argv[1:]])))
"""


def median_seconds(action, runs: int) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def measure_in_process(payload: bytes, runs: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    from promwatchd.exposition import Format, validate_bytes

    text = payload.decode("utf-8")
    validate_bytes(payload, Format.TEXT)  # warm-up: regex compilation and imports
    list(text_string_to_metric_families(text))
    validator_seconds = median_seconds(lambda: validate_bytes(payload, Format.TEXT, lint=False), runs)
    validator_lint_seconds = median_seconds(lambda: validate_bytes(payload, Format.TEXT, lint=True), runs)
    client_seconds = median_seconds(lambda: list(text_string_to_metric_families(text)), runs)
    return {
        "validator_seconds": validator_seconds,
        "validator_with_lint_seconds": validator_lint_seconds,
        "prometheus_client_seconds": client_seconds,
        "speedup": client_seconds / validator_seconds,
        "speedup_with_lint": client_seconds / validator_lint_seconds,
        "validator_mb_per_second": len(payload) / validator_seconds / 1e6,
    }


def run_process(argv: list[str], stdin_path: Path | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    if stdin_path is None:
        completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    else:
        with open(stdin_path, "rb") as stdin:
            completed = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    return time.perf_counter() - started, completed.returncode


def median_process_seconds(argv: list[str], runs: int, stdin_path: Path | None = None) -> dict[str, Any]:
    run_process(argv, stdin_path)  # warm-up: page cache
    results = [run_process(argv, stdin_path) for _ in range(runs)]
    return {"median_seconds": statistics.median(seconds for seconds, _ in results), "exit_code": results[-1][1]}


def measure_processes(payload_path: Path, runs: int) -> dict[str, Any]:
    promwatchd = shutil.which("promwatchd", path=str(Path(sys.executable).parent)) or shutil.which("promwatchd")
    promwatchd_argv = [promwatchd] if promwatchd else [sys.executable, "-m", "promwatchd.cli"]
    results: dict[str, Any] = {
        "promwatchd_check_metrics": median_process_seconds([*promwatchd_argv, "check", "metrics", str(payload_path)], runs),
        "check_metrics_without_cli": median_process_seconds([sys.executable, "-c", DIRECT_CHECK, str(payload_path)], runs),
        "python_startup": median_process_seconds([sys.executable, "-c", "pass"], runs),
    }
    promtool = shutil.which("promtool")
    if promtool is None:
        results["promtool_check_metrics"] = None
    else:
        results["promtool_check_metrics"] = median_process_seconds([promtool, "check", "metrics"], runs, stdin_path=payload_path)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payload", type=Path, default=DEFAULT_PAYLOAD, help="text-format payload to validate")
    parser.add_argument("--runs", type=int, default=9, help="runs per measurement; the median is reported (default: 9)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if not args.payload.is_file():
        sys.exit(f"payload {args.payload} not found; pass --payload FILE")

    payload = args.payload.read_bytes()
    results = {
        "payload": str(args.payload),
        "payload_bytes": len(payload),
        "payload_lines": payload.count(b"\n"),
        "runs": args.runs,
        "machine": machine_info(None),
        "promtool_version": subprocess.run(["promtool", "--version"], capture_output=True, text=True, check=False).stdout.splitlines()[0] if shutil.which("promtool") else "not found",
        "in_process": measure_in_process(payload, args.runs),
        "processes": measure_processes(args.payload, args.runs),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return

    in_process = results["in_process"]
    processes = results["processes"]
    machine = results["machine"]
    print(f"payload: {args.payload.name}, {len(payload)} bytes, {results['payload_lines']} lines; median of {args.runs} runs")
    print(f"machine: nproc {machine['nproc']}, {machine['cpu_model']}, Python {machine['python']}, {results['promtool_version']}")
    print(
        f"in process: prometheus_client {in_process['prometheus_client_seconds'] * 1000:.1f} ms; "
        f"validator {in_process['validator_seconds'] * 1000:.1f} ms ({in_process['validator_mb_per_second']:.1f} MB/s), "
        f"{in_process['speedup']:.1f}x; validator with lint {in_process['validator_with_lint_seconds'] * 1000:.1f} ms, "
        f"{in_process['speedup_with_lint']:.1f}x (target >= 5x)"
    )
    for name, measured in processes.items():
        if measured is None:
            print(f"process {name}: not measured (not installed)")
            continue
        print(f"process {name}: {measured['median_seconds'] * 1000:.0f} ms (exit {measured['exit_code']})")


if __name__ == "__main__":
    main()
