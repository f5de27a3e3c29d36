"""Gather the evidence for a diagnosis: probes, config, port, data directory, the daemon's view."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog
import yaml

from promwatchd.diagnose.ports import find_port_holder
from promwatchd.diagnose.rules import ConfigProblem, Evidence
from promwatchd.diagnose.storage import inspect_storage
from promwatchd.probes import ProbeRound, Prober
from promwatchd.selfmetrics import CPU_SECONDS, SAMPLES_APPENDED

log = structlog.get_logger(__name__)

STATUS_CONFIG_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ProcessFacts:
    """Facts about the process from the backend or the daemon: its pid, last exit and output."""

    running: bool | None = None
    pid: int | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    oom_killed: bool = False
    recent_exit_causes: Sequence[str] = ()
    output_tail: Sequence[str] = ()
    startup_progressing: bool | None = None


@dataclass(frozen=True)
class Target:
    """The Prometheus to diagnose and where its files are."""

    url: str
    listen_address: str
    config_file: Path | None = None
    data_dir: Path | None = None
    timeout_seconds: float = 2.0
    max_response_bytes: int = 16 * 1024 * 1024
    targets_by_reason: Mapping[str, int] = field(default_factory=dict)


async def gather(
    target: Target, facts: ProcessFacts, probe_round: ProbeRound | None = None, thorough: bool = True
) -> Evidence:
    """Collect the evidence; blocking file and /proc reads run in threads.

    Without ``thorough``, the config is not validated nor compared with the
    loaded one: that costs tens of milliseconds and decides nothing about
    whether a restart can help, so the daemon's fast path skips it.
    """
    if probe_round is None:
        async with Prober(target.url, target.timeout_seconds, target.max_response_bytes) as prober:
            probe_round = await prober.run_round()
            progressing = facts.startup_progressing
            if progressing is None and probe_round["ready"].status == 503:
                progressing = await _progress_between_rounds(prober, probe_round)
                facts = _with_progress(facts, progressing)

    config_file = target.config_file if thorough else None
    problems_task = asyncio.to_thread(_config_problems, config_file)
    holder_task = asyncio.to_thread(_port_holder, target.listen_address)
    storage_task = asyncio.to_thread(inspect_storage, target.data_dir) if target.data_dir is not None else _none()
    status_task = _prometheus_status(target) if thorough else _no_status()
    problems, holder, storage, (matches, flags) = await asyncio.gather(
        problems_task, holder_task, storage_task, status_task
    )

    return Evidence(
        listen_address=target.listen_address,
        probes={name: _probe_summary(result) for name, result in probe_round.results.items()},
        self_metrics=dict(probe_round["metrics"].samples),
        running=facts.running,
        pid=facts.pid,
        process_state=await asyncio.to_thread(process_state, facts.pid) if facts.pid else "",
        exit_code=facts.exit_code,
        exit_signal=facts.exit_signal,
        oom_killed=facts.oom_killed,
        recent_exit_causes=tuple(facts.recent_exit_causes),
        output_tail=tuple(facts.output_tail),
        config_file=target.config_file,
        config_problems=problems,
        loaded_config_matches_file=matches,
        flags=flags or {},
        port_holder=holder,
        storage=storage,
        startup_progressing=facts.startup_progressing,
        targets_by_reason=dict(target.targets_by_reason),
    )


async def _none() -> None:
    return None


async def _no_status() -> tuple[None, None]:
    return None, None


def _with_progress(facts: ProcessFacts, progressing: bool) -> ProcessFacts:
    return ProcessFacts(
        facts.running, facts.pid, facts.exit_code, facts.exit_signal, facts.oom_killed,
        facts.recent_exit_causes, facts.output_tail, progressing,
    )


async def _progress_between_rounds(prober: Prober, first: ProbeRound, wait_seconds: float = 1.0) -> bool:
    """Return whether Prometheus's CPU time or appended samples moved over ``wait_seconds``."""
    await asyncio.sleep(wait_seconds)
    second = await prober.run_round()
    before, after = first["metrics"].samples, second["metrics"].samples
    return any(after.get(name, 0) > before.get(name, 0) for name in (CPU_SECONDS, SAMPLES_APPENDED))


def process_state(pid: int) -> str:
    """Return the state letter of a process from /proc/PID/stat, or "" when it is gone. Blocking."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    # The command name in parentheses may contain spaces, so split after its closing parenthesis.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] if fields else ""


def _probe_summary(result: Any) -> dict[str, object]:
    return {"ok": result.ok, "status": result.status, "error": result.error, "detail": result.detail}


def _config_problems(config_file: Path | None) -> tuple[ConfigProblem, ...]:
    if config_file is None:
        return ()
    from promwatchd.promconfig import validate_file

    report = validate_file(config_file)
    return tuple(
        ConfigProblem(f.file, f.line, f.column, f.rule, f.message) for f in report.findings if f.is_error
    )


def _port_holder(listen_address: str):
    try:
        return find_port_holder(listen_address)
    except (ValueError, OSError) as error:
        log.warning("port_holder_lookup_failed", listen_address=listen_address, error=str(error))
        return None


async def _prometheus_status(target: Target) -> tuple[bool | None, dict[str, str] | None]:
    """Return (the loaded config matches the file, Prometheus's flags), each None when unknown."""
    timeout = aiohttp.ClientTimeout(total=target.timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        config_data, flags = await asyncio.gather(
            _status_data(session, target.url, "config"), _status_data(session, target.url, "flags")
        )

    matches = None
    if target.config_file is not None and isinstance(config_data, dict):
        matches = await asyncio.to_thread(_jobs_match, target.config_file, config_data.get("yaml"))
    if not isinstance(flags, dict):
        return matches, None
    return matches, {str(key): str(value) for key, value in flags.items()}


async def _status_data(session: aiohttp.ClientSession, url: str, name: str) -> object:
    """Return the ``data`` of /api/v1/status/NAME, or None when the request fails."""
    try:
        async with session.get(f"{url}/api/v1/status/{name}") as response:
            if response.status != 200:
                return None
            body = await response.content.read(STATUS_CONFIG_MAX_BYTES)
        return json.loads(body).get("data")
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError):
        return None


def _jobs_match(config_file: Path, loaded_yaml: object) -> bool | None:
    """Compare the job names Prometheus runs with those in the file; None when either is unknown. Blocking."""
    if not isinstance(loaded_yaml, str):
        return None
    try:
        file_jobs = _job_names_in_file(config_file)
        loaded_jobs = _job_names(yaml.safe_load(loaded_yaml))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if file_jobs is None or loaded_jobs is None:
        return None
    return loaded_jobs == file_jobs


def _job_names_in_file(path: Path) -> set[str] | None:
    return _job_names(yaml.safe_load(path.read_text(encoding="utf-8")))


def _job_names(document: object) -> set[str] | None:
    if not isinstance(document, dict):
        return None
    jobs = document.get("scrape_configs") or []
    if not isinstance(jobs, list):
        return None
    return {str(job.get("job_name")) for job in jobs if isinstance(job, dict)}
