"""The streaming validator: bytes in, findings out, one line at a time.

Memory stays bounded on any payload size. The validator keeps the unfinished last line (at
most ``MAX_LINE_BYTES``), the state of the current metric family and at most
``MAX_FINDINGS_PER_RULE`` findings of each rule; later findings of a rule are only counted.
The one part that grows is the set of family and sample names seen so far, which is needed
to find a family split into two groups.
"""

from __future__ import annotations

import gc
import re
from collections import Counter

from promwatchd.exposition.detect import describe_html, find_metrics_links, looks_like_html
from promwatchd.exposition.families import OPENMETRICS_TYPES, TEXT_TYPES, FamilyTracker
from promwatchd.exposition.findings import Finding, Format, Severity
from promwatchd.exposition.syntax import BLANKS, METRIC_NAME, LineGrammar, SyntaxProblem, show

MAX_LINE_BYTES = 4 * 1024 * 1024
"""Maximum length of a line kept in memory; a longer line is reported and skipped. Prometheus has no such limit, only a body size limit."""
MAX_FINDINGS_PER_RULE = 1000
MAX_HTML_LINKS = 5

UNPREFIXED_SYNTAX_RULES = frozenset({"duplicate-label-name"})

# Fast path for the common text-format HELP and TYPE line; anything else takes the full path.
_TEXT_METADATA = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?")
_UNIT = re.compile("[a-zA-Z0-9_:]*")
"""OpenMetrics 1.0: a unit is any run of characters allowed in metric names."""


class ValidationResult:
    """The outcome of validating one payload: its findings and its line and sample counts."""

    def __init__(self, format: Format) -> None:
        self.format = format
        self.findings: list[Finding] = []
        self.suppressed: Counter[str] = Counter()
        """Findings not kept because their rule already had MAX_FINDINGS_PER_RULE, by rule id."""
        self.lines = 0
        self.samples = 0

    def __repr__(self) -> str:
        return (
            f"ValidationResult(format={self.format!r}, findings={self.findings!r}, suppressed={self.suppressed!r}, "
            f"lines={self.lines!r}, samples={self.samples!r})"
        )

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity is Severity.ERROR]

    @property
    def lints(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity is Severity.LINT]


class Validator:
    """Validate one payload in one format; call ``feed`` with chunks of bytes, then ``close``.

    ``lint`` False skips the naming conventions, so only errors are reported.
    """

    def __init__(self, format: Format, lint: bool = True) -> None:
        self.format = format
        self.openmetrics = format is Format.OPENMETRICS
        self.result = ValidationResult(format)
        self._prefix = format.rule_prefix
        self._grammar = LineGrammar(self.openmetrics)
        self._tracker = FamilyTracker(self.openmetrics, self._report, lint)
        self._rule_counts: Counter[str] = Counter()
        self._pending = b""
        self._skipping_long_line = False
        self._line_number = 0
        self._eof_line = 0
        self._reported_after_eof = False
        self._reported_carriage_return = False
        self._is_html = False
        self._seen_content = False
        self._html_start = (0, "")
        self._html_links: list[str] = []
        self._last_content_line = (0, "")
        self._column_offset = 0
        """Characters removed from the start of the current line (leading blanks), added back to columns."""
        self._closed = False

    # --- input ---

    def feed(self, chunk: bytes) -> None:
        if self._closed or not chunk:
            return
        data = self._pending + chunk if self._pending else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._keep_pending(data)
            return
        if self._skipping_long_line:
            first_end = data.find(b"\n")
            self._line_number += 1
            self._skipping_long_line = False
            block = data[first_end + 1 : end]
            if first_end == end:
                self._pending = data[end + 1 :]
                return
        else:
            block = data[:end]
        self._pending = data[end + 1 :]
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            for raw_line in block.split(b"\n"):
                self._handle_line(self._decode_line(raw_line))
            return
        # The validator's state contains no reference cycles, so the cyclic garbage collector only
        # costs time here. On node_exporter's output it took 3 to 7 % (one measurement), for the
        # tuples of the series keys.
        # NOTE: gc.disable() is process-wide; a concurrent thread also runs without it meanwhile.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._handle_lines(text.split("\n"))
        finally:
            if collecting:
                gc.enable()

    def _keep_pending(self, data: bytes) -> None:
        if len(data) <= MAX_LINE_BYTES:
            self._pending = data
            return
        if not self._skipping_long_line:
            self._report(
                self._line_number + 1, 1, "line-too-long", Severity.ERROR,
                f"line is longer than {MAX_LINE_BYTES} bytes; the validator skips it. Such a line usually means "
                "a missing newline or a runaway label value",
            )
            self._skipping_long_line = True
        self._pending = b""

    def _decode_line(self, raw_line: bytes) -> str:
        try:
            return raw_line.decode("utf-8")
        except UnicodeDecodeError as error:
            column = len(raw_line[: error.start].decode("utf-8", "replace")) + 1
            self._report(
                self._line_number + 1, column, "invalid-utf8", Severity.ERROR,
                f"invalid UTF-8 byte 0x{raw_line[error.start]:02x}: both exposition formats are UTF-8; "
                "fix the encoding of this name or value at the source",
            )
            return raw_line.decode("utf-8", "replace")

    def close(self) -> ValidationResult:
        """Finish the payload: check its last line, the final family and the end marker."""
        if self._closed:
            return self.result
        if self._pending and not self._skipping_long_line:
            last_line = self._decode_line(self._pending)
            self._pending = b""
            self._handle_line(last_line)
            if not self.openmetrics and not self._is_html:
                self._report(
                    self._line_number, len(last_line) + 1, "text-missing-final-newline", Severity.ERROR,
                    "the last line does not end with a newline: the text format ends every line with '\\n'. "
                    "Prometheus 2.x accepts this, but promtool and other expfmt-based parsers fail with "
                    "'unexpected end of input stream'; end the output with '\\n'",
                )
        self._closed = True
        if self._is_html:
            line_number, first_line = self._html_start
            self._report(line_number, 1, "html-page", Severity.ERROR, describe_html(first_line, self._html_links))
        self._tracker.finish_family()
        if self.openmetrics and not self._eof_line and not self._is_html:
            self._report_missing_eof()
        self.result.lines = self._line_number
        return self.result

    def _report_missing_eof(self) -> None:
        number, text = self._last_content_line
        if number:
            where = f"the last line ({number}) is {show(text)}"
        else:
            where = "the payload is empty"
        self._report(
            number or 1, 1, "om-missing-eof", Severity.ERROR,
            f"OpenMetrics payload does not end with '# EOF' ({where}): Prometheus rejects the whole scrape with "
            "'data does not end with # EOF'; end the output with '# EOF\\n'",
        )

    # --- lines ---

    def _handle_lines(self, lines: list[str]) -> None:
        """Handle decoded lines.

        Sample lines and text HELP and TYPE lines of the common shape take a short path with the
        same checks. Every other line goes through ``_handle_line``, and so does every line until
        the first content line. The short path keeps the line number in a local variable and
        stores it in ``self._line_number`` before each call that reads it.
        """
        handle_line = self._handle_line
        fast_sample = self._grammar.fast_match
        fast_label_sets = self._grammar.fast_label_sets
        cached_label_sets = self._grammar.cached_label_sets
        tracker = self._tracker
        lint = tracker.lint
        on_sample = tracker.on_sample_parts
        on_help = tracker.on_help
        on_type = tracker.on_type
        openmetrics = self.openmetrics
        text_format = not openmetrics
        is_metric_name = METRIC_NAME.fullmatch
        # The name of the last fast-path HELP or TYPE line, known to be valid: the TYPE line usually repeats it.
        valid_name = None
        number = self._line_number
        samples = 0
        steady = False
        # steady: content has started, and it is neither an HTML page nor past "# EOF", so the short path applies.
        for line in lines:
            if not steady:
                self._line_number = number
                handle_line(line)
                number = self._line_number
                steady = self._seen_content and not self._is_html and not self._eof_line
                continue
            if not line or line[-1] == "\r":
                self._line_number = number
                handle_line(line)
                number = self._line_number
                steady = not self._eof_line
                continue

            if line[0] == "#":
                # Text format "# HELP NAME TEXT" and "# TYPE NAME TYPE", split at the first space after
                # the name. Any other "#" line, or a name that is not a plain metric name, takes the full path.
                keyword = line[:7]
                if text_format and (keyword == "# HELP " or keyword == "# TYPE "):
                    name, _, argument = line[7:].partition(" ")
                    if name == valid_name or is_metric_name(name) is not None:
                        valid_name = name
                        number += 1
                        if keyword == "# HELP ":
                            on_help(name, argument, number)
                        elif argument in TEXT_TYPES:
                            on_type(name, argument, number)
                        else:
                            self._line_number = number
                            self._column_offset = 0
                            self._text_comment(line)
                        continue
                self._line_number = number
                handle_line(line)
                number = self._line_number
                steady = not self._eof_line
                continue

            match = fast_sample(line)
            if match is None:
                self._line_number = number
                handle_line(line)
                number = self._line_number
                continue
            name, label_text, _, timestamp_text = match.groups()
            if not label_text:
                labels = sorted_labels = ()
            else:
                label_sets = cached_label_sets.get(label_text)
                if label_sets is None:
                    try:
                        label_sets = fast_label_sets(line, match)
                    except SyntaxProblem as problem:
                        number += 1
                        if openmetrics:
                            self._last_content_line = (number, line)
                        self._line_number = number
                        self._column_offset = 0
                        self._report_syntax(problem)
                        continue
                    if label_sets is None:
                        self._line_number = number
                        handle_line(line)
                        number = self._line_number
                        continue
                labels, sorted_labels = label_sets
            number += 1
            if openmetrics:
                self._last_content_line = (number, line)
            samples += 1
            timestamp = None if timestamp_text is None else float(timestamp_text)

            # The common case of FamilyTracker.on_sample_parts, inline: a text-format sample of the
            # current family, of a type without per-sample rules, whose series is new.
            family = tracker.current
            if (
                text_format
                and family is not None
                and not family.checks_samples
                and not family.metric_key_label
                and name in family.sample_suffixes
            ):
                # setdefault hashes the key once; a repeated series leaves the dict unchanged and
                # takes the full path below, which reports it.
                series = family.series
                known_series = len(series)
                series.setdefault((name, sorted_labels), timestamp)
                if len(series) != known_series:
                    family.has_samples = True
                    if lint and labels:
                        family.label_names.update(dict(labels))
                    continue
            on_sample(name, labels, sorted_labels, timestamp, number, None, match)
        self._line_number = number
        self.result.samples += samples

    def _text_metadata(self, match: re.Match[str]) -> None:
        keyword, name, argument = match.groups()
        if keyword == "HELP":
            self._tracker.on_help(name, argument or "", self._line_number)
        elif argument in TEXT_TYPES:
            self._tracker.on_type(name, argument, self._line_number)
        else:
            self._text_comment(match.string)

    def _handle_line(self, line: str) -> None:
        """Handle one decoded line, whatever its shape: the full path behind ``_handle_lines``."""
        self._line_number += 1

        if not self._seen_content and line.strip():
            self._seen_content = True
            if line[0] == "\ufeff":
                line = line[1:]
                self._report(
                    self._line_number, 1, "byte-order-mark", Severity.ERROR,
                    "payload starts with a UTF-8 byte order mark (U+FEFF), which Prometheus reads as part of the first "
                    "metric name: write the output without it",
                )
            if looks_like_html(line):
                self._is_html = True
                self._html_start = (self._line_number, line)
        if self._is_html:
            self._collect_html_links(line)
            return

        if self._eof_line:
            if not self._reported_after_eof:
                self._reported_after_eof = True
                self._report(
                    self._line_number, 1, "om-text-after-eof", Severity.ERROR,
                    f"text after '# EOF' (line {self._eof_line}): '# EOF' must be the last line of an OpenMetrics payload",
                )
            return

        if line and line[-1] == "\r":
            line = line[:-1]
            if not self._reported_carriage_return:
                self._reported_carriage_return = True
                self._report(
                    self._line_number, len(line) + 1, f"{self._prefix}-carriage-return", Severity.ERROR,
                    "line ends with '\\r\\n': the exposition formats end lines with '\\n' only, and parsers read the "
                    "'\\r' as part of the value; reported once for the payload",
                )

        self._column_offset = 0
        if not self.openmetrics and line and line[0] in BLANKS:
            stripped = line.lstrip(BLANKS)
            self._column_offset = len(line) - len(stripped)
            line = stripped
        if not line:
            if self.openmetrics:
                self._report(self._line_number, 1, "om-blank-line", Severity.ERROR, "blank line: OpenMetrics does not allow empty lines; remove it")
            return

        self._last_content_line = (self._line_number, line)
        if line[0] == "#":
            if self.openmetrics:
                self._openmetrics_comment(line)
                return
            metadata = _TEXT_METADATA.fullmatch(line)
            if metadata is not None:
                self._text_metadata(metadata)
            else:
                self._text_comment(line)
            return

        try:
            sample = self._grammar.parse_sample(line)
        except SyntaxProblem as problem:
            self._report_syntax(problem)
            return
        self.result.samples += 1
        self._tracker.on_sample(sample, self._line_number)

    def _collect_html_links(self, line: str) -> None:
        if len(self._html_links) >= MAX_HTML_LINKS or "href" not in line:
            return
        for link in find_metrics_links(line):
            if link not in self._html_links and len(self._html_links) < MAX_HTML_LINKS:
                self._html_links.append(link)

    def _report_syntax(self, problem: SyntaxProblem) -> None:
        rule = problem.rule if problem.rule in UNPREFIXED_SYNTAX_RULES else f"{self._prefix}-{problem.rule}"
        self._report(self._line_number, self._column_offset + problem.column + 1, rule, Severity.ERROR, problem.message)

    # text: "#" blanks ("HELP" | "TYPE") blanks metric-name [blanks text]; any other "#" line is a comment
    def _text_comment(self, line: str) -> None:
        if len(line) < 2 or line[1] not in BLANKS:
            return
        rest = line[1:].lstrip(BLANKS)
        keyword = rest[:4]
        if keyword not in ("HELP", "TYPE") or (len(rest) > 4 and rest[4] not in BLANKS):
            return

        position = len(line) - len(rest) + 4
        name_start = position
        while name_start < len(line) and line[name_start] in BLANKS:
            name_start += 1
        try:
            name, position = self._metadata_name(line, name_start, keyword)
        except SyntaxProblem as problem:
            self._report_syntax(problem)
            return
        while position < len(line) and line[position] in BLANKS:
            position += 1
        argument = line[position:]
        if keyword == "HELP":
            self._tracker.on_help(name, argument, self._line_number)
            return

        type_name = argument.rstrip(BLANKS)
        if type_name not in TEXT_TYPES:
            self._report(
                self._line_number, self._column_offset + position + 1, "text-invalid-type", Severity.ERROR,
                f"unknown metric type {show(type_name)} for {show(name)}: the text format has "
                + ", ".join(TEXT_TYPES),
            )
            return
        self._tracker.on_type(name, type_name, self._line_number)

    # OpenMetrics: "# HELP " name " " text | "# TYPE " name " " type | "# UNIT " name " " unit | "# EOF"
    def _openmetrics_comment(self, line: str) -> None:
        if line == "# EOF":
            self._eof_line = self._line_number
            return
        keyword = line[2:6]
        if not line.startswith("# ") or keyword not in ("HELP", "TYPE", "UNIT") or line[6:7] != " ":
            if line.startswith("# ") and keyword in ("HELP", "TYPE", "UNIT"):
                message = f"{keyword} line needs a metric name: write '# {keyword} NAME ...' with single spaces"
                rule = f"om-invalid-{keyword.lower()}"
            else:
                message = (
                    f"invalid line {show(line)}: OpenMetrics has no comments; a line starting with '#' must be "
                    "'# HELP', '# TYPE', '# UNIT' or '# EOF' followed by one space"
                )
                rule = "om-invalid-comment"
            self._report(self._line_number, 1, rule, Severity.ERROR, message)
            return
        try:
            name, position = self._metadata_name(line, 7, keyword)
        except SyntaxProblem as problem:
            self._report_syntax(problem)
            return
        if position >= len(line) or line[position] != " ":
            self._report(
                self._line_number, position + 1, f"om-invalid-{keyword.lower()}", Severity.ERROR,
                f"{keyword} line for {show(name)} must have one space and a value after the name"
                + (" (an empty value still needs the space)" if keyword != "TYPE" else ""),
            )
            return
        argument = line[position + 1 :]
        if keyword == "HELP":
            self._tracker.on_help(name, argument, self._line_number)
        elif keyword == "TYPE":
            if argument not in OPENMETRICS_TYPES:
                self._report(
                    self._line_number, position + 2, "om-invalid-type", Severity.ERROR,
                    f"unknown metric type {show(argument)} for {show(name)}: OpenMetrics has "
                    + ", ".join(OPENMETRICS_TYPES) + " ('untyped' is 'unknown' in OpenMetrics)",
                )
                return
            self._tracker.on_type(name, argument, self._line_number)
        else:
            if argument and _UNIT.fullmatch(argument) is None:
                self._report(
                    self._line_number, position + 2, "om-invalid-unit", Severity.ERROR,
                    f"invalid unit {show(argument)} for {show(name)}: a unit contains only letters, digits, '_' and ':'",
                )
                return
            self._tracker.on_unit(name, argument, self._line_number)

    def _metadata_name(self, line: str, position: int, keyword: str) -> tuple[str, int]:
        if position < len(line) and line[position] == '"':
            return self._grammar.parse_quoted_string(line, position, f"metric name after {keyword}")
        match = METRIC_NAME.match(line, position)
        if match is None or (match.end() < len(line) and line[match.end()] not in BLANKS):
            raise SyntaxProblem(
                position, f"invalid-{keyword.lower()}",
                f"expected a metric name after {keyword}, found "
                + (show(line[position:].split()[0]) if line[position:].strip() else "nothing")
                + ": metric names match [a-zA-Z_:][a-zA-Z0-9_:]*",
            )
        return match.group(), match.end()

    # --- findings ---

    def _report(self, line: int, column: int, rule: str, severity: Severity, message: str) -> None:
        counts = self._rule_counts
        counts[rule] += 1
        if counts[rule] > MAX_FINDINGS_PER_RULE:
            self.result.suppressed[rule] += 1
            return
        self.result.findings.append(Finding(line, column, rule, severity, message))


def validate_bytes(payload: bytes, format: Format, lint: bool = True) -> ValidationResult:
    """Validate a whole payload held in memory."""
    validator = Validator(format, lint)
    validator.feed(payload)
    return validator.close()
