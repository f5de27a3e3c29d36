"""The config validator never raises, on arbitrary bytes and on arbitrary YAML documents."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promwatchd.promconfig import validate_bytes
from promwatchd.promconfig.config import CONFIG

BASE_DIR = Path(__file__).resolve().parent

# Keys the schema defines, so generated documents reach the deeper checks, not only unknown-field errors.
KNOWN_KEYS = sorted(set(CONFIG.fields) | {"job_name", "static_configs", "targets", "labels", "relabel_configs", "action", "regex", "source_labels", "target_label", "scrape_interval", "scrape_timeout", "kubernetes_sd_configs", "role", "url", "basic_auth", "password"})

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.sampled_from(["10s", "1m", "(?=x)", "http://a/b", "a:1", "replace", "legacy"]))
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10))
documents = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)), max_leaves=30)


def _assert_findings_only(data: bytes, agent: bool, syntax_only: bool) -> None:
    report = validate_bytes(data, "fuzz.yml", BASE_DIR, agent=agent, syntax_only=syntax_only)

    assert not [f for f in report.findings if f.rule == "internal-error"], [f.message for f in report.findings]
    assert report.valid == (not any(f.is_error for f in report.findings))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.booleans(), st.booleans())
def test_never_raises_on_bytes(data: bytes, agent: bool, syntax_only: bool) -> None:
    _assert_findings_only(data, agent, syntax_only)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, documents, max_size=6), st.booleans())
def test_never_raises_on_yaml(document: dict, agent: bool) -> None:
    data = yaml.safe_dump(document, allow_unicode=True).encode("utf-8")

    _assert_findings_only(data, agent, syntax_only=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`\t\n ,?~0") + ["\u00a0", "\ufeff", "<<", "\\x", "job_name", "scrape_configs"]), max_size=60))
def test_never_raises_on_yaml_like_text(pieces: list[str]) -> None:
    _assert_findings_only("".join(pieces).encode("utf-8"), agent=False, syntax_only=True)
