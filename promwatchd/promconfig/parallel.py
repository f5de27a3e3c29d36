"""Validate a large file in parts at the same time, each part in a forked process.

Parsing and decoding are CPU-bound Python, so threads would take turns on the GIL. Forked
processes run on separate cores and inherit the imported validator, so they start in a
few milliseconds. Each child sends its PassResult back through a pipe, pickled, and the
parent only waits, so no part's tree has to be freed object by object.

Every failure here (a chunk that cannot stand for its part, a child that dies) returns
None, and the caller validates the file in one pass instead, so splitting never changes
a verdict or a finding.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from pathlib import Path

from promwatchd.promconfig.check import PassResult, SplitRejected, check_text
from promwatchd.promconfig.split import Chunk, split_scrape_configs

# Below this size the file is validated in one pass. A pass takes about 0.2 s per MB
# (bench/config_validation.py, 2-core AMD EPYC), and splitting and forking cost a few
# milliseconds, so a split pays off from about 100 KB. This keeps a margin.
PARALLEL_MIN_CHARS = 256 * 1024


def available_processes(limit: int = 4) -> int:
    """Return how many processes can run at the same time here: the usable CPUs, at most ``limit``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, limit))


def check_in_parts(text: str, filename: str, base_dir: Path, agent: bool, syntax_only: bool, parts: int) -> list[PassResult] | None:
    """Validate ``text`` in ``parts`` chunks at the same time and return their results in order, or None to validate it in one pass."""
    # Forking while other threads run can deadlock the child on a lock one of them held.
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    chunks = split_scrape_configs(text, parts)
    if chunks is None:
        return None

    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int]] = []
    results: list[PassResult | None] = []
    try:
        for chunk in chunks:
            children.append(_fork_check(chunk, filename, base_dir, agent, syntax_only, parts))
        while children:
            pid, read_fd = children.pop(0)
            results.append(_collect(pid, read_fd))
    finally:
        for pid, read_fd in children:
            _stop(pid, read_fd)

    if any(result is None for result in results):
        return None
    return results


def _fork_check(chunk: Chunk, filename: str, base_dir: Path, agent: bool, syntax_only: bool, parts: int) -> tuple[int, int]:
    """Start a child that validates ``chunk`` and writes its pickled PassResult (None when rejected) to a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(write_fd)
        return pid, read_fd

    # The child: never return into the caller's code, and leave through os._exit so that
    # no buffered output or exit handler of the parent runs twice. The parsed tree is kept
    # until then, because freeing its objects one by one takes longer than the exit.
    status = 1
    try:
        os.close(read_fd)
        keep_alive: list[object] = []
        try:
            result: PassResult | None = check_text(chunk.text, filename, base_dir, agent, syntax_only, chunk, parts, keep_alive)
        except SplitRejected:
            result = None
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)


def _collect(pid: int, read_fd: int) -> PassResult | None:
    """Read a child's result and reap it; None when it failed or sent nothing."""
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not payload:
        _log_child_failure(pid, f"exit status {status}")
        return None
    try:
        result = pickle.loads(payload)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        _log_child_failure(pid, f"unreadable result: {error}")
        return None
    return result if isinstance(result, PassResult) else None


def _log_child_failure(pid: int, error: str) -> None:
    # structlog is imported only here, because most runs never need it and the import costs start-up time.
    import structlog

    structlog.get_logger("promwatchd.promconfig").warning("config_check_child_failed", pid=pid, error=error, action="validating the file in one pass")


def _stop(pid: int, read_fd: int) -> None:
    """Kill and reap a child that is no longer wanted, such as after an interrupt."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(read_fd)
