"""Measure ``promwatchd check targets`` on 10,000 local targets in one pass.

A fleet of fake exporters (``--exporters`` processes, each listening on ``--ports-per-exporter``
ports on 127.0.0.1) serves real payloads under distinct paths ``/t/<n>``. Targets share ports
through those paths. Some targets are broken on purpose: 404, an invalid payload, an HTML
page, a response slower than the timeout, or a closed port. The checker runs once as a subprocess
over a generated prometheus.yml; the script records its wall time, its peak RSS (from
``wait4``) and the reasons it reported, and checks each reason against the fleet's plan.

Usage: .venv/bin/python bench/targets_fleet.py [--targets 10000] [--output results.json]
Needs aiohttp (the project's virtualenv) and the payloads under ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAYLOADS = REPO.parent / "shared" / "conformance" / "metrics" / "payloads"
GOOD_PAYLOADS = (
    "node_exporter_textfile_histogram_metrics.prom.txt",
    "node_exporter_textfile_summary_extra_dimension_metrics.prom.txt",
    "om-suite_simple_histogram.om.txt",
)
INVALID_PAYLOAD = "prom-main_TestPromParseErrors_05.prom.txt"
HTML_PAGE = b"<!DOCTYPE html>\n<html><body><a href=\"/metrics\">metrics</a></body></html>\n"
SLOW_SECONDS = 3.0
SCRAPE_TIMEOUT = "1s"
READY_TIMEOUT_SECONDS = 20.0
CHECK_TIMEOUT_SECONDS = 300.0

# Every 100 targets: 1 not found, 1 invalid, 1 HTML page, 1 wrong Content-Type; every 1000: 1 slow and 1 refused.
def planned_reason(index: int) -> str:
    """Return the reason the checker should report for target ``index``."""
    if index % 1000 == 999:
        return "refused"
    if index % 1000 == 998:
        return "timeout"
    kind = index % 100
    return {97: "http_status", 96: "format", 95: "format", 94: "content_type"}.get(kind, "ok")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The exporter process -------------------------------------------------------------


def serve(port_count: int) -> None:
    """Serve /t/<n> on ``port_count`` ports chosen by the kernel until SIGTERM; print "ready PORT...".

    The behaviour of each path follows planned_reason.
    """
    import asyncio

    from aiohttp import web

    good = [(PAYLOADS / name).read_bytes() for name in GOOD_PAYLOADS]
    invalid = (PAYLOADS / INVALID_PAYLOAD).read_bytes()

    async def handle(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        reason = planned_reason(index)
        kind = index % 100
        if reason == "http_status":
            return web.Response(status=404, text="not found")
        if reason == "timeout":
            await asyncio.sleep(SLOW_SECONDS)
        if reason == "format":
            if kind == 96:
                return web.Response(body=invalid, headers={"Content-Type": "text/plain; version=0.0.4"})
            return web.Response(body=HTML_PAGE, headers={"Content-Type": "text/html"})
        if reason == "content_type":
            return web.Response(body=good[0], headers={"Content-Type": "application/json"})
        body = good[index % len(good)]
        content_type = "application/openmetrics-text; version=1.0.0" if body.endswith(b"# EOF\n") else "text/plain; version=0.0.4"
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def main() -> None:
        application = web.Application()
        application.router.add_get("/t/{index}", handle)
        runner = web.AppRunner(application, access_log=None)
        await runner.setup()
        ports = []
        for _ in range(port_count):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", *ports, flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# The benchmark ----------------------------------------------------------------------


def write_config(directory: Path, ports: list[int], closed_port: int, targets: int, jobs: int) -> Path:
    per_job = targets // jobs
    scrape_configs = []
    for job in range(jobs):
        groups = []
        for index in range(job * per_job, (job + 1) * per_job):
            port = closed_port if planned_reason(index) == "refused" else ports[index % len(ports)]
            groups.append({"targets": [f"127.0.0.1:{port}"], "labels": {"__metrics_path__": f"/t/{index}", "target": str(index)}})
        scrape_configs.append({"job_name": f"fleet{job}", "scrape_timeout": SCRAPE_TIMEOUT, "scrape_interval": "15s", "static_configs": groups})
    path = directory / "prometheus.yml"
    path.write_text(json.dumps({"scrape_configs": scrape_configs}))  # JSON is valid YAML and faster to write.
    return path


def run_checker(config: Path, concurrency: int, per_host: int) -> tuple[float, int, int, bytes, bytes]:
    """Run the checker once; return (wall seconds, peak RSS in KiB, exit status, stdout, stderr)."""
    command = [sys.executable, "-m", "promwatchd.cli", "check", "targets", "--config", str(config),
               "--output", "json", "--concurrency", str(concurrency), "--per-host", str(per_host)]
    stdout_path, stderr_path = config.with_suffix(".out"), config.with_suffix(".err")
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=REPO)
        deadline = started + CHECK_TIMEOUT_SECONDS
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        wall = time.monotonic() - started
    return wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status), stdout_path.read_bytes(), stderr_path.read_bytes()


def machine() -> dict[str, object]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(), "load_average_before": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--exporters", type=int, default=2, help="exporter processes (default: 2)")
    parser.add_argument("--ports-per-exporter", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--per-host", type=int, default=16, help="per host:port limit (default: 16)")
    parser.add_argument("--output", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--serve", type=int, metavar="PORTS", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.serve)
        return 0

    import tempfile

    closed_port = free_port()
    info = machine()
    exporters = []
    ports: list[int] = []
    try:
        for _ in range(args.exporters):
            command = [sys.executable, __file__, "--serve", str(args.ports_per_exporter)]
            exporters.append(subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL))
        for process in exporters:
            words = process.stdout.readline().split()
            if not words or words[0] != b"ready":
                raise SystemExit(f"exporter {process.pid} did not start")
            ports.extend(int(word) for word in words[1:])

        with tempfile.TemporaryDirectory() as directory:
            config = write_config(Path(directory), ports, closed_port, args.targets, args.jobs)
            wall, peak_kib, status, stdout, stderr = run_checker(config, args.concurrency, args.per_host)
    finally:
        for process in exporters:
            process.send_signal(signal.SIGTERM)
        for process in exporters:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    if status not in (0, 1):
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
        raise SystemExit(f"the checker exited with status {status}")
    report = json.loads(stdout)
    reasons = Counter(target["reason"] for target in report["targets"])
    wrong = [t for t in report["targets"] if t["reason"] != planned_reason(int(t["labels"]["target"]))]
    figures = {
        "targets": len(report["targets"]),
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "reasons": dict(sorted(reasons.items())),
        "unexpected_reasons": len(wrong),
        "first_unexpected": [(t["labels"]["target"], t["reason"], t["message"][:120]) for t in wrong[:5]],
        "exporter_processes": args.exporters,
        "ports": len(ports),
        "concurrency": args.concurrency,
        "per_host": args.per_host,
        "machine": info,
        "targets_met": {"under_20_s": wall < 20, "under_250_mib": peak_kib / 1024 < 250},
    }
    print(json.dumps(figures, indent=2))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
