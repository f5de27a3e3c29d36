"""The daemon's target-check loop in process: options from settings, exported series, caught errors."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import free_port
from test_targets_fakes import fake_exporter
from promwatchd.metrics import Metrics
from promwatchd.settings import load_settings
from promwatchd.targets.loop import TargetCheckLoop, options_from_settings


def settings_with(tmp_path: Path, targets: dict, config: dict | None = None):
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config or {"scrape_configs": []}))
    path = tmp_path / "promwatchd.yaml"
    path.write_text(yaml.safe_dump({"process": {"config_file": "prometheus.yml", "listen_address": "127.0.0.1:19999"}, "targets": targets}))
    return load_settings(path, environ={})


def make_loop(settings, metrics: Metrics) -> TargetCheckLoop:
    return TargetCheckLoop(lambda: settings, metrics.targets, lambda component: metrics.errors.labels(component).inc())


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_options_from_settings_per_source(tmp_path: Path):
    config_source = settings_with(tmp_path, {"source": "config", "extra_health_urls": [{"url": "http://127.0.0.1:1/", "expected_status": 204}]})
    options = options_from_settings(config_source)
    assert options.config_file == tmp_path / "prometheus.yml"
    assert options.prometheus_url is None
    assert options.health_checks[0].expected_status == 204

    prometheus_source = settings_with(tmp_path, {"source": "prometheus", "concurrency": 8, "per_host": 2})
    options = options_from_settings(prometheus_source)
    assert options.prometheus_url == "http://127.0.0.1:19999"
    assert options.concurrency == 8
    assert options.per_host == 2


async def test_loop_exports_counts_and_clears_vanished_jobs(tmp_path: Path):
    metrics = Metrics()
    async with fake_exporter() as exporter:
        config = {"scrape_configs": [
            {"job_name": "up", "static_configs": [{"targets": [exporter.address]}]},
            {"job_name": "down", "static_configs": [{"targets": [f"127.0.0.1:{free_port()}"]}]},
        ]}
        first = tmp_path / "first"
        first.mkdir()
        settings = settings_with(first, {"enabled": True}, config)
        loop = make_loop(settings, metrics)
        report = await loop.run_once(settings)
        assert report is not None
        assert sample(metrics, "promwatchd_targets", job="up", reason="ok") == 1
        assert sample(metrics, "promwatchd_targets", job="down", reason="refused") == 1
        assert sample(metrics, "promwatchd_target_ok", job="up", instance=exporter.address) is None

        second = tmp_path / "second"
        second.mkdir()
        settings = settings_with(second, {"enabled": True, "per_target_metrics": True}, {"scrape_configs": config["scrape_configs"][:1]})
        await loop.run_once(settings)
    assert sample(metrics, "promwatchd_targets", job="down", reason="refused") is None
    assert sample(metrics, "promwatchd_target_ok", job="up", instance=exporter.address) == 1
    assert loop.snapshot(True)["runs"] == 2


async def test_loop_counts_unreadable_config(tmp_path: Path):
    metrics = Metrics()
    settings = settings_with(tmp_path, {"enabled": True})
    (tmp_path / "prometheus.yml").write_text("scrape_configs: [\n")
    loop = make_loop(settings, metrics)
    assert await loop.run_once(settings) is None
    assert "invalid YAML" in loop.last_error
    assert sample(metrics, "promwatchd_errors_total", component="targets") == 1
    assert loop.snapshot(True)["report"] is None
