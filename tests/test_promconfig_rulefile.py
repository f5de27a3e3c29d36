"""Rule files named in rule_files: structure, names, templates and a shallow expression check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from promwatchd.promconfig import validate_bytes
from promwatchd.promconfig.rulefile import check_rule_file, expression_problem

# Valid PromQL, each accepted by promtool 2.42's check rules (see the oracle test below).
VALID_EXPRESSIONS = [
    'sum by (job) (rate(http_requests_total[5m]))',
    'up{job=~"a|b", instance!="x"} == 0',
    'rate(x[5m] offset 1h)',
    'x @ 1609746000',
    '-x',
    '+x',
    '1 - -1',
    'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))',
    'x and on(instance) y',
    'x / ignoring(code) group_left y',
    '{__name__="x"}',
    'label_replace(up, "a", "$1", "b", "(.*)")',
    'x > bool 1',
    'count_values("v", x)',
    'topk(3, x)',
    'label_replace(up, "a", "]", "b", "(")',
    '{job=`a]b`}',
    'time() - x > 3600',
    'sum without (instance) (x)',
    'x unless y',
    'x[5m:1m]',
    '1e3',
    '0x1F',
    'x % 2 == 1',
    'x ^ 2',
    'x atan2 y',
    'sum(x) by (job)',
    'x offset -5m',
    'avg_over_time(x[1h]) < 0.5',
    "up == 0\n# a comment after the expression",
]


@pytest.mark.parametrize("expr", VALID_EXPRESSIONS)
def test_valid_expression_passes(expr: str) -> None:
    assert expression_problem(expr) is None


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("", "must be set"),
        ("node_load1 >", "ends with an operator"),
        ("sum(rate(x[5m])", "unclosed"),
        ("x]", "unexpected"),
        ('up{job="a}', "unterminated"),
        ("> 5", "starts with a binary operator"),
        ("sum by", "ends with an operator"),
        ("x and", "ends with an operator"),
    ],
)
def test_invalid_expression_found(expr: str, reason: str) -> None:
    problem = expression_problem(expr)

    assert problem is not None
    assert reason in problem


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_valid_expressions_promtool_oracle(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": f"r{i}", "expr": e} for i, e in enumerate(VALID_EXPRESSIONS)]}]}))

    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert check_rule_file(path, "utf8") == []


BROKEN_RULES = """\
groups:
  - name: node
    rules:
      - alert: HighLoad
        expr: node_load1 >
        for: 5m
        annotations:
          summary: "load is {{ $value"
      - record: job:up:sum{job="x"}
        expr: sum by (job) (up)
        for: 1m
      - expr: up
      - record: a
        alert: b
        expr: up
        labels:
          __name__: x
  - name: node
    rules: []
"""


def test_rule_file_findings(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yml"
    path.write_text(BROKEN_RULES)

    findings = check_rule_file(path, "utf8")

    assert sorted((f.rule, f.line, f.path) for f in findings) == sorted([
        ("invalid-rule-expression", 5, "groups[0].rules[0].expr"),
        ("invalid-template", 8, "groups[0].rules[0].annotations"),
        ("invalid-rule", 9, "groups[0].rules[1].record"),
        ("invalid-rule", 11, "groups[0].rules[1].for"),
        ("invalid-rule", 12, "groups[0].rules[2]"),
        ("invalid-rule", 13, "groups[0].rules[3].record"),
        ("invalid-label-name", 17, "groups[0].rules[3].labels"),
        ("duplicate-rule-group", 18, "groups[1].name"),
    ])
    assert all(f.file == str(path) for f in findings)


def test_rule_file_unknown_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        severity: page\n")

    findings = check_rule_file(path, "utf8")

    assert [(f.rule, f.path) for f in findings] == [("unknown-field", "groups[0].rules[0].severity")]


def test_config_checks_rule_files(tmp_path: Path) -> None:
    (tmp_path / "alerts.yml").write_text(BROKEN_RULES)
    config = b"rule_files: [alerts.yml]\nscrape_configs: []\n"

    checked = validate_bytes(config, "prometheus.yml", tmp_path).findings
    syntax_only = validate_bytes(config, "prometheus.yml", tmp_path, syntax_only=True).findings

    assert len([f for f in checked if f.file == str(tmp_path / "alerts.yml")]) == 8
    assert syntax_only == []
