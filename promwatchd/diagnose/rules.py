"""Rules that turn evidence into ranked root causes: pure, no I/O.

Each rule looks at the evidence and returns a finding or None. A finding
names one root cause, the evidence lines behind it, a confidence, the fix,
and whether a restart can help. ``diagnose`` runs every rule and ranks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promwatchd.diagnose.ports import PortHolder
from promwatchd.diagnose.storage import StorageEvidence

CAUSES = (
    "config_invalid",
    "port_in_use",
    "data_dir_permission",
    "disk_full",
    "lock_held",
    "wal_gap",
    "wal_corruption",
    "oom_loop",
    "crash_loop",
    "wal_replay_slow",
    "query_engine_hung",
    "unresponsive",
    "reload_failed",
    "lifecycle_disabled",
    "targets_failing",
)
"""The bounded set of causes, also used as a metric label."""

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

BLOCKING_CAUSES = frozenset({"port_in_use", "disk_full", "lock_held", "data_dir_permission", "wal_gap", "wal_corruption"})
"""Causes that a restart cannot fix: the daemon alerts and waits instead of restarting in a loop."""

DISK_FULL_FREE_BYTES = 64 * 1024 * 1024
"""Free space below which the disk counts as full: the WAL writes 128 MiB segments (an estimate of headroom)."""


@dataclass(frozen=True)
class ConfigProblem:
    """One error of the config validator, position included."""

    file: str
    line: int
    column: int
    rule: str
    message: str


@dataclass(frozen=True)
class Evidence:
    """Everything promwatchd could see about one Prometheus."""

    listen_address: str
    probes: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """Per probe name: ok, status, error, detail (as in /api/status)."""
    self_metrics: Mapping[str, float] = field(default_factory=dict)
    running: bool | None = None
    pid: int | None = None
    process_state: str = ""
    """The supervised process's state letter from /proc/PID/stat (R, S, D, T for stopped, Z)."""
    exit_code: int | None = None
    exit_signal: int | None = None
    oom_killed: bool = False
    recent_exit_causes: Sequence[str] = ()
    """Causes of the latest unexpected exits, oldest first."""
    output_tail: Sequence[str] = ()
    config_file: Path | None = None
    config_problems: Sequence[ConfigProblem] = ()
    loaded_config_matches_file: bool | None = None
    flags: Mapping[str, str] = field(default_factory=dict)
    """Prometheus's command-line flags from /api/v1/status/flags, when the request succeeds."""
    port_holder: PortHolder | None = None
    storage: StorageEvidence | None = None
    startup_progressing: bool | None = None
    targets_by_reason: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One root cause with its evidence and fix."""

    cause: str
    summary: str
    evidence: tuple[str, ...]
    fix: str
    confidence: float
    severity: str = "critical"
    restart_helps: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "cause": self.cause,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "fix": self.fix,
            "confidence": self.confidence,
            "severity": self.severity,
            "restart_helps": self.restart_helps,
        }


Rule = Callable[[Evidence], "Finding | None"]


def diagnose(evidence: Evidence) -> list[Finding]:
    """Run every rule; return the findings, most severe and most certain first."""
    findings = [finding for rule in RULES if (finding := rule(evidence)) is not None]
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f.severity], -f.confidence))


def is_blocking(finding: Finding | None) -> bool:
    """Return whether this top finding means restarting is pointless until someone fixes the cause."""
    return finding is not None and finding.severity == "critical" and finding.cause in BLOCKING_CAUSES


def _log_lines(evidence: Evidence, *needles: str, limit: int = 3) -> tuple[str, ...]:
    """Return the newest output lines containing any needle (ignoring case), oldest first."""
    lowered = [needle.lower() for needle in needles]
    hits = [line.strip() for line in evidence.output_tail if any(needle in line.lower() for needle in lowered)]
    return tuple(hits[-limit:])


def config_invalid(evidence: Evidence) -> Finding | None:
    if evidence.probes.get("ready", {}).get("ok"):
        return None  # Prometheus runs, so an older config loaded: reload_failed reports the file
    log_lines = _log_lines(evidence, "error loading config", "failed to apply configuration")
    if not evidence.config_problems and not log_lines:
        return None

    lines = [f"{p.file}:{p.line}:{p.column}: {p.rule}: {p.message}" for p in evidence.config_problems[:5]]
    first = evidence.config_problems[0] if evidence.config_problems else None
    where = f"{first.file}:{first.line}" if first is not None else str(evidence.config_file or "the config file")
    return Finding(
        cause="config_invalid",
        summary=f"the Prometheus config is invalid ({where}), so Prometheus cannot load it",
        evidence=tuple(lines) + log_lines,
        fix=f"fix {where} (promwatchd check config {evidence.config_file or 'FILE'} lists every problem), then reload",
        confidence=0.95 if log_lines else 0.8,
    )


def port_in_use(evidence: Evidence) -> Finding | None:
    holder = evidence.port_holder
    log_lines = _log_lines(evidence, "address already in use")
    foreign = holder is not None and holder.pid != evidence.pid
    # Without our process's own bind error, a holder only counts when our process is known to be down:
    # a healthy Prometheus normally listens on its own port.
    if not log_lines and not (foreign and evidence.running is False):
        return None
    lines = list(log_lines)
    who = "another process"
    if holder is not None and foreign:
        who = f"pid {holder.pid} ({holder.command or 'unknown command'})" if holder.pid else "a process we cannot see"
        lines.append(f"{holder.address}:{holder.port} is held by {who}")
        if "prometheus" in holder.command:
            lines.append("the holder is itself a Prometheus: an older instance or a second service")
    return Finding(
        cause="port_in_use",
        summary=f"{evidence.listen_address} is already in use by {who}, so Prometheus cannot listen there",
        evidence=tuple(lines),
        fix="stop the other process if it is unwanted (never killed automatically), or give Prometheus another --web.listen-address",
        confidence=0.95 if log_lines else 0.7,
    )


def data_dir_permission(evidence: Evidence) -> Finding | None:
    storage = evidence.storage
    log_lines = _log_lines(evidence, "permission denied")
    not_writable = storage is not None and storage.exists and storage.is_directory and storage.writable is False
    if not not_writable and not log_lines:
        return None

    lines = list(log_lines)
    path = storage.path if storage is not None else "the data directory"
    if storage is not None and storage.mode is not None:
        lines.append(f"{path}: owner {storage.owner_uid}:{storage.owner_gid}, mode {storage.mode:o}, not writable by Prometheus's user")
    return Finding(
        cause="data_dir_permission",
        summary=f"Prometheus's user cannot write {path}",
        evidence=tuple(lines),
        fix=f"chown -R <prometheus user> {path} (or run Prometheus as the directory's owner)",
        confidence=0.9 if log_lines and not_writable else 0.75,
    )


def disk_full(evidence: Evidence) -> Finding | None:
    storage = evidence.storage
    log_lines = _log_lines(evidence, "no space left on device", "SIGBUS", "unexpected fault address")
    low_space = storage is not None and storage.free_bytes is not None and storage.free_bytes < DISK_FULL_FREE_BYTES
    no_inodes = storage is not None and storage.free_inodes == 0
    if not (low_space or no_inodes or any("no space left" in line for line in log_lines)):
        return None

    lines = list(log_lines)
    if storage is not None and storage.free_bytes is not None:
        lines.append(f"{storage.path}: {storage.free_bytes} bytes free of {storage.total_bytes}, {storage.free_inodes} inodes free")
    return Finding(
        cause="disk_full",
        summary="the file system of the TSDB is full, so WAL writes and compaction fail; a restart cannot fix that",
        evidence=tuple(lines),
        fix="free or add space, then set --storage.tsdb.retention.size to about 80% of the volume; delete only the oldest block directories, never wal/ or chunks_head/",
        confidence=0.95 if (low_space or no_inodes) and log_lines else 0.85,
    )


def lock_held(evidence: Evidence) -> Finding | None:
    storage = evidence.storage
    log_lines = _log_lines(evidence, "lock DB directory")
    held_by_other = (
        storage is not None
        and storage.lock_holder_pid is not None
        and storage.lock_holder_pid != evidence.pid
    )
    if not held_by_other and not log_lines:
        return None

    lines = list(log_lines)
    if held_by_other and storage is not None:
        lines.append(f"{storage.path / 'lock'} is locked by pid {storage.lock_holder_pid}")
    return Finding(
        cause="lock_held",
        summary="another process holds the TSDB lock, so a second Prometheus cannot open the data directory",
        evidence=tuple(lines),
        fix="stop the other Prometheus that uses this --storage.tsdb.path, or give each instance its own directory",
        confidence=0.95 if held_by_other and log_lines else 0.8,
    )


def wal_gap(evidence: Evidence) -> Finding | None:
    storage = evidence.storage
    log_lines = _log_lines(evidence, "segments are not sequential")
    gaps = storage.wal.gaps if storage is not None else ()
    if not gaps and not log_lines:
        return None

    lines = list(log_lines)
    if storage is not None and gaps:
        shown = ", ".join(f"{n:08d}" for n in gaps[:10])
        lines.append(f"{storage.path / 'wal'}: segments {storage.wal.segments[0]:08d}..{storage.wal.segments[-1]:08d}, missing {shown}")
    return Finding(
        cause="wal_gap",
        summary="the WAL has a gap in its segment numbers, so the TSDB refuses to open",
        evidence=tuple(lines),
        fix="with Prometheus stopped, move (do not delete) the segments after the gap into a backup folder, then start it; the samples only in those segments are lost",
        confidence=0.95 if gaps and log_lines else 0.85,
    )


_WAL_REPAIR = ("Encountered WAL read error", "Starting corruption repair", "Deleting all segments newer than corrupted segment", "repair corrupted WAL")


def wal_corruption(evidence: Evidence) -> Finding | None:
    log_lines = _log_lines(evidence, *_WAL_REPAIR, limit=4)
    if not log_lines:
        return None
    failed = any("cannot handle error" in line or "repair corrupted WAL" in line for line in log_lines)
    return Finding(
        cause="wal_corruption",
        summary=(
            "the WAL is corrupted and its repair failed, so the TSDB cannot open"
            if failed
            else "the WAL was corrupted and Prometheus repaired it by dropping the newer segments: data was lost"
        ),
        evidence=log_lines,
        fix=(
            "with Prometheus stopped, move the corrupt segment and all later ones aside, then start it"
            if failed
            else "find why Prometheus stopped uncleanly (OOM, full disk, storage faults in dmesg); the dropped samples cannot be recovered"
        ),
        confidence=0.9,
        severity="critical" if failed else "warning",
    )


def oom_loop(evidence: Evidence) -> Finding | None:
    oom_exits = sum(1 for cause in evidence.recent_exit_causes if cause == "oom")
    if not evidence.oom_killed and oom_exits == 0:
        return None
    lines = [f"{oom_exits} of the last {len(evidence.recent_exit_causes)} exits were OOM kills"]
    if evidence.oom_killed:
        lines.append("the last exit has the OOMKilled flag set")
    return Finding(
        cause="oom_loop",
        summary="Prometheus is killed for using more memory than its limit allows",
        evidence=tuple(lines),
        fix="raise the memory limit, or cut series: fewer targets or labels, or metric_relabel_configs that drop high-cardinality series (a shorter retention does not shrink the in-memory head)",
        confidence=0.95 if evidence.oom_killed else 0.8,
        restart_helps=False,
    )


def crash_loop(evidence: Evidence) -> Finding | None:
    crashes = [cause for cause in evidence.recent_exit_causes if cause in ("crash", "killed")]
    if len(crashes) < 3:
        return None
    tail = tuple(line.strip() for line in evidence.output_tail[-5:])
    return Finding(
        cause="crash_loop",
        summary=f"Prometheus crashed {len(crashes)} times recently without a known cause",
        evidence=(f"exit causes, oldest first: {', '.join(evidence.recent_exit_causes)}",) + tail,
        fix="read the last log lines above; run Prometheus by hand with the same flags to see the full error",
        confidence=0.5,
        restart_helps=True,
    )


def wal_replay_slow(evidence: Evidence) -> Finding | None:
    ready = evidence.probes.get("ready", {})
    if ready.get("status") != 503 or not evidence.startup_progressing:
        return None
    replay = _log_lines(evidence, "WAL segment loaded", "Replaying WAL", limit=2)
    return Finding(
        cause="wal_replay_slow",
        summary="Prometheus is still replaying its WAL and making progress: this is not a failure, wait",
        evidence=("/-/ready returns 503 while CPU time, samples or log lines keep moving",) + replay,
        fix="wait; a large WAL takes minutes to replay. Restarting starts the replay again from the beginning",
        confidence=0.8,
        severity="info",
        restart_helps=False,
    )


def query_engine_hung(evidence: Evidence) -> Finding | None:
    healthy = evidence.probes.get("healthy", {})
    query = evidence.probes.get("query", {})
    if not healthy.get("ok") or query.get("ok", True) or query.get("error") != "timeout":
        return None
    return Finding(
        cause="query_engine_hung",
        summary="Prometheus answers /-/healthy but a trivial query times out: the query engine or the TSDB is wedged",
        evidence=(f"query probe: {query.get('detail', '')}",),
        fix="restart Prometheus; if it recurs, look for expensive queries (query log, --query.max-concurrency) and goroutine dumps at /debug/pprof",
        confidence=0.8,
        restart_helps=True,
    )


def unresponsive(evidence: Evidence) -> Finding | None:
    probes = [evidence.probes.get(name, {}) for name in ("healthy", "ready", "query")]
    if not probes[0] or any(probe.get("ok") or probe.get("error") != "timeout" for probe in probes):
        return None
    lines = [f"{name}: {probe.get('detail', '')}" for name, probe in zip(("healthy", "ready", "query"), probes)]
    stopped = evidence.process_state == "T"
    if evidence.pid is not None and evidence.process_state:
        lines.append(f"pid {evidence.pid} is in state {evidence.process_state}" + (" (stopped by a signal)" if stopped else ""))
    return Finding(
        cause="unresponsive",
        summary="Prometheus accepts connections but answers nothing: it is " + ("stopped (SIGSTOP)" if stopped else "hung"),
        evidence=tuple(lines),
        fix="send SIGCONT if it was stopped on purpose; otherwise restart it (promwatchd does after probes.failure_threshold rounds)",
        confidence=0.9 if stopped else 0.7,
        restart_helps=True,
    )


def lifecycle_disabled(evidence: Evidence) -> Finding | None:
    if evidence.flags.get("web.enable-lifecycle") != "false" or evidence.loaded_config_matches_file is not False:
        return None
    if evidence.self_metrics.get("prometheus_config_last_reload_successful") == 0:
        return None  # a reload ran and failed, and reload_failed reports why
    return Finding(
        cause="lifecycle_disabled",
        summary="the config file changed but Prometheus still runs the old one: it was started without --web.enable-lifecycle, so POST /-/reload is refused (HTTP 403)",
        evidence=(
            "/api/v1/status/flags: web.enable-lifecycle is false",
            "the job names Prometheus runs differ from those in the file",
            "prometheus_config_last_reload_successful is 1: no reload was attempted since the change",
        ),
        fix="reload with SIGHUP (kill -HUP <pid>, or docker kill -s HUP <container>); add --web.enable-lifecycle only where the port is not reachable by untrusted clients",
        confidence=0.85,
        severity="warning",
        restart_helps=False,
    )


def reload_failed(evidence: Evidence) -> Finding | None:
    failed_metric = evidence.self_metrics.get("prometheus_config_last_reload_successful") == 0
    differs = evidence.loaded_config_matches_file is False
    if not failed_metric and not differs:
        return None
    if not failed_metric and evidence.flags.get("web.enable-lifecycle") == "false":
        return None  # no reload happened at all: lifecycle_disabled explains it
    lines = []
    if failed_metric:
        lines.append("prometheus_config_last_reload_successful is 0")
    if differs:
        lines.append("the config Prometheus runs (/api/v1/status/config) differs from the file on disk")
    lines.extend(_log_lines(evidence, "Error reloading config"))
    lines.extend(f"{p.file}:{p.line}:{p.column}: {p.rule}: {p.message}" for p in evidence.config_problems[:5])
    if failed_metric:
        summary = "the last config reload failed: Prometheus runs an older config and would fail at its next restart"
        fix = "fix the file (promwatchd check config), then reload; do not restart Prometheus until the file validates"
    else:
        summary = "the config file changed since Prometheus loaded it, and it has not been reloaded"
        fix = "validate the file (promwatchd check config), then reload: POST /-/reload or SIGHUP"
    return Finding(
        cause="reload_failed",
        summary=summary,
        evidence=tuple(lines),
        fix=fix,
        confidence=0.9 if failed_metric else 0.6,
        severity="warning",
    )


def targets_failing(evidence: Evidence) -> Finding | None:
    failing = {reason: count for reason, count in evidence.targets_by_reason.items() if reason != "ok" and count}
    if not failing:
        return None
    total = sum(evidence.targets_by_reason.values())
    ranked = sorted(failing.items(), key=lambda item: -item[1])
    return Finding(
        cause="targets_failing",
        summary=f"{sum(failing.values())} of {total} scrape targets fail",
        evidence=tuple(f"{count} targets: {reason}" for reason, count in ranked),
        fix="promwatchd check targets shows each failing target and why",
        confidence=0.9,
        severity="warning",
    )


RULES: tuple[Rule, ...] = (
    config_invalid,
    port_in_use,
    data_dir_permission,
    disk_full,
    lock_held,
    wal_gap,
    wal_corruption,
    oom_loop,
    crash_loop,
    wal_replay_slow,
    query_engine_hung,
    unresponsive,
    reload_failed,
    lifecycle_disabled,
    targets_failing,
)
