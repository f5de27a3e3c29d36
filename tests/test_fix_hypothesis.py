"""Generated configs with injected mistakes: ``fix config --write`` writes a valid file or leaves the file as it was.

Salvage is checked on the same inputs: its output always passes validation.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promwatchd.cli import main
from promwatchd.fix import fix_config_text
from promwatchd.fix.salvage import salvage_config
from promwatchd.promconfig import validate_bytes, validate_file

INTERVALS = ["5s", "10s", "15s", "30s", "1m"]
MISTAKES = ["tab", "unitless", "fraction", "scalar-targets", "static-mapping", "dash-no-space", "scheme", "https", "path", "metrics-path", "duplicate", "timeout", "wrong-level", "top-level-interval"]


@dataclass(frozen=True)
class Job:
    name: str
    targets: list[str]
    interval: str | None
    labels: dict[str, str]


jobs = st.builds(
    Job,
    name=st.sampled_from(["node", "prometheus", "api", "db", "cache", "web"]),
    targets=st.lists(st.sampled_from(["a.example.internal:9100", "b.example.internal:9100", "10.0.0.5:8080", "localhost:9090"]), min_size=1, max_size=3, unique=True),
    interval=st.one_of(st.none(), st.sampled_from(INTERVALS)),
    labels=st.dictionaries(st.sampled_from(["env", "team"]), st.sampled_from(["prod", "ops"]), max_size=2),
)


def render(global_interval: str, job_list: list[Job], offset: int) -> str:
    """Write a config in the block style with the dash ``offset`` (0 or 2) under its parent key."""
    dash = " " * offset
    item = dash + "  "
    lines = ["# generated", "global:", f"  scrape_interval: {global_interval}", "scrape_configs:"]
    for job in job_list:
        lines.append(f"{dash}- job_name: {job.name}  # job")
        if job.interval:
            lines.append(f"{item}scrape_interval: {job.interval}")
        lines.append(f"{item}static_configs:")
        targets = ", ".join(f"'{target}'" for target in job.targets)
        lines.append(f"{item}{dash}- targets: [{targets}]")
        if job.labels:
            lines.append(f"{item}{dash}  labels:")
            lines.extend(f"{item}{dash}    {key}: {value}" for key, value in job.labels.items())
    return "\n".join(lines) + "\n"


def inject(text: str, mistake: str, which: int) -> str:
    """Return ``text`` with one mistake of the kind ``mistake`` at its ``which``-th possible place, counted modulo the places."""
    lines = text.splitlines(keepends=True)
    if mistake == "tab":
        indented = [i for i, line in enumerate(lines) if line.startswith("  ") and not line.startswith("   ")]
        if indented:
            index = indented[which % len(indented)]
            lines[index] = "\t" + lines[index][2:]
        return "".join(lines)
    if mistake == "wrong-level":
        return _move_interval_into_group(lines, which)
    patterns = {
        "unitless": (r"(scrape_interval: \d+)[sm]", r"\1"),
        "fraction": (r"scrape_interval: 1m", "scrape_interval: 0.5m"),
        "scalar-targets": (r"targets: \['([^']+)'\]", r"targets: \1"),
        "static-mapping": (r"(static_configs:\n *)- ", r"\1  "),
        "dash-no-space": (r"- targets:", "-targets:"),
        "scheme": (r"\['([^']+)", r"['http://\1"),
        "https": (r"\['([^']+)'\]", r"['https://\1']"),
        "path": (r"\['([^']+)'\]", r"['\1/probe']"),
        "metrics-path": (r"\['([^']+)'\]", r"['\1/metrics']"),
        "duplicate": (r"job_name: \w+", "job_name: node"),
        "timeout": (r"(\n( *)scrape_interval: (\d+[sm]))", r"\1\n\2scrape_timeout: 2m"),
        "top-level-interval": (r"^global:\n  scrape_interval: (\S+)\n", r"scrape_interval: \1\nglobal: {}\n"),
    }
    pattern, replacement = patterns[mistake]
    matches = list(re.finditer(pattern, text, flags=re.DOTALL if mistake == "wrong-level" else re.MULTILINE))
    if not matches:
        return text
    match = matches[which % len(matches)]
    return text[: match.start()] + match.expand(replacement) + text[match.end():]


def _move_interval_into_group(lines: list[str], which: int) -> str:
    """Move a job's scrape_interval line into its first target group, beside ``targets``."""
    first_job = next((i for i, line in enumerate(lines) if line.startswith("scrape_configs:")), len(lines))
    jobs_with_interval = [i for i, line in enumerate(lines) if i > first_job and line.strip().startswith("scrape_interval:")]
    if not jobs_with_interval:
        return "".join(lines)
    index = jobs_with_interval[which % len(jobs_with_interval)]
    targets = next((i for i in range(index, len(lines)) if "- targets:" in lines[i]), None)
    if targets is None:
        return "".join(lines)
    column = lines[targets].index("targets")
    moved = " " * column + lines[index].strip() + "\n"
    lines = lines[:index] + lines[index + 1 : targets + 1] + [moved] + lines[targets + 1 :]
    return "".join(lines)


configs = st.builds(
    lambda interval, job_list, offset, mistakes: _apply(render(interval, job_list, offset), mistakes),
    st.sampled_from(INTERVALS),
    st.lists(jobs, min_size=1, max_size=4),
    st.sampled_from([0, 2]),
    st.lists(st.tuples(st.sampled_from(MISTAKES), st.integers(min_value=0, max_value=5)), max_size=3),
)


def _apply(text: str, mistakes: list[tuple[str, int]]) -> str:
    for mistake, which in mistakes:
        text = inject(text, mistake, which)
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_fix_writes_valid_file_or_nothing(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "prometheus.yml"
        path.write_text(text)

        code = main(["fix", "config", "--write", str(path)])

        assert code in (0, 1)
        if code == 0:
            assert validate_file(path).valid
        else:
            assert path.read_text() == text
            assert [p.name for p in Path(directory).iterdir()] == ["prometheus.yml"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_fix_result_valid_or_reported(text: str) -> None:
    result = fix_config_text(text, "prometheus.yml", Path(tempfile.gettempdir()))

    report = validate_bytes(result.fixed.encode(), "prometheus.yml", Path(tempfile.gettempdir()))
    assert result.valid == report.valid
    assert result.changed == any(c.applied for c in result.corrections)
    if "# generated" in text and result.changed:
        assert "# generated" in result.fixed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_salvage_output_always_valid(text: str) -> None:
    base_dir = Path(tempfile.gettempdir())

    result = salvage_config(text, base_dir)

    assert validate_bytes(result.text.encode(), "salvaged.yml", base_dir).valid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(configs)
def test_fixed_file_passes_promtool(promtool_binary: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "prometheus.yml"
        path.write_text(text)

        if main(["fix", "config", "--write", str(path)]) != 0:
            return
        verdict = subprocess.run([promtool_binary, "check", "config", str(path)], capture_output=True, text=True, timeout=60, check=False)

        assert verdict.returncode == 0, verdict.stdout + verdict.stderr
