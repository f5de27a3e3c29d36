"""Atomic file replacement: readers see the old file or the new one, never a part."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, and rename it over ``path``.

    ``owner`` is the (uid, gid) to give the file, such as those of the file it replaces,
    so that a config stays readable by the group Prometheus runs in. Raises
    PermissionError when this user may not give the file that owner.
    Blocking: call it through ``asyncio.to_thread`` from async code.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if owner is not None and owner != (os.getuid(), os.getgid()):
            os.chown(temporary, *owner)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
