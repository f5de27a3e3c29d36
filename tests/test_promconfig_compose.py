"""The two YAML composers: libyaml's C composer and the event composer build the same nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promwatchd.promconfig import compose, validate_bytes

SAMPLES = {
    "scrape job": (
        "global:\n  scrape_interval: 30s\n  external_labels: {cluster: a}\n"
        "scrape_configs:\n  - job_name: node\n    honor_labels: yes\n    sample_limit: 0x10\n"
        "    static_configs:\n      - targets: ['a:9100', \"b:9100\"]\n        labels: {team: ~}\n"
        "    relabel_configs:\n      - source_labels: [__address__]\n        regex: '([^:]+):\\d+'\n"
    ),
    "duplicate keys": "a: 1\na: 2\nb: {c: 1, c: 2}\n",
    "shared alias": "a: &x {k: v, k: w}\nb: *x\nc: [*x, *x]\n",
    "explicit tags": "a: !!str 123\nb: !!int '5'\nc: !!binary aGVsbG8=\n",
    "block scalars": "a: |\n  text\n  more\nb: >-\n  folded\n",
    "second document ignored": "global: {}\n---\n- other\n",
    "flow set": "{a, b, c}\n",
    "scalar document": "just text\n",
    "anchor without alias": "a: &x [1, 2]\nb: 'a & b'\n",
}


def _shape(node: yaml.Node, numbers: dict[int, int]) -> tuple:
    if id(node) in numbers:
        return ("alias", numbers[id(node)])
    numbers[id(node)] = len(numbers)
    start, end = node.start_mark, node.end_mark
    base = (type(node).__name__, node.tag, start.line, start.column, end.line, end.column)
    if isinstance(node, yaml.ScalarNode):
        return (*base, node.style, node.value)
    if isinstance(node, yaml.MappingNode):
        return (*base, node.flow_style, tuple((_shape(k, numbers), _shape(v, numbers)) for k, v in node.value))
    return (*base, node.flow_style, tuple(_shape(item, numbers) for item in node.value))


def _problems(problems: list) -> list[tuple]:
    return sorted((rule, node.start_mark.line, node.start_mark.column, message) for rule, node, message, _ in problems)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_compose_fast_matches_events(name: str) -> None:
    text = SAMPLES[name]
    assert compose._fast_composer_applies(text, compose.MAX_NODES)

    fast_root, fast_problems = compose._compose_with_libyaml(text, compose.MAX_NODES)
    event_root, event_problems = compose._compose_from_events(text, text.splitlines(), compose.MAX_NODES)

    assert _shape(fast_root, {}) == _shape(event_root, {})
    assert _problems(fast_problems) == _problems(event_problems)


@pytest.mark.parametrize(
    "text",
    ["x: &b {a: 1}\ny:\n  <<: *b\n", 'a: "\\xff"\n', "a: ! 12\n", "a: [! , b]\n"],
    ids=["merge key", "byte escape", "non-specific tag", "non-specific tag in flow"],
)
def test_compose_event_composer_chosen(text: str) -> None:
    assert not compose._fast_composer_applies(text, compose.MAX_NODES)


def test_compose_non_specific_tag_is_string() -> None:
    root, _ = compose.compose_first_document("a: ! 12\n", ["a: ! 12"])

    assert root.value[0][1].tag == compose.STR_TAG


def test_compose_repeated_anchor_accepted(tmp_path: Path) -> None:
    # PyYAML's C composer rejects a repeated anchor, but yaml.v2 takes the latest definition.
    text = "a: &x 1\nb: &x [2]\nrule_files: *x\n"
    root, problems = compose.compose_first_document(text, text.splitlines())

    assert problems == []
    assert isinstance(root.value[2][1], yaml.SequenceNode)
    findings = validate_bytes(text.encode(), "prometheus.yml", tmp_path, syntax_only=True).findings
    assert [f.rule for f in findings] == ["unknown-field", "unknown-field"]


def test_compose_repeated_anchor_latest_wins(tmp_path: Path) -> None:
    # promtool 2.42 reports this file invalid, because the alias refers to the 30s value.
    text = "global:\n  scrape_interval: &x 15s\n  evaluation_interval: &x 30s\n  scrape_timeout: *x\n"
    findings = validate_bytes(text.encode(), "prometheus.yml", tmp_path, syntax_only=True).findings

    assert [(f.rule, f.line) for f in findings] == [("timeout-exceeds-interval", 3)]
    assert "scrape_timeout 30s > scrape_interval 15s" in findings[0].message


def test_compose_fast_depth_limit() -> None:
    depth = compose.MAX_DEPTH + 5
    text = "a: " + "[" * depth + "]" * depth + "\n"
    assert compose._fast_composer_applies(text, compose.MAX_NODES)

    with pytest.raises(compose.ComposeLimitExceeded, match="nested more than"):
        compose._compose_with_libyaml(text, compose.MAX_NODES)
    with pytest.raises(compose.ComposeLimitExceeded, match="nested more than"):
        compose._compose_from_events(text, text.splitlines(), compose.MAX_NODES)


def test_compose_fast_node_limit() -> None:
    text = "a: [" + ", ".join(["x"] * 20) + "]\n"

    with pytest.raises(compose.ComposeLimitExceeded, match="more than 10 nodes"):
        compose._compose_with_libyaml(text, 10)
    with pytest.raises(compose.ComposeLimitExceeded, match="more than 10 nodes"):
        compose.compose_first_document(text, text.splitlines(), 10)


def test_compose_syntax_error_reported_once(tmp_path: Path) -> None:
    findings = validate_bytes(b"global:\n  scrape_interval: [5s\n", "prometheus.yml", tmp_path, syntax_only=True).findings

    assert [f.rule for f in findings] == ["yaml-syntax"]
