"""Naming conventions that ``promtool check metrics`` reports (its promlint checks), as lint findings.

The rules and messages follow what promtool 2.42 prints, and each message adds the fix. There
are two differences. promtool reports one non-base unit per name, picked in an order that
varies between runs, where this module reports the first one in the name. And OpenMetrics
counter samples always end in ``_total``, so the counter suffix rules are skipped there.
"""

from __future__ import annotations

import re
from collections.abc import Collection

ABBREVIATED_UNITS = frozenset({"s", "ms", "us", "ns", "sec", "m", "h", "d", "b", "kb", "mb", "gb", "tb", "pb"})
NON_BASE_UNITS = {
    "minutes": "seconds",
    "hours": "seconds",
    "days": "seconds",
    "weeks": "seconds",
    "milliseconds": "seconds",
    "microseconds": "seconds",
    "nanoseconds": "seconds",
    "bits": "bytes",
    "kilobytes": "bytes",
    "megabytes": "bytes",
    "gigabytes": "bytes",
    "terabytes": "bytes",
    "petabytes": "bytes",
    "fahrenheit": "celsius",
    "inches": "meters",
    "miles": "meters",
    "kilometers": "meters",
    "centimeters": "meters",
    "millimeters": "meters",
    "kilograms": "grams",
}
TYPE_WORDS = frozenset({"counter", "gauge", "histogram", "summary"})
CAMEL_CASE = re.compile("[a-z][A-Z]")

# OpenMetrics types mapped to the closest text-format type for the type-specific rules.
_TEXT_TYPE_OF = {"unknown": "untyped", "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}


def lint_family(
    name: str, family_type: str, has_help: bool, label_names: Collection[str], openmetrics: bool
) -> list[tuple[str, str]]:
    """Return ``(message, rule id)`` for each naming convention the family breaks."""
    family_type = _TEXT_TYPE_OF.get(family_type, family_type)
    problems: list[tuple[str, str]] = []
    if not has_help:
        problems.append((f"{name}: no help text; add a '# HELP {name} ...' line", "lint-help-missing"))
    words = name.split("_")
    if len(words) > 1:
        _lint_units(name, words, problems)
    if family_type != "untyped":
        _lint_suffixes(name, family_type, openmetrics, problems)
        _lint_reserved_labels(name, family_type, label_names, problems)
    _lint_characters(name, label_names, problems)
    return problems


def _lint_units(name: str, words: list[str], problems: list[tuple[str, str]]) -> None:
    units = words[1:]
    if not NON_BASE_UNITS.keys().isdisjoint(units):
        word = next(word for word in units if word in NON_BASE_UNITS)
        problems.append((f'{name}: use base unit "{NON_BASE_UNITS[word]}" instead of "{word}"; convert the value and rename the metric', "lint-non-base-unit"))
    if not ABBREVIATED_UNITS.isdisjoint(units):
        for word in units:
            if word in ABBREVIATED_UNITS:
                problems.append((f"{name}: metric names should not contain abbreviated units ({word!r}); spell the base unit out, such as _seconds or _bytes", "lint-abbreviated-unit"))
    if not TYPE_WORDS.isdisjoint(words):
        for word in words:
            if word in TYPE_WORDS:
                problems.append((f"{name}: metric name should not include type '{word}'; the TYPE line carries it", "lint-type-in-name"))


def _lint_suffixes(name: str, family_type: str, openmetrics: bool, problems: list[tuple[str, str]]) -> None:
    if not openmetrics:
        has_total = name.endswith("_total")
        if family_type == "counter" and not has_total:
            problems.append((f'{name}: counter metrics should have "_total" suffix; rename it to {name}_total', "lint-counter-missing-total"))
        if family_type != "counter" and has_total:
            problems.append((f'{name}: non-counter metrics should not have "_total" suffix', "lint-total-on-non-counter"))
    if family_type != "histogram" and name.endswith("_bucket"):
        problems.append((f'{name}: non-histogram metrics should not have "_bucket" suffix', "lint-reserved-suffix"))
    if family_type not in ("histogram", "summary"):
        for suffix in ("_count", "_sum"):
            if name.endswith(suffix):
                problems.append((f'{name}: non-histogram and non-summary metrics should not have "{suffix}" suffix', "lint-reserved-suffix"))


def _lint_reserved_labels(name: str, family_type: str, label_names: Collection[str], problems: list[tuple[str, str]]) -> None:
    if family_type != "histogram" and "le" in label_names:
        problems.append((f'{name}: non-histogram metrics should not have "le" label; rename the label', "lint-reserved-label"))
    if family_type != "summary" and "quantile" in label_names:
        problems.append((f'{name}: non-summary metrics should not have "quantile" label; rename the label', "lint-reserved-label"))


def _lint_characters(name: str, label_names: Collection[str], problems: list[tuple[str, str]]) -> None:
    if ":" in name:
        problems.append((f"{name}: metric names should not contain ':'; colons are for recording rules", "lint-colon-in-name"))
    if CAMEL_CASE.search(name):
        problems.append((f"{name}: metric names should be written in 'snake_case' not 'camelCase'", "lint-camel-case"))
    if label_names and CAMEL_CASE.search(",".join(label_names)):
        problems.append((f"{name}: label names should be written in 'snake_case' not 'camelCase'", "lint-camel-case"))
