"""Measure how fast promwatchd notices a crashed or hung Prometheus and gets it ready again.

First Prometheus runs --wal-seconds on the reused data directory to fill its
WAL. Then each of the --runs rounds measures, in this order:

1. Bare start: Prometheus started directly, with the flags promwatchd's
   process backend uses, timed from launch to the first 200 from /-/ready.
   Once on a fresh data directory, once on the reused one, which is the
   directory a restart starts on.
2. Crash: promwatchd started on the reused directory, then SIGKILL of its
   Prometheus child. Timed from the kill to promwatchd's
   prometheus_exit_unexpected log event, and to the first 200 from /-/ready
   sent to the new Prometheus.
3. Hang: in the same promwatchd, SIGSTOP of the child. Timed from the stop to
   the state_transition that declares it failed (from an up state to down or
   recovering), and to the first 200 from the new Prometheus.

Usage: python bench/recovery.py [--runs 5] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    DEFAULT_POLL_SECONDS,
    DaemonRun,
    ReadyObservation,
    directory_bytes,
    find_prometheus,
    free_port,
    is_prometheus,
    kill_prometheus,
    machine_info,
    poll_ready,
    prometheus_command,
    prometheus_ready_time,
    promwatchd_command,
    running_daemon,
    stop_process,
    summarize,
    write_json,
    write_prometheus_config,
)

# The promwatchd settings under test. The hang target is derived from them.
PROBE_INTERVAL_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 1.0
STARTUP_INTERVAL_SECONDS = 0.2
FAILURE_THRESHOLD = 3
HUNG_STOP_GRACE_SECONDS = 5.0
STOP_GRACE_SECONDS = 30.0

CRASH_DETECTION_TARGET_SECONDS = 1.0
HANG_DETECTION_TARGET_SECONDS = PROBE_INTERVAL_SECONDS * FAILURE_THRESHOLD + PROBE_TIMEOUT_SECONDS
READY_AGAIN_TARGET_RATIO = 1.5

UP_STATES = ("healthy", "degraded", "fallback")
FAILED_STATES = ("down", "recovering", "gave_up")

READY_TIMEOUT_SECONDS = 60.0
EVENT_TIMEOUT_SECONDS = 30.0
HEALTHY_TIMEOUT_SECONDS = 60.0


class BenchError(Exception):
    """A measurement could not be taken. The message names the step and shows the evidence."""


@dataclass(frozen=True)
class Setup:
    prometheus: str
    workdir: Path
    config_file: Path
    data_dir: Path
    prometheus_port: int
    server_port: int
    poll_seconds: float


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure promwatchd's crash and hang recovery against a bare Prometheus start.")
    parser.add_argument("--runs", type=int, default=5, help="rounds; each takes one bare start of each kind, one crash and one hang (default 5)")
    parser.add_argument("--output", type=Path, help="also write the results as JSON to this path")
    parser.add_argument("--prometheus", default="prometheus", help="prometheus binary, a name on PATH or a path (default prometheus)")
    parser.add_argument(
        "--wal-seconds",
        type=float,
        default=120.0,
        help="seconds Prometheus runs on the reused data directory before the timed starts, to fill its WAL (default 120)",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=3.0,
        help="healthy time before each fault; a random 0 to 1 probe interval is added (default 3)",
    )
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=DEFAULT_POLL_SECONDS * 1000,
        help="gap between two /-/ready requests in milliseconds, 20 to 50 (default 25)",
    )
    parser.add_argument(
        "--scrape-jobs",
        type=int,
        default=1,
        help="scrape jobs in the Prometheus config, each scraping Prometheus itself every second; more jobs make a larger WAL (default 1)",
    )
    parser.add_argument(
        "--daemon-log-level",
        choices=["debug", "info"],
        default="debug",
        help="promwatchd's log level; debug logs Prometheus's output, which the 'Prometheus log time' rows need (default debug)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (data, settings, logs) for inspection")

    args = parser.parse_args(argv)
    if args.scrape_jobs < 1:
        parser.error(f"--scrape-jobs must be at least 1, got {args.scrape_jobs}")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    if not 20 <= args.poll_ms <= 50:
        parser.error(f"--poll-ms must be between 20 and 50, got {args.poll_ms:g}")
    if args.wal_seconds < 0 or args.settle_seconds < 0:
        parser.error("--wal-seconds and --settle-seconds must not be negative")
    return args


# Bare Prometheus -------------------------------------------------------------


def time_bare_start(setup: Setup, data_dir: Path, log_name: str) -> dict[str, float]:
    """Start Prometheus directly, time it to the first 200 from /-/ready, then stop it with SIGTERM."""
    wal_bytes = directory_bytes(data_dir / "wal")
    argv = prometheus_command(setup.prometheus, setup.config_file, data_dir, setup.prometheus_port)
    log_path = setup.workdir / log_name
    with log_path.open("ab") as log_file:
        log_offset = log_file.tell()
        launched_at = time.time()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            ready = poll_ready(setup.prometheus_port, READY_TIMEOUT_SECONDS, setup.poll_seconds)
            if ready is None:
                tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-10:]
                raise BenchError(
                    f"bare prometheus (pid {process.pid}) not ready within {READY_TIMEOUT_SECONDS:g}s; "
                    f"exit code {process.poll()}; last log lines:\n" + "\n".join(tail)
                )
        finally:
            stop_process(process, STOP_GRACE_SECONDS)

    with log_path.open("rb") as log_file:
        log_file.seek(log_offset)
        lines = log_file.read().decode("utf-8", "replace").splitlines()
    logged = [t for t in map(prometheus_ready_time, lines) if t is not None]
    return {
        "start_seconds": ready.answered_at - launched_at,
        "log_ready_seconds": logged[0] - launched_at if logged else None,
        "wal_bytes": wal_bytes,
    }


def time_bare_start_after_kill(setup: Setup, data_dir: Path, log_name: str, settle_seconds: float) -> dict[str, float]:
    """Run Prometheus until ready, SIGKILL it as a crash does, then time a bare start on the same data.

    A restart after a crash replays more WAL than a start after a clean stop,
    so this is the baseline a crash recovery compares with fairly.
    """
    argv = prometheus_command(setup.prometheus, setup.config_file, data_dir, setup.prometheus_port)
    with (setup.workdir / log_name).open("ab") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            if poll_ready(setup.prometheus_port, READY_TIMEOUT_SECONDS, setup.poll_seconds) is None:
                raise BenchError(f"prometheus (pid {process.pid}) not ready within {READY_TIMEOUT_SECONDS:g}s before the kill")
            time.sleep(settle_seconds)
            process.kill()
            process.wait(timeout=READY_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                stop_process(process, STOP_GRACE_SECONDS)
    return time_bare_start(setup, data_dir, log_name)


def fill_wal(setup: Setup, seconds: float) -> None:
    """Run Prometheus on the reused data directory for ``seconds``, so its WAL contains that much scraping."""
    argv = prometheus_command(setup.prometheus, setup.config_file, setup.data_dir, setup.prometheus_port)
    with (setup.workdir / "prometheus-fill.log").open("ab") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            if poll_ready(setup.prometheus_port, READY_TIMEOUT_SECONDS, setup.poll_seconds) is None:
                raise BenchError(f"prometheus filling the WAL not ready within {READY_TIMEOUT_SECONDS:g}s; see {setup.workdir}/prometheus-fill.log")
            time.sleep(seconds)
        finally:
            stop_process(process, STOP_GRACE_SECONDS)


# Under promwatchd ----------------------------------------------------------


def write_settings(setup: Setup, log_level: str) -> Path:
    """Write the promwatchd settings under test. Paths are written as JSON strings, which YAML reads as quoted scalars."""
    path = setup.workdir / "promwatchd.yaml"
    path.write_text(
        f"state_dir: {json.dumps(str(setup.workdir / 'state'))}\n"
        "process:\n"
        f"  binary: {json.dumps(setup.prometheus)}\n"
        f"  config_file: {json.dumps(str(setup.config_file))}\n"
        f"  data_dir: {json.dumps(str(setup.data_dir))}\n"
        f"  listen_address: 127.0.0.1:{setup.prometheus_port}\n"
        "server:\n"
        f"  listen_address: 127.0.0.1:{setup.server_port}\n"
        "probes:\n"
        f"  interval: {PROBE_INTERVAL_SECONDS:g}s\n"
        f"  timeout: {PROBE_TIMEOUT_SECONDS:g}s\n"
        f"  startup_interval: {STARTUP_INTERVAL_SECONDS * 1000:g}ms\n"
        "recovery:\n"
        f"  failure_threshold: {FAILURE_THRESHOLD}\n"
        f"  hung_stop_grace_period: {HUNG_STOP_GRACE_SECONDS:g}s\n"
        f"  stop_grace_period: {STOP_GRACE_SECONDS:g}s\n"
        # 0s: the failure streak resets on the first tick after recovery, so the
        # hang, which follows the crash, also gets the immediate first restart.
        "  stable_after: 0s\n"
        "log:\n"
        # At debug, promwatchd logs each line of Prometheus's output as
        # prometheus_output, which carries Prometheus's own "ready" time.
        f"  level: {log_level}\n",
        encoding="utf-8",
    )
    return path


def current_prometheus_pid(daemon: DaemonRun) -> int:
    pids = daemon.prometheus_pids()
    if not pids or not is_prometheus(pids[-1]):
        raise BenchError(f"no running Prometheus started by promwatchd (pids logged: {pids}); log tail:\n" + "\n".join(daemon.output_tail()))
    return pids[-1]


def wait_healthy(daemon: DaemonRun, setup: Setup, what: str) -> None:
    if not daemon.wait_state(setup.server_port, "healthy", HEALTHY_TIMEOUT_SECONDS):
        document = daemon.status(setup.server_port)
        state = document.get("state") if document else "no answer from /api/status"
        raise BenchError(
            f"promwatchd not healthy within {HEALTHY_TIMEOUT_SECONDS:g}s {what} (state: {state}); log tail:\n"
            + "\n".join(daemon.output_tail())
        )


def measure_fault(
    daemon: DaemonRun, setup: Setup, signum: int, settle_seconds: float, log_prometheus_output: bool
) -> dict[str, Any]:
    """Send ``signum`` to the supervised Prometheus; time detection and ready-again from the daemon's log and /-/ready."""
    wait_healthy(daemon, setup, "before the fault")
    time.sleep(settle_seconds + random.uniform(0.0, PROBE_INTERVAL_SECONDS))
    old_pid = current_prometheus_pid(daemon)
    wal_bytes = directory_bytes(setup.data_dir / "wal")
    mark = daemon.mark()

    def new_start(event: dict[str, Any]) -> bool:
        return event["event"] == "prometheus_started" and event.get("pid") != old_pid

    def from_new_prometheus(observation: ReadyObservation) -> bool:
        # Only a request sent after the new process was launched can have reached it,
        # because promwatchd launches it only once the old one has exited.
        started = daemon.find(new_start, mark)
        return started is not None and observation.sent_at >= started["_at"]

    fault_at = time.time()
    os.kill(old_pid, signum)
    try:
        ready = poll_ready(setup.prometheus_port, READY_TIMEOUT_SECONDS, setup.poll_seconds, accept=from_new_prometheus)
        if ready is None:
            raise BenchError(
                f"no ready Prometheus within {READY_TIMEOUT_SECONDS:g}s after {signal.Signals(signum).name} "
                f"of pid {old_pid}; log tail:\n" + "\n".join(daemon.output_tail())
            )
        recovered = daemon.wait_for(lambda e: e["event"] == "prometheus_recovered", mark, EVENT_TIMEOUT_SECONDS)
        new_pid = daemon.find(new_start, mark)["pid"]
        ready_line = None
        if log_prometheus_output:
            ready_line = daemon.wait_for(
                lambda e: e["event"] == "prometheus_output"
                and e.get("pid") == new_pid
                and prometheus_ready_time(e.get("line", "")) is not None,
                mark,
                EVENT_TIMEOUT_SECONDS,
            )
    except BaseException:
        kill_prometheus(old_pid)
        raise

    def seconds_to(predicate: Any) -> float | None:
        event = daemon.find(predicate, mark)
        return None if event is None else event["_at"] - fault_at

    exit_seconds = seconds_to(lambda e: e["event"] == "prometheus_exit_unexpected")
    left_healthy_seconds = seconds_to(lambda e: e["event"] == "state_transition" and e.get("from_state") == "healthy")
    # Any transition from an up state into a failed one counts, because with an
    # immediate restart some promwatchd versions log healthy -> recovering and no "down".
    failed_seconds = seconds_to(
        lambda e: e["event"] == "state_transition" and e.get("from_state") in UP_STATES and e.get("to_state") in FAILED_STATES
    )
    restart = daemon.find(lambda e: e["event"] == "restart_started", mark)
    kill_after_grace = daemon.find(lambda e: e["event"] == "prometheus_kill_after_grace", mark)

    if signum == signal.SIGKILL:
        detected_seconds = exit_seconds if exit_seconds is not None else left_healthy_seconds
    else:
        detected_seconds = failed_seconds
    if detected_seconds is None:
        raise BenchError(f"promwatchd logged no detection event after {signal.Signals(signum).name}; log tail:\n" + "\n".join(daemon.output_tail()))

    ready_seconds = ready.answered_at - fault_at
    log_ready_seconds = None
    if ready_line is not None:
        log_ready_seconds = prometheus_ready_time(ready_line["line"]) - fault_at
    return {
        "signal": signal.Signals(signum).name,
        "old_pid": old_pid,
        "new_pid": new_pid,
        "wal_bytes": wal_bytes,
        "detected_seconds": detected_seconds,
        "exit_event_seconds": exit_seconds,
        "left_healthy_seconds": left_healthy_seconds,
        "declared_failed_seconds": failed_seconds,
        "restart_started_seconds": None if restart is None else restart["_at"] - fault_at,
        "restart_attempt": None if restart is None else restart.get("attempt"),
        "new_start_seconds": seconds_to(new_start),
        "ready_again_seconds": ready_seconds,
        "ready_after_detection_seconds": ready_seconds - detected_seconds,
        "log_ready_again_seconds": log_ready_seconds,
        "log_ready_after_detection_seconds": None if log_ready_seconds is None else log_ready_seconds - detected_seconds,
        "daemon_recovery_seconds": None if recovered is None else recovered.get("recovery_seconds"),
        "killed_after_grace": kill_after_grace is not None,
    }


def measure_round_under_daemon(setup: Setup, settings_file: Path, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start promwatchd, crash its Prometheus once and hang it once, then stop promwatchd."""
    log_output = args.daemon_log_level == "debug"
    with running_daemon(promwatchd_command(), settings_file, STOP_GRACE_SECONDS + 15) as daemon:
        try:
            wait_healthy(daemon, setup, "after its start")
            crash = measure_fault(daemon, setup, signal.SIGKILL, args.settle_seconds, log_output)
            hang = measure_fault(daemon, setup, signal.SIGSTOP, args.settle_seconds, log_output)
            wait_healthy(daemon, setup, "after the hang")
        finally:
            with (setup.workdir / "promwatchd-events.jsonl").open("a", encoding="utf-8") as events_file:
                for event in daemon.events_since(0):
                    events_file.write(json.dumps({k: v for k, v in event.items() if k != "_at"}) + "\n")
    return crash, hang


# Report --------------------------------------------------------------------


def column(records: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in records if r.get(key) is not None]


def build_report(
    args: argparse.Namespace,
    setup: Setup,
    fresh: list[dict[str, float]],
    reused: list[dict[str, float]],
    after_kill: list[dict[str, float]],
    crashes: list[dict[str, Any]],
    hangs: list[dict[str, Any]],
) -> dict[str, Any]:
    summaries = {
        "bare_start_after_kill": summarize(column(after_kill, "start_seconds")),
        "bare_start_fresh": summarize(column(fresh, "start_seconds")),
        "bare_start_reused": summarize(column(reused, "start_seconds")),
        "bare_start_fresh_log": summarize(column(fresh, "log_ready_seconds")),
        "bare_start_reused_log": summarize(column(reused, "log_ready_seconds")),
        "crash_detected": summarize(column(crashes, "detected_seconds")),
        "crash_ready_again": summarize(column(crashes, "ready_again_seconds")),
        "crash_ready_again_log": summarize(column(crashes, "log_ready_again_seconds")),
        "crash_daemon_recovery": summarize(column(crashes, "daemon_recovery_seconds")),
        "hang_first_failed_round": summarize(column(hangs, "left_healthy_seconds")),
        "hang_detected": summarize(column(hangs, "detected_seconds")),
        "hang_ready_again": summarize(column(hangs, "ready_again_seconds")),
        "hang_ready_after_detection": summarize(column(hangs, "ready_after_detection_seconds")),
        "hang_ready_after_detection_log": summarize(column(hangs, "log_ready_after_detection_seconds")),
        "hang_daemon_recovery": summarize(column(hangs, "daemon_recovery_seconds")),
    }

    bare = summaries["bare_start_reused"]["median"]
    bare_fresh = summaries["bare_start_fresh"]["median"]
    bare_log = summaries["bare_start_reused_log"]["median"]
    bare_after_kill = summaries["bare_start_after_kill"]["median"]

    def ratio(name: str, baseline: float | None) -> float | None:
        value = summaries[name]["median"]
        return None if value is None or not baseline else value / baseline

    ratios = {
        "crash_ready_again_to_bare_reused": ratio("crash_ready_again", bare),
        "crash_ready_again_to_bare_fresh": ratio("crash_ready_again", bare_fresh),
        "crash_ready_again_to_bare_after_kill": ratio("crash_ready_again", bare_after_kill),
        "hang_ready_again_to_bare_reused": ratio("hang_ready_again", bare),
        "hang_ready_after_detection_to_bare_reused": ratio("hang_ready_after_detection", bare),
        # The same two ratios from Prometheus's own "ready" log times (1 ms resolution).
        "crash_ready_again_to_bare_reused_log": ratio("crash_ready_again_log", bare_log),
        "hang_ready_after_detection_to_bare_reused_log": ratio("hang_ready_after_detection_log", bare_log),
    }

    crash_max = summaries["crash_detected"]["max"]
    hang_max = summaries["hang_detected"]["max"]
    crash_ratio = ratios["crash_ready_again_to_bare_reused"]
    crash_ratio_unclean = ratios["crash_ready_again_to_bare_after_kill"]
    hang_ratio = ratios["hang_ready_after_detection_to_bare_reused"]
    targets = [
        {
            "target": f"crash detected < {CRASH_DETECTION_TARGET_SECONDS:g} s (max over runs)",
            "value": crash_max,
            "met": crash_max is not None and crash_max < CRASH_DETECTION_TARGET_SECONDS,
        },
        {
            "target": (
                f"hang detected <= interval x threshold + timeout = {PROBE_INTERVAL_SECONDS:g} x {FAILURE_THRESHOLD}"
                f" + {PROBE_TIMEOUT_SECONDS:g} = {HANG_DETECTION_TARGET_SECONDS:g} s (max over runs)"
            ),
            "value": hang_max,
            "met": hang_max is not None and hang_max <= HANG_DETECTION_TARGET_SECONDS,
        },
        {
            "target": f"crash: kill to ready again <= {READY_AGAIN_TARGET_RATIO:g} x bare start, reused data dir (medians)",
            "value": crash_ratio,
            "met": crash_ratio is not None and crash_ratio <= READY_AGAIN_TARGET_RATIO,
        },
        {
            "target": (
                f"crash: kill to ready again <= {READY_AGAIN_TARGET_RATIO:g} x bare start after an unclean stop, "
                "same data dir (medians)"
            ),
            "value": crash_ratio_unclean,
            "met": crash_ratio_unclean is not None and crash_ratio_unclean <= READY_AGAIN_TARGET_RATIO,
        },
        {
            "target": f"hang: detection to ready again <= {READY_AGAIN_TARGET_RATIO:g} x bare start, reused data dir (medians)",
            "value": hang_ratio,
            "met": hang_ratio is not None and hang_ratio <= READY_AGAIN_TARGET_RATIO,
        },
    ]

    return {
        "machine": machine_info(setup.prometheus),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "runs": args.runs,
            "poll_ms": args.poll_ms,
            "wal_seconds": args.wal_seconds,
            "settle_seconds": args.settle_seconds,
            "scrape_jobs": args.scrape_jobs,
            "daemon_log_level": args.daemon_log_level,
            "probes_interval_seconds": PROBE_INTERVAL_SECONDS,
            "probes_timeout_seconds": PROBE_TIMEOUT_SECONDS,
            "probes_startup_interval_seconds": STARTUP_INTERVAL_SECONDS,
            "failure_threshold": FAILURE_THRESHOLD,
            "hung_stop_grace_period_seconds": HUNG_STOP_GRACE_SECONDS,
            "stable_after_seconds": 0,
        },
        "summaries": summaries,
        "ratios": ratios,
        "targets": targets,
        "runs": {"bare_fresh": fresh, "bare_reused": reused, "bare_after_kill": after_kill, "crash": crashes, "hang": hangs},
    }


def format_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_report(report: dict[str, Any]) -> None:
    labels = {
        "bare_start_fresh": "bare start, fresh data dir",
        "bare_start_reused": "bare start, reused data dir",
        "bare_start_fresh_log": "  same, Prometheus log time: fresh",
        "bare_start_reused_log": "  same, Prometheus log time: reused",
        "bare_start_after_kill": "bare start after SIGKILL, reused dir",
        "crash_detected": "crash: kill -> exit event",
        "crash_ready_again": "crash: kill -> ready again",
        "crash_ready_again_log": "  same, Prometheus log time",
        "crash_daemon_recovery": "crash: promwatchd recovery_seconds",
        "hang_first_failed_round": "hang: stop -> first failed round",
        "hang_detected": "hang: stop -> failure declared",
        "hang_ready_again": "hang: stop -> ready again",
        "hang_ready_after_detection": "hang: failure declared -> ready again",
        "hang_ready_after_detection_log": "  same, Prometheus log time",
        "hang_daemon_recovery": "hang: promwatchd recovery_seconds",
    }
    width = max(len(label) for label in labels.values())
    print(f"{'measure (seconds)':<{width}}  {'n':>2}  {'median':>7}  {'max':>7}  {'min':>7}")
    for key, label in labels.items():
        s = report["summaries"][key]
        print(f"{label:<{width}}  {s['count']:>2}  {format_seconds(s['median']):>7}  {format_seconds(s['max']):>7}  {format_seconds(s['min']):>7}")

    runs = report["runs"]
    print()
    print(f"WAL bytes before the reused bare starts: {sorted({r['wal_bytes'] for r in runs['bare_reused']})}")
    print(f"WAL bytes before the faults: {sorted({r['wal_bytes'] for r in runs['crash'] + runs['hang']})}")
    print(f"restart attempt numbers: crash {[r['restart_attempt'] for r in runs['crash']]}, hang {[r['restart_attempt'] for r in runs['hang']]}")
    print()
    for name, value in report["ratios"].items():
        print(f"ratio {name}: {'-' if value is None else f'{value:.2f}'}")
    print()
    for target in report["targets"]:
        value = target["value"]
        shown = "-" if value is None else f"{value:.3f}"
        print(f"{'MET   ' if target['met'] else 'MISSED'} {target['target']}: {shown}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prometheus = find_prometheus(args.prometheus)
    workdir = Path(tempfile.mkdtemp(prefix="promwatchd-bench-"))
    prometheus_port = free_port()
    setup = Setup(
        prometheus=prometheus,
        workdir=workdir,
        config_file=workdir / "prometheus.yml",
        data_dir=workdir / "data-reused",
        prometheus_port=prometheus_port,
        server_port=free_port(),
        poll_seconds=args.poll_ms / 1000,
    )
    write_prometheus_config(setup.config_file, prometheus_port, args.scrape_jobs)
    print(f"workdir {workdir}; prometheus on 127.0.0.1:{prometheus_port}, promwatchd on 127.0.0.1:{setup.server_port}", file=sys.stderr)

    fresh: list[dict[str, Any]] = []
    reused: list[dict[str, Any]] = []
    after_kill: list[dict[str, Any]] = []
    crashes: list[dict[str, Any]] = []
    hangs: list[dict[str, Any]] = []
    try:
        print(f"filling the reused data dir's WAL for {args.wal_seconds:g}s", file=sys.stderr)
        fill_wal(setup, args.wal_seconds)
        settings_file = write_settings(setup, args.daemon_log_level)

        # Rounds interleave the bare starts with the faults, so that the load
        # other processes put on the machine hits both sides of each ratio alike.
        for index in range(args.runs):
            print(f"round {index + 1}/{args.runs}: bare starts, then a crash and a hang under promwatchd", file=sys.stderr)
            fresh.append(time_bare_start(setup, workdir / f"data-fresh-{index}", "prometheus-fresh.log"))
            reused.append(time_bare_start(setup, setup.data_dir, "prometheus-reused.log"))
            after_kill.append(time_bare_start_after_kill(setup, setup.data_dir, "prometheus-after-kill.log", args.settle_seconds))
            crash, hang = measure_round_under_daemon(setup, settings_file, args)
            crashes.append(crash)
            hangs.append(hang)
    except BenchError as error:
        print(f"recovery benchmark failed: {error}", file=sys.stderr)
        print(f"kept {workdir} for inspection", file=sys.stderr)
        return 1

    report = build_report(args, setup, fresh, reused, after_kill, crashes, hangs)
    print_report(report)
    if args.output is not None:
        write_json(args.output, report)
        print(f"\nwrote {args.output}")
    if args.keep_workdir:
        print(f"kept {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
