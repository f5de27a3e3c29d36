"""Parse YAML into position-carrying nodes, as Go's yaml.v2 reads it in strict mode.

Every node keeps ``start_mark`` (0-based line and column), so each finding can name
``file:line:column``. Duplicate keys are errors, as with Prometheus's strict
unmarshalling. Syntax errors name tabs and other invisible characters and carry an
excerpt with a caret under the spot.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import yaml

from promwatchd.promconfig.compose import MAX_NODES, ComposeLimitExceeded, compose_first_document
from promwatchd.promconfig.credentials import masked_line
from promwatchd.promconfig.findings import ERROR, Finding

# Characters that look like a space or nothing in an editor but are not YAML whitespace.
_INVISIBLE_EXTRA = {"\u00a0", "\u00ad", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"}


def is_invisible(char: str) -> bool:
    """Return whether a character is a tab, a non-ASCII space or an invisible format or control character."""
    if char == "\t" or char in _INVISIBLE_EXTRA:
        return True
    if char in (" ", "\n", "\r"):
        return False
    category = unicodedata.category(char)
    return category in ("Cc", "Cf", "Zs", "Zl", "Zp")


def describe_char(char: str) -> str:
    """Return a readable name such as ``tab (U+0009)`` or ``no-break space (U+00A0)``."""
    if char == "\t":
        return "tab (U+0009)"
    name = unicodedata.name(char, "").lower() or "control character"
    return f"{name} (U+{ord(char):04X})"


def invisible_chars(text: str) -> list[str]:
    """Return the distinct invisible characters in ``text``, described, in order of appearance."""
    found: list[str] = []
    for char in text:
        if is_invisible(char):
            described = describe_char(char)
            if described not in found:
                found.append(described)
    return found


def visible(text: str) -> str:
    """Return ``text`` with tabs shown as ``→`` and other invisible characters as ``·``, one column each."""
    shown = []
    for char in text:
        if char == "\t":
            shown.append("→")
        elif is_invisible(char):
            shown.append("·")
        else:
            shown.append(char)
    return "".join(shown)


def excerpt(lines: list[str], line: int, column: int) -> str:
    """Return the 0-based ``line`` of the source, credentials masked, with a caret under the 0-based ``column``."""
    if not 0 <= line < len(lines):
        return ""
    text = masked_line(lines, line)
    column = max(0, min(column, len(text)))
    if len(text) > MAX_EXCERPT_CHARS:
        # A window of the line around the column, so that a huge line stays readable.
        start = max(0, min(column - MAX_EXCERPT_CHARS // 2, len(text) - MAX_EXCERPT_CHARS))
        end = start + MAX_EXCERPT_CHARS
        window = text[start:end]
        if end < len(text):
            window += "…"
        column -= start
        if start:
            window = "…" + window
            column += 1
        text = window
    prefix = f"{line + 1:>5} | "
    return f"{prefix}{visible(text)}\n{' ' * len(prefix)}{' ' * column}^"


# Characters of a source line shown in an excerpt.
MAX_EXCERPT_CHARS = 160


@dataclass
class Document:
    """A parsed file: its root node (None for an empty file), its lines and the findings of parsing."""

    root: yaml.Node | None
    lines: list[str]
    findings: list[Finding] = field(default_factory=list)


def parse_document(data: bytes, filename: str) -> Document:
    """Parse the first YAML document in ``data``; encoding, syntax and duplicate-key problems become findings."""
    text, encoding_finding = decode_source(data, filename)
    if encoding_finding is not None:
        return Document(None, [], [encoding_finding])
    return parse_text(text, filename)


def parse_text(text: str, filename: str, max_nodes: int = MAX_NODES) -> Document:
    """Parse the first YAML document in ``text``, which came from ``decode_source``; a document over ``max_nodes`` nodes is a finding."""
    lines = text.splitlines()
    findings: list[Finding] = []
    try:
        root, problems = compose_first_document(text, lines, max_nodes)
    except ComposeLimitExceeded as error:
        findings.append(_whole_file(filename, "yaml-too-large", str(error), "remove deep nesting and very large sections"))
        return Document(None, lines, findings)
    except yaml.MarkedYAMLError as error:
        findings.extend(_syntax_findings(error, lines, filename))
        return Document(None, lines, findings)
    except yaml.reader.ReaderError as error:
        line, column = _position(text, error.position)
        char = chr(error.character) if isinstance(error.character, int) else str(error.character)
        findings.append(
            Finding(
                ERROR,
                "yaml-invalid-character",
                filename,
                line + 1,
                column + 1,
                "",
                f"the file contains a character YAML does not allow: {describe_char(char)}",
                "delete the character or replace it with a plain space",
                excerpt(lines, line, column),
            )
        )
        return Document(None, lines, findings)
    except RecursionError:
        findings.append(_whole_file(filename, "yaml-too-deep", "the YAML nesting is too deep to parse", "reduce the nesting"))
        return Document(None, lines, findings)
    except (yaml.YAMLError, ValueError, TypeError, MemoryError) as error:
        findings.append(_whole_file(filename, "yaml-syntax", f"the file is not valid YAML: {error}", "fix the YAML syntax"))
        return Document(None, lines, findings)

    for rule, node, message, fix in problems:
        mark = node.start_mark
        findings.append(Finding(ERROR, rule, filename, mark.line + 1, mark.column + 1, "", message, fix, excerpt(lines, mark.line, mark.column)))
    return Document(root, lines, findings)


def decode_source(data: bytes, filename: str) -> tuple[str, Finding | None]:
    """Return ``data`` as text without a byte order mark, or a finding when it is not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n")
        column = len(before) - (before.rfind(b"\n") + 1)
        return "", Finding(
            ERROR,
            "invalid-encoding",
            filename,
            line + 1,
            column + 1,
            "",
            f"the file is not valid UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}",
            "save the file as UTF-8",
        )


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[: max(0, index)]
    line = before.count("\n")
    return line, len(before) - (before.rfind("\n") + 1)


def _whole_file(filename: str, rule: str, message: str, fix: str) -> Finding:
    return Finding(ERROR, rule, filename, 0, 0, "", message, fix)


def _syntax_findings(error: yaml.MarkedYAMLError, lines: list[str], filename: str) -> list[Finding]:
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark is not None else 0
    column = mark.column if mark is not None else 0
    problem = error.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if error.context:
        message += f" ({error.context})"

    opened = error.context_mark
    if opened is not None and mark is not None and (opened.line, opened.column) != (mark.line, mark.column):
        message += f", which started at line {opened.line + 1}, column {opened.column + 1}"

    fix = _syntax_fix(problem, lines, line, column)
    near = lines[line] if 0 <= line < len(lines) else ""
    named = invisible_chars(near)
    if named:
        message += f"; line {line + 1} contains " + ", ".join(named)
        fix = "replace the invisible characters with plain spaces; YAML indentation must use spaces only"

    findings = [Finding(ERROR, "yaml-syntax", filename, line + 1, column + 1, "", message, fix, excerpt(lines, line, column))]
    findings.extend(_tab_indentation_findings(lines, filename))
    return findings


def _syntax_fix(problem: str, lines: list[str], line: int, column: int) -> str:
    """Return the likely fix for a YAML syntax error, from libyaml's problem and the character at the spot."""
    text = lines[line] if 0 <= line < len(lines) else ""
    char = text[column] if 0 <= column < len(text) else ""
    if "undefined alias" in problem:
        return "a value that starts with * is read as an alias; quote it, such as '*.example.com'"
    if "cannot start any token" in problem and char in "@`":
        return f"a plain value cannot start with {char}; quote the value"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or indent this line under its parent key"
    if "could not find expected ':'" in problem:
        return "add ': ' after the key, or line this up with its sibling keys"
    if "did not find expected" in problem or "expected ',' or" in problem:
        return "close the bracket or quote that the error says started earlier, or remove the stray one"
    if "expected <block end>" in problem:
        return "indent this line to match its sibling keys, or to be a child of the key above"
    return "fix the YAML syntax at this position"


def _tab_indentation_findings(lines: list[str], filename: str) -> list[Finding]:
    """Report every line whose leading whitespace contains a tab, not only the first one the parser hit."""
    findings = []
    for number, text in enumerate(lines):
        stripped = text.lstrip(" \t")
        indent = text[: len(text) - len(stripped)]
        if "\t" in indent and stripped:
            column = indent.index("\t")
            findings.append(
                Finding(
                    ERROR,
                    "tab-indentation",
                    filename,
                    number + 1,
                    column + 1,
                    "",
                    "tab character in the indentation; YAML indentation must use spaces",
                    "replace each tab in the indentation with spaces so children line up under their parent (2 spaces per level)",
                    excerpt(lines, number, column),
                )
            )
    return findings
