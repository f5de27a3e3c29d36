"""Rule files named in rule_files: groups, recording and alerting rules, as Prometheus 3.14's rulefmt reads them.

Prometheus loads the rule files at start and stops when one fails to parse, so a broken
rule file keeps a valid prometheus.yml from starting.

NOTE: expressions get a shallow check only (empty, unbalanced brackets or quotes, a
binary operator at either end). promtool check rules parses PromQL in full.
"""

from __future__ import annotations

import re
from pathlib import Path

from promwatchd.promconfig.findings import Finding
from promwatchd.promconfig.readfile import read_referenced_file
from promwatchd.promconfig.scalars import Duration, is_valid_label_name, is_valid_utf8
from promwatchd.promconfig.schema import DecodeLimitExceeded, Decoder, Int, ListOf, MapOf, Obj, Scalar, Struct, go_quote
from promwatchd.promconfig.yamlsource import parse_document

_BINARY_OPERATORS = ("==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "^", ">", "<", ",")
_BINARY_KEYWORDS = ("and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "@")
_TRAILING_KEYWORD = re.compile(r"(?:^|[\s)\]}])(" + "|".join(_BINARY_KEYWORDS[:-1]) + r")\s*$")
_LEADING_OPERATOR = re.compile(r"^\s*(==|!=|>=|<=|[*/%^><,]|(?:and|or|unless|atan2)\b)")
_CLOSING = {")": "(", "]": "[", "}": "{"}


def expression_problem(expr: str) -> str | None:
    """Return why ``expr`` cannot be a PromQL expression, or None when the shallow check finds nothing."""
    if not expr.strip():
        return "field 'expr' must be set in rule"

    stack: list[str] = []
    code: list[str] = []
    quote = ""
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "#":
            newline = expr.find("\n", index)
            index = len(expr) if newline < 0 else newline
            continue
        elif char in "([{":
            stack.append(char)
        elif char in ")]}":
            if not stack or stack.pop() != _CLOSING[char]:
                return f"could not parse expression: unexpected {go_quote(char)} at position {index + 1}"
        if not quote:
            code.append(char)
        index += 1

    if quote:
        return f"could not parse expression: unterminated quoted string starting with {quote}"
    if stack:
        return f"could not parse expression: unclosed {go_quote(stack[-1])}"
    text = "".join(code).strip()
    if text.endswith(_BINARY_OPERATORS) or _TRAILING_KEYWORD.search(text):
        return "could not parse expression: it ends with an operator, so the right-hand operand is missing"
    if _LEADING_OPERATOR.match(text):
        return "could not parse expression: it starts with a binary operator, so the left-hand operand is missing"
    return None


def _template_problem(text: str) -> str | None:
    """Return why a label or annotation template cannot parse: an action ``{{`` without its ``}}``."""
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            return None
        end = text.find("}}", start + 2)
        if end < 0:
            return f"template: unclosed action starting at position {start + 1}"
        position = end + 2


def _validate_rule(rule: Obj, d: Decoder) -> None:
    record, alert = rule.get("record"), rule.get("alert")
    if record and alert:
        rule.error(d, "invalid-rule", "record", "only one of 'record' and 'alert' must be set", "split it into a recording rule and an alerting rule")
    if not record and not alert:
        rule.error(d, "invalid-rule", None, "one of 'record' or 'alert' must be set", "add record: NAME for a recording rule or alert: NAME for an alerting rule")

    problem = expression_problem(rule.get("expr") or "")
    if problem:
        rule.error(d, "invalid-rule-expression", "expr", problem, "correct the PromQL expression; promtool check rules FILE shows where it fails")

    if record:
        for field, message in (("annotations", "invalid field 'annotations' in recording rule"), ("for", "invalid field 'for' in recording rule"), ("keep_firing_for", "invalid field 'keep_firing_for' in recording rule")):
            if rule.get(field):
                rule.error(d, "invalid-rule", field, message, f"remove {field}; it applies to alerting rules only")
        if not is_valid_utf8(record):
            rule.error(d, "invalid-rule", "record", f"invalid recording rule name: {go_quote(record)}", "use a metric name such as job:http_requests:rate5m")
        if "{" in record or "}" in record:
            rule.error(d, "invalid-rule", "record", f"braces present in the recording rule name; should it be in expr?: {record}", "move the selector into expr and keep only the metric name in record")

    scheme = d.context.get("name_validation_scheme", "utf8")
    for key, value in (rule.get("labels") or {}).items():
        if not is_valid_label_name(key, scheme) or key == "__name__":
            rule.error(d, "invalid-label-name", "labels", f"invalid label name: {key}", "use a label name such as severity")
            continue
        problem = _template_problem(value) if alert and isinstance(value, str) else None
        if problem:
            rule.error(d, "invalid-template", "labels", f"label {key}: {problem}", "close every {{ with }}")
    for key, value in (rule.get("annotations") or {}).items():
        if not is_valid_label_name(key, scheme):
            rule.error(d, "invalid-label-name", "annotations", f"invalid annotation name: {key}", "use a name such as summary")
            continue
        problem = _template_problem(value) if alert and isinstance(value, str) else None
        if problem:
            rule.error(d, "invalid-template", "annotations", f"annotation {key}: {problem}", "close every {{ with }}")


def _validate_group(group: Obj, d: Decoder) -> None:
    if not group.get("name"):
        group.error(d, "invalid-rule-group", "name", "Groupname must not be empty", "give the group a name")
    scheme = d.context.get("name_validation_scheme", "utf8")
    for key in group.get("labels") or {}:
        if not is_valid_label_name(key, scheme) or key == "__name__":
            group.error(d, "invalid-label-name", "labels", f"invalid label name: {key}", "use a label name such as team")


def _validate_groups(rule_file: Obj, d: Decoder) -> None:
    seen: set[str] = set()
    for group in rule_file.get("groups") or ():
        if not isinstance(group, Obj):
            continue
        name = group.get("name")
        if name and name in seen:
            group.error(d, "duplicate-rule-group", "name", f"groupname: {go_quote(name)} is repeated in the same file", "give each group in the file its own name")
        seen.add(name)


RULE = Struct(
    "rule",
    {
        "record": Scalar(),
        "alert": Scalar(),
        "expr": Scalar(),
        "for": Duration(),
        "keep_firing_for": Duration(),
        "labels": MapOf(Scalar(), key_check=None),
        "annotations": MapOf(Scalar(), key_check=None),
    },
    [_validate_rule],
)
RULE_GROUP = Struct(
    "rule group",
    {"name": Scalar(), "interval": Duration(), "query_offset": Duration(), "limit": Int(), "rules": ListOf(RULE), "labels": MapOf(Scalar(), key_check=None)},
    [_validate_group],
)
RULE_FILE = Struct("rule file", {"groups": ListOf(RULE_GROUP)}, [_validate_groups])


def check_rule_file(path: Path, name_validation_scheme: str) -> list[Finding]:
    """Return the findings of one rule file, each with the rule file's name, line and column."""
    name = str(path)
    data = read_referenced_file(path, "rule file", "split the rules into several files")
    if isinstance(data, Finding):
        return [data]

    document = parse_document(data, name)
    findings = list(document.findings)
    if document.root is None:
        return findings
    d = Decoder(name, document.lines)
    d.context["name_validation_scheme"] = name_validation_scheme
    try:
        RULE_FILE.decode(document.root, d, "")
    except (DecodeLimitExceeded, RecursionError):
        d.error("yaml-too-large", document.root, "", "the rule file is too large or too deeply nested to check", "split the rules into several files")
    findings.extend(d.findings)
    return findings
