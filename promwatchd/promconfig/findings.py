"""Findings: what the config validator reports about one place in a file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from promwatchd.redact import redact_text

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One diagnosis: a rule id (kebab-case, stable), where it applies, what is wrong and how to fix it.

    ``line`` and ``column`` are 1-based and 0 when the finding applies to the whole file.
    ``path`` is the field path such as ``scrape_configs[2].static_configs[0].targets[1]``,
    empty for the document itself. ``excerpt`` is the source line with a caret under the
    column, for syntax errors.
    """

    severity: str
    rule: str
    file: str
    line: int
    column: int
    path: str
    message: str
    fix: str = ""
    excerpt: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def location(self) -> str:
        """Return ``file:line:column``, or the file alone when the line is unknown."""
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready data, with secrets masked in the free text."""
        data = asdict(self)
        for key in ("file", "path", "message", "fix", "excerpt"):
            data[key] = _encodable(redact_text(data[key]))
        return data

    def format_text(self) -> str:
        """Return the finding as text lines for a terminal: location, severity, rule, path, message, fix."""
        where = f" {self.path}:" if self.path else ""
        lines = [f"{self.location()}: {self.severity} [{self.rule}]{where} {redact_text(self.message)}"]
        if self.excerpt:
            lines.extend("    " + line for line in redact_text(self.excerpt).splitlines())
        if self.fix:
            lines.append(f"    fix: {redact_text(self.fix)}")
        return _encodable("\n".join(lines))


def _encodable(text: str) -> str:
    """Return ``text`` with undecodable bytes from the file (lone surrogates) written as ``\\udcXX``, so it can be printed as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
