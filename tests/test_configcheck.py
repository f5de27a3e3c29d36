"""The daemon's promtool check of the user's config: verdicts, and a hanging promtool stopped with its children."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from promwatchd import configcheck


async def test_hanging_promtool_group_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake promtool: a wrapper whose child would hold the output pipe open for a minute.
    wrapper = tmp_path / "promtool"
    child_pid_file = tmp_path / "child.pid"
    wrapper.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {child_pid_file}\nwait\n")
    wrapper.chmod(0o755)
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs: []\n")
    monkeypatch.setattr(configcheck, "PROMTOOL_TIMEOUT_SECONDS", 1.0)

    started = time.monotonic()
    verdict = await configcheck.check_with_promtool(str(wrapper), config)
    elapsed = time.monotonic() - started

    assert verdict.valid is None
    assert verdict.output == "promtool timed out after 1s"
    assert elapsed < 5
    child = int(child_pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the wrapper stays a zombie until init reaps it; that counts as stopped.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_user_config_verdict_without_promtool(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n")

    verdict = await configcheck.check_user_config("", config)

    assert verdict.valid is False
    assert verdict.promtool.valid is None
    assert len(verdict.errors) == 1
    assert "[unknown-field] scrape_configs[0].scrape_intervall" in verdict.errors[0]
    assert not verdict.disagree
