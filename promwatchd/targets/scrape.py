"""Fetch targets the way Prometheus 2.42 scrapes them and diagnose each one with a reason.

Each fetch sends Prometheus's Accept header, ``Accept-Encoding: gzip`` and
``X-Prometheus-Scrape-Timeout-Seconds``, with the job's credentials and TLS settings. The
whole fetch (connect, headers, body) is bounded by the job's scrape_timeout and the body by
body_size_limit (or ``max_body_bytes``), counted after gzip decompression, as Prometheus
counts it. Redirects are followed, with the credentials on every hop, until the 10th redirect
unless the job sets follow_redirects: false, as Prometheus's Go HTTP client does.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from promwatchd.exposition import Finding, Format, Validator, check_content_type, format_from_content_type
from promwatchd.exposition.detect import find_metrics_links
from promwatchd.targets.config import AuthSettings, ScrapeJob, TLSSettings
from promwatchd.targets.discovery import Target
from promwatchd.targets.reasons import classify_last_error, reasons_agree

ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
"""The Accept header of Prometheus 2.42's scrape request; tests/test_targets_prometheus.py compares it with a real scrape."""
USER_AGENT = "promwatchd-target-checker"
MAX_REDIRECTS = 10
"""Go's http.Client stops after 10 redirects."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The checker's own limit when a job sets no body_size_limit."""
CHUNK_BYTES = 64 * 1024
MAX_ERRORS_SHOWN = 3
HTML_HEAD_BYTES = 64 * 1024
"""How much of an HTML page is searched for links to a metrics path."""
CANDIDATE_PATHS = ("/metrics", "/actuator/prometheus", "/monitoring/prometheus", "/prometheus", "/metrics/")
"""Well-known metrics paths tried on the same host:port when the configured path returns 404."""
MAX_CANDIDATES = 8

SCRAPE_ACCEPTED_RULES = frozenset({"text-missing-final-newline"})
"""Validator rules that Prometheus 2.42's scrape accepts; they are notes, not a format failure.

NOTE: other validator errors may also be accepted by Prometheus 2.42's parser, so a target
can get reason "format" while Prometheus reports it up.
"""


@dataclass
class CheckResult:
    """The diagnosis of one target."""

    job: str
    instance: str
    url: str
    reason: str
    message: str = ""
    status: int | None = None
    latency_seconds: float | None = None
    bytes: int = 0
    """Body bytes after decompression."""
    samples: int = 0
    content_type: str | None = None
    format_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timeout_seconds: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    suggestion: str = ""
    """A metrics_path that returned a valid payload on the same host:port, when exactly one did."""
    html_links: list[str] = field(default_factory=list)
    prometheus_last_error: str | None = None
    prometheus_reason: str | None = None
    agrees_with_prometheus: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "job": self.job,
            "instance": self.instance,
            "url": self.url,
            "reason": self.reason,
            "message": self.message,
            "status": self.status,
            "latency_seconds": None if self.latency_seconds is None else round(self.latency_seconds, 4),
            "bytes": self.bytes,
            "samples": self.samples,
            "content_type": self.content_type,
            "format_errors": self.format_errors,
            "notes": self.notes,
            "timeout_seconds": self.timeout_seconds,
            "labels": self.labels,
            "suggestion": self.suggestion,
        }
        if self.prometheus_reason is not None:
            data["prometheus_last_error"] = self.prometheus_last_error
            data["prometheus_reason"] = self.prometheus_reason
            data["agrees_with_prometheus"] = self.agrees_with_prometheus
        return data


class ClientConfigError(Exception):
    """A job's credentials or TLS files cannot be read or used."""


class BodyTooLarge(Exception):
    """The body reached the size limit."""


class RedirectLimitReached(Exception):
    """The target redirected MAX_REDIRECTS times in a row."""


class TargetScraper:
    """Fetches many targets with bounded concurrency, overall and per host:port.

    Use as an async context manager; it keeps one HTTP session per job, because TLS
    settings and redirect handling are per job.
    """

    def __init__(
        self,
        jobs: dict[str, ScrapeJob],
        concurrency: int = 64,
        per_host: int = 4,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        on_done: Callable[[CheckResult], None] | None = None,
        suggest_paths: bool = True,
    ) -> None:
        self.jobs = jobs
        self.suggest_paths = suggest_paths
        self.max_body_bytes = max_body_bytes
        self.on_done = on_done
        self._overall = asyncio.Semaphore(concurrency)
        self._per_host_limit = per_host
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._session_errors: dict[str, str] = {}

    async def __aenter__(self) -> TargetScraper:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def check_all(self, targets: list[Target]) -> list[CheckResult]:
        """Check every target; the results keep the order of ``targets``."""
        return list(await asyncio.gather(*(self.check(target) for target in targets)))

    async def check(self, target: Target) -> CheckResult:
        """Check one target, waiting for a free slot overall and on its host first."""
        host = urlsplit(target.url).netloc if target.url else ""
        host_slot = self._per_host.setdefault(host, asyncio.Semaphore(self._per_host_limit))
        # The host slot comes first, so targets queued behind a busy host hold no overall slot.
        async with host_slot, self._overall:
            result = await self._check_now(target)
            if self.suggest_paths:
                await self._suggest_path(target, result)
        if target.prometheus_health is not None:
            result.prometheus_last_error = target.prometheus_last_error or ""
            result.prometheus_reason = classify_last_error(result.prometheus_last_error)
            result.agrees_with_prometheus = reasons_agree(result.reason, result.prometheus_reason)
        if self.on_done is not None:
            self.on_done(result)
        return result

    async def _check_now(self, target: Target) -> CheckResult:
        result = CheckResult(
            job=target.job,
            instance=target.instance,
            url=target.url,
            reason="ok",
            timeout_seconds=target.timeout_seconds,
            labels=dict(target.labels),
        )
        if target.error:
            result.reason, result.message = "invalid_target", target.error
            return result

        job = self.jobs.get(target.job) or ScrapeJob(name=target.job, timeout_seconds=target.timeout_seconds)
        try:
            session = self._session(job)
            headers = self._headers(job, target.timeout_seconds)
        except ClientConfigError as error:
            result.reason, result.message = "client_config", str(error)
            return result

        limit = job.body_size_limit or self.max_body_bytes
        started = time.monotonic()
        try:
            async with asyncio.timeout(target.timeout_seconds):
                await self._fetch(session, job, target.url, headers, limit, result)
        except TimeoutError:
            result.reason = "timeout"
            result.message = (
                f'Get "{target.url}": context deadline exceeded (no complete response within the '
                f"scrape_timeout of {target.timeout_seconds:g}s)"
            )
        except BodyTooLarge:
            result.reason = "too_large"
            source = "body_size_limit" if job.body_size_limit else "the checker's limit (--max-body-bytes)"
            result.message = f"body size limit exceeded: the body reached {limit} bytes, {source}"
        except RedirectLimitReached:
            result.reason, result.message = "redirects", f'Get "{target.url}": stopped after {MAX_REDIRECTS} redirects'
        except aiohttp.ClientError as error:
            result.reason, result.message = _classify_client_error(target.url, error)
        except (ssl.SSLError, zlib.error, OSError) as error:
            result.reason = "tls" if isinstance(error, ssl.SSLError) else "connection"
            result.message = f'Get "{target.url}": {type(error).__name__}: {error}'
        result.latency_seconds = time.monotonic() - started
        return result

    async def _fetch(
        self,
        session: aiohttp.ClientSession,
        job: ScrapeJob,
        url: str,
        headers: dict[str, str],
        limit: int,
        result: CheckResult,
    ) -> None:
        request_options: dict[str, Any] = {}
        if job.tls.server_name:
            request_options["server_hostname"] = job.tls.server_name

        # Redirects are followed here, not by aiohttp, because Prometheus sends the job's
        # credentials on every hop (they are added per request by its HTTP transport), while
        # aiohttp drops the Authorization header on a redirect to another host:port.
        for hop in range(MAX_REDIRECTS):
            async with session.get(url, headers=headers, allow_redirects=False, **request_options) as response:
                location = response.headers.get("Location")
                if job.follow_redirects and response.status in REDIRECT_STATUSES and location:
                    if hop == MAX_REDIRECTS - 1:
                        raise RedirectLimitReached()
                    url = urljoin(url, location)
                    continue

                result.status = response.status
                result.content_type = response.headers.get("Content-Type")
                if response.status != 200:
                    result.reason = "http_status"
                    result.message = f"server returned HTTP status {response.status} {response.reason or ''}".rstrip()
                    return
                gzipped = response.headers.get("Content-Encoding", "").lower() == "gzip"
                await _read_and_validate(response, gzipped, limit, result)
                return

    async def _suggest_path(self, target: Target, result: CheckResult) -> None:
        """Try well-known paths (after a 404) or the page's metrics links (after an HTML page) on the same host:port.

        Sets ``result.suggestion`` when exactly one candidate returns a valid payload, and lists
        all working candidates in the notes otherwise.
        """
        if result.reason == "http_status" and result.status == 404:
            candidates = list(CANDIDATE_PATHS)
        elif result.reason == "format" and result.html_links:
            candidates = result.html_links
        else:
            return

        scheme, netloc, path, _query, _fragment = urlsplit(target.url)
        paths = []
        for candidate in candidates:
            linked = urlsplit(urljoin(target.url, candidate))
            if linked.netloc == netloc and linked.path != path and linked.path not in paths:
                paths.append(linked.path)

        paths = paths[:MAX_CANDIDATES]
        probes = [
            asyncio.ensure_future(
                self._check_now(Target(target.job, urlunsplit((scheme, netloc, candidate_path, "", "")), target.labels, target.timeout_seconds))
            )
            for candidate_path in paths
        ]
        # All candidates together get one scrape_timeout, so a slow host costs at most twice the timeout.
        done, pending = await asyncio.wait(probes, timeout=target.timeout_seconds + 0.5)
        for probe in pending:
            probe.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        working = [
            candidate_path
            for candidate_path, probe in zip(paths, probes)
            if probe in done and probe.exception() is None and _passes(probe.result())
        ]
        if len(working) == 1:
            result.suggestion = f"metrics_path: {working[0]}"
            result.notes.append(f"{working[0]} on the same host:port returns a valid payload; set metrics_path: {working[0]}")
        elif working:
            result.notes.append(f"these paths on the same host:port return valid payloads: {', '.join(working)}")
        else:
            result.notes.append(f"none of these paths on the same host:port returns a valid payload: {', '.join(paths)}")

    def _session(self, job: ScrapeJob) -> aiohttp.ClientSession:
        if job.name in self._session_errors:
            raise ClientConfigError(self._session_errors[job.name])
        session = self._sessions.get(job.name)
        if session is not None:
            return session
        try:
            context = make_ssl_context(job.tls)
        except ClientConfigError as error:
            self._session_errors[job.name] = str(error)
            raise
        connector = aiohttp.TCPConnector(limit=0, ssl=context, ttl_dns_cache=60)
        session = aiohttp.ClientSession(connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",))
        self._sessions[job.name] = session
        return session

    def _headers(self, job: ScrapeJob, timeout_seconds: float) -> dict[str, str]:
        headers = {
            "Accept": ACCEPT_HEADER,
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout_seconds:g}",
        }
        authorization = authorization_header(job.auth)
        if authorization:
            headers["Authorization"] = authorization
        return headers


def _passes(result: CheckResult) -> bool:
    return result.reason in ("ok", "content_type") and result.samples > 0


def authorization_header(auth: AuthSettings) -> str:
    """Return the Authorization header value for the job's credentials, read from files when set.

    Files are read on every call, as Prometheus re-reads them on every scrape.
    """
    if auth.kind == "basic":
        password = auth.password
        if auth.password_file is not None:
            password = _read_secret_file(auth.password_file, "basic_auth.password_file")
        token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return f"Basic {token}"
    if auth.kind == "authorization":
        credentials = auth.credentials
        if auth.credentials_file is not None:
            credentials = _read_secret_file(auth.credentials_file, "credentials_file")
        return f"{auth.scheme} {credentials}"
    return ""


def _read_secret_file(path: Any, field_name: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ClientConfigError(f"unable to read {field_name} {str(path)!r}: {getattr(error, 'strerror', None) or error}") from None


def make_ssl_context(tls: TLSSettings) -> ssl.SSLContext | bool:
    """Return the SSL context for a job's tls_config, or True for the system defaults."""
    if tls == TLSSettings():
        return True
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file is not None:
            key = str(tls.key_file) if tls.key_file else None
            context.load_cert_chain(str(tls.cert_file), key)
    except (OSError, ssl.SSLError) as error:
        raise ClientConfigError(f"invalid tls_config: {error}") from None
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _read_and_validate(response: aiohttp.ClientResponse, gzipped: bool, limit: int, result: CheckResult) -> None:
    """Stream the body through the validator; raise BodyTooLarge once ``limit`` bytes are reached."""
    content_type = response.headers.get("Content-Type")
    # Prometheus 2.42 picks the parser by Content-Type: OpenMetrics, else the text format.
    payload_format = Format.OPENMETRICS if format_from_content_type(content_type) is Format.OPENMETRICS else Format.TEXT
    validator = Validator(payload_format, lint=False)
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None

    received = 0
    head = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        if decompressor is not None:
            # Bounded decompression: never inflate more than the remaining budget plus one byte.
            chunk = decompressor.decompress(chunk, limit - received + 1)
            if decompressor.unconsumed_tail:
                raise BodyTooLarge()
        received += len(chunk)
        if received >= limit:
            raise BodyTooLarge()
        if len(head) < HTML_HEAD_BYTES:
            head += chunk[: HTML_HEAD_BYTES - len(head)]
        validator.feed(chunk)
    if decompressor is not None:
        tail = decompressor.flush()
        received += len(tail)
        if received >= limit:
            raise BodyTooLarge()
        validator.feed(tail)

    validation = validator.close()
    result.bytes = received
    result.samples = validation.samples
    _diagnose_body(validation.errors, content_type, response.status, result)
    if any(finding.rule == "html-page" for finding in validation.errors):
        text = bytes(head).decode("utf-8", "replace")
        result.html_links = [link for line in text.splitlines() for link in find_metrics_links(line)]


def _diagnose_body(errors: list[Finding], content_type: str | None, status: int, result: CheckResult) -> None:
    blocking = [finding for finding in errors if finding.rule not in SCRAPE_ACCEPTED_RULES]
    result.notes.extend(_describe_finding(finding) for finding in errors if finding.rule in SCRAPE_ACCEPTED_RULES)
    result.format_errors = [_describe_finding(finding) for finding in blocking[:MAX_ERRORS_SHOWN]]

    content_type_finding = check_content_type(content_type, status)
    if blocking:
        result.reason = "format"
        result.message = result.format_errors[0]
        if content_type_finding is not None:
            result.notes.append(content_type_finding.message)
    elif content_type_finding is not None:
        result.reason = "content_type"
        result.message = content_type_finding.message


def _describe_finding(finding: Finding) -> str:
    location = f"line {finding.line}: " if finding.line else ""
    return f"{location}{finding.rule}: {finding.message}"


def _classify_client_error(url: str, error: aiohttp.ClientError) -> tuple[str, str]:
    """Return (reason, message) for an aiohttp error, worded like Prometheus's lastError where possible."""
    prefix = f'Get "{url}"'
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "dns", f"{prefix}: dial tcp: lookup {error.host}: no such host ({error.os_error})"
    if isinstance(error, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return "tls", f"{prefix}: TLS handshake failed: {error}"
    if isinstance(error, aiohttp.ClientConnectorError):
        if error.os_error is not None and error.os_error.errno == errno.ECONNREFUSED:
            return "refused", f"{prefix}: dial tcp {error.host}:{error.port}: connect: connection refused"
        return "connection", f"{prefix}: cannot connect to {error.host}:{error.port}: {error.os_error or error}"
    if isinstance(error, aiohttp.InvalidURL):
        return "invalid_target", f"invalid scrape URL {url!r}"
    return "connection", f"{prefix}: {type(error).__name__}: {error}"
