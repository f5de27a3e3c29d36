"""``promwatchd diagnose``: name the root cause of a failing Prometheus, with evidence and the fix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

STATUS_TIMEOUT_SECONDS = 2.0
STATUS_MAX_BYTES = 4 * 1024 * 1024


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "diagnose",
        help="name the root cause of a failing Prometheus",
        description=(
            "Probe Prometheus, validate its config, inspect its port and data directory, and ask a running "
            "promwatchd for the last exit and log lines. Exit status: 0 no problem, 1 warnings, "
            "3 a critical problem, 2 usage or input error."
        ),
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="promwatchd settings file (YAML)")
    parser.add_argument("--output", choices=["text", "json"], default="text", help="report format (default: text)")
    return parser


def run(args: argparse.Namespace) -> int:
    # Imported here, as every check command's module is imported to build the parser.
    import asyncio

    from promwatchd.diagnose.report import exit_code, render_json, render_text
    from promwatchd.diagnose.rules import diagnose
    from promwatchd.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        for line in str(error).splitlines():
            print(f"promwatchd: {line}", file=sys.stderr)
        return 2

    evidence = asyncio.run(_gather(settings))
    findings = diagnose(evidence)
    url = settings.prometheus_url
    print(render_json(url, findings) if args.output == "json" else render_text(url, findings), end="")
    return exit_code(findings)


async def _gather(settings: Any):
    from promwatchd.diagnose.gather import Target, gather

    owned = settings.backend == "process"
    target = Target(
        url=settings.prometheus_url,
        listen_address=settings.process.listen_address,
        config_file=settings.process.config_file if owned else None,
        data_dir=settings.process.data_dir if owned else None,
        timeout_seconds=settings.probes.timeout,
        max_response_bytes=settings.probes.max_response_bytes,
    )
    facts = await _daemon_facts(settings.server.listen_address)
    return await gather(target, facts)


async def _daemon_facts(listen_address: str):
    """Ask a running promwatchd for what it saw; empty facts when none responds."""
    import asyncio

    import aiohttp

    from promwatchd.diagnose.gather import ProcessFacts

    url = f"http://{listen_address}/api/status"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STATUS_TIMEOUT_SECONDS)) as session:
            async with session.get(url) as response:
                if response.status != 200:
                    return ProcessFacts()
                status = json.loads(await response.content.read(STATUS_MAX_BYTES))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return ProcessFacts()

    last_exit = status.get("last_exit") or {}
    return ProcessFacts(
        running=(status["pid"] is not None) if "pid" in status else None,
        pid=status.get("pid"),
        exit_code=last_exit.get("exit_code"),
        exit_signal=last_exit.get("signal"),
        oom_killed=bool(last_exit.get("oom_killed")),
        recent_exit_causes=tuple(status.get("recent_exit_causes") or ()),
        output_tail=tuple(status.get("output_tail") or last_exit.get("output_tail") or ()),
        startup_progressing=None,
    )
