"""Benchmark the exposition validator against prometheus_client's parser and promtool.

Two comparisons on one payload (default: node_exporter's end-to-end test fixture, from the
conformance payloads in ../shared beside the repository):

1. In one process: ``validate_bytes`` on the raw bytes, without and with the naming-convention
   lint, against ``prometheus_client.parser.text_string_to_metric_families`` on the decoded
   string.
2. Whole processes: ``promwatchd check metrics FILE`` against ``promtool check metrics < FILE``,
   wall time including start-up. A third process runs the same check through
   ``promwatchd.commands.check_metrics`` without importing ``promwatchd.cli``, to separate the
   validator from the start-up cost of the rest of the command line. The promwatchd processes
   run twice: with a bytecode cache, as an installed package has, and without one, so that
   Python compiles promwatchd's modules on every start.

Every figure is the median of --runs runs. Each round runs every measurement once, so that
load from other work on the machine affects them alike. For processes the script also
reports the CPU time (user + system), which load from other work changes less than the wall
time. Targets: at least 5 times faster than prometheus_client, and the whole process no slower
than promtool.

Usage: python bench/exposition_throughput.py [--payload FILE] [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from harness import machine_info

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PAYLOAD = REPO.parent / "shared" / "conformance" / "metrics" / "payloads" / "node_exporter_e2e-output.prom.txt"

PROCESS_TIMEOUT_SECONDS = 120
"""Time after which a measured command is killed."""

# Runs the check without promwatchd.cli, whose imports (settings, config checks) are not part of the validator.
DIRECT_CHECK = """
import argparse, sys
from promwatchd.commands import check_metrics
parser = argparse.ArgumentParser()
check_metrics.add_parser(parser.add_subparsers())
sys.exit(check_metrics.run(parser.parse_args(["metrics", *sys.argv[1:]])))
"""


def median_seconds_interleaved(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Return the median wall time of each action, calling every action once per round."""
    durations: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            durations[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in durations.items()}


def measure_in_process(payload: bytes, runs: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    from promwatchd.exposition import Format, validate_bytes

    text = payload.decode("utf-8")
    validate_bytes(payload, Format.TEXT)  # warm-up: regex compilation and imports
    list(text_string_to_metric_families(text))
    medians = median_seconds_interleaved(
        {
            "validator": lambda: validate_bytes(payload, Format.TEXT, lint=False),
            "validator_with_lint": lambda: validate_bytes(payload, Format.TEXT, lint=True),
            "prometheus_client": lambda: list(text_string_to_metric_families(text)),
        },
        runs,
    )
    validator_seconds = medians["validator"]
    validator_lint_seconds = medians["validator_with_lint"]
    client_seconds = medians["prometheus_client"]
    return {
        "validator_seconds": validator_seconds,
        "validator_with_lint_seconds": validator_lint_seconds,
        "prometheus_client_seconds": client_seconds,
        "speedup": client_seconds / validator_seconds,
        "speedup_with_lint": client_seconds / validator_lint_seconds,
        "validator_mb_per_second": len(payload) / validator_seconds / 1e6,
    }


def run_process(argv: list[str], env: dict[str, str], stdin_path: Path | None = None) -> tuple[float, float, int]:
    """Run one command and return its wall time, its CPU time (user + system), both in seconds, and its exit code.

    The child is reaped with a blocking ``os.wait4``. With a timeout, CPython 3.11's
    ``Popen.wait`` polls instead, sleeping 1, 2, 4 ... up to 50 ms between polls, which rounds
    wall times up to about 64, 114 or 164 ms.
    """
    stdin = open(stdin_path, "rb") if stdin_path is not None else None
    try:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        killer = threading.Timer(PROCESS_TIMEOUT_SECONDS, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        wall_seconds = time.perf_counter() - started
    finally:
        if stdin is not None:
            stdin.close()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped above: Popen must not wait again
    return wall_seconds, usage.ru_utime + usage.ru_stime, process.returncode


def process_environments(cache_dir: str) -> dict[str, dict[str, str]]:
    """Return the child environments: with a bytecode cache (as after ``pip install``) and without one.

    With the cache, ``PYTHONPYCACHEPREFIX`` points at an empty directory that the warm-up run
    fills. Without it, ``PYTHONDONTWRITEBYTECODE=1`` keeps Python from writing bytecode, so every
    run compiles promwatchd's modules from source unless the checkout already has
    ``__pycache__`` directories.
    """
    cached = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = cache_dir
    uncached = {name: value for name, value in os.environ.items() if name != "PYTHONPYCACHEPREFIX"}
    uncached["PYTHONDONTWRITEBYTECODE"] = "1"
    return {"bytecode_cache": cached, "no_bytecode_cache": uncached}


def measure_processes(payload_path: Path, runs: int) -> dict[str, Any]:
    """Return the median and minimum wall time, the median CPU time and the exit code of each command.

    Every round runs each command once.
    """
    promwatchd = shutil.which("promwatchd", path=str(Path(sys.executable).parent)) or shutil.which("promwatchd")
    promwatchd_argv = [promwatchd] if promwatchd else [sys.executable, "-m", "promwatchd.cli"]
    promtool = shutil.which("promtool")
    with tempfile.TemporaryDirectory(prefix="promwatchd-pycache-") as cache_dir:
        commands: dict[str, tuple[list[str], dict[str, str], Path | None]] = {}
        for label, env in process_environments(cache_dir).items():
            commands[f"promwatchd_check_metrics/{label}"] = ([*promwatchd_argv, "check", "metrics", str(payload_path)], env, None)
            commands[f"check_metrics_without_cli/{label}"] = ([sys.executable, "-c", DIRECT_CHECK, str(payload_path)], env, None)
        commands["python_startup"] = ([sys.executable, "-c", "pass"], dict(os.environ), None)
        if promtool is not None:
            commands["promtool_check_metrics"] = ([promtool, "check", "metrics"], dict(os.environ), payload_path)

        durations: dict[str, list[float]] = {name: [] for name in commands}
        cpu_times: dict[str, list[float]] = {name: [] for name in commands}
        exit_codes: dict[str, int] = {}
        for argv, env, stdin_path in commands.values():
            run_process(argv, env, stdin_path)  # warm-up: page cache, and the bytecode cache
        for _ in range(runs):
            for name, (argv, env, stdin_path) in commands.items():
                seconds, cpu_seconds, exit_codes[name] = run_process(argv, env, stdin_path)
                durations[name].append(seconds)
                cpu_times[name].append(cpu_seconds)

    results: dict[str, Any] = {
        name: {
            "median_seconds": statistics.median(durations[name]),
            "min_seconds": min(durations[name]),
            "median_cpu_seconds": statistics.median(cpu_times[name]),
            "exit_code": exit_codes[name],
        }
        for name in commands
    }
    if promtool is None:
        results["promtool_check_metrics"] = None
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
        print(
            f"process {name}: {measured['median_seconds'] * 1000:.0f} ms "
            f"(min {measured['min_seconds'] * 1000:.0f} ms, CPU {measured['median_cpu_seconds'] * 1000:.0f} ms, "
            f"exit {measured['exit_code']})"
        )
    promtool_result = processes.get("promtool_check_metrics")
    if promtool_result is not None:
        for label in ("bytecode_cache", "no_bytecode_cache"):
            ratio = processes[f"promwatchd_check_metrics/{label}"]["median_seconds"] / promtool_result["median_seconds"]
            print(f"promwatchd check metrics / promtool check metrics, {label}: {ratio:.2f} (target <= 1)")


if __name__ == "__main__":
    main()
