"""Measure promwatchd's own memory and CPU while it supervises a healthy Prometheus.

Starts ``promwatchd run`` with probes every second against a real Prometheus,
waits until it reports healthy and a settle time has passed, then samples the
daemon's process (not Prometheus) once a second: VmRSS from
/proc/<pid>/status and utime + stime from /proc/<pid>/stat. Both cover all
threads of the process and exclude its children.

Usage: python bench/idle.py [--seconds 60] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    find_prometheus,
    free_port,
    machine_info,
    promwatchd_command,
    running_daemon,
    write_json,
    write_prometheus_config,
)

PROBE_INTERVAL_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0
HEALTHY_TIMEOUT_SECONDS = 60.0
SAMPLE_SECONDS = 1.0

RSS_TARGET_MIB = 60.0
CPU_TARGET_PERCENT = 2.0

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure promwatchd's idle RSS and CPU while Prometheus is healthy.")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the sampling window in seconds (default 60)")
    parser.add_argument("--settle-seconds", type=float, default=10.0, help="healthy time before sampling starts (default 10)")
    parser.add_argument("--output", type=Path, help="also write the results as JSON to this path")
    parser.add_argument("--prometheus", default="prometheus", help="prometheus binary, a name on PATH or a path (default prometheus)")
    args = parser.parse_args(argv)
    if args.seconds < SAMPLE_SECONDS:
        parser.error(f"--seconds must be at least {SAMPLE_SECONDS:g}, got {args.seconds:g}")
    if args.settle_seconds < 0:
        parser.error(f"--settle-seconds must not be negative, got {args.settle_seconds:g}")
    return args


def read_rss_kib(pid: int) -> int:
    """Return VmRSS of ``pid`` in KiB (the kernel labels the unit kB)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


def read_hwm_kib(pid: int) -> int:
    """Return VmHWM (peak RSS since the process started) of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")


def read_cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` in seconds, all threads, children excluded."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    # The command name (field 2) may contain spaces, so split after its closing parenthesis.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def write_settings(workdir: Path, prometheus: str, config_file: Path, prometheus_port: int, server_port: int) -> Path:
    path = workdir / "promwatchd.yaml"
    path.write_text(
        f"state_dir: {json.dumps(str(workdir / 'state'))}\n"
        "process:\n"
        f"  binary: {json.dumps(prometheus)}\n"
        f"  config_file: {json.dumps(str(config_file))}\n"
        f"  listen_address: 127.0.0.1:{prometheus_port}\n"
        "server:\n"
        f"  listen_address: 127.0.0.1:{server_port}\n"
        "probes:\n"
        f"  interval: {PROBE_INTERVAL_SECONDS:g}s\n"
        f"  timeout: {PROBE_TIMEOUT_SECONDS:g}s\n"
        "recovery:\n"
        f"  stop_grace_period: {STOP_GRACE_SECONDS:g}s\n"
        "log:\n"
        "  level: info\n",
        encoding="utf-8",
    )
    return path


def sample(pid: int, seconds: float) -> list[dict[str, float]]:
    """Read RSS and CPU time of ``pid`` every SAMPLE_SECONDS for ``seconds``, first sample at the start."""
    samples = []
    started = time.monotonic()
    count = int(seconds / SAMPLE_SECONDS) + 1
    for index in range(count):
        target = started + index * SAMPLE_SECONDS
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        samples.append({"elapsed": time.monotonic() - started, "rss_kib": read_rss_kib(pid), "cpu_seconds": read_cpu_seconds(pid)})
    return samples


def build_report(args: argparse.Namespace, prometheus: str, samples: list[dict[str, float]], extra: dict[str, Any]) -> dict[str, Any]:
    rss_mib = [s["rss_kib"] / 1024 for s in samples]
    wall = samples[-1]["elapsed"] - samples[0]["elapsed"]
    cpu = samples[-1]["cpu_seconds"] - samples[0]["cpu_seconds"]
    cpu_percent = 100 * cpu / wall
    interval_percent = [
        100 * (b["cpu_seconds"] - a["cpu_seconds"]) / (b["elapsed"] - a["elapsed"]) for a, b in zip(samples, samples[1:])
    ]
    rss_mean = statistics.fmean(rss_mib)
    rss_peak = max(rss_mib)
    return {
        "machine": machine_info(prometheus),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "seconds": args.seconds,
            "settle_seconds": args.settle_seconds,
            "probes_interval_seconds": PROBE_INTERVAL_SECONDS,
            "probes_timeout_seconds": PROBE_TIMEOUT_SECONDS,
            "sample_seconds": SAMPLE_SECONDS,
            "clock_ticks_per_second": CLOCK_TICKS,
        },
        "window_seconds": wall,
        "rss_mean_mib": rss_mean,
        "rss_peak_mib": rss_peak,
        "cpu_seconds": cpu,
        "cpu_percent_of_one_core": cpu_percent,
        "cpu_percent_max_one_second": max(interval_percent) if interval_percent else None,
        **extra,
        "targets": [
            {"target": f"RSS < {RSS_TARGET_MIB:g} MiB (peak in window)", "value": rss_peak, "met": rss_peak < RSS_TARGET_MIB},
            {"target": f"CPU < {CPU_TARGET_PERCENT:g} % of one core (window mean)", "value": cpu_percent, "met": cpu_percent < CPU_TARGET_PERCENT},
        ],
        "samples": samples,
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"promwatchd pid {report['daemon_pid']}, sampled {report['window_seconds']:.1f} s every {SAMPLE_SECONDS:g} s")
    print(f"RSS mean          {report['rss_mean_mib']:7.1f} MiB")
    print(f"RSS peak          {report['rss_peak_mib']:7.1f} MiB   (VmHWM since start {report['vmhwm_mib']:.1f} MiB)")
    print(f"CPU               {report['cpu_percent_of_one_core']:7.2f} % of one core   ({report['cpu_seconds']:.2f} s CPU)")
    print(f"CPU, busiest 1 s  {report['cpu_percent_max_one_second']:7.2f} %")
    print(f"state transitions in window: {report['transitions_in_window']}; state at end: {report['state_at_end']}")
    print()
    for target in report["targets"]:
        print(f"{'MET   ' if target['met'] else 'MISSED'} {target['target']}: {target['value']:.2f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prometheus = find_prometheus(args.prometheus)
    workdir = Path(tempfile.mkdtemp(prefix="promwatchd-idle-"))
    prometheus_port, server_port = free_port(), free_port()
    config_file = workdir / "prometheus.yml"
    write_prometheus_config(config_file, prometheus_port)
    settings_file = write_settings(workdir, prometheus, config_file, prometheus_port, server_port)
    print(f"workdir {workdir}; prometheus on 127.0.0.1:{prometheus_port}, promwatchd on 127.0.0.1:{server_port}", file=sys.stderr)

    with running_daemon(promwatchd_command(), settings_file, STOP_GRACE_SECONDS + 15) as daemon:
        if not daemon.wait_state(server_port, "healthy", HEALTHY_TIMEOUT_SECONDS):
            print(f"promwatchd not healthy within {HEALTHY_TIMEOUT_SECONDS:g}s; log tail:", file=sys.stderr)
            print("\n".join(daemon.output_tail()), file=sys.stderr)
            print(f"kept {workdir} for inspection", file=sys.stderr)
            return 1
        print(f"healthy; settling {args.settle_seconds:g}s, then sampling {args.seconds:g}s", file=sys.stderr)
        time.sleep(args.settle_seconds)

        mark = daemon.mark()
        samples = sample(daemon.pid, args.seconds)
        transitions = [e for e in daemon.events_since(mark) if e["event"] == "state_transition"]
        status = daemon.status(server_port)
        extra = {
            "daemon_pid": daemon.pid,
            "vmhwm_mib": read_hwm_kib(daemon.pid) / 1024,
            "transitions_in_window": len(transitions),
            "state_at_end": status.get("state") if status else None,
        }

    report = build_report(args, prometheus, samples, extra)
    print_report(report)
    if args.output is not None:
        write_json(args.output, report)
        print(f"\nwrote {args.output}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
