"""fix config keeps the user's formatting outside the lines a correction changed."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promwatchd.fix import fix_config_text, roundtrip
from promwatchd.fix.splice import splice
from promwatchd.fix.tree import plain


def _job(index: int, indented: bool, comment: bool) -> str:
    """Return one scrape job, with its lists indented under their key or not."""
    pad = "  " if indented else ""
    note = f"   # job {index}" if comment else ""
    return (
        f"- job_name: job-{index}{note}\n"
        f"  static_configs:\n"
        f"  {pad}- targets:\n"
        f"    {pad}  - 'host-{index}:9100'\n"
        f"    {pad}labels:\n"
        f"      {pad}team: t{index}\n"
    )


def _dump_with(original: str, change) -> tuple[str, str]:
    yaml = roundtrip.make_yaml(original)
    baseline = roundtrip.dump(yaml, roundtrip.load(yaml, original))
    document = roundtrip.load(yaml, original)
    change(document)
    return baseline, roundtrip.dump(yaml, document)


def _read(text: str):
    return plain(roundtrip.load(roundtrip.make_yaml(text), text))


def test_fix_keeps_other_jobs_formatting(tmp_path: Path) -> None:
    text = "scrape_configs:\n- job_name: a\n  scrape_interval: 10\n  static_configs:\n  - targets: ['a:1']\n" + _job(1, True, True)

    result = fix_config_text(text, "prometheus.yml", tmp_path)

    assert result.remaining == []
    assert "  scrape_interval: 10s\n" in result.fixed
    assert _job(1, True, True) in result.fixed


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=6),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(["value", "delete", "add-key", "add-group"]),
)
def test_splice_changes_only_touched_job(styles: list[tuple[bool, bool]], target: int, change_kind: str) -> None:
    jobs = [_job(index, indented, comment) for index, (indented, comment) in enumerate(styles)]
    original = "global:\n  scrape_interval: 1m\nscrape_configs:\n" + "".join(jobs)
    target %= len(jobs)

    def change(document) -> None:
        job = document["scrape_configs"][target]
        if change_kind == "value":
            job["job_name"] = f"renamed-{target}"
        elif change_kind == "delete":
            del document["scrape_configs"][target]
        elif change_kind == "add-key":
            job["scrape_interval"] = "30s"
        else:
            job["static_configs"].append({"targets": ["extra:1"]})

    baseline, fixed = _dump_with(original, change)
    spliced = splice(original, baseline, fixed)

    assert _read(spliced) == _read(fixed)
    for index, job in enumerate(jobs):
        # A job beside the changed one may be re-emitted with it when ruamel reformatted both as one block.
        if abs(index - target) > 1:
            assert job in spliced, f"job {index} lost its formatting"
