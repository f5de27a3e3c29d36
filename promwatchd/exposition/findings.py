"""Findings of the exposition validator: where, which rule, how bad, and what to do."""

from __future__ import annotations

import enum


class Severity(str, enum.Enum):
    """Severity of a finding.

    ``error``: the payload breaks the exposition format, so Prometheus's scrape, promtool or
    another expfmt-based consumer rejects it or drops samples. The message names which ones.
    ``lint``: a naming convention that ``promtool check metrics`` reports; the scrape works.
    """

    ERROR = "error"
    LINT = "lint"


class Format(str, enum.Enum):
    """The two exposition formats the validator checks."""

    TEXT = "text"
    OPENMETRICS = "openmetrics"

    @property
    def rule_prefix(self) -> str:
        """The prefix of rule ids for syntax that differs between the formats."""
        return "text" if self is Format.TEXT else "om"


class Finding:
    """One problem in a payload, immutable and comparable by value.

    ``line`` and ``column`` are 1-based; the column counts characters (code points) of the
    decoded line. ``line`` is 0 for findings about the whole response, such as its Content-Type.
    A plain class rather than a frozen dataclass, because importing ``dataclasses`` costs about
    8 ms of the start-up of ``promwatchd check metrics``.
    """

    __slots__ = ("line", "column", "rule", "severity", "message")

    line: int
    column: int
    rule: str
    severity: Severity
    message: str

    def __init__(self, line: int, column: int, rule: str, severity: Severity, message: str) -> None:
        set_field = object.__setattr__  # __setattr__ below rejects every assignment
        set_field(self, "line", line)
        set_field(self, "column", column)
        set_field(self, "rule", rule)
        set_field(self, "severity", severity)
        set_field(self, "message", message)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a Finding is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {name!r}: a Finding is immutable")

    def _fields(self) -> tuple[int, int, str, Severity, str]:
        return (self.line, self.column, self.rule, self.severity, self.message)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"Finding(line={self.line!r}, column={self.column!r}, rule={self.rule!r}, "
            f"severity={self.severity!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[type[Finding], tuple[int, int, str, Severity, str]]:
        return (Finding, self._fields())

    def to_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
        }

    def format_text(self, source: str) -> str:
        """Return the finding as ``SOURCE:LINE:COLUMN: SEVERITY RULE: MESSAGE`` (without LINE:COLUMN when line is 0)."""
        location = f"{source}:{self.line}:{self.column}" if self.line else source
        return f"{location}: {self.severity.value} {self.rule}: {self.message}"
