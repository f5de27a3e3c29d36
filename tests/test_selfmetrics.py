"""Reading Prometheus's own metrics."""

from __future__ import annotations

from promwatchd.selfmetrics import CPU_SECONDS, SAMPLES_APPENDED, WATCHED_METRICS, read_samples

PAYLOAD = """# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
prometheus_tsdb_head_samples_appended_total{type="float"} 1000
prometheus_tsdb_head_samples_appended_total{type="histogram"} 24
prometheus_tsdb_head_series 310
prometheus_config_last_reload_successful 1
unrelated_metric 7
"""


def test_sums_label_sets():
    assert read_samples(PAYLOAD, WATCHED_METRICS)[SAMPLES_APPENDED] == 1024.0


def test_reads_plain_sample():
    assert read_samples(PAYLOAD, WATCHED_METRICS)[CPU_SECONDS] == 1.25


def test_ignores_unwanted_names():
    assert "unrelated_metric" not in read_samples(PAYLOAD, WATCHED_METRICS)


def test_skips_garbage_lines():
    garbage = "process_cpu_seconds_total abc\nprocess_cpu_seconds_total{x=\"1\" 5\n<html>\nprocess_cpu_seconds_total NaN\n"
    assert read_samples(garbage, WATCHED_METRICS) == {}


def test_label_value_with_brace():
    text = 'prometheus_tsdb_head_series{a="}"} 3\n'
    assert read_samples(text, WATCHED_METRICS) == {"prometheus_tsdb_head_series": 3.0}
