"""promwatchd's settings: file, environment, flags, and the errors for bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from promwatchd.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "promwatchd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_loads():
    settings = load_settings(REPO / "config.example.yaml", environ={})
    assert settings.backend == "process"
    assert settings.probes.interval == 5.0
    assert settings.recovery.backoff_max == 60.0
    assert settings.process.config_file == REPO / "examples" / "prometheus.yml"


def test_example_lists_every_field():
    """config.example.yaml documents each field of every section."""
    from promwatchd.settings import Settings

    text = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    for section_name, section in Settings.model_fields.items():
        if section_name == "source":
            continue
        assert f"{section_name}:" in text
        annotation = section.annotation
        for field_name in getattr(annotation, "model_fields", {}):
            if field_name == "token":
                continue  # secret: environment only, never in a file that gets copied around
            assert f"  {field_name}:" in text, f"{section_name}.{field_name} missing from config.example.yaml"


def test_durations_and_numbers(tmp_path):
    settings = load_settings(write(tmp_path, "probes:\n  interval: 1m30s\n  timeout: 3\n"), environ={})
    assert settings.probes.interval == 90.0
    assert settings.probes.timeout == 3.0


def test_relative_paths_follow_file(tmp_path):
    settings = load_settings(write(tmp_path, "state_dir: st\nprocess:\n  config_file: p.yml\n"), environ={})
    assert settings.state_dir == tmp_path / "st"
    assert settings.process.config_file == tmp_path / "p.yml"
    assert settings.process.data_dir == tmp_path / "st" / "prometheus-data"


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, "probes:\n  interval: 10s\n")
    settings = load_settings(path, environ={"PROMWATCHD_PROBES__INTERVAL": "2s", "PROMWATCHD_BACKEND": "docker"})
    assert settings.probes.interval == 2.0
    assert settings.backend == "docker"


def test_flags_override_environment(tmp_path):
    path = write(tmp_path, "")
    settings = load_settings(
        path,
        environ={"PROMWATCHD_SERVER__LISTEN_ADDRESS": "127.0.0.1:1"},
        overrides={"server.listen_address": "127.0.0.1:2"},
    )
    assert settings.server.listen_address == "127.0.0.1:2"


def test_default_url_from_listen_address(tmp_path):
    settings = load_settings(write(tmp_path, "process:\n  listen_address: 127.0.0.1:19999\n"), environ={})
    assert settings.prometheus_url == "http://127.0.0.1:19999"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("probes:\n  interval: abc\n", "probes.interval: invalid duration 'abc'"),
        ("probes:\n  intervall: 5s\n", "probes.intervall: unknown field"),
        ("recovery:\n  restart_budget: 0\n", "recovery.restart_budget: Input should be greater than or equal to 1"),
        ("backend: kubernetes\n", "backend: Input should be 'process', 'docker' or 'compose'"),
        ("recovery:\n  backoff_initial: 10s\n  backoff_max: 5s\n", "backoff_max (5s) is below backoff_initial (10s)"),
        ("log:\n  level: loud\n", "log.level"),
    ],
)
def test_invalid_value_named(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as error:
        load_settings(path, environ={})
    assert expected in str(error.value)
    assert str(path) in str(error.value)


def test_malformed_yaml_position(tmp_path):
    path = write(tmp_path, "probes:\n  interval: [5s\n")
    with pytest.raises(SettingsError, match=r"promwatchd\.yaml:\d+:\d+: invalid YAML"):
        load_settings(path, environ={})


def test_top_level_list_rejected(tmp_path):
    with pytest.raises(SettingsError, match="expected a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_missing_file_named(tmp_path):
    with pytest.raises(SettingsError, match="not found; pass --config"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_binary_file_rejected(tmp_path):
    path = tmp_path / "promwatchd.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(path, environ={})


def test_token_never_echoed(tmp_path):
    path = write(tmp_path, "server:\n  token: [not, a, string]\n")
    with pytest.raises(SettingsError) as error:
        load_settings(path, environ={})
    assert "not" not in str(error.value).split("server.token")[1]


def test_token_file_read(tmp_path):
    (tmp_path / "token").write_text("t0ken\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, "server:\n  token_file: token\n"), environ={})
    assert settings.read_token() == "t0ken"


def test_unreadable_token_file(tmp_path):
    settings = load_settings(write(tmp_path, "server:\n  token_file: missing\n"), environ={})
    with pytest.raises(SettingsError, match="server.token_file"):
        settings.read_token()


def test_cli_invalid_settings_exit_2(tmp_path):
    path = write(tmp_path, "probes:\n  interval: abc\n")
    result = subprocess.run(
        [sys.executable, "-m", "promwatchd.cli", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "probes.interval" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_fallback_config_prints_yaml(tmp_path):
    path = write(tmp_path, "process:\n  listen_address: 0.0.0.0:9090\n")
    result = subprocess.run(
        [sys.executable, "-m", "promwatchd.cli", "fallback-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "127.0.0.1:9090" in result.stdout
    assert "promwatchd_fallback" in result.stdout


def test_fallback_config_passes_promtool(tmp_path, promtool_binary):
    from promwatchd.fallback import minimal_config

    path = tmp_path / "fallback.yml"
    path.write_text(minimal_config("127.0.0.1:9090", "127.0.0.1:9098", tmp_path / "user.yml"), encoding="utf-8")
    result = subprocess.run([promtool_binary, "check", "config", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
