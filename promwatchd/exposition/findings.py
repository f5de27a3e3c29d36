"""Findings of the exposition validator: where, which rule, how bad, and what to do."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a payload.

    ``line`` and ``column`` are 1-based; the column counts characters (code points) of the
    decoded line. ``line`` is 0 for findings about the whole response, such as its Content-Type.
    """

    line: int
    column: int
    rule: str
    severity: Severity
    message: str

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
