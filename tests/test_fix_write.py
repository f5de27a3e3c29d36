"""``promwatchd fix config``: exit codes, output formats, backups, and never losing the user's file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from promwatchd import atomicfile
from promwatchd.cli import main

FIXABLE = "# ops: do not remove\nscrape_configs:\n  - job_name: node   # node exporter\n    scrape_interval: 10\n    static_configs:\n      - targets: ['a:9100']\n"
FIXED = "# ops: do not remove\nscrape_configs:\n  - job_name: node   # node exporter\n    scrape_interval: 10s\n    static_configs:\n      - targets: ['a:9100']\n"
UNFIXABLE = "scrape_configs:\n  - job_name: node\n    scrape_interval: 10\n    static_configs:\n      - targets: ['a:9100/x']\n"
VALID = "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"


@pytest.fixture
def fixable(tmp_path: Path) -> Path:
    path = tmp_path / "prometheus.yml"
    path.write_text(FIXABLE)
    return path


def test_fix_dry_run_leaves_file(fixable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "config", str(fixable)]) == 1
    out = capsys.readouterr().out

    assert "-    scrape_interval: 10\n+    scrape_interval: 10s\n" in out
    assert "--write" in out
    assert fixable.read_text() == FIXABLE
    assert list(fixable.parent.glob("*.bak")) == []


def test_fix_write_keeps_comments_and_backup(fixable: Path) -> None:
    os.chmod(fixable, 0o600)

    assert main(["fix", "config", "--write", str(fixable)]) == 0

    assert fixable.read_text() == FIXED
    backups = list(fixable.parent.glob("prometheus.yml.*.bak"))
    assert len(backups) == 1
    assert backups[0].read_text() == FIXABLE
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(fixable.stat().st_mode) == 0o600


def test_fix_write_twice_keeps_both_backups(fixable: Path) -> None:
    assert main(["fix", "config", "--write", str(fixable)]) == 0
    fixable.write_text(FIXABLE)

    assert main(["fix", "config", "--write", str(fixable)]) == 0

    assert len(list(fixable.parent.glob("prometheus.yml.*.bak"))) == 2


def test_fix_write_follows_symlink(tmp_path: Path, fixable: Path) -> None:
    link = tmp_path / "link.yml"
    link.symlink_to(fixable)

    assert main(["fix", "config", "--write", str(link)]) == 0

    assert link.is_symlink()
    assert fixable.read_text() == FIXED


def test_fix_write_refused_when_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(UNFIXABLE)

    assert main(["fix", "config", "--write", str(path)]) == 1
    out = capsys.readouterr().out

    assert "[duration-unit] applied (safe)" in out
    assert "[target-url] suggested, not applied (unsafe)" in out
    assert "(not written)" in out
    assert path.read_text() == UNFIXABLE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prometheus.yml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_fix_write_read_only_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "etc"
    directory.mkdir()
    path = directory / "prometheus.yml"
    path.write_text(FIXABLE)
    original = path.read_bytes()
    os.chmod(directory, 0o555)
    try:
        assert main(["fix", "config", "--write", str(path)]) == 1
    finally:
        os.chmod(directory, 0o755)

    assert path.read_bytes() == original
    assert "the file is unchanged" in capsys.readouterr().err
    assert sorted(p.name for p in directory.iterdir()) == ["prometheus.yml"]


def test_fix_write_failed_replace_keeps_original(fixable: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = fixable.read_bytes()
    real_replace = os.replace

    def replace(source: str, target: str | Path) -> None:
        if Path(target) == fixable.resolve():
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(atomicfile.os, "replace", replace)

    assert main(["fix", "config", "--write", str(fixable)]) == 1

    assert fixable.read_bytes() == original
    output = capsys.readouterr()
    assert "cannot write" in output.err
    assert "could not be written; it is unchanged" in output.out
    assert "run again with --write" not in output.out
    assert sorted(p.name for p in fixable.parent.iterdir()) == ["prometheus.yml"]


def test_fix_nothing_to_fix_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(VALID)

    assert main(["fix", "config", "--write", str(path)]) == 0

    assert "nothing to fix" in capsys.readouterr().out
    assert list(tmp_path.glob("*.bak")) == []


def test_fix_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "config", str(tmp_path / "missing.yml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_fix_directory_exit_2(tmp_path: Path) -> None:
    assert main(["fix", "config", str(tmp_path)]) == 2


def test_fix_not_utf8_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_bytes(b"scrape_configs: []\n# \xff\n")

    assert main(["fix", "config", str(path)]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err


def test_fix_usage_error_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fix", "config", "--output", "xml", "x.yml"])
    assert exit_info.value.code == 2


def test_fix_json_output(fixable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "config", "--output", "json", "--write", str(fixable)]) == 0
    data = json.loads(capsys.readouterr().out)

    assert data["valid"] is True
    assert data["written"] is True
    assert data["backup"].endswith(".bak")
    correction = data["corrections"][0]
    assert correction["rule"] == "duration-unit"
    assert correction["safe"] is True
    assert correction["applied"] is True
    assert correction["line"] == 4
    assert correction["path"] == "scrape_configs[0].scrape_interval"
    assert "+    scrape_interval: 10s" in data["diff"]


def test_fix_json_unfixable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(UNFIXABLE)

    assert main(["fix", "config", "--output", "json", "--write", str(path)]) == 1
    data = json.loads(capsys.readouterr().out)

    assert data["valid"] is False
    assert data["written"] is False
    assert data["remaining"][0]["rule"] == "target-with-path"


def test_fix_write_keeps_owner(fixable: Path) -> None:
    # nobody:nogroup (65534) stands for the prometheus user and group of a packaged install.
    if os.geteuid() != 0:
        pytest.skip("only root can give the file to another user")
    os.chown(fixable, 65534, 65534)
    os.chmod(fixable, 0o640)

    assert main(["fix", "config", "--write", str(fixable)]) == 0

    backups = list(fixable.parent.glob("prometheus.yml.*.bak"))
    for path in [fixable, *backups]:
        status = path.stat()
        assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o640)
