"""Target relabeling with the semantics of Prometheus 2.42 (model/relabel/relabel.go).

Regexes are fully anchored, as Prometheus anchors them (``^(?:REGEX)$``). Replacement
templates follow Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = (
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
)
ACTIONS_NEEDING_TARGET_LABEL = frozenset({"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"})

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_TEMPLATE_NAME = re.compile(r"[a-zA-Z0-9_]+")


class RelabelConfigError(ValueError):
    """A relabel_configs entry is invalid; the message names the field."""


@dataclass(frozen=True)
class RelabelRule:
    """One entry of ``relabel_configs`` with Prometheus's defaults filled in."""

    action: str = "replace"
    source_labels: tuple[str, ...] = ()
    separator: str = ";"
    regex: re.Pattern[str] = re.compile(r"(?:(.*))\Z")
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], where: str) -> RelabelRule:
        """Build a rule from one YAML mapping; raise RelabelConfigError naming ``where`` and the field."""
        if not isinstance(raw, Mapping):
            raise RelabelConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")

        action = str(raw.get("action", "replace")).lower()
        if action not in ACTIONS:
            raise RelabelConfigError(f"{where}: unknown relabel action {action!r}; expected one of {', '.join(ACTIONS)}")

        pattern = raw.get("regex", "(.*)")
        try:
            regex = compile_anchored(str(pattern))
        except re.error as error:
            raise RelabelConfigError(f"{where}: invalid regex {pattern!r}: {error}") from None

        source_labels = raw.get("source_labels") or []
        if not isinstance(source_labels, list):
            raise RelabelConfigError(f"{where}: source_labels must be a list of label names")

        rule = cls(
            action=action,
            source_labels=tuple(str(name) for name in source_labels),
            separator=str(raw.get("separator", ";")),
            regex=regex,
            modulus=int(raw.get("modulus") or 0),
            target_label=str(raw.get("target_label") or ""),
            replacement=str(raw.get("replacement", "$1")),
        )
        rule._validate(where)
        return rule

    def _validate(self, where: str) -> None:
        if self.action in ACTIONS_NEEDING_TARGET_LABEL and not self.target_label:
            raise RelabelConfigError(f"{where}: relabel action {self.action} needs target_label")
        if self.action == "hashmod" and self.modulus <= 0:
            raise RelabelConfigError(f"{where}: relabel action hashmod needs a modulus above 0")
        if self.action in ("lowercase", "uppercase", "hashmod", "keepequal", "dropequal"):
            if not _LABEL_NAME.match(self.target_label):
                raise RelabelConfigError(f"{where}: {self.target_label!r} is not a valid label name for target_label")


def compile_anchored(pattern: str) -> re.Pattern[str]:
    """Compile a relabel regex anchored at both ends, as Prometheus does.

    NOTE: Python's ``re`` is used in place of Go's RE2; the syntax both share (groups, classes,
    repetition, named groups) behaves the same, but RE2-only syntax such as ``\\pL`` is rejected.
    """
    return re.compile(f"(?:{pattern})\\Z")


def expand_template(template: str, match: re.Match[str]) -> str:
    """Expand ``$1``, ``${1}``, ``$name`` and ``${name}`` like Go's ``Regexp.Expand``; unknown groups expand to ""."""
    parts: list[str] = []
    position = 0
    while True:
        dollar = template.find("$", position)
        if dollar < 0:
            parts.append(template[position:])
            break
        parts.append(template[position:dollar])
        rest = dollar + 1

        if template.startswith("$", rest):
            parts.append("$")
            position = rest + 1
            continue

        if template.startswith("{", rest):
            close = template.find("}", rest)
            name = template[rest + 1 : close] if close > 0 else ""
            if close < 0 or not _TEMPLATE_NAME.fullmatch(name):
                parts.append("$")  # Go treats a malformed reference as literal text.
                position = rest
                continue
            position = close + 1
        else:
            found = _TEMPLATE_NAME.match(template, rest)
            if found is None:
                parts.append("$")
                position = rest
                continue
            name = found.group()
            position = found.end()

        parts.append(_group_text(match, name))
    return "".join(parts)


def _group_text(match: re.Match[str], name: str) -> str:
    if name.isdigit():
        index = int(name)
        if index > (match.re.groups or 0):
            return ""
        return match.group(index) or ""
    if name in match.re.groupindex:
        return match.group(name) or ""
    return ""


def hashmod(value: str, modulus: int) -> int:
    """Return Prometheus's hashmod: the low 8 bytes of the MD5 digest, big-endian, modulo ``modulus``."""
    digest = hashlib.md5(value.encode("utf-8")).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def relabel(labels: Mapping[str, str], rules: list[RelabelRule]) -> dict[str, str] | None:
    """Apply ``rules`` in order; return the new labels, or None when a rule drops the target.

    A label set to the empty string is removed, as Prometheus's label builder does.
    """
    current = dict(labels)
    for rule in rules:
        if not _apply(current, rule):
            return None
    return current


def _set(labels: dict[str, str], name: str, value: str) -> None:
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)


def _apply(labels: dict[str, str], rule: RelabelRule) -> bool:
    """Apply one rule in place; return False when the target is dropped."""
    value = rule.separator.join(labels.get(name, "") for name in rule.source_labels)
    action = rule.action

    if action == "keep":
        return rule.regex.match(value) is not None
    if action == "drop":
        return rule.regex.match(value) is None
    if action == "keepequal":
        return labels.get(rule.target_label, "") == value
    if action == "dropequal":
        return labels.get(rule.target_label, "") != value

    if action == "replace":
        match = rule.regex.match(value)
        if match is None:
            return True
        target = expand_template(rule.target_label, match)
        if not _LABEL_NAME.match(target):
            labels.pop(rule.target_label, None)
            return True
        _set(labels, target, expand_template(rule.replacement, match))
    elif action == "lowercase":
        _set(labels, rule.target_label, value.lower())
    elif action == "uppercase":
        _set(labels, rule.target_label, value.upper())
    elif action == "hashmod":
        _set(labels, rule.target_label, str(hashmod(value, rule.modulus)))
    elif action == "labelmap":
        for name, label_value in list(labels.items()):
            match = rule.regex.match(name)
            if match is not None:
                _set(labels, expand_template(rule.replacement, match), label_value)
    elif action == "labeldrop":
        for name in [name for name in labels if rule.regex.match(name)]:
            del labels[name]
    elif action == "labelkeep":
        for name in [name for name in labels if not rule.regex.match(name)]:
            del labels[name]
    return True
