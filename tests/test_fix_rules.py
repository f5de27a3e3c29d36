"""Corrections beyond the real-world cases: each rule applies, or is only suggested, on a small config."""

from __future__ import annotations

from pathlib import Path

import pytest

from promwatchd.fix import FixResult, fix_config_text
from promwatchd.fix.roundtrip import detect_indentation
from promwatchd.fix.timing import format_duration_ms


def fix(text: str, tmp_path: Path) -> FixResult:
    return fix_config_text(text, "prometheus.yml", tmp_path)


def rules(result: FixResult, applied: bool = True) -> list[str]:
    return [c.rule for c in result.corrections if c.applied == applied]


def test_job_at_top_level_moves_into_scrape_configs(tmp_path: Path) -> None:
    result = fix("job_name: node\nstatic_configs:\n  - targets: ['a:9100']\n", tmp_path)

    assert rules(result) == ["job-at-top-level"]
    assert result.fixed == "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"
    assert result.valid


def test_global_field_at_top_level_moves_to_global(tmp_path: Path) -> None:
    text = "global:\n  evaluation_interval: 30s\nscrape_interval: 30s\nscrape_configs: []\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["field-to-global"]
    assert result.fixed == "global:\n  evaluation_interval: 30s\n  scrape_interval: 30s\nscrape_configs: []\n"


def test_global_field_already_set_suggested(tmp_path: Path) -> None:
    text = "global:\n  scrape_interval: 15s\nscrape_interval: 30s\n"

    result = fix(text, tmp_path)

    assert rules(result, applied=False) == ["field-to-global"]
    assert result.fixed == text
    assert not result.valid


def test_targets_at_job_level_move_to_static_configs(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: node\n    targets: ['a:9100']\n    labels:\n      env: prod\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["targets-to-static-configs"]
    assert "    static_configs:\n      - targets: ['a:9100']\n        labels:\n          env: prod\n" in result.fixed
    assert result.valid


def test_field_in_one_of_two_groups_suggested(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:1']\n        scrape_interval: 5s\n      - targets: ['b:1']\n"

    result = fix(text, tmp_path)

    assert rules(result, applied=False) == ["field-to-job"]
    assert "separate job" in result.corrections[0].explanation
    assert result.fixed == text


def test_field_already_on_job_suggested(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: node\n    scrape_interval: 10s\n    static_configs:\n      - targets: ['a:1']\n        scrape_interval: 5s\n"

    result = fix(text, tmp_path)

    assert rules(result, applied=False) == ["field-to-job"]


def test_relabel_mapping_and_scalar_fixed(tmp_path: Path) -> None:
    text = (
        "rule_files: rules.yml\n"
        "scrape_configs:\n"
        "  - job_name: node\n"
        "    relabel_configs:\n"
        "      source_labels: __address__\n"
        "      target_label: host\n"
        "    static_configs:\n"
        "      - targets: ['a:1']\n"
    )
    (tmp_path / "rules.yml").write_text("groups: []\n")

    result = fix(text, tmp_path)

    assert rules(result) == ["scalar-to-list", "mapping-to-list", "scalar-to-list"]
    assert "rule_files: [rules.yml]\n" in result.fixed
    assert "      - source_labels: [__address__]\n        target_label: host\n" in result.fixed
    assert result.valid


def test_file_sd_mapping_wrapped(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: files\n    file_sd_configs:\n      files: ['targets/*.json']\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["mapping-to-list"]
    assert "      - files: ['targets/*.json']\n" in result.fixed


def test_dash_key_keeps_labels_in_item(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: n\n    static_configs:\n      -targets: ['a:1']\n      labels:\n        env: x\n      -targets: ['b:1']\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["dash-without-space", "dash-without-space"]
    assert result.fixed == "scrape_configs:\n  - job_name: n\n    static_configs:\n      - targets: ['a:1']\n        labels:\n          env: x\n      - targets: ['b:1']\n"
    assert result.valid


def test_target_with_default_metrics_path_stripped(tmp_path: Path) -> None:
    text = 'scrape_configs:\n  - job_name: n\n    static_configs:\n      - targets: ["http://a:9100/metrics", "b:9100"]\n'

    result = fix(text, tmp_path)

    assert rules(result) == ["target-url"]
    assert '      - targets: ["a:9100", "b:9100"]\n' in result.fixed
    assert "metrics_path" not in result.fixed
    assert "scheme" not in result.fixed


def test_target_with_metrics_path_moved(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: n\n    static_configs:\n      - targets: ['https://a:8443/app/metrics']\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["target-url"]
    assert result.fixed == "scrape_configs:\n  - job_name: n\n    metrics_path: /app/metrics\n    scheme: https\n    static_configs:\n      - targets: ['a:8443']\n"
    assert result.valid


@pytest.mark.parametrize(
    ("targets", "reason"),
    [
        ("['http://a:1', 'https://b:1']", "different schemes"),
        ("['https://a:1', 'b:1']", "different schemes"),
        ("['a:1/x/metrics', 'b:1']", "different paths"),
        ("['http://a:1/probe?module=x']", "query"),
        ("['ftp://a:1']", "only http and https"),
    ],
)
def test_target_url_unsafe_suggested(tmp_path: Path, targets: str, reason: str) -> None:
    text = f"scrape_configs:\n  - job_name: n\n    static_configs:\n      - targets: {targets}\n"

    result = fix(text, tmp_path)

    suggested = [c for c in result.corrections if c.rule == "target-url"]
    assert len(suggested) == 1
    assert not suggested[0].applied
    assert reason in suggested[0].explanation
    assert result.fixed == text


def test_blackbox_job_target_suggested(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: probe\n    metrics_path: /probe\n    static_configs:\n      - targets: ['https://example.org']\n"

    result = fix(text, tmp_path)

    assert rules(result, applied=False) == ["target-url"]
    assert "__param_target" in result.corrections[0].explanation


def test_bare_retention_like_duration_not_guessed(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: n\n    static_configs:\n      - targets: ['a:1']\n    metric_relabel_configs: []\n    body_size_limit: 10\n"

    result = fix(text, tmp_path)

    assert "duration-unit" not in rules(result)


def test_bare_global_interval_gets_seconds(tmp_path: Path) -> None:
    result = fix("global:\n  scrape_interval: 15\n  evaluation_interval: '30'\n", tmp_path)

    assert rules(result) == ["duration-unit", "duration-unit"]
    assert result.fixed == "global:\n  scrape_interval: 15s\n  evaluation_interval: '30s'\n"


def test_job_timeout_uses_global_interval(tmp_path: Path) -> None:
    text = "global:\n  scrape_interval: 20s\nscrape_configs:\n  - job_name: n\n    scrape_timeout: 30s\n    static_configs:\n      - targets: ['a:1']\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["timeout-to-interval"]
    assert "    scrape_timeout: 20s\n" in result.fixed


def test_corrections_chain_until_valid(tmp_path: Path) -> None:
    text = "global:\n  scrape_interval: 15\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: n\n    scrape_timeout: 30s\n    static_configs:\n      targets: http://a:1\n"

    result = fix(text, tmp_path)

    assert sorted(rules(result)) == ["duration-unit", "mapping-to-list", "scalar-to-list", "target-url", "timeout-to-interval"]
    assert result.valid


def test_valid_file_unchanged(tmp_path: Path) -> None:
    text = "# keep\nglobal:\n  scrape_interval: 15s # inline\nscrape_configs:\n- job_name: n\n  static_configs:\n  - targets: [\"a:1\"]\n"

    result = fix(text, tmp_path)

    assert result.corrections == []
    assert result.fixed == text
    assert result.valid


def test_job_list_wrapped_in_scrape_configs(tmp_path: Path) -> None:
    text = "# jobs\n- job_name: node\n  static_configs:\n  - targets: ['a:9100']\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["jobs-without-scrape-configs"]
    assert result.fixed == "# jobs\nscrape_configs:\n- job_name: node\n  static_configs:\n  - targets: ['a:9100']\n"
    assert result.valid


def test_unfixable_file_reports_remaining(tmp_path: Path) -> None:
    result = fix("- 1\n- 2\n", tmp_path)

    assert result.corrections == []
    assert not result.valid
    assert result.remaining[0].rule == "wrong-type"


@pytest.mark.parametrize(("milliseconds", "text"), [(0, "0s"), (90_000, "1m30s"), (5_400_000, "1h30m"), (129_600_000, "1d12h"), (1500, "1s500ms"), (31_536_000_000, "1y")])
def test_format_duration_ms(milliseconds: int, text: str) -> None:
    assert format_duration_ms(milliseconds) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n  b: 1\nc:\n  - x\n", (2, 2)),
        ("a:\n    b: 1\nc:\n- x\n", (4, 0)),
        ("a: 1\n", (2, 2)),
        ("s:\n- job_name: x\n  static_configs:\n  - targets: []\n", (2, 0)),
    ],
)
def test_detect_indentation(text: str, expected: tuple[int, int]) -> None:
    assert detect_indentation(text) == expected


def test_crlf_line_ends_kept(tmp_path: Path) -> None:
    text = "scrape_configs:\r\n  - job_name: n   # node\r\n    scrape_interval: 10\r\n    static_configs:\r\n      - targets: ['a:1']\r\n"

    result = fix(text, tmp_path)

    assert result.fixed == text.replace("scrape_interval: 10", "scrape_interval: 10s")
    assert result.valid


def test_mapping_with_unknown_keys_suggested(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: n\n    static_configs:\n      targets: ['a:1']\n      scrape_interval: 5s\n"

    result = fix(text, tmp_path)

    assert rules(result, applied=False) == ["mapping-to-list"]
    assert "scrape_interval" in result.corrections[0].explanation
    assert result.fixed == text


def test_merged_job_keeps_comments(tmp_path: Path) -> None:
    text = (
        "scrape_configs:\n"
        "  # rack A\n"
        "  - job_name: node\n"
        "    static_configs:\n"
        "      - targets: ['a:9100']   # host a\n"
        "  # rack B\n"
        "  - job_name: node\n"
        "    static_configs:\n"
        "      - targets: ['b:9100']   # host b\n"
    )

    result = fix(text, tmp_path)

    assert rules(result) == ["merge-duplicate-jobs"]
    assert result.remaining == []
    assert result.fixed.count("job_name: node") == 1
    for comment in ("# rack A", "# rack B", "# host a", "# host b"):
        assert comment in result.fixed
    assert "- targets: ['b:9100']   # host b\n" in result.fixed


def test_merged_job_without_comments_joins_targets(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [a:1]\n  - job_name: node\n    static_configs:\n      - targets: [b:1]\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["merge-duplicate-jobs"]
    assert "- targets: [a:1, b:1]" in result.fixed


def test_tab_in_block_scalar_kept(tmp_path: Path) -> None:
    text = (
        "global:\n\tscrape_interval: 15s\n"
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: |\n        \tTabPw\n"
        "    static_configs:\n      - targets: ['a:1']\n"
    )

    result = fix(text, tmp_path)

    assert "  scrape_interval: 15s\n" in result.fixed
    assert "        \tTabPw\n" in result.fixed
    suggested = [c for c in result.corrections if not c.applied]
    assert [(c.rule, c.line) for c in suggested] == [("tab-indentation", 8)]
    assert not result.valid


def test_blank_tab_line_in_block_scalar_cleared(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: a\n    basic_auth:\n      password: |\n        pw\n\t\n    static_configs:\n\t  - targets: ['a:1']\n"

    result = fix(text, tmp_path)

    assert result.valid
    assert "\t" not in result.fixed


def test_comma_separated_targets_split(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: 'node1:9100, node2:9100'\n"

    result = fix(text, tmp_path)

    assert rules(result) == ["scalar-to-list"]
    assert result.valid
    assert "targets: [node1:9100, node2:9100]" in result.fixed


@pytest.mark.parametrize(
    ("field", "value", "readings"),
    [
        ("scrape_interval", "15000", "15s if milliseconds, 4h10m if seconds"),
        ("scrape_timeout", "500", "500ms if milliseconds, 8m20s if seconds"),
    ],
)
def test_large_bare_number_suggested(field: str, value: str, readings: str, tmp_path: Path) -> None:
    text = f"scrape_configs:\n  - job_name: a\n    {field}: {value}\n    static_configs: [{{targets: ['a:1']}}]\n"

    result = fix(text, tmp_path)

    suggested = [c for c in result.corrections if not c.applied]
    assert [c.rule for c in suggested] == ["duration-unit"]
    assert suggested[0].change == f"{value} -> {readings}"
    assert result.fixed == text


def test_bare_number_other_duration_suggested(tmp_path: Path) -> None:
    text = "remote_write:\n  - url: http://127.0.0.1:9/write\n    remote_timeout: 30\n"

    result = fix(text, tmp_path)

    assert [(c.rule, c.applied) for c in result.corrections] == [("duration-unit", False)]
    assert "30ms if milliseconds, 30s if seconds" in result.corrections[0].change
