"""``promwatchd check targets`` as a user runs it: the real CLI against fake exporters on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml

from conftest import free_port
from daemon_support import clean_environment, promwatchd_command
from test_targets_fakes import BEARER_TOKEN, fake_exporter

CLI_TIMEOUT_SECONDS = 60.0


async def run_cli_async(*arguments: str) -> tuple[int, str, str]:
    """Run the CLI without blocking the event loop that serves the fake exporters."""
    process = await asyncio.create_subprocess_exec(
        *promwatchd_command(), "check", "targets", *arguments,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_environment(),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, stdout.decode(), stderr.decode()


def write_config(directory: Path, config: dict) -> Path:
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def test_cli_all_ok_exits_zero(tmp_path: Path):
    async with fake_exporter() as exporter:
        config = write_config(tmp_path, {"scrape_configs": [{"job_name": "node", "static_configs": [{"targets": [exporter.address]}]}]})
        code, stdout, stderr = await run_cli_async("--config", str(config))
    assert code == 0, stdout + stderr
    assert "1 targets: 1 ok, 0 failing" in stdout
    assert stderr == ""


async def test_cli_json_reports_reasons_and_file_sd(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(BEARER_TOKEN)
    sd_directory = tmp_path / "targets"
    sd_directory.mkdir()
    async with fake_exporter() as exporter:
        (sd_directory / "a.json").write_text(json.dumps([{"targets": [exporter.address], "labels": {"team": "a"}}]))
        (sd_directory / "b.yaml").write_text(yaml.safe_dump([{"targets": [f"127.0.0.1:{free_port()}"], "labels": {"team": "b"}}]))
        config = write_config(
            tmp_path,
            {
                "global": {"scrape_timeout": "2s"},
                "scrape_configs": [
                    {
                        "job_name": "files",
                        "file_sd_configs": [{"files": ["targets/*.json", "targets/*.yaml"]}],
                        "relabel_configs": [{"source_labels": ["__meta_filepath"], "regex": ".*/(.*)", "target_label": "file"}],
                    },
                    {
                        "job_name": "secured",
                        "metrics_path": "/bearer",
                        "authorization": {"credentials_file": "token"},
                        "static_configs": [{"targets": [exporter.address]}],
                    },
                    {"job_name": "missing", "metrics_path": "/absent", "static_configs": [{"targets": [exporter.address]}]},
                ],
            },
        )
        code, stdout, stderr = await run_cli_async("--config", str(config), "--output", "json")

    assert code == 1, stderr
    report = json.loads(stdout)
    by_instance = {(target["job"], target["labels"].get("file", "")): target for target in report["targets"]}
    assert by_instance[("files", "a.json")]["reason"] == "ok"
    assert by_instance[("files", "a.json")]["labels"]["team"] == "a"
    assert by_instance[("files", "b.yaml")]["reason"] == "refused"
    assert by_instance[("secured", "")]["reason"] == "ok"
    assert by_instance[("missing", "")]["reason"] == "http_status"
    assert by_instance[("missing", "")]["status"] == 404
    assert report["summary"]["by_job"] == {"files": {"ok": 1, "refused": 1}, "missing": {"http_status": 1}, "secured": {"ok": 1}}


async def test_cli_masks_secrets_in_output(tmp_path: Path):
    secret = "hunter2-very-secret"
    async with fake_exporter() as exporter:
        config = write_config(
            tmp_path,
            {"scrape_configs": [{
                "job_name": "basic",
                "metrics_path": "/basic",
                "basic_auth": {"username": "u", "password": secret},
                "static_configs": [{"targets": [exporter.address]}],
            }]},
        )
        code, stdout, stderr = await run_cli_async("--config", str(config), "--output", "json")
        text_code, text_stdout, _ = await run_cli_async("--config", str(config))
    assert code == 1
    assert text_code == 1
    assert secret not in stdout + stderr + text_stdout
    assert json.loads(stdout)["targets"][0]["status"] == 401


async def test_cli_invalid_yaml_exits_two(tmp_path: Path):
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs:\n  - job_name: [broken\n")
    code, stdout, stderr = await run_cli_async("--config", str(config))
    assert code == 2
    assert stdout == ""
    assert "invalid YAML" in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


async def test_cli_missing_file_exits_two(tmp_path: Path):
    code, _stdout, stderr = await run_cli_async("--config", str(tmp_path / "absent.yml"))
    assert code == 2
    assert "not found" in stderr
    assert len(stderr.strip().splitlines()) == 1


async def test_cli_invalid_relabel_exits_two(tmp_path: Path):
    config = write_config(tmp_path, {"scrape_configs": [{"job_name": "j", "relabel_configs": [{"action": "hashmod", "source_labels": ["a"], "target_label": "b"}]}]})
    code, _stdout, stderr = await run_cli_async("--config", str(config))
    assert code == 2
    assert "relabel_configs[0]" in stderr
    assert "modulus" in stderr


async def test_cli_without_source_exits_two():
    code, _stdout, stderr = await run_cli_async()
    assert code == 2
    assert "--config FILE or --prometheus URL" in stderr


async def test_cli_unreachable_prometheus_exits_two():
    code, _stdout, stderr = await run_cli_async("--prometheus", f"http://127.0.0.1:{free_port()}")
    assert code == 2
    assert "check --prometheus" in stderr
    assert "Traceback" not in stderr


async def test_cli_no_progress_when_not_a_terminal(tmp_path: Path):
    config = write_config(tmp_path, {"scrape_configs": [{"job_name": "j", "static_configs": [{"targets": [f"127.0.0.1:{free_port()}"]}]}]})
    code, _stdout, stderr = await run_cli_async("--config", str(config))
    assert code == 1
    assert stderr == ""


async def test_cli_max_body_bytes_applies_without_limit(tmp_path: Path):
    async with fake_exporter() as exporter:
        config = write_config(tmp_path, {"scrape_configs": [{"job_name": "big", "metrics_path": "/large", "static_configs": [{"targets": [exporter.address]}]}]})
        code, stdout, _stderr = await run_cli_async("--config", str(config), "--max-body-bytes", "1000", "--output", "json")
    assert code == 1
    [target] = json.loads(stdout)["targets"]
    assert target["reason"] == "too_large"
    assert "--max-body-bytes" in target["message"]


async def test_cli_rejects_zero_concurrency(tmp_path: Path):
    code, _stdout, stderr = await run_cli_async("--config", str(tmp_path / "x.yml"), "--concurrency", "0")
    assert code == 2
    assert "at least 1" in stderr


def test_cli_body_limit_default_matches_scraper():
    from promwatchd.commands import check_targets
    from promwatchd.targets import scrape

    assert check_targets.DEFAULT_MAX_BODY_BYTES == scrape.DEFAULT_MAX_BODY_BYTES
