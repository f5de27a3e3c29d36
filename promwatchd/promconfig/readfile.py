"""Read a file that a configuration names, with a size bound, as bytes or as the finding that explains why not."""

from __future__ import annotations

from pathlib import Path

from promwatchd.promconfig.findings import ERROR, Finding

# Bound on the bytes read from one referenced file, such as a rule file.
MAX_REFERENCED_FILE_BYTES = 64 * 1024 * 1024


def read_referenced_file(path: Path, kind: str, split_hint: str) -> bytes | Finding:
    """Return the bytes of ``path``, or an error finding when it cannot be read or is larger than the bound.

    ``kind`` names the file in messages (``rule file``); ``split_hint`` is the fix for a file that is too large.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_REFERENCED_FILE_BYTES + 1)
    except OSError as error:
        return Finding(ERROR, "file-unreadable", name, 0, 0, "", f"cannot read the {kind}: {error.strerror}", "check the path and permissions")
    if len(data) > MAX_REFERENCED_FILE_BYTES:
        return Finding(ERROR, "file-too-large", name, 0, 0, "", f"the {kind} is larger than {MAX_REFERENCED_FILE_BYTES} bytes and was not checked", split_hint)
    return data
