"""Relabeling per action, Go template expansion, and turning labels into scrape URLs."""

from __future__ import annotations

import re

import pytest

from promwatchd.targets.config import ScrapeJob
from promwatchd.targets.discovery import add_default_port, build_target, build_url
from promwatchd.targets.relabel import RelabelConfigError, RelabelRule, expand_template, hashmod, relabel


def rule(**raw) -> RelabelRule:
    return RelabelRule.from_config(raw, "test")


RELABEL_CASES = [
    # (case, input labels, rule fields, expected labels or None for dropped)
    ("replace default regex", {"a": "foo"}, dict(source_labels=["a"], target_label="b"), {"a": "foo", "b": "foo"}),
    ("replace groups", {"a": "foo-bar"}, dict(source_labels=["a"], regex="(.*)-(.*)", target_label="b", replacement="${2}_${1}x"), {"a": "foo-bar", "b": "bar_foox"}),
    ("replace $2_ reads group named 2_", {"a": "foo-bar"}, dict(source_labels=["a"], regex="(.*)-(.*)", target_label="b", replacement="$2_${1}x"), {"a": "foo-bar", "b": "foox"}),
    ("replace anchored no match", {"a": "xfoo"}, dict(source_labels=["a"], regex="foo", target_label="b", replacement="y"), {"a": "xfoo"}),
    ("replace joined sources", {"a": "1", "b": "2"}, dict(source_labels=["a", "b"], separator=":", regex="1:2", target_label="c", replacement="ok"), {"a": "1", "b": "2", "c": "ok"}),
    ("replace missing source is empty", {}, dict(source_labels=["x"], regex="", target_label="c", replacement="was-empty"), {"c": "was-empty"}),
    ("replace empty result deletes", {"a": "foo", "b": "old"}, dict(source_labels=["a"], target_label="b", replacement=""), {"a": "foo"}),
    ("replace target from group", {"a": "foo"}, dict(source_labels=["a"], regex="(f)oo", target_label="name_$1", replacement="v"), {"a": "foo", "name_f": "v"}),
    ("replace invalid target ignored", {"a": "1x"}, dict(source_labels=["a"], regex="(.*)", target_label="$1", replacement="v"), {"a": "1x"}),
    ("replace named group", {"a": "foo"}, dict(source_labels=["a"], regex="(?P<word>f.)o", target_label="b", replacement="$word!"), {"a": "foo", "b": "fo!"}),
    ("replace dollar escape", {"a": "foo"}, dict(source_labels=["a"], target_label="b", replacement="$$1"), {"a": "foo", "b": "$1"}),
    ("replace $1x is a missing group", {"a": "foo"}, dict(source_labels=["a"], target_label="b", replacement="$1x"), {"a": "foo"}),
    ("keep match", {"a": "foo"}, dict(source_labels=["a"], regex="f.*", action="keep"), {"a": "foo"}),
    ("keep no match drops", {"a": "foo"}, dict(source_labels=["a"], regex="f", action="keep"), None),
    ("keep newline not matched by dot", {"a": "f\no"}, dict(source_labels=["a"], regex="f.o", action="keep"), None),
    ("drop match", {"a": "foo"}, dict(source_labels=["a"], regex="foo", action="drop"), None),
    ("drop partial is no match", {"a": "foobar"}, dict(source_labels=["a"], regex="foo", action="drop"), {"a": "foobar"}),
    ("keepequal equal", {"a": "1", "b": "1"}, dict(source_labels=["a"], target_label="b", action="keepequal"), {"a": "1", "b": "1"}),
    ("keepequal differs drops", {"a": "1", "b": "2"}, dict(source_labels=["a"], target_label="b", action="keepequal"), None),
    ("dropequal equal drops", {"a": "1", "b": "1"}, dict(source_labels=["a"], target_label="b", action="dropequal"), None),
    ("dropequal differs", {"a": "1", "b": "2"}, dict(source_labels=["a"], target_label="b", action="dropequal"), {"a": "1", "b": "2"}),
    ("hashmod", {"a": "foo", "b": "bar", "c": "baz"}, dict(source_labels=["c"], target_label="d", modulus=1000, action="hashmod"), {"a": "foo", "b": "bar", "c": "baz", "d": "976"}),
    ("hashmod newline", {"a": "foo\nbar"}, dict(source_labels=["a"], target_label="b", modulus=1000, action="hashmod"), {"a": "foo\nbar", "b": "734"}),
    ("labelmap", {"a": "foo", "b1": "bar", "b2": "baz"}, dict(regex="(b.*)", replacement="bar_${1}", action="labelmap"), {"a": "foo", "b1": "bar", "b2": "baz", "bar_b1": "bar", "bar_b2": "baz"}),
    ("labelmap meta", {"__meta_x_zone": "eu"}, dict(regex="__meta_x_(.+)", action="labelmap"), {"__meta_x_zone": "eu", "zone": "eu"}),
    ("labeldrop", {"a": "1", "b1": "2", "b2": "3"}, dict(regex="b.", action="labeldrop"), {"a": "1"}),
    ("labeldrop anchored", {"ab": "1", "b": "2"}, dict(regex="b", action="labeldrop"), {"ab": "1"}),
    ("labelkeep", {"a": "1", "b1": "2", "c": "3"}, dict(regex="a|b1", action="labelkeep"), {"a": "1", "b1": "2"}),
    ("lowercase", {"a": "FoO"}, dict(source_labels=["a"], target_label="b", action="lowercase"), {"a": "FoO", "b": "foo"}),
    ("uppercase", {"a": "FoO"}, dict(source_labels=["a"], target_label="b", action="uppercase"), {"a": "FoO", "b": "FOO"}),
    ("action case insensitive", {"a": "foo"}, dict(source_labels=["a"], regex="x", action="Drop"), {"a": "foo"}),
]


@pytest.mark.parametrize("case, labels, fields, expected", RELABEL_CASES, ids=[case[0] for case in RELABEL_CASES])
def test_relabel_action(case, labels, fields, expected):
    assert relabel(labels, [rule(**fields)]) == expected


def test_relabel_rules_apply_in_order():
    rules = [
        rule(source_labels=["a"], target_label="b", replacement="x"),
        rule(source_labels=["b"], regex="x", action="keep"),
        rule(regex="a", action="labeldrop"),
    ]
    assert relabel({"a": "1"}, rules) == {"b": "x"}


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(action="nonsense"), "unknown relabel action"),
        (dict(action="replace", source_labels=["a"]), "needs target_label"),
        (dict(action="hashmod", source_labels=["a"], target_label="b"), "modulus"),
        (dict(action="keep", regex="(unclosed"), "invalid regex"),
        (dict(action="lowercase", source_labels=["a"], target_label="bad-name"), "not a valid label name"),
    ],
)
def test_relabel_config_invalid(fields, message):
    with pytest.raises(RelabelConfigError, match=message):
        rule(**fields)


def test_expand_template_go_rules():
    match = re.compile(r"(?:(a)(?P<second>b))\Z").match("ab")
    assert expand_template("$1-${1}-$second-${second}-$2", match) == "a-a-b-b-b"
    assert expand_template("$9 ${x y} $", match) == " ${x y} $"
    assert expand_template("$$ and $", match) == "$ and $"


def test_hashmod_known_value():
    assert hashmod("baz", 1000) == 976


@pytest.mark.parametrize(
    "address, scheme, expected",
    [
        ("host", "http", "host:80"),
        ("host", "https", "host:443"),
        ("host:9100", "https", "host:9100"),
        ("[::1]", "http", "[::1]:80"),
        ("[::1]:9", "http", "[::1]:9"),
        ("10.0.0.1", "", "10.0.0.1:80"),
    ],
)
def test_default_port_by_scheme(address, scheme, expected):
    assert add_default_port(address, scheme) == (expected, "")


def test_address_with_path_is_invalid():
    _address, error = add_default_port("host:80/metrics", "http")
    assert error == "'host:80/metrics' is not a valid hostname"


def test_build_url_params_sorted_and_overridden():
    url = build_url("https", "h:1", "/probe", {"module": ("http_2xx", "b"), "z": ("1",)}, {"__param_module": "icmp", "__param_target": "x y"})
    assert url == "https://h:1/probe?module=icmp&module=b&target=x+y&z=1"


def test_build_target_defaults_and_instance():
    job = ScrapeJob(name="node", scheme="https", metrics_path="/m", params={"a": ("1",)})
    target = build_target(job, "example.com", {"__meta_zone": "eu", "team": "x"})
    assert target is not None
    assert target.url == "https://example.com:443/m?a=1"
    assert target.labels == {"job": "node", "team": "x", "instance": "example.com:443"}


def test_build_target_relabeled_address_scheme_path_param():
    rules = (
        rule(source_labels=["__address__"], target_label="__param_target"),
        rule(target_label="__address__", replacement="127.0.0.1:9115"),
        rule(target_label="__metrics_path__", replacement="/probe"),
        rule(target_label="__scheme__", replacement="http"),
        rule(source_labels=["__param_target"], target_label="instance"),
    )
    job = ScrapeJob(name="blackbox", params={"module": ("http_2xx",)}, relabel_rules=rules)
    target = build_target(job, "https://example.org", {})
    assert target is not None
    assert target.url == "http://127.0.0.1:9115/probe?module=http_2xx&target=https%3A%2F%2Fexample.org"
    assert target.instance == "https://example.org"


def test_build_target_dropped_by_relabeling():
    job = ScrapeJob(name="j", relabel_rules=(rule(source_labels=["__address__"], regex="keep-me:.*", action="keep"),))
    assert build_target(job, "other:1", {}) is None
    assert build_target(job, "keep-me:1", {}) is not None
