"""Benchmark: validate a generated prometheus.yml with 5,000 scrape jobs, ours against ``promtool check config``.

Run: ``python bench/config_validation.py [--jobs 5000] [--runs 5]``. Each tool validates the
same file with --syntax-only, ``--runs`` times. The two commands take turns within each
round, so that load from other work on the machine falls on both alike. The script prints
the median wall time of each, the machine (nproc, CPU model, Python version) and the
promtool version.

Five figures are measured:

- ``promwatchd in-process, 1 process``: ``validate_file`` called in this Python process (no
  start-up cost), in one pass;
- ``promwatchd in-process, N processes``: the same, split over the usable CPUs (at most 4) in
  forked processes, as ``check config`` does by default;
- ``promwatchd command, 1 process`` and ``promwatchd command``:
  ``python -m promwatchd.cli check config --no-promtool --syntax-only`` as a new process, with
  ``--processes 1`` and with the default. It pays Python start-up and imports like promtool
  pays its own start-up. ``--no-promtool`` keeps promtool's second opinion out of our time;
- ``promtool``: ``promtool check config --syntax-only`` as a new process.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from promwatchd.promconfig import validate_file  # noqa: E402
from promwatchd.promconfig.parallel import available_processes  # noqa: E402


def generate_config(jobs: int) -> str:
    """Return a valid configuration with ``jobs`` scrape jobs, each with targets, labels and two relabel rules."""
    lines = [
        "global:",
        "  scrape_interval: 30s",
        "  scrape_timeout: 10s",
        "  external_labels:",
        "    cluster: bench",
        "scrape_configs:",
    ]
    for index in range(jobs):
        lines += [
            f"  - job_name: job-{index}",
            "    scrape_interval: 15s",
            "    metrics_path: /metrics",
            "    static_configs:",
            f"      - targets: ['host-{index}-a.example.internal:9100', 'host-{index}-b.example.internal:9100']",
            "        labels:",
            f"          team: team-{index % 50}",
            "    relabel_configs:",
            "      - source_labels: [__address__]",
            "        regex: '([^:]+):\\d+'",
            "        target_label: instance",
            "        replacement: '$1'",
            "    metric_relabel_configs:",
            "      - source_labels: [__name__]",
            "        regex: 'go_gc_.*'",
            "        action: drop",
        ]
    return "\n".join(lines) + "\n"


def time_call(function, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        durations.append(time.perf_counter() - started)
    return durations


def time_in_turns(functions: list, runs: int) -> list[list[float]]:
    """Time each function ``runs`` times, one call of each per round, and return the durations per function."""
    durations: list[list[float]] = [[] for _ in functions]
    for _ in range(runs):
        for function, times in zip(functions, durations):
            times.extend(time_call(function, 1))
    return durations


def run_checked(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} reported the generated file invalid (exit {result.returncode}):\n{result.stdout}{result.stderr}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000, help="number of scrape jobs in the generated file (default 5000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool; the median is reported (default 5)")
    parser.add_argument("--promtool", default="promtool", help="promtool binary (default: promtool from PATH)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="promwatchd-bench-") as directory:
        path = Path(directory) / "prometheus.yml"
        path.write_text(generate_config(args.jobs))
        size_kib = path.stat().st_size / 1024

        report = validate_file(path, syntax_only=True)
        if not report.valid:
            raise SystemExit(f"promwatchd reported the generated file invalid: {report.findings[:3]}")
        processes = available_processes()
        in_process = time_in_turns(
            [lambda: validate_file(path, syntax_only=True), lambda: validate_file(path, syntax_only=True, processes=processes)],
            args.runs,
        )

        command = [sys.executable, "-m", "promwatchd.cli", "check", "config", "--no-promtool", "--syntax-only", str(path)]
        one_process_command = command[:-1] + ["--processes", "1", str(path)]
        commands = [lambda: run_checked(one_process_command), lambda: run_checked(command)]
        run_checked(command)

        promtool = shutil.which(args.promtool)
        promtool_version = "not installed"
        if promtool is not None:
            version = subprocess.run([promtool, "--version"], capture_output=True, text=True, check=False)
            promtool_version = (version.stdout or version.stderr).splitlines()[0]
            promtool_command = [promtool, "check", "config", "--syntax-only", str(path)]
            run_checked(promtool_command)
            commands.append(lambda: run_checked(promtool_command))
        as_commands = time_in_turns(commands, args.runs)

    figures = [
        ("promwatchd in-process, 1 process", in_process[0]),
        (f"promwatchd in-process, {processes} processes", in_process[1]),
        ("promwatchd command, 1 process", as_commands[0]),
        (f"promwatchd command ({processes} processes)", as_commands[1]),
    ]
    if promtool is not None:
        figures.append(("promtool", as_commands[2]))

    print(f"file: {args.jobs} scrape jobs, {size_kib:.0f} KiB; {args.runs} runs each, median wall time")
    print(f"machine: nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()} ({sys.executable}), {platform.system()} {platform.release()}")
    width = max(len(name) for name, _ in figures) + 1
    for name, times in figures:
        print(f"{name + ':':<{width}} {statistics.median(times):.3f} s (runs: {', '.join(f'{t:.3f}' for t in times)})")
    if promtool is None:
        print("promtool: not installed; no comparison")
        return 0

    print(promtool_version)
    promtool_median = statistics.median(as_commands[2])
    for name, times in figures[:-1]:
        note = " (promtool's time includes its start-up)" if "in-process" in name else ""
        print(f"{name} / promtool: {statistics.median(times) / promtool_median:.2f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
