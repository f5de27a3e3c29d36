"""Mask credentials in configuration source lines before they are shown in excerpts or diffs.

A value is masked when its key names a credential, on the key's own line (``password: x``)
and on the lines below the key that are more indented than it. Those are the lines of a
block scalar (``password: |``) or the items of a list (``secrets:``).
The lines are read by indentation, not parsed, so that excerpts of files that fail to parse
are masked too.
"""

from __future__ import annotations

import re

from promwatchd.redact import MASK, SECRET_KEYS

# Config keys whose values are credentials, in prometheus.yml and its HTTP client and discovery
# settings. proxy_connect_header's header values are secrets in prometheus/common.
CREDENTIAL_KEYS = SECRET_KEYS | {
    "application_secret", "consumer_key", "key_passphrase", "private_key", "service_account_key",
    "certificate_password", "client_certificate_key", "application_credential_secret", "secrets",
    "proxy_connect_header",
}


def is_credential_path(tokens: list[str | int]) -> bool:
    """Return whether a parsed field path (``["scrape_configs", 0, "basic_auth", "password"]``) leads to a credential."""
    return any(isinstance(token, str) and token.lower() in CREDENTIAL_KEYS for token in tokens)
_KEY_VALUE_LINE = re.compile(r"^(\s*(?:-\s+)?[\"']?([A-Za-z_][\w-]*)[\"']?\s*:\s*)(\S.*)$")
_KEY_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)*[\"']?([A-Za-z_][\w-]*)[\"']?[ \t]*:(?:[ \t]|$)")


def mask_credentials(text: str) -> str:
    """Return a source line with the value masked when its key names a credential, such as ``password: x``."""
    match = _KEY_VALUE_LINE.match(text)
    if match is None or match.group(2).lower() not in CREDENTIAL_KEYS:
        return text
    return match.group(1) + MASK


def mask_lines(lines: list[str]) -> list[str]:
    """Return ``lines`` with every credential masked, on its key's line and on the lines nested below the key."""
    masked = []
    # The keys that enclose the current line: (column of the key, whether it names a credential).
    enclosing: list[tuple[int, bool]] = []
    for text in lines:
        stripped = text.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            masked.append(text)
            continue

        # A tab counts to the next multiple of 8, as most terminals show it, so a tab-indented
        # line under a credential key counts as nested below it and is masked.
        columns = text.expandtabs(8) if "\t" in text else text
        # A list item's dash is what nests: "- job_name" at column 2 closes a key at column 3.
        column = len(columns) - len(columns.lstrip(" \t"))
        while enclosing and enclosing[-1][0] >= column:
            enclosing.pop()
        if any(is_credential for _, is_credential in enclosing):
            masked.append(text[: len(text) - len(stripped)] + MASK)
            continue

        masked.append(mask_credentials(text))
        key = _KEY_LINE.match(columns)
        if key is not None:
            enclosing.append((key.start(1), key.group(1).lower() in CREDENTIAL_KEYS))
    return masked


def mask_text(text: str) -> str:
    """Return ``text`` with every credential masked as ``mask_lines`` does, keeping its line endings."""
    lines = text.splitlines(keepends=True)
    bodies = [line.rstrip("\r\n") for line in lines]
    return "".join(masked + line[len(body) :] for masked, body, line in zip(mask_lines(bodies), bodies, lines))


# The masked lines of the last file an excerpt was taken from, so that the excerpts of one
# file cost one pass over it. Replacing the tuple is atomic, so threads may share it.
_last_masked: tuple[list[str] | None, list[str]] = (None, [])


def masked_line(lines: list[str], index: int) -> str:
    """Return line ``index`` of ``lines`` with its credentials masked, judged with the lines above it."""
    global _last_masked
    source, masked = _last_masked
    if source is not lines or len(masked) != len(lines):
        masked = mask_lines(lines)
        _last_masked = (lines, masked)
    return masked[index]
