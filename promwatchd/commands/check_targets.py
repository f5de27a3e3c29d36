"""``promwatchd check targets``: fetch every scrape target as Prometheus would and report why any would fail.

Exit codes: 0 every target and health check is fine, 1 problems found, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

DEFAULT_CONCURRENCY = 64
DEFAULT_PER_HOST = 4
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""Kept equal to promwatchd.targets.scrape.DEFAULT_MAX_BODY_BYTES, which this module does not import at start-up."""
PROGRESS_INTERVAL_SECONDS = 0.2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "targets",
        help="fetch every scrape target as Prometheus would and report which would fail and why",
        description=(
            "Fetch every scrape target with the job's scheme, path, params, credentials, TLS settings, "
            "scrape_timeout and body_size_limit, and give each a reason: ok, dns, refused, timeout, tls, "
            "http_status, redirects, connection, content_type, format, too_large, client_config, invalid_target. "
            "Exit status: 0 all fine, 1 problems found, 2 usage or input error."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="Prometheus config (prometheus.yml) to take the targets from; with --prometheus, only the jobs' "
        "credentials, TLS settings, body_size_limit and follow_redirects are taken from it",
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help="base URL of a running Prometheus: check its active targets, compare with its lastError, "
        "and check /-/healthy and /-/ready",
    )
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format (default: text)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"maximum targets fetched at once (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--per-host",
        type=int,
        default=DEFAULT_PER_HOST,
        metavar="N",
        help=f"maximum targets fetched at once from one host:port (default: {DEFAULT_PER_HOST})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help="body limit in bytes, after gzip decompression, for jobs that set no body_size_limit "
        f"(default: {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--health-url",
        action="append",
        default=[],
        metavar="URL",
        help="an extra health URL that must return 200; repeat for more",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for aiohttp and the validator.
    import asyncio

    from promwatchd.targets.config import ConfigError
    from promwatchd.targets.health import HealthCheck
    from promwatchd.targets.prometheus_api import PrometheusAPIError
    from promwatchd.targets.report import CheckOptions, render_text, run_check

    if args.config is None and not args.prometheus:
        print("promwatchd check targets: pass --config FILE or --prometheus URL", file=sys.stderr)
        return EXIT_USAGE
    if args.concurrency < 1 or args.per_host < 1 or args.max_body_bytes < 1:
        print("promwatchd check targets: --concurrency, --per-host and --max-body-bytes must be at least 1", file=sys.stderr)
        return EXIT_USAGE

    options = CheckOptions(
        config_file=args.config,
        prometheus_url=args.prometheus,
        concurrency=args.concurrency,
        per_host=args.per_host,
        health_checks=[HealthCheck(url) for url in args.health_url],
        max_body_bytes=args.max_body_bytes,
    )
    progress = _Progress() if sys.stderr.isatty() and sys.stdout.isatty() else None
    try:
        report = asyncio.run(run_check(options, on_done=progress.update if progress else None))
    except (ConfigError, PrometheusAPIError) as error:
        print(f"promwatchd check targets: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.finish()

    if args.output == "json":
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_PROBLEMS if report.problems_found else EXIT_OK


class _Progress:
    """A one-line counter of checked targets on stderr, redrawn at most every 0.2 s."""

    def __init__(self) -> None:
        self.done = 0
        self.failing = 0
        self._shown_at = 0.0

    def update(self, result: object) -> None:
        self.done += 1
        if getattr(result, "reason", "ok") != "ok":
            self.failing += 1
        now = time.monotonic()
        if now - self._shown_at >= PROGRESS_INTERVAL_SECONDS:
            self._shown_at = now
            sys.stderr.write(f"\rchecked {self.done} targets, {self.failing} failing")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.done:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
