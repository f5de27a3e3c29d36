"""Validating a file in parts, in forked processes, gives exactly the findings of one pass.

Every test compares ``processes=2`` or more against ``processes=1`` on the same bytes,
with the size threshold lowered so that small files are split too. Files the split
cannot stand for must come out the same through the one-pass fallback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promwatchd.promconfig import parallel, validate_bytes
from promwatchd.promconfig.check import PassResult
from promwatchd.promconfig.split import split_scrape_configs

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONFORMANCE_DIR = SHARED / "conformance" / "config"
CASES_DIR = SHARED / "cases"


@pytest.fixture(autouse=True)
def split_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("promwatchd.promconfig.validate.PARALLEL_MIN_CHARS", 0)


def _job(index: int, extra: str = "") -> str:
    return (
        f"  - job_name: job-{index}\n"
        f"    static_configs:\n"
        f"      - targets: ['host-{index}:9100']\n"
        f"        labels:\n"
        f"          team: team-{index % 3}\n"
        f"{extra}"
    )


def _config(jobs: int, extras: dict[int, str] | None = None, head: str = "global:\n  scrape_interval: 30s\n", tail: str = "") -> str:
    extras = extras or {}
    return head + "scrape_configs:\n" + "".join(_job(i, extras.get(i, "")) for i in range(jobs)) + tail


def _outcomes(data: bytes, base_dir: Path, processes: int, **options: bool) -> tuple[list, list]:
    one_pass = validate_bytes(data, "prometheus.yml", base_dir, processes=1, **options).findings
    split = validate_bytes(data, "prometheus.yml", base_dir, processes=processes, **options).findings
    return one_pass, split


class SplitSpy:
    """Count how often check_in_parts returned results (the split was used) or None (one pass)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.used = 0
        self.fell_back = 0
        original = parallel.check_in_parts

        def spy(*args, **kwargs):
            results = original(*args, **kwargs)
            if results is None:
                self.fell_back += 1
            else:
                self.used += 1
            return results

        monkeypatch.setattr("promwatchd.promconfig.validate.check_in_parts", spy)


def test_split_chunks_keep_lines() -> None:
    text = _config(10, tail="rule_files: [a.yml]\n")
    chunks = split_scrape_configs(text, 2)

    assert chunks is not None
    assert len(chunks) == 2
    assert [chunk.text.count("\n") for chunk in chunks] == [text.count("\n")] * 2
    assert chunks[0].first_index == 0
    assert chunks[1].first_index == len(chunks[0].item_lines)
    assert len(chunks[0].item_lines) + len(chunks[1].item_lines) == 10
    lines = text.splitlines()
    for chunk in chunks:
        chunk_lines = chunk.text.splitlines()
        for line in chunk.item_lines:
            assert chunk_lines[line] == lines[line]
            assert lines[line].startswith("  - job_name: ")
    assert chunks[0].end_line == chunks[1].item_lines[0]
    assert chunks[1].tail_line == lines.index("rule_files: [a.yml]")


def test_split_blanks_other_chunks() -> None:
    text = _config(4)
    first, second = split_scrape_configs(text, 2)

    assert "job-3" not in first.text
    assert "job-0" not in second.text
    assert second.text.startswith("global:\n  scrape_interval: 30s\nscrape_configs:\n")


def test_split_balances_by_size() -> None:
    big = "    metric_relabel_configs:\n" + "      - action: labeldrop\n        regex: x\n" * 50
    text = _config(20, extras={0: big})
    first, second = split_scrape_configs(text, 2)

    # The first job alone is about as long as the other nineteen together.
    assert len(first.item_lines) <= 2
    assert len(second.item_lines) >= 18


@pytest.mark.parametrize(
    "text",
    [
        "global:\n  scrape_interval: 1m\n",
        "scrape_configs: [{job_name: a}, {job_name: b}]\n",
        "scrape_configs:\n  - job_name: only-one\n",
        "scrape_configs:\n  - job_name: a\nscrape_configs:\n  - job_name: b\n",
        "scrape_configs:\n  job_name: a\n",
        "scrape_configs: # the jobs\n",
        "a: &anchor 1\nscrape_configs:\n  - job_name: a\n  - job_name: b\n",
        "scrape_configs:\n  - job_name: a\r  - job_name: b\n  - job_name: c\n",
    ],
    ids=["no list", "flow list", "fewer items than parts", "key twice", "mapping", "empty", "anchor", "lone carriage return"],
)
def test_split_declines(text: str) -> None:
    assert split_scrape_configs(text, 2) is None


def test_split_list_at_column_zero() -> None:
    text = "scrape_configs:\n- job_name: a\n- job_name: b\n---\nignored: true\n"
    chunks = split_scrape_configs(text, 2)

    assert chunks is not None
    assert [chunk.item_lines for chunk in chunks] == [(1,), (2,)]
    assert chunks[1].tail_line == 3


def test_valid_large_config_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SplitSpy(monkeypatch)
    data = _config(300).encode()

    one_pass, split = _outcomes(data, tmp_path, 2, syntax_only=True)

    assert one_pass == []
    assert split == []
    assert spy.used == 1


def test_errors_in_every_chunk_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SplitSpy(monkeypatch)
    extras = {
        3: "    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        120: "    scrape_intervall: 5s\n",
        250: "    relabel_configs:\n      - action: replace\n        regex: '(['\n",
        299: "    basic_auth:\n      username: u\n      password: hunter2\n      password_file: /nonexistent/pw\n",
    }
    text = _config(300, extras, tail="remote_write:\n  - url: http://127.0.0.1:9/write\n    unknown: 1\n")
    # The same job name in both halves, and an unknown top-level key after the list.
    text = text.replace("job_name: job-200\n", "job_name: job-7\n") + "bogus_section: 1\n"

    for processes in (2, 3):
        one_pass, split = _outcomes(text.encode(), tmp_path, processes)
        assert split == one_pass

    rules = sorted(f.rule for f in one_pass)
    assert "duplicate-job-name" in rules
    assert "scrape-timeout-exceeds-interval" in rules or any("scrape_timeout" in f.message for f in one_pass)
    assert rules.count("unknown-field") >= 3
    assert spy.used == 2
    assert all("hunter2" not in f.message + f.fix + f.excerpt for f in one_pass)


def test_duplicate_job_across_chunks_names_first(tmp_path: Path) -> None:
    text = _config(100).replace("job_name: job-90\n", "job_name: job-1\n")

    findings = validate_bytes(text.encode(), "prometheus.yml", tmp_path, processes=2, syntax_only=True).findings

    assert [f.rule for f in findings] == ["duplicate-job-name"]
    assert findings[0].path == "scrape_configs[90].job_name"
    assert "first at scrape_configs[1].job_name, line " in findings[0].message


def test_scrape_config_files_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SplitSpy(monkeypatch)
    (tmp_path / "more.yml").write_text("scrape_configs:\n  - job_name: job-150\n    static_configs: [{targets: ['a:1']}]\n  - job_name: extra\n    bad_field: 1\n")
    text = "scrape_config_files: [more.yml]\n" + _config(200)

    one_pass, split = _outcomes(text.encode(), tmp_path, 2)

    assert split == one_pass
    assert sorted(f.rule for f in one_pass) == ["duplicate-job-name", "unknown-field"]
    assert spy.used == 1


@pytest.mark.parametrize(
    "text",
    [
        # A quoted scalar that runs over the next dash line: the split's line cut is wrong.
        _config(4).replace("team: team-1\n", 'team: "team-1\n  - job_name: inside\n"\n'),
        # An alias in one chunk to an anchor in another.
        _config(6).replace("team: team-0\n", "team: &shared team-0\n", 1).replace("team: team-2\n", "team: *shared\n"),
        # A null value last in an item, and a block scalar last in another.
        _config(6, {1: "    metrics_path:\n", 3: "    params:\n      q: [x]\n    honor_labels: true\n", 4: "    scheme: |\n      http\n"}),
        # A merge key, a tag and a comment at column 0 between items.
        _config(6, {2: "# a comment at column 0\n", 3: "    honor_labels: !!bool true\n"}).replace("labels:\n          team: team-0", "labels:\n          <<: {a: b}\n          team: team-0"),
        # Windows line endings.
        _config(6).replace("\n", "\r\n"),
        # The list is followed by a more indented line that is not an item.
        _config(4) + "  stray: 1\n",
        # A syntax error in the second half.
        _config(6).replace("team: team-2\n", "team: [team-2\n"),
        # Tab indentation in the second half.
        _config(6).replace("        labels:\n          team: team-2", "        labels:\n\t  team: team-2"),
        # An item that is not a mapping turns off the checks that span the file.
        "scrape_configs:\n  - x\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        "scrape_configs:\n  -\n" + _config(8).split("scrape_configs:\n")[1].replace("job_name: job-7\n", "job_name: job-6\n"),
        # An alias or merge key in an item whose anchor is in the global section.
        "global:\n  scrape_interval: &i 5x\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: *i\n    scheme: http\n",
        "x: &d {bogus: 1}\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    <<: *d\n",
        # An anchor defined again in a later item, and used after the list.
        "a: &v 30s\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: &v 15s\nremote_read:\n  - url: http://127.0.0.1:9/r\n    read_recent: *v\n",
        # Line breaks that libyaml counts and a split by newlines would not.
        "scrape_configs:\n  - job_name: a # c\r# d\n  - job_name: b\n    bogus: 1\n",
        "scrape_configs:\n  - job_name: a # c\u2028# d\n  - job_name: b\n    bogus: 1\n",
        "scrape_configs:\n  - job_name: a\n  - job_name: b\rbogus: 1\nrule_files: [r.yml]\n",
        # A credential key in one item must not mask the lines of the next item.
        "scrape_configs:\n  -\n   job_name: a\n   bearer_token: t\n  - job_name: b\n    bad\u00a0key: 1\n",
    ],
    ids=[
        "quoted over dash", "alias across", "null and block scalar last", "merge tag comment", "crlf", "stray line", "syntax error", "tab",
        "scalar item", "null item", "alias to global", "merge from top", "anchor redefined", "lone cr", "line separator", "cr before key", "mask context",
    ],
)
def test_tricky_files_same(text: str, tmp_path: Path) -> None:
    for processes in (2, 4):
        for options in ({}, {"syntax_only": True}, {"agent": True}):
            one_pass, split = _outcomes(text.encode(), tmp_path, processes, **options)
            assert split == one_pass


def test_child_failure_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake fault: a real child does not fail on valid input, so this one raises in the child only.
    parent = os.getpid()
    original = parallel.check_text

    def failing_in_child(*args, **kwargs) -> PassResult:
        if os.getpid() != parent:
            raise RuntimeError("injected failure in the child")
        return original(*args, **kwargs)

    monkeypatch.setattr(parallel, "check_text", failing_in_child)
    text = _config(50).replace("job_name: job-40\n", "job_name: job-4\n")

    findings = validate_bytes(text.encode(), "prometheus.yml", tmp_path, processes=2, syntax_only=True).findings

    assert [f.rule for f in findings] == ["duplicate-job-name"]
    assert findings[0].path == "scrape_configs[40].job_name"


def _shared_configs() -> list[Path]:
    paths = sorted(CONFORMANCE_DIR.glob("*.yml")) + sorted(CASES_DIR.glob("*/prometheus.yml"))
    if not paths and os.environ.get("CI") == "true":
        raise AssertionError(f"shared test data missing at {SHARED}")
    return paths


SHARED_CONFIGS = _shared_configs()


_FIRST_ITEM = re.compile(r"^scrape_configs:[ \t]*\n(?:[ \t]*(?:#.*)?\n)*( *)- ", re.MULTILINE)


def _with_probe_job(text: str) -> str | None:
    """Return ``text`` with one more job before its first scrape job, so that the split puts the file's own jobs in the second chunk."""
    match = _FIRST_ITEM.search(text)
    if match is None:
        return None
    indent = match.group(1)
    probe = f"{indent}- job_name: split-probe\n{indent}  static_configs: [{{targets: ['127.0.0.1:9']}}]\n"
    line_start = match.start(1)
    return text[:line_start] + probe + text[line_start:]


@pytest.mark.skipif(not SHARED_CONFIGS, reason=f"shared test data not found at {SHARED}")
def test_shared_configs_same(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SplitSpy(monkeypatch)
    differences = []
    variants = 0
    for path in SHARED_CONFIGS:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        agent = path.name.startswith("agent_mode")
        probed = _with_probe_job(text)
        variants += probed is not None
        for data in (path.read_bytes(), probed.encode("utf-8", "surrogateescape") if probed else None):
            if data is None:
                continue
            one_pass = validate_bytes(data, str(path), path.parent, agent=agent, syntax_only=True, processes=1).findings
            split = validate_bytes(data, str(path), path.parent, agent=agent, syntax_only=True, processes=2).findings
            if split != one_pass:
                differences.append(path.name)

    assert differences == []
    # Most files have one job. With the probe job, every file with a block list of jobs is split.
    assert variants >= 100
    assert spy.used >= variants * 3 // 4


# Fragments that change YAML structure across lines: quotes, brackets, block scalars,
# anchors, aliases, indentation, tabs, comments and dashes.
FRAGMENTS = ['"', "'", "[", "]", "{", "}", "|\n", ">\n", "&a ", "*a", "\t", "# c", "- ", "\n  - ", "\n    ", "\n", ": ", "<<: ", "!!str ", "---\n"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.sampled_from(FRAGMENTS)), min_size=1, max_size=4))
def test_mutated_configs_same(tmp_path: Path, edits: list[tuple[int, str]]) -> None:
    text = _config(8, {2: "    metrics_path: /m\n", 5: "    scheme: https\n"}, tail="rule_files: [r.yml]\n")
    for position, fragment in edits:
        at = position % (len(text) + 1)
        text = text[:at] + fragment + text[at:]

    one_pass, split = _outcomes(text.encode(), tmp_path, 2, syntax_only=True)

    assert split == one_pass


def test_command_output_same_split(tmp_path: Path) -> None:
    # Above the 256 KiB threshold, so the real command splits the file without any patching.
    text = _config(2500, {2400: "    scrape_interval: 10\n"}).replace("job_name: job-2000\n", "job_name: job-5\n")
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    assert path.stat().st_size > parallel.PARALLEL_MIN_CHARS

    outputs = []
    for processes in ("1", "2"):
        command = [sys.executable, "-m", "promwatchd.cli", "check", "config", "--no-promtool", "--syntax-only", "--processes", processes, str(path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 1, result.stderr
        outputs.append(result.stdout)

    assert outputs[0] == outputs[1]
    assert "scrape_configs[2000].job_name: found multiple scrape configs with job name \"job-5\"" in outputs[1]
    assert "scrape_configs[2400].scrape_interval" in outputs[1]
    assert "FAILED: 2 errors" in outputs[1]


def test_other_thread_prevents_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SplitSpy(monkeypatch)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        one_pass, split = _outcomes(_config(20).replace("job_name: job-9\n", "job_name: job-1\n").encode(), tmp_path, 2)
    finally:
        release.set()
        worker.join()

    assert split == one_pass
    assert [f.rule for f in split] == ["duplicate-job-name"]
    assert spy.fell_back == 1
    assert spy.used == 0
