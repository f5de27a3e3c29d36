"""Corrections and the outcome of fixing one configuration file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from promwatchd.promconfig import Finding
from promwatchd.redact import redact_text


@dataclass(frozen=True)
class Correction:
    """One named change to a configuration file, applied or only suggested.

    ``safe`` is False when the change could alter what Prometheus does beyond making the
    file load (such as renaming a job, which renames the ``job`` label of its series);
    such corrections are suggested and never applied. ``line`` is 1-based in the input
    file, 0 when unknown. ``change`` shows the value before and after.
    """

    rule: str
    line: int
    path: str
    explanation: str
    safe: bool
    applied: bool
    change: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the correction's fields, with secrets in the explanation and change masked."""
        data = asdict(self)
        data["explanation"] = redact_text(self.explanation)
        data["change"] = redact_text(self.change)
        return data

    def format_text(self) -> str:
        """Return the correction as one or two text lines for a terminal."""
        status = "applied" if self.applied else "suggested, not applied"
        safety = "safe" if self.safe else "unsafe"
        where = f"line {self.line}" if self.line > 0 else "file"
        path = f" {self.path}:" if self.path else ""
        # The path is not redacted, because a field named token or password is not a secret.
        text = f"{where}: [{self.rule}] {status} ({safety}):{path} {redact_text(self.explanation)}"
        if self.change:
            text += f"\n    change: {redact_text(self.change)}"
        return text


@dataclass
class FixResult:
    """The corrected text of one file, the corrections made or suggested, and the findings left in the corrected text."""

    filename: str
    original: str
    fixed: str
    corrections: list[Correction] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    @property
    def valid(self) -> bool:
        """True when the corrected text passes validation (warnings allowed)."""
        return not any(finding.is_error for finding in self.remaining)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "changed": self.changed,
            "valid": self.valid,
            "corrections": [correction.to_dict() for correction in self.corrections],
            "remaining": [finding.to_dict() for finding in self.remaining],
        }
