"""``promwatchd check compose``: each lint rule, exit codes, output formats, and the repository's own stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from promwatchd.cli import main
from promwatchd.compose.check import ComposeReport, check_compose_file
from promwatchd.compose.interpolate import InterpolationError, interpolate

REPO = Path(__file__).resolve().parent.parent
STACK = REPO / "docker" / "docker-compose.yml"

# A Prometheus service that passes every rule, for tests to vary one field at a time.
GOOD_PROMETHEUS = """\
  prometheus:
    image: prom/prometheus:v2.42.0
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.enable-lifecycle"]
    volumes:
      - ./prometheus.yml:/etc/prometheus/prometheus.yml:ro
      - prometheus_data:/prometheus
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://localhost:9090/-/ready"]
    stop_grace_period: 1m
"""

PROMETHEUS_YML = "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['localhost:9090']\n"


def write_stack(directory: Path, services: str, prometheus_yml: str = PROMETHEUS_YML) -> Path:
    (directory / "prometheus.yml").write_text(prometheus_yml)
    path = directory / "docker-compose.yml"
    path.write_text("services:\n" + services.rstrip("\n") + "\n")
    return path


def check(path: Path, environment: dict[str, str] | None = None) -> ComposeReport:
    return check_compose_file(path, check_host_ports=False, environment=environment or {})


def rules(report: ComposeReport) -> list[str]:
    return [finding.rule for finding in report.findings]


def test_good_service_has_no_findings(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS))

    assert report.readable
    assert report.prometheus_services == ["prometheus"]
    assert report.findings == []


def test_healthcheck_missing_reported(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS.replace('    healthcheck:\n      test: ["CMD", "wget", "-q", "--spider", "http://localhost:9090/-/ready"]\n', "")
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["healthcheck-missing"]
    assert report.findings[0].line == 2


def test_healthcheck_with_curl_reported(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS.replace('["CMD", "wget", "-q", "--spider",', '["CMD", "curl", "-f",')
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["healthcheck-tool-missing"]
    finding = report.findings[0]
    assert finding.line == 9
    assert "needs curl" in finding.message
    assert "sh, wget" in finding.message


def test_shell_healthcheck_in_distroless_reported(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
  app:
    image: gcr.io/distroless/static-debian12:nonroot
    healthcheck:
      test: "wget -q -O /dev/null http://localhost:8080/ || exit 1"
"""
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["healthcheck-tool-missing"]
    assert "needs sh and wget" in report.findings[0].message
    assert "/bin/sh" in report.findings[0].message


def test_unknown_image_not_judged(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
  app:
    image: example.com/team/app:1.0
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/"]
"""
    report = check(write_stack(tmp_path, services))

    assert report.findings == []


def test_healthy_condition_without_check_reported(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
    depends_on:
      exporter:
        condition: service_healthy
  exporter:
    image: prom/node-exporter:v1.5.0
"""
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["depends-on-healthy-without-healthcheck"]
    assert report.findings[0].line == 13


def test_port_conflict_between_services(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
    ports:
      - "9090:9090"
  other:
    image: example.com/other:1
    ports:
      - target: 9091
        published: "9090"
"""
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["host-port-conflict"]
    finding = report.findings[0]
    assert finding.line == 16
    assert "'prometheus' already publishes on line 12" in finding.message


def test_ports_on_different_addresses_do_not_conflict(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
    ports:
      - "127.0.0.1:9090:9090"
  other:
    image: example.com/other:1
    ports:
      - "127.0.0.2:9090:9090"
      - "9090:9090/udp"
"""
    report = check(write_stack(tmp_path, services))

    assert report.findings == []


def test_port_range_conflict_found(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + """\
    ports:
      - "9090-9092:9090-9092"
  other:
    image: example.com/other:1
    ports:
      - "9092:80"
"""
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["host-port-conflict"]


def test_port_bound_on_host_found(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        services = GOOD_PROMETHEUS + f'    ports:\n      - "127.0.0.1:{port}:9090"\n'
        report = check_compose_file(write_stack(tmp_path, services), check_host_ports=True, environment={})

    assert rules(report) == ["host-port-in-use"]
    assert f"process {os.getpid()} " in report.findings[0].message


def test_config_source_missing_reported(tmp_path: Path) -> None:
    path = write_stack(tmp_path, GOOD_PROMETHEUS)
    (tmp_path / "prometheus.yml").unlink()
    report = check(path)

    assert rules(report) == ["bind-source-missing"]
    assert report.findings[0].line == 6


def test_config_directory_lists_near_misses(tmp_path: Path) -> None:
    path = write_stack(tmp_path, GOOD_PROMETHEUS)
    (tmp_path / "prometheus.yml").rename(tmp_path / "prometheus.yaml")
    (tmp_path / "prometheus.yml").mkdir()
    report = check(path)

    assert rules(report) == ["config-mount-is-directory"]
    assert "(empty)" in report.findings[0].message
    assert "prometheus.yaml" in report.findings[0].message
    assert "remove the empty directory" in report.findings[0].fix


def test_tsdb_without_volume_reported(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("      - prometheus_data:/prometheus\n", "")))

    assert rules(report) == ["tsdb-not-on-volume"]


def test_tsdb_default_path_follows_command(tmp_path: Path) -> None:
    # Without --storage.tsdb.path Prometheus writes to data/ in the image's workdir, /prometheus/data.
    services = GOOD_PROMETHEUS.replace('"--storage.tsdb.path=/prometheus", ', "").replace(
        "prometheus_data:/prometheus", "prometheus_data:/other"
    )
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["tsdb-not-on-volume"]
    assert "/prometheus/data" in report.findings[0].message


def test_anonymous_tsdb_volume_reported(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "/prometheus")))

    assert rules(report) == ["tsdb-not-on-volume"]
    assert "anonymous" in report.findings[0].message


def test_read_only_tsdb_reported(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "prometheus_data:/prometheus:ro")))

    assert rules(report) == ["tsdb-read-only"]


def test_root_owned_data_dir_not_writable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    if data.stat().st_uid == 65534:
        pytest.skip("the test runs as uid 65534, which owns the directory")
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "./data:/prometheus")))

    assert rules(report) == ["tsdb-not-writable"]
    assert "mode 0755" in report.findings[0].message
    assert "65534:65534" in report.findings[0].message


def test_open_data_dir_is_writable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "./data:/prometheus")))

    assert report.findings == []


def test_root_user_may_write_data_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    services = GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "./data:/prometheus") + '    user: "0"\n'
    report = check(write_stack(tmp_path, services))

    assert report.findings == []


def test_missing_data_dir_not_writable(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("prometheus_data:/prometheus", "./missing:/prometheus")))

    assert rules(report) == ["tsdb-not-writable"]
    assert "does not exist" in report.findings[0].message


def test_lifecycle_missing_with_reloader(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS.replace(', "--web.enable-lifecycle"', "") + """\
  reloader:
    image: example.com/reloader:1
    command: ["--webhook-url=http://prometheus:9090/-/reload"]
"""
    report = check(write_stack(tmp_path, services))

    assert rules(report) == ["lifecycle-api-disabled"]
    assert "reloader" in report.findings[0].message


def test_lifecycle_not_required_without_reloader(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace(', "--web.enable-lifecycle"', "")))

    assert report.findings == []


@pytest.mark.parametrize(
    ("grace", "expected"),
    [("10s", ["stop-grace-period-short"]), ("29s", ["stop-grace-period-short"]), ("30s", []), ("1m30s", []), ("soon", ["stop-grace-period-invalid"])],
)
def test_stop_grace_period_threshold(tmp_path: Path, grace: str, expected: list[str]) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("stop_grace_period: 1m", f"stop_grace_period: {grace}")))

    assert rules(report) == expected


def test_missing_stop_grace_period_reported(tmp_path: Path) -> None:
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS.replace("    stop_grace_period: 1m\n", "")))

    assert rules(report) == ["stop-grace-period-short"]
    assert "10s" in report.findings[0].message


def test_localhost_target_names_serving_service(tmp_path: Path) -> None:
    config = PROMETHEUS_YML + "  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:8080', '[::1]:8081']\n"
    services = GOOD_PROMETHEUS + "  app:\n    image: example.com/app:1\n    expose: [8080]\n"
    report = check(write_stack(tmp_path, services, config))

    assert rules(report) == ["localhost-target-in-container", "localhost-target-in-container"]
    first, second = report.findings
    assert first.path == "scrape_configs[1].static_configs[0].targets[0]"
    assert first.fix == "use the service name: 'app:8080'"
    assert "host.docker.internal:8081" in second.fix


def test_localhost_target_fine_on_host_network(tmp_path: Path) -> None:
    config = PROMETHEUS_YML + "  - job_name: app\n    static_configs:\n      - targets: ['localhost:8080']\n"
    report = check(write_stack(tmp_path, GOOD_PROMETHEUS + "    network_mode: host\n", config))

    assert report.findings == []


def test_variables_interpolated_from_env_file(tmp_path: Path) -> None:
    services = GOOD_PROMETHEUS + '    ports:\n      - "${PORT_A:-9090}:9090"\n  other:\n    image: example.com/o:1\n    ports:\n      - "${PORT_B}:80"\n'
    path = write_stack(tmp_path, services)
    (tmp_path / ".env").write_text("# ports\nPORT_B=9090\n")

    assert rules(check(path)) == ["host-port-conflict"]
    assert check(path, {"PORT_B": "9091"}).findings == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "1"),
        ("$A-$B", "1-"),
        ("${B:-x}", "x"),
        ("${E:-x}", "x"),
        ("${E-x}", ""),
        ("${A:+y}", "y"),
        ("${B+y}", ""),
        ("$$A", "$A"),
    ],
)
def test_interpolation_forms(text: str, expected: str) -> None:
    assert interpolate(text, {"A": "1", "E": ""}) == expected


def test_required_variable_raises() -> None:
    with pytest.raises(InterpolationError, match="PORT is not set: set it"):
        interpolate("${PORT:?set it}", {})


def test_cli_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_stack(tmp_path, GOOD_PROMETHEUS)

    assert main(["check", "compose", "--no-host-ports", str(path)]) == 0
    assert "SUCCESS" in capsys.readouterr().out


def test_cli_findings_exit_1_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_stack(tmp_path, GOOD_PROMETHEUS.replace("    stop_grace_period: 1m\n", ""))

    assert main(["check", "compose", "--no-host-ports", "--output", "json", str(path)]) == 1
    output = json.loads(capsys.readouterr().out)
    finding = output["files"][0]["findings"][0]
    assert finding["rule"] == "stop-grace-period-short"
    assert finding["line"] == 2
    assert finding["fix"].startswith("set stop_grace_period")


@pytest.mark.parametrize(
    "content",
    ["services: [a, b]\n", "services:\n  prometheus: {image: [\n", "version: '3'\n", "services:\n  p: 3\n", "x: ${Y:?needed}\nservices: {}\n"],
)
def test_cli_invalid_file_exits_2(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(content)

    assert main(["check", "compose", str(path)]) == 2
    assert "FAILED" in capsys.readouterr().out


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "compose", str(tmp_path / "absent.yml")]) == 2
    assert "cannot read compose file" in capsys.readouterr().out


def test_repository_stack_passes_own_check() -> None:
    report = check_compose_file(STACK, check_host_ports=False, environment={})

    assert report.readable, report.error
    assert report.prometheus_services == ["prometheus"]
    assert [finding.format_text() for finding in report.findings] == []


def test_repository_stack_accepted_by_compose_cli() -> None:
    compose = shutil.which("docker-compose")
    command = [compose] if compose else None
    if command is None:
        docker = shutil.which("docker")
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False) if docker else None
        if probe is None or probe.returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail("no compose CLI: .ci's setup installs Debian's docker-compose package")
            pytest.skip("no compose CLI (docker compose or docker-compose) installed")
        command = [docker, "compose"]

    result = subprocess.run([*command, "-f", str(STACK), "config", "-q"], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr


def test_port_held_by_prometheus_named(tmp_path: Path, prometheus_binary: str) -> None:
    import socket

    from docker_support import prometheus_ready

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "native.yml").write_text("scrape_configs: []\n")
    native = subprocess.Popen(
        [prometheus_binary, f"--config.file={tmp_path / 'native.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not prometheus_ready(port):
            assert time.monotonic() < deadline, "the native Prometheus did not become ready within 30 s"
            time.sleep(0.1)
        services = GOOD_PROMETHEUS + f'    ports:\n      - "127.0.0.1:{port}:9090"\n'
        report = check_compose_file(write_stack(tmp_path, services), check_host_ports=True, environment={})
    finally:
        native.terminate()
        native.wait(30)

    assert rules(report) == ["host-port-in-use"]
    assert "it is itself Prometheus 2." in report.findings[0].message
    assert f"process {native.pid} " in report.findings[0].message
