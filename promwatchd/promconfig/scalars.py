"""Scalar value types of Prometheus's configuration: durations, byte sizes, URLs, regexes, label names."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

import yaml

from promwatchd.durations import parse_duration
from promwatchd.promconfig.schema import INVALID, Decoder, Invalid, Scalar, go_quote

try:
    import re2  # google-re2: the RE2 engine Go's regexp package follows
except ImportError:  # pragma: no cover - exercised only without google-re2
    re2 = None

if re2 is not None:
    # Invalid patterns are reported as findings; without this RE2 also logs each one to stderr.
    _RE2_OPTIONS = re2.Options()
    _RE2_OPTIONS.log_errors = False

LEGACY_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def is_valid_utf8(text: str) -> bool:
    """Return whether ``text`` has no undecodable bytes (kept as surrogate escapes by the loader)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_valid_label_name(name: str, scheme: str = "utf8") -> bool:
    """Return whether ``name`` is a label name under the validation scheme (``utf8`` is Prometheus 3's default)."""
    if scheme == "legacy":
        return bool(LEGACY_LABEL_NAME.match(name))
    return len(name) > 0 and is_valid_utf8(name)


def label_name_problem(name: str) -> str | None:
    if is_valid_label_name(name):
        return None
    return f"{go_quote(name)} is not a valid label name"


class Duration(Scalar):
    """A Prometheus duration such as ``30s`` or ``1h30m``; the value is in seconds."""

    label = "a duration such as 30s, 5m or 1h30m"
    zero = 0.0

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        try:
            return parse_duration(text)
        except ValueError:
            d.error("invalid-duration", node, path, f"not a valid duration string: {go_quote(text)}", _duration_fix(text))
            return INVALID


def _duration_fix(text: str) -> str:
    if re.fullmatch(r"\d+", text):
        return f"add a unit: {text}s for seconds (Prometheus durations need one of ms, s, m, h, d, w, y)"
    fraction = re.fullmatch(r"(\d*)\.(\d+)", text)
    if fraction:
        milliseconds = round(float(text) * 1000)
        return f"add a unit and use whole numbers: {_exact_duration(milliseconds // 1000) if milliseconds % 1000 == 0 else f'{milliseconds}ms'} if {text} means seconds"
    match = re.fullmatch(r"(\d+)\.(\d+)(ms|s|m|h|d|w|y)", text)
    if match:
        seconds = float(f"{match.group(1)}.{match.group(2)}") * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[match.group(3)]
        if seconds >= 1 and seconds == int(seconds):
            return f"use whole numbers with units, for example {_exact_duration(int(seconds))}"
        return "use whole numbers with units, such as 1m30s instead of 1.5m"
    return "write a whole number followed by a unit (ms, s, m, h, d, w, y), largest unit first, such as 1h30m"


def _exact_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


_BYTE_UNITS = {
    "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50, "EB": 1 << 60,
    "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60,
}
_BYTE_PART = re.compile(r"(\d+(?:\.\d+)?)([^\d.]*)")


class Base2Bytes(Scalar):
    """A size such as ``512MB`` or ``1GiB`` (powers of 1024, as alecthomas/units.Base2Bytes); value in bytes."""

    label = "a size such as 100MB"
    zero = 0

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        body = text[1:] if text.startswith("-") else text
        total = 0.0
        position = 0
        while position < len(body):
            match = _BYTE_PART.match(body, position)
            if match is None:
                return self._fail(text, "", node, d, path)
            number, unit = match.groups()
            if unit not in _BYTE_UNITS:
                return self._fail(text, unit, node, d, path)
            total += float(number) * _BYTE_UNITS[unit]
            position = match.end()
        if not body:
            return self._fail(text, "", node, d, path)
        return -int(total) if text.startswith("-") else int(total)

    def _fail(self, text: str, unit: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        d.error("invalid-size", node, path, f"units: unknown unit {unit} in {text}", "write a number with a unit: B, KB, MB, GB, TB (powers of 1024), such as 100MB")
        return INVALID


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})(.{0,2})")


def url_problem(text: str) -> str | None:
    """Return the error Go's ``net/url.Parse`` gives for ``text``, or None when it parses.

    NOTE: reproduces only the common failures (control characters, bad percent escapes,
    missing scheme, a colon in the first path segment, a bad port, an unclosed IPv6 bracket).
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return f"parse {go_quote(text)}: net/url: invalid control character in URL"
    bad_escape = _ESCAPE.search(text)
    if bad_escape:
        return f"parse {go_quote(text)}: invalid URL escape {go_quote('%' + bad_escape.group(1))}"
    rest = text.split("#", 1)[0]
    scheme_match = _SCHEME.match(rest)
    if rest.startswith(":"):
        return f"parse {go_quote(text)}: missing protocol scheme"
    if scheme_match:
        rest = rest[scheme_match.end():]
    else:
        first_segment = rest.split("/", 1)[0].split("?", 1)[0]
        if ":" in first_segment:
            return f"parse {go_quote(text)}: first path segment in URL cannot contain colon"
    if (scheme_match or rest.startswith("//")) and rest.startswith("//"):
        authority = rest[2:].split("/", 1)[0].split("?", 1)[0]
        host = authority.rsplit("@", 1)[-1]
        if host.startswith("["):
            if "]" not in host:
                return f"parse {go_quote(text)}: missing ']' in host"
            port = host[host.index("]") + 1 :]
            if port and not port.startswith(":"):
                return f"parse {go_quote(text)}: invalid port {go_quote(port)} after host"
        else:
            port = host[host.index(":") :] if ":" in host else ""
        if port and not re.fullmatch(r":\d*", port):
            return f"parse {go_quote(text)}: invalid port {go_quote(port)} after host"
    return None


def split_url(text: str) -> tuple[str, str]:
    """Return (scheme, host) as Go's url.Parse would fill URL.Scheme and URL.Host; empty when absent."""
    scheme_match = _SCHEME.match(text)
    if not scheme_match:
        return "", ""
    rest = text[scheme_match.end():]
    if not rest.startswith("//"):
        return scheme_match.group(1).lower(), ""
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    return scheme_match.group(1).lower(), authority.rsplit("@", 1)[-1]


class URL(Scalar):
    """A URL as ``config.URL`` reads it: anything Go's ``net/url.Parse`` accepts."""

    label = "a URL"

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        problem = url_problem(text)
        if problem is not None:
            d.error("invalid-url", node, path, problem, "write a full URL such as http://host:9090/path")
            return INVALID
        return text


_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


@lru_cache(maxsize=4096)
def regex_problem(pattern: str) -> str | None:
    """Return why RE2 rejects ``pattern`` (as Prometheus anchors it: ``^(?s:pattern)$``), or None."""
    anchored = f"^(?s:{pattern})$"
    if re2 is not None:
        try:
            re2.compile(anchored, _RE2_OPTIONS)
            return None
        except re2.error as error:
            detail = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else str(error)
            return f"invalid regex {go_quote(pattern)}: {detail}"
        except (TypeError, ValueError, UnicodeError) as error:
            return f"invalid regex {go_quote(pattern)}: {error}"
    # NOTE: without google-re2, RE2 semantics are approximated: Python's re plus a check for lookaround and backreferences.
    if _LOOKAROUND.search(pattern) or _BACKREFERENCE.search(pattern):
        return f"invalid regex {go_quote(pattern)}: lookaround and backreferences are not supported by RE2"
    try:
        re.compile(anchored)
    except re.error as error:
        return f"invalid regex {go_quote(pattern)}: {error}"
    return None


def regex_fix(pattern: str) -> str:
    if _LOOKAROUND.search(pattern):
        return "RE2 has no lookahead or lookbehind: match what you want to keep, or split the rule into a keep and a drop rule"
    if _BACKREFERENCE.search(pattern):
        return "RE2 has no backreferences: compare labels with the keepequal or dropequal action instead"
    return "fix the regex; Prometheus uses RE2 syntax and anchors it at both ends"


class Regex(Scalar):
    """A regex as Prometheus compiles it: RE2 syntax, anchored at both ends."""

    label = "a regular expression"

    def text(self, node: yaml.Node, d: Decoder, path: str) -> str | Invalid:
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items and all(isinstance(item, yaml.ScalarNode) for item in items):
            # A list of patterns is one pattern with alternatives.
            joined = "|".join(item.value for item in items)
            return self.type_error(node, d, path, f"write one regular expression with alternatives: '{joined}'")
        return super().text(node, d, path)

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        problem = regex_problem(text)
        if problem is not None:
            d.error("invalid-regex", node, path, problem, regex_fix(text))
            return INVALID
        return text


class LabelName(Scalar):
    """A label name as ``model.LabelName`` reads it under Prometheus 3's default UTF-8 scheme."""

    label = "a label name"

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        problem = label_name_problem(text)
        if problem is not None:
            d.error("invalid-label-name", node, path, problem, "use a non-empty name in valid UTF-8, such as instance_role")
            return INVALID
        return text


class Choice(Scalar):
    """A string limited to ``choices``; ``message`` is formatted with ``value`` for other values."""

    def __init__(self, choices: tuple[str, ...], message: str, fix: str = "", allow_empty: bool = True, lower: bool = False) -> None:
        super().__init__()
        self.choices = choices
        self.message = message
        self.choice_fix = fix or f"use one of: {', '.join(choices)}"
        self.allow_empty = allow_empty
        self.lower = lower

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        value = text.lower() if self.lower else text
        if value in self.choices or (self.allow_empty and value == ""):
            return value
        close = difflib.get_close_matches(value, self.choices, n=1, cutoff=0.7)
        fix = f"did you mean {close[0]}? ({self.choice_fix})" if close else self.choice_fix
        d.error("invalid-value", node, path, self.message.format(value=text, quoted=go_quote(text)), fix)
        return INVALID
