"""Reading scrape jobs from a prometheus.yml: defaults, auth, TLS, sizes, file_sd and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from promwatchd.targets.config import ConfigError, load_jobs
from promwatchd.targets.discovery import discover, read_file_sd


def write(directory: Path, config: dict | str) -> Path:
    path = directory / "prometheus.yml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def test_job_defaults_follow_prometheus(tmp_path: Path):
    [job] = load_jobs(write(tmp_path, {"scrape_configs": [{"job_name": "a"}]}))
    assert job.scheme == "http"
    assert job.metrics_path == "/metrics"
    assert job.interval_seconds == 60.0
    assert job.timeout_seconds == 10.0
    assert job.follow_redirects is True
    assert job.body_size_limit == 0


def test_global_timeout_capped_at_job_interval(tmp_path: Path):
    config = {"global": {"scrape_interval": "30s", "scrape_timeout": "20s"}, "scrape_configs": [
        {"job_name": "fast", "scrape_interval": "5s"},
        {"job_name": "inherits"},
        {"job_name": "own", "scrape_timeout": "2s"},
    ]}
    fast, inherits, own = load_jobs(write(tmp_path, config))
    assert fast.timeout_seconds == 5.0
    assert inherits.timeout_seconds == 20.0
    assert own.timeout_seconds == 2.0


@pytest.mark.parametrize("text, expected", [("1KB", 1024), ("10MB", 10 << 20), ("2KiB", 2048), ("512", 512), ("1GB", 1 << 30)])
def test_body_size_limit_units(tmp_path: Path, text: str, expected: int):
    [job] = load_jobs(write(tmp_path, {"scrape_configs": [{"job_name": "a", "body_size_limit": text}]}))
    assert job.body_size_limit == expected


def test_auth_and_tls_paths_relative_to_config(tmp_path: Path):
    config = {"scrape_configs": [
        {"job_name": "basic", "basic_auth": {"username": "u", "password_file": "secrets/pw"}},
        {"job_name": "bearer", "bearer_token_file": "/abs/token"},
        {"job_name": "authz", "authorization": {"type": "Token", "credentials": "c"},
         "tls_config": {"ca_file": "ca.pem", "server_name": "s", "insecure_skip_verify": True}},
    ]}
    basic, bearer, authz = load_jobs(write(tmp_path, config))
    assert basic.auth.kind == "basic"
    assert basic.auth.password_file == tmp_path / "secrets" / "pw"
    assert bearer.auth.kind == "authorization"
    assert bearer.auth.scheme == "Bearer"
    assert bearer.auth.credentials_file == Path("/abs/token")
    assert authz.auth.scheme == "Token"
    assert authz.tls.ca_file == tmp_path / "ca.pem"
    assert authz.tls.server_name == "s"
    assert authz.tls.insecure_skip_verify is True


def test_file_sd_json_and_yaml_with_meta_filepath(tmp_path: Path):
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "one.json").write_text(json.dumps([{"targets": ["a:1"], "labels": {"env": "prod"}}]))
    (tmp_path / "sd" / "two.yml").write_text(yaml.safe_dump([{"targets": ["b:2", "c:3"]}]))
    config = {"scrape_configs": [{"job_name": "sd", "file_sd_configs": [{"files": ["sd/*.json", "sd/*.yml"]}]}]}
    found = discover(load_jobs(write(tmp_path, config)))
    assert [target.url for target in found.targets] == ["http://a:1/metrics", "http://b:2/metrics", "http://c:3/metrics"]
    assert found.targets[0].labels == {"env": "prod", "job": "sd", "instance": "a:1"}
    assert found.warnings == []


def test_file_sd_meta_filepath_usable_in_relabeling(tmp_path: Path):
    (tmp_path / "team-a.json").write_text(json.dumps([{"targets": ["a:1"]}]))
    config = {"scrape_configs": [{
        "job_name": "sd",
        "file_sd_configs": [{"files": ["team-*.json"]}],
        "relabel_configs": [{"source_labels": ["__meta_filepath"], "regex": r".*/team-(.*)\.json", "target_label": "team"}],
    }]}
    [target] = discover(load_jobs(write(tmp_path, config))).targets
    assert target.labels["team"] == "a"


def test_file_sd_problems_become_warnings(tmp_path: Path):
    (tmp_path / "broken.json").write_text("{not json")
    config = {"scrape_configs": [{"job_name": "sd", "file_sd_configs": [{"files": ["broken.json", "absent/*.yml"]}]}]}
    found = discover(load_jobs(write(tmp_path, config)))
    assert found.targets == []
    assert len(found.warnings) == 2
    assert "invalid file_sd file" in found.warnings[0]
    assert "matches no file" in found.warnings[1]


def test_file_sd_wrong_extension_rejected(tmp_path: Path):
    path = tmp_path / "targets.txt"
    path.write_text("[]")
    with pytest.raises(ConfigError, match="no .json, .yml or .yaml extension"):
        read_file_sd(path)


def test_unsupported_discovery_warned(tmp_path: Path):
    config = {"scrape_configs": [{"job_name": "k8s", "kubernetes_sd_configs": [{"role": "pod"}]}]}
    found = discover(load_jobs(write(tmp_path, config)))
    assert found.targets == []
    assert "kubernetes_sd_configs" in found.warnings[0]
    assert "--prometheus" in found.warnings[0]


def test_relabel_drop_counted(tmp_path: Path):
    config = {"scrape_configs": [{
        "job_name": "j",
        "static_configs": [{"targets": ["keep:1", "drop:1"]}],
        "relabel_configs": [{"source_labels": ["__address__"], "regex": "drop:.*", "action": "drop"}],
    }]}
    found = discover(load_jobs(write(tmp_path, config)))
    assert [target.instance for target in found.targets] == ["keep:1"]
    assert found.dropped == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("scrape_configs: [\n", "invalid YAML"),
        ("- just a list\n", "expected a mapping at the top level"),
        ("scrape_configs:\n  - scrape_interval: 1m\n", "job_name is missing"),
        ("scrape_configs:\n  - job_name: a\n    scrape_timeout: soon\n", "invalid duration 'soon'"),
        ("scrape_configs:\n  - job_name: a\n    scheme: ftp\n", "scheme must be http or https"),
        ("scrape_configs:\n  - job_name: a\n    body_size_limit: lots\n", "invalid size 'lots'"),
    ],
)
def test_invalid_config_one_line_error(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError, match=message) as raised:
        load_jobs(write(tmp_path, text))
    assert "\n" not in str(raised.value)


def test_config_directory_rejected(tmp_path: Path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_jobs(tmp_path)
