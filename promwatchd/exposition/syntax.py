"""The line grammar of both formats: sample lines, label sets, numbers, exemplars.

One function per production of the grammar. Prometheus text format 0.0.4 lets blanks and
tabs separate tokens and allows a trailing comma in a label set; OpenMetrics 1.0 allows
exactly one space between tokens and no trailing comma. Both accept the quoted UTF-8 names
that Prometheus 3 reads: ``{"my.metric", "my.label"="value"} 1``.

Each ``parse_*`` method raises ``SyntaxProblem`` at the first character that breaks the
grammar; the validator turns it into a finding.
"""

from __future__ import annotations

import re

METRIC_NAME_PATTERN = "[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME_PATTERN = "[a-zA-Z_][a-zA-Z0-9_]*"
REAL_NUMBER_PATTERN = r"[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
NUMBER_PATTERN = REAL_NUMBER_PATTERN + r"|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]"
TEXT_TIMESTAMP_PATTERN = "[+-]?[0-9]+"

METRIC_NAME = re.compile(METRIC_NAME_PATTERN)
LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
NUMBER = re.compile(NUMBER_PATTERN)
REAL_NUMBER = re.compile(REAL_NUMBER_PATTERN)
TEXT_TIMESTAMP = re.compile(TEXT_TIMESTAMP_PATTERN)

_SIMPLE_LABEL = f'{LABEL_NAME_PATTERN}="[^"\\\\\\n]*"'
_SIMPLE_LABEL_PAIR = re.compile(f'({LABEL_NAME_PATTERN})="([^"\\\\\\n]*)"')

# Fast paths: the common shape of a sample line (plain names, no escapes, single spaces, no
# exemplar). A line they do not match goes through the full grammar below, which decides.
# The label text is only delimited here ('}' ends it) and checked against the simple label
# grammar once per distinct text, in LineGrammar.fast_label_sets.
_TEXT_FAST_SAMPLE = re.compile(
    f"({METRIC_NAME_PATTERN})(?:{{([^}}]*)}})?"
    f" ({NUMBER_PATTERN})(?: (-?[0-9]{{1,18}}))?"  # 18 digits always fit in 64 bits; longer ones take the full check
)
_OPENMETRICS_FAST_SAMPLE = re.compile(
    f"({METRIC_NAME_PATTERN})(?:{{([^}}]*)}})?"
    f" ({NUMBER_PATTERN})(?: ({REAL_NUMBER_PATTERN}))?"
)
# The simple label text: plain names and quoted values without escapes. Only the text format allows a trailing comma.
_TEXT_SIMPLE_LABELS = re.compile(f"{_SIMPLE_LABEL}(?:,{_SIMPLE_LABEL})*,?")
_OPENMETRICS_SIMPLE_LABELS = re.compile(f"{_SIMPLE_LABEL}(?:,{_SIMPLE_LABEL})*")

LabelSet = tuple[tuple[str, str], ...]

BLANKS = " \t"
MAX_CACHED_LABEL_TEXT = 512
"""Maximum length, in characters, of a label text that ``LineGrammar.fast_label_sets`` caches."""
MAX_CACHED_LABEL_CHARACTERS = 256 * 1024
"""Maximum total length, in characters, of the label texts that ``LineGrammar.fast_label_sets`` caches before it starts over.

With one-character names and values, the worst case, tracemalloc measured about 16 bytes per
character, so the cache stays under about 4 MB.
"""
MAX_EXEMPLAR_LABEL_CHARACTERS = 128
"""OpenMetrics 1.0: the names and values of an exemplar's labels together are at most 128 UTF-8 characters."""


class SyntaxProblem(Exception):
    """A line breaks the grammar at ``column`` (0-based); ``rule`` is the rule id without its format prefix."""

    def __init__(self, column: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.rule = rule
        self.message = message


class Exemplar:
    """An OpenMetrics exemplar: label set, value, optional timestamp and the 0-based column where it starts."""

    __slots__ = ("labels", "value", "timestamp", "column")

    def __init__(self, labels: LabelSet, value: float, timestamp: float | None, column: int) -> None:
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
        self.column = column


class Sample:
    """One sample line: metric name, label set, value, optional timestamp and exemplar.

    The value is kept as its validated text and converted only for the rules that compare it.
    This module and the others of the validator use plain classes, not dataclasses, because
    importing ``dataclasses`` costs about 8 ms of the start-up of ``promwatchd check metrics``.
    """

    __slots__ = ("name", "labels", "value_text", "timestamp", "exemplar", "value_column")

    def __init__(
        self,
        name: str,
        labels: LabelSet,
        value_text: str,
        timestamp: float | None,
        exemplar: Exemplar | None,
        value_column: int,
    ) -> None:
        self.name = name
        self.labels = labels
        self.value_text = value_text
        self.timestamp = timestamp
        self.exemplar = exemplar
        self.value_column = value_column

    @property
    def value(self) -> float:
        return float(self.value_text)


def sample_from_parts(name: str, labels: LabelSet, timestamp: float | None, match: re.Match[str]) -> Sample:
    """Build the ``Sample`` of a line that a fast-path pattern matched (such a line has no exemplar)."""
    return Sample(name, labels, match.group(3), timestamp, None, match.start(3))


def show(text: str, limit: int = 60) -> str:
    """Return ``text`` quoted for a message, with control characters escaped and long text cut."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


def describe_character(line: str, position: int) -> str:
    if position >= len(line):
        return "the end of the line"
    return show(line[position])


def suggest_label_name(text: str) -> str:
    """Return a valid snake_case label name close to ``text``."""
    name = re.sub("[^a-zA-Z0-9_]+", "_", text.strip()).strip("_").lower() or "label"
    return "_" + name if name[0].isdigit() else name


class LineGrammar:
    """Parser of sample lines for one format (``openmetrics`` selects the stricter OpenMetrics rules)."""

    def __init__(self, openmetrics: bool) -> None:
        self.openmetrics = openmetrics
        self.fast_match = (_OPENMETRICS_FAST_SAMPLE if openmetrics else _TEXT_FAST_SAMPLE).fullmatch
        """Match a sample line of the common shape: plain names, no escapes, single spaces, no exemplar."""
        self._simple_labels = (_OPENMETRICS_SIMPLE_LABELS if openmetrics else _TEXT_SIMPLE_LABELS).fullmatch
        self.cached_label_sets: dict[str, tuple[LabelSet, LabelSet]] = {}
        """The results of ``fast_label_sets`` by label text; read directly by the validator's loop."""
        self._cached_label_characters = 0

    # sample = metric-name [labels] SP value [SP timestamp] [exemplar]
    def parse_sample(self, line: str) -> Sample:
        fast = self.fast_match(line)
        if fast is not None:
            sample = self.sample_from_fast_match(line, fast)
            if sample is not None:
                return sample
        return self._parse_sample_slowly(line)

    def sample_from_fast_match(self, line: str, match: re.Match[str]) -> Sample | None:
        """Return the sample of a fast-path match, or None if its label text needs the full grammar."""
        name, label_text, value_text, timestamp_text = match.groups()
        labels: tuple[tuple[str, str], ...] = ()
        if label_text:
            label_sets = self.fast_label_sets(line, match)
            if label_sets is None:
                return None
            labels = label_sets[0]
        return Sample(
            name,
            labels,
            value_text,
            None if timestamp_text is None else float(timestamp_text),
            None,
            match.start(3),
        )

    def fast_label_sets(self, line: str, match: re.Match[str]) -> tuple[LabelSet, LabelSet] | None:
        """Return the label set of a fast-path match, as written and sorted by name.

        Raise ``SyntaxProblem`` if a label name repeats. Return None if the label text is not of
        the simple shape (escapes, blanks, a quoted name or an invalid label), so the line needs
        the full grammar. The result is cached by the label text, because exporters repeat label
        sets (``cpu="0"``, ``device="sda"``) across families.
        """
        label_text = match.group(2)
        cached = self.cached_label_sets.get(label_text)
        if cached is not None:
            return cached
        if self._simple_labels(label_text) is None:
            return None
        labels = tuple(_SIMPLE_LABEL_PAIR.findall(label_text))
        sorted_labels = labels
        if len(labels) == 2:
            first, second = labels
            if first[0] == second[0]:
                self._check_unique_label_names(line, labels, match.start(2))
            if first[0] > second[0]:
                sorted_labels = (second, first)
        elif len(labels) > 2:
            if len(dict(labels)) != len(labels):
                self._check_unique_label_names(line, labels, match.start(2))
            sorted_labels = tuple(sorted(labels))
        if len(label_text) > MAX_CACHED_LABEL_TEXT:
            return labels, sorted_labels
        self._cached_label_characters += len(label_text)
        if self._cached_label_characters > MAX_CACHED_LABEL_CHARACTERS:
            self.cached_label_sets.clear()
            self._cached_label_characters = len(label_text)
        cached = self.cached_label_sets[label_text] = (labels, sorted_labels)
        return cached

    def _parse_sample_slowly(self, line: str) -> Sample:
        position = 0
        if not self.openmetrics:
            position = self._skip_blanks(line, position)
        name: str | None = None
        labels: tuple[tuple[str, str], ...] = ()
        if position < len(line) and line[position] == "{":
            name, labels, position = self.parse_labels(line, position, allow_metric_name=True)
            if name is None:
                raise SyntaxProblem(
                    position - 1 if position else 0,
                    "invalid-metric-name",
                    "sample has no metric name: put the name before the label set (name{label=\"value\"}) "
                    "or, for a UTF-8 name, first inside it ({\"my.name\", label=\"value\"})",
                )
        else:
            name, position = self.parse_metric_name(line, position)
            after_name = self._skip_blanks(line, position) if not self.openmetrics else position
            if after_name < len(line) and line[after_name] == "{":
                _, labels, position = self.parse_labels(line, after_name, allow_metric_name=False)

        value_start = self._expect_separator(line, position, "the value")
        value_end = self._token_end(line, value_start)
        self.parse_value(line, value_start)
        value_text = line[value_start:value_end]
        position = value_end

        timestamp = None
        exemplar = None
        token_start = self._expect_separator(line, position, "the timestamp", optional=True)
        if token_start < len(line) and line[token_start] != "#":
            timestamp, position = self.parse_timestamp(line, token_start)
            token_start = self._expect_separator(line, position, "the exemplar", optional=True)
        if token_start < len(line):
            self._check_exemplar_allowed(line, token_start, timestamp is not None)
            exemplar, position = self.parse_exemplar(line, token_start)
        return Sample(name, labels, value_text, timestamp, exemplar, value_start)

    def _check_exemplar_allowed(self, line: str, position: int, after_timestamp: bool) -> None:
        """Raise unless the text at ``position`` may start an exemplar (OpenMetrics, starting with '#')."""
        if not self.openmetrics and line[position] == "#":
            raise SyntaxProblem(
                position,
                "exemplar-not-supported",
                f"exemplar {show(line[position:])} in the text format: only OpenMetrics has exemplars; "
                "remove it, or serve the payload as OpenMetrics (application/openmetrics-text)",
            )
        if not self.openmetrics or line[position] != "#":
            timestamp_kind = "" if self.openmetrics else "integer millisecond "
            raise SyntaxProblem(
                position,
                "unexpected-text" if after_timestamp else "invalid-timestamp",
                f"unexpected text {show(line[position:])} after the {'timestamp' if after_timestamp else 'value'}: "
                f"a sample line ends after its value and optional {timestamp_kind}timestamp",
            )

    def _expect_separator(self, line: str, position: int, what: str, optional: bool = False) -> int:
        """Return the position after the whitespace before ``what``; raise if there is none."""
        if position >= len(line):
            if optional:
                return position
            raise SyntaxProblem(position, "missing-value", f"sample has no value: add a space and {what} after the metric name and labels")
        if self.openmetrics:
            if line[position] != " ":
                raise SyntaxProblem(
                    position,
                    "invalid-whitespace" if line[position] == "\t" else "invalid-value",
                    f"expected one space before {what}, found {describe_character(line, position)}",
                )
            if position + 1 < len(line) and line[position + 1] in BLANKS:
                raise SyntaxProblem(position + 1, "invalid-whitespace", f"OpenMetrics allows exactly one space before {what}, found more")
            if position + 1 >= len(line):
                raise SyntaxProblem(position, "invalid-whitespace", f"line ends with a space: remove it or add {what}")
            return position + 1
        if line[position] not in BLANKS:
            raise SyntaxProblem(position, "invalid-value" if what == "the value" else "invalid-timestamp",
                                f"expected a blank before {what}, found {describe_character(line, position)}")
        return self._skip_blanks(line, position)

    @staticmethod
    def _skip_blanks(line: str, position: int) -> int:
        while position < len(line) and line[position] in BLANKS:
            position += 1
        return position

    # metric-name = [a-zA-Z_:][a-zA-Z0-9_:]*
    def parse_metric_name(self, line: str, position: int) -> tuple[str, int]:
        match = METRIC_NAME.match(line, position)
        if match is None:
            raise SyntaxProblem(
                position,
                "invalid-metric-name",
                f"expected a metric name, found {describe_character(line, position)}: "
                "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*",
            )
        end = match.end()
        if end < len(line) and line[end] not in " \t{":
            token_end = end
            while token_end < len(line) and line[token_end] not in " \t{":
                token_end += 1
            raise SyntaxProblem(
                end,
                "invalid-metric-name",
                f"invalid metric name {show(line[position:token_end])}: character {describe_character(line, end)} "
                "is not allowed; metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, or quote the name inside the "
                "label set ({\"name\"}) where UTF-8 names are supported (Prometheus 3)",
            )
        return match.group(), end

    # labels = "{" [label *("," label)] "}"; the first item may be a quoted metric name
    def parse_labels(
        self, line: str, position: int, allow_metric_name: bool
    ) -> tuple[str | None, tuple[tuple[str, str], ...], int]:
        metric_name: str | None = None
        labels: list[tuple[str, str]] = []
        position += 1
        first = True
        while True:
            position = self._skip_label_blanks(line, position)
            if position >= len(line):
                raise SyntaxProblem(position, "invalid-label-set", "label set is not closed: add '}' after the last label")
            if line[position] == "}":
                if not first and self.openmetrics:
                    raise SyntaxProblem(position - 1, "invalid-label-set", "trailing comma before '}': OpenMetrics does not allow it, remove the comma")
                return metric_name, self._unique_labels(line, labels, position), position + 1
            if line[position] == ",":
                raise SyntaxProblem(position, "invalid-label-set", "expected a label name, found ','; remove the extra comma")
            item_start = position
            if line[position] == '"':
                quoted, position = self.parse_quoted_string(line, position, "name")
                after = self._skip_label_blanks(line, position)
                if after < len(line) and line[after] == "=":
                    label_name = quoted
                    position = after
                elif allow_metric_name and metric_name is None:
                    metric_name = quoted
                    position = after
                    first = False
                    position = self._parse_label_separator(line, position)
                    if line[position - 1] == "}":
                        return metric_name, self._unique_labels(line, labels, position), position
                    continue
                else:
                    raise SyntaxProblem(after, "invalid-label-set", f"expected '=' after label name {show(quoted)}, found {describe_character(line, after)}")
            else:
                label_name, position = self.parse_label_name(line, position)
            position = self._skip_label_blanks(line, position)
            if position >= len(line) or line[position] != "=":
                self._raise_missing_equals(line, item_start, position, label_name)
            position = self._skip_label_blanks(line, position + 1)
            label_value, position = self.parse_label_value(line, position, label_name)
            labels.append((label_name, label_value))
            first = False
            position = self._parse_label_separator(line, position)
            if line[position - 1] == "}":
                return metric_name, self._unique_labels(line, labels, position), position

    def _parse_label_separator(self, line: str, position: int) -> int:
        """Consume the ',' or '}' after a label; return the position after it."""
        position = self._skip_label_blanks(line, position)
        if position < len(line) and line[position] == "}":
            return position + 1
        if position < len(line) and line[position] == ",":
            if self.openmetrics and position + 1 < len(line) and line[position + 1] == "}":
                raise SyntaxProblem(position, "invalid-label-set", "trailing comma before '}': OpenMetrics does not allow it, remove the comma")
            return position + 1
        raise SyntaxProblem(
            position,
            "invalid-label-set",
            f"expected ',' or '}}' after a label, found {describe_character(line, position)}: separate labels with commas",
        )

    def _skip_label_blanks(self, line: str, position: int) -> int:
        return position if self.openmetrics else self._skip_blanks(line, position)

    def _raise_missing_equals(self, line: str, item_start: int, position: int, label_name: str) -> None:
        equals = line.find("=", item_start)
        quote = line.find('"', item_start)
        if equals > position and (quote == -1 or equals < quote):
            candidate = line[item_start:equals].rstrip()
            problem = "contains a space" if " " in candidate else "contains characters that are not allowed"
            raise SyntaxProblem(
                item_start,
                "invalid-label-name",
                f"invalid label name {show(candidate)}: it {problem}; label names match [a-zA-Z_][a-zA-Z0-9_]*, "
                f"so rename it, for example to {suggest_label_name(candidate)}",
            )
        raise SyntaxProblem(
            position,
            "invalid-label-set",
            f"expected '=' after label name {show(label_name)}, found {describe_character(line, position)}",
        )

    # label-name = [a-zA-Z_][a-zA-Z0-9_]*
    def parse_label_name(self, line: str, position: int) -> tuple[str, int]:
        match = LABEL_NAME.match(line, position)
        if match is None:
            end = position
            while end < len(line) and line[end] not in '=,}" \t':
                end += 1
            shown = show(line[position:end]) if end > position else describe_character(line, position)
            raise SyntaxProblem(
                position,
                "invalid-label-name",
                f"invalid label name {shown}: label names match [a-zA-Z_][a-zA-Z0-9_]*"
                + (f"; rename it, for example to {suggest_label_name(line[position:end])}" if end > position else ""),
            )
        return match.group(), match.end()

    # label-value = DQUOTE escaped-string DQUOTE
    def parse_label_value(self, line: str, position: int, label_name: str) -> tuple[str, int]:
        if position >= len(line) or line[position] != '"':
            raise SyntaxProblem(
                position,
                "invalid-label-value",
                f"value of label {show(label_name)} must be in double quotes, found {describe_character(line, position)}",
            )
        return self.parse_quoted_string(line, position, f"value of label {show(label_name)}")

    # escaped-string: any character but '"', '\' and line feed, or '\' followed by a character
    def parse_quoted_string(self, line: str, position: int, what: str) -> tuple[str, int]:
        start = position + 1
        end = line.find('"', start)
        if end == -1:
            raise SyntaxProblem(position, "invalid-label-value", f"{what} has no closing '\"'")
        if "\\" not in line[start:end]:
            return line[start:end], end + 1
        parts: list[str] = []
        position = start
        while True:
            if position >= len(line):
                raise SyntaxProblem(start - 1, "invalid-label-value", f"{what} has no closing '\"'")
            character = line[position]
            if character == '"':
                return "".join(parts), position + 1
            if character == "\\":
                if position + 1 >= len(line):
                    raise SyntaxProblem(position, "invalid-label-value", f"{what} ends with a lone backslash: escape it as \\\\")
                escaped = line[position + 1]
                if escaped == "n":
                    parts.append("\n")
                elif escaped in '\\"':
                    parts.append(escaped)
                else:
                    parts.append("\\" + escaped)  # unknown escapes stay as written, as Prometheus reads them
                position += 2
                continue
            parts.append(character)
            position += 1

    # value = float | ["+"|"-"] ("Inf" | "Infinity") | "NaN", case-insensitive words
    def parse_value(self, line: str, position: int) -> tuple[float, int]:
        end = self._token_end(line, position)
        token = line[position:end]
        if NUMBER.fullmatch(token) is None:
            raise SyntaxProblem(
                position,
                "invalid-value",
                f"invalid sample value {show(token)}: use a decimal number such as 1, -2.5 or 1e3, "
                "or +Inf, -Inf or NaN (no hex, octal, binary or '_' separators)",
            )
        return float(token), end

    # text: timestamp = integer milliseconds; OpenMetrics: timestamp = real number of seconds
    def parse_timestamp(self, line: str, position: int) -> tuple[float, int]:
        end = self._token_end(line, position)
        token = line[position:end]
        if self.openmetrics:
            if REAL_NUMBER.fullmatch(token) is None:
                raise SyntaxProblem(
                    position,
                    "invalid-timestamp",
                    f"invalid timestamp {show(token)}: OpenMetrics timestamps are decimal seconds such as "
                    "1700000000.123 (not NaN, Inf or hex)",
                )
        elif TEXT_TIMESTAMP.fullmatch(token) is None or not -(2**63) <= int(token) < 2**63:
            raise SyntaxProblem(
                position,
                "invalid-timestamp",
                f"invalid timestamp {show(token)}: the text format takes an integer number of milliseconds "
                "since the epoch that fits in 64 bits, such as 1700000000123",
            )
        return float(token), end

    # exemplar = SP "#" SP labels SP value [SP timestamp]
    def parse_exemplar(self, line: str, position: int) -> tuple[Exemplar, int]:
        start = position
        if line[position - 1] != " ":
            raise SyntaxProblem(position, "invalid-exemplar", "exemplar must be separated from the sample by one space: write 'VALUE # {labels} VALUE'")
        if not line.startswith("# {", position):
            raise SyntaxProblem(position, "invalid-exemplar", f"expected an exemplar '# {{labels}} value', found {show(line[position:])}")
        _, labels, position = self.parse_labels(line, position + 2, allow_metric_name=False)
        characters = sum(len(name) + len(value) for name, value in labels)
        if characters > MAX_EXEMPLAR_LABEL_CHARACTERS:
            raise SyntaxProblem(
                start + 2,
                "exemplar-too-long",
                f"exemplar labels have {characters} characters in names and values, more than the "
                f"{MAX_EXEMPLAR_LABEL_CHARACTERS} OpenMetrics allows: shorten them",
            )
        value_start = self._expect_separator(line, position, "the exemplar value")
        value, position = self.parse_value(line, value_start)
        timestamp = None
        if position < len(line):
            timestamp_start = self._expect_separator(line, position, "the exemplar timestamp")
            timestamp, position = self.parse_timestamp(line, timestamp_start)
        if position < len(line):
            raise SyntaxProblem(position, "invalid-exemplar", f"unexpected text {show(line[position:])} after the exemplar timestamp")
        return Exemplar(labels, value, timestamp, start), position

    def _token_end(self, line: str, position: int) -> int:
        end = position
        while end < len(line) and line[end] not in BLANKS:
            end += 1
        return end

    def _unique_labels(self, line: str, labels: list[tuple[str, str]], position: int) -> tuple[tuple[str, str], ...]:
        result = tuple(labels)
        if len(result) > 1:
            self._check_unique_label_names(line, result, position)
        return result

    @staticmethod
    def _check_unique_label_names(line: str, labels: tuple[tuple[str, str], ...], position: int) -> None:
        names = [name for name, _ in labels]
        if len(set(names)) == len(names):
            return
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise SyntaxProblem(
                    position,
                    "duplicate-label-name",
                    f"label {show(name)} appears twice in one label set: keep one of them",
                )
            seen.add(name)
