"""The YAML loader: positions, duplicate keys, invisible characters and carets, and never raising."""

from __future__ import annotations

from pathlib import Path

from promwatchd.promconfig import validate_bytes
from promwatchd.promconfig.yamlsource import parse_document


def _findings(text: str | bytes, tmp_path: Path):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return validate_bytes(data, "prometheus.yml", tmp_path, syntax_only=True).findings


def test_loader_nodes_carry_positions() -> None:
    document = parse_document(b"global:\n  scrape_interval: 15s\n", "p.yml")
    key, value = document.root.value[0][1].value[0]

    assert (key.start_mark.line, key.start_mark.column) == (1, 2)
    assert value.value == "15s"


def test_loader_duplicate_key_is_error(tmp_path: Path) -> None:
    findings = _findings("scrape_configs: []\nscrape_configs: []\n", tmp_path)

    assert [(f.rule, f.line, f.column) for f in findings] == [("duplicate-key", 2, 1)]
    assert "first set at line 1" in findings[0].message


def test_loader_duplicate_key_nested(tmp_path: Path) -> None:
    findings = _findings("global:\n  scrape_interval: 1m\n  scrape_interval: 2m\n", tmp_path)

    assert [(f.rule, f.line) for f in findings] == [("duplicate-key", 3)]


def test_loader_tab_named_with_caret(tmp_path: Path) -> None:
    findings = _findings("global:\n\tscrape_interval: 5s\n", tmp_path)
    syntax = next(f for f in findings if f.rule == "yaml-syntax")

    assert "tab (U+0009)" in syntax.message
    assert syntax.excerpt.splitlines()[0].endswith("→scrape_interval: 5s")
    assert syntax.excerpt.splitlines()[1].endswith("^")
    assert (syntax.line, syntax.column) == (2, 1)


def test_loader_every_tab_line_reported(tmp_path: Path) -> None:
    findings = _findings("global:\n\tscrape_interval: 5s\n\tevaluation_interval: 5s\n", tmp_path)

    assert [f.line for f in findings if f.rule == "tab-indentation"] == [2, 3]


def test_loader_names_non_breaking_space(tmp_path: Path) -> None:
    findings = _findings("global:\n\u00a0 scrape_interval: 15s\n", tmp_path)

    assert [(f.rule, f.line, f.column) for f in findings] == [("unknown-field", 2, 1)]
    assert "no-break space (U+00A0)" in findings[0].message
    assert "·" in findings[0].excerpt


def test_loader_names_non_breaking_space_in_value(tmp_path: Path) -> None:
    findings = _findings("global:\n  scrape_interval:\u00a015s\n", tmp_path)

    assert [f.rule for f in findings] == ["wrong-type"]
    assert "no-break space (U+00A0)" in findings[0].message


def test_loader_invisible_char_in_key_named(tmp_path: Path) -> None:
    findings = _findings("global:\n  scrape_\u200binterval: 5s\n", tmp_path)

    assert findings[0].rule == "unknown-field"
    assert "zero width space (U+200B)" in findings[0].message


def test_loader_invalid_utf8(tmp_path: Path) -> None:
    findings = _findings(b"global:\n  scrape_interval: \xff\n", tmp_path)

    assert [(f.rule, f.line, f.column) for f in findings] == [("invalid-encoding", 2, 20)]


def test_loader_control_character(tmp_path: Path) -> None:
    findings = _findings("global:\n  scrape_interval: 5s\x00\n", tmp_path)

    assert findings[0].rule == "yaml-invalid-character"
    assert findings[0].line == 2


def test_loader_empty_file_is_valid(tmp_path: Path) -> None:
    assert _findings("", tmp_path) == []
    assert _findings("# only a comment\n", tmp_path) == []


def test_loader_reads_first_document_only(tmp_path: Path) -> None:
    assert _findings("global: {}\n---\nnot: valid\n", tmp_path) == []


def test_loader_merge_keys(tmp_path: Path) -> None:
    text = "x: &base\n  scrape_interval: 30s\nglobal:\n  <<: *base\n  evaluation_interval: 1m\n"
    findings = _findings(text, tmp_path)

    assert [f.path for f in findings] == ["x"]


def test_loader_alias_bomb_ends_in_finding(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    lines.append("rule_files: *a8")
    findings = _findings("\n".join(lines) + "\n", tmp_path)

    assert any(f.rule in ("yaml-too-large", "unknown-field") for f in findings)


def test_loader_deep_nesting_ends_in_finding(tmp_path: Path) -> None:
    findings = _findings("global: " + "[" * 5000 + "]" * 5000 + "\n", tmp_path)

    assert findings
    assert all(f.is_error for f in findings)


def test_loader_go_byte_escape_kept_as_byte(tmp_path: Path) -> None:
    findings = _findings('global:\n  external_labels:\n    name: "\\xff"\n', tmp_path)

    assert [f.rule for f in findings] == ["invalid-label-value"]
    assert '"\\xff" is not a valid label value' == findings[0].message


def test_loader_non_mapping_document(tmp_path: Path) -> None:
    findings = _findings("- a\n- b\n", tmp_path)

    assert [f.rule for f in findings] == ["wrong-type"]
