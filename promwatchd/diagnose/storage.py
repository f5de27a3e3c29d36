"""Facts about Prometheus's data directory: ownership, free space, the lock, WAL continuity."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

LOCK_FILE = "lock"
WAL_DIR = "wal"
CHECKPOINT_PREFIX = "checkpoint."


@dataclass(frozen=True)
class WalState:
    """The WAL's segment numbers and checkpoints, and the numbers missing between them."""

    segments: tuple[int, ...] = ()
    checkpoints: tuple[int, ...] = ()
    gaps: tuple[int, ...] = ()
    """Segment numbers missing between the first and the last segment."""
    unreadable: str = ""


@dataclass(frozen=True)
class StorageEvidence:
    """The data directory's facts, with write access judged for the user Prometheus runs as."""

    path: Path
    exists: bool
    is_directory: bool = False
    owner_uid: int | None = None
    owner_gid: int | None = None
    mode: int | None = None
    writable: bool | None = None
    """Whether the given user may create files in it (None when not checked)."""
    free_bytes: int | None = None
    total_bytes: int | None = None
    free_inodes: int | None = None
    lock_file: bool = False
    lock_holder_pid: int | None = None
    wal: WalState = field(default_factory=WalState)
    error: str = ""


def wal_gaps(segments: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """Return the numbers missing from a run of WAL segments; Prometheus refuses to open a WAL with any."""
    ordered = sorted(set(segments))
    missing: list[int] = []
    for previous, current in zip(ordered, ordered[1:]):
        missing.extend(range(previous + 1, current))
    return tuple(missing)


def can_write(mode: int, owner_uid: int, owner_gid: int, uid: int, gids: set[int]) -> bool:
    """Return whether a user may create entries in a directory with these permission bits."""
    if uid == 0:
        return True
    if uid == owner_uid:
        return bool(mode & stat.S_IWUSR and mode & stat.S_IXUSR)
    if owner_gid in gids:
        return bool(mode & stat.S_IWGRP and mode & stat.S_IXGRP)
    return bool(mode & stat.S_IWOTH and mode & stat.S_IXOTH)


def inspect_wal(data_dir: Path) -> WalState:
    """List the WAL's segments and checkpoints. Blocking."""
    try:
        names = os.listdir(data_dir / WAL_DIR)
    except FileNotFoundError:
        return WalState()
    except OSError as error:
        return WalState(unreadable=f"{data_dir / WAL_DIR}: {error.strerror}")

    segments = sorted(int(name) for name in names if name.isdigit())
    checkpoints = sorted(
        int(name[len(CHECKPOINT_PREFIX) :])
        for name in names
        if name.startswith(CHECKPOINT_PREFIX) and name[len(CHECKPOINT_PREFIX) :].isdigit()
    )
    return WalState(tuple(segments), tuple(checkpoints), wal_gaps(segments))


def inspect_storage(data_dir: Path, uid: int | None = None, gids: set[int] | None = None, proc: Path = Path("/proc")) -> StorageEvidence:
    """Gather the data directory's facts; ``uid``/``gids`` are Prometheus's user (default: ours). Blocking."""
    try:
        info = data_dir.stat()
    except FileNotFoundError:
        return StorageEvidence(data_dir, exists=False, **_space(data_dir.parent))
    except OSError as error:
        return StorageEvidence(data_dir, exists=False, error=f"cannot inspect {data_dir}: {error.strerror}")

    if not stat.S_ISDIR(info.st_mode):
        return StorageEvidence(data_dir, exists=True, is_directory=False, owner_uid=info.st_uid, owner_gid=info.st_gid)

    uid = os.getuid() if uid is None else uid
    gids = set(os.getgroups()) | {os.getgid()} if gids is None else gids
    lock = data_dir / LOCK_FILE
    return StorageEvidence(
        data_dir,
        exists=True,
        is_directory=True,
        owner_uid=info.st_uid,
        owner_gid=info.st_gid,
        mode=stat.S_IMODE(info.st_mode),
        writable=can_write(info.st_mode, info.st_uid, info.st_gid, uid, gids),
        lock_file=lock.exists(),
        lock_holder_pid=_lock_holder(lock, proc),
        wal=inspect_wal(data_dir),
        **_space(data_dir),
    )


def _space(path: Path) -> dict[str, int | None]:
    try:
        vfs = os.statvfs(path)
    except OSError:
        return {"free_bytes": None, "total_bytes": None, "free_inodes": None}
    return {
        "free_bytes": vfs.f_bavail * vfs.f_frsize,
        "total_bytes": vfs.f_blocks * vfs.f_frsize,
        "free_inodes": vfs.f_favail,
    }


def _lock_holder(lock: Path, proc: Path) -> int | None:
    """Return the pid holding a flock or POSIX lock on ``lock``, from /proc/locks."""
    try:
        inode = lock.stat().st_ino
        table = (proc / "locks").read_text(encoding="ascii")
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 3103 fe:00:2146492 0 EOF"; blocked waiters are marked "->".
        if len(fields) < 6 or fields[1] == "->":
            continue
        device_inode = fields[5].rsplit(":", 1)
        if len(device_inode) == 2 and device_inode[1].isdigit() and int(device_inode[1]) == inode:
            return int(fields[4])
    return None
