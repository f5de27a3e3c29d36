"""Turn a probe round into one machine event: pure, with the progress memory passed in.

``/-/healthy`` returns 200 even when Prometheus is wedged, so health rests on
readiness, a real query and Prometheus's own counters moving, never on
``/-/healthy`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from promwatchd.machine import ProbeDegraded, ProbeFailed, ProbeOk, ProbeStarting
from promwatchd.probes import ProbeRound
from promwatchd.selfmetrics import CPU_SECONDS, HEAD_SERIES, RELOAD_SUCCESSFUL, SAMPLES_APPENDED

AssessedEvent = ProbeOk | ProbeDegraded | ProbeStarting | ProbeFailed


@dataclass(frozen=True)
class Progress:
    """The counters seen in earlier rounds, passed in and out so that assessment stays pure."""

    cpu_seconds: float | None = None
    samples_appended: float | None = None
    head_series: float | None = None
    output_lines: int = 0
    samples_last_advanced_at: float | None = None


def assess(
    probe_round: ProbeRound,
    previous: Progress,
    output_lines: int,
    ingestion_stall_seconds: float,
) -> tuple[AssessedEvent, Progress]:
    """Return the event this round means, and the progress memory for the next round.

    ``output_lines`` is the count of lines Prometheus has written so far, or 0
    when the backend cannot see its output. New lines count as startup
    progress, because WAL replay logs each segment it loads.
    """
    healthy, ready, query, metrics = (probe_round[p] for p in ("healthy", "ready", "query", "metrics"))
    progress = _advance(previous, probe_round, output_lines)

    if not (healthy.ok or ready.ok or metrics.ok or ready.status is not None):
        return ProbeFailed(f"not answering: {healthy.detail or ready.detail}"), progress

    if not ready.ok:
        if ready.status == 503:
            return ProbeStarting(progressed=_moved(previous, progress)), progress
        return ProbeFailed(f"not ready: {ready.detail}"), progress

    if not query.ok:
        return ProbeFailed(f"query failed: {query.detail}"), progress

    if not metrics.ok:
        return ProbeDegraded(f"own metrics unavailable: {metrics.detail}"), progress
    if metrics.samples.get(RELOAD_SUCCESSFUL) == 0:
        return ProbeDegraded("the last config reload failed; Prometheus runs an older config"), progress

    stalled_since = progress.samples_last_advanced_at
    if stalled_since is not None and probe_round.at - stalled_since > ingestion_stall_seconds:
        seconds = probe_round.at - stalled_since
        return ProbeDegraded(f"no samples appended for {seconds:.0f}s (scraping stalled)"), progress

    return ProbeOk(), progress


def _advance(previous: Progress, probe_round: ProbeRound, output_lines: int) -> Progress:
    samples = probe_round["metrics"].samples
    appended = samples.get(SAMPLES_APPENDED)

    advanced_at = previous.samples_last_advanced_at
    if appended is not None and previous.samples_appended is not None and appended > previous.samples_appended:
        advanced_at = probe_round.at
    elif appended is not None and previous.samples_appended is not None and appended < previous.samples_appended:
        advanced_at = None  # the counter reset: Prometheus restarted

    return Progress(
        cpu_seconds=samples.get(CPU_SECONDS, previous.cpu_seconds),
        samples_appended=appended if appended is not None else previous.samples_appended,
        head_series=samples.get(HEAD_SERIES, previous.head_series),
        output_lines=output_lines,
        samples_last_advanced_at=advanced_at,
    )


def _moved(previous: Progress, current: Progress) -> bool:
    def grew(before: float | None, after: float | None) -> bool:
        return before is not None and after is not None and after > before

    return (
        grew(previous.cpu_seconds, current.cpu_seconds)
        or grew(previous.samples_appended, current.samples_appended)
        or grew(previous.head_series, current.head_series)
        or current.output_lines > previous.output_lines
    )
