"""``promwatchd check metrics`` on files, standard input and URLs served on 127.0.0.1."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import free_port
from promwatchd.cli import main

VALID_TEXT = b"# HELP up_seconds Uptime.\n# TYPE up_seconds gauge\nup_seconds 5\n"
LINT_ONLY_TEXT = b"uptime_ms 5\n"
INVALID_TEXT = b"# TYPE a gauge\na{Build Date=\"x\"} 1\n"
OPENMETRICS_WITHOUT_EOF = b"# TYPE a counter\n# HELP a Requests.\na_total 1\n"
HTML_PAGE = b"<!DOCTYPE html>\n<html><body><a href=\"/app/metrics\">metrics</a></body></html>\n"


def write_payload(tmp_path: Path, payload: bytes, name: str = "metrics.txt") -> str:
    path = tmp_path / name
    path.write_bytes(payload)
    return str(path)


def run_check(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["check", "metrics", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_valid_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_check(capsys, write_payload(tmp_path, VALID_TEXT))

    assert code == 0
    assert "0 errors" in out
    assert err == ""


def test_invalid_file_exits_1_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_payload(tmp_path, INVALID_TEXT)

    code, out, _ = run_check(capsys, path)

    assert code == 1
    assert f"{path}:2:3: error text-invalid-label-name:" in out
    assert "'Build Date'" in out


def test_lint_counts_only_with_lint_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_payload(tmp_path, LINT_ONLY_TEXT)

    code_without, out_without, _ = run_check(capsys, path)
    code_with, out_with, _ = run_check(capsys, "--lint", path)

    assert code_without == 0
    assert "naming conventions not checked; add --lint" in out_without
    assert code_with == 1
    assert "lint lint-abbreviated-unit" in out_with
    assert "lint lint-help-missing" in out_with


def test_missing_file_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_check(capsys, str(tmp_path / "absent.txt"))

    assert code == 2
    assert err.count("\n") == 1
    assert "absent.txt" in err
    assert "Traceback" not in err


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "metrics", "--format", "json", "x"])

    assert exit_info.value.code == 2


def test_format_openmetrics_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_payload(tmp_path, OPENMETRICS_WITHOUT_EOF)

    code_auto, out_auto, _ = run_check(capsys, path)
    code_forced, out_forced, _ = run_check(capsys, "--format", "openmetrics", path)

    assert code_auto == 0
    assert "text format" in out_auto
    assert code_forced == 1
    assert "om-missing-eof" in out_forced
    assert "valid as the text format" in out_forced


def test_format_detected_from_eof_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_payload(tmp_path, b"# TYPE a gauge\na 1\n\n# EOF\n")

    code, out, _ = run_check(capsys, path)

    assert code == 1
    assert "openmetrics format" in out
    assert "om-blank-line" in out


def test_format_detected_from_end_of_large_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = b"".join(b'a_total{n="%d"} 1\n' % number for number in range(10_000))
    path = write_payload(tmp_path, b"# TYPE a counter\n" + samples + b"# EOF\n")

    code, out, _ = run_check(capsys, path)

    assert code == 0
    assert "openmetrics format, 10002 lines, 10000 samples" in out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_payload(tmp_path, INVALID_TEXT)

    code, out, _ = run_check(capsys, "--output", "json", path)

    document = json.loads(out)
    assert code == 1
    [source] = document["sources"]
    assert source["source"] == path
    assert source["format"] == "text"
    assert source["valid"] is False
    assert source["findings"][0]["rule"] == "text-invalid-label-name"
    assert source["findings"][0]["line"] == 2
    assert source["findings"][0]["severity"] == "error"


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(VALID_TEXT)))

    code, out, _ = run_check(capsys, "-")

    assert code == 0
    assert "(stdin)" in out


def test_several_sources_report_worst_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    valid = write_payload(tmp_path, VALID_TEXT, "valid.txt")
    invalid = write_payload(tmp_path, INVALID_TEXT, "invalid.txt")

    code, out, _ = run_check(capsys, valid, invalid)

    assert code == 1
    assert "valid.txt: text format" in out
    assert "invalid.txt:2:3" in out


def test_whole_process_reads_stdin_without_traceback() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "promwatchd.cli", "check", "metrics", "-"],
        input=b"a 1\na 1",
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == 1
    assert b"duplicate-series" in completed.stdout
    assert b"text-missing-final-newline" in completed.stdout
    assert b"Traceback" not in completed.stderr


# --- URLs, served by a small HTTP server on 127.0.0.1 ---

RESPONSES: dict[str, tuple[int, str | None, bytes]] = {
    "/metrics": (200, "text/plain; version=0.0.4; charset=utf-8", VALID_TEXT),
    "/openmetrics-without-eof": (200, "application/openmetrics-text; version=1.0.0; charset=utf-8", OPENMETRICS_WITHOUT_EOF),
    "/html": (200, "text/html; charset=utf-8", HTML_PAGE),
    "/no-content-type": (200, None, VALID_TEXT),
    "/missing": (404, "text/plain", b"404 page not found\n"),
    "/large": (200, "text/plain; version=0.0.4", b"a 1\n" + b"b 2\n" * 10_000),
}
SLOW_PATH = "/slow"


class ScrapeTargetHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path == SLOW_PATH:
            time.sleep(2)
        status, content_type, body = RESPONSES.get(self.path, (200, "text/plain", VALID_TEXT))
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: the timeout and body limit tests do that on purpose

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def target_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScrapeTargetHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_valid(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, f"{target_url}/metrics")

    assert code == 0
    assert "Content-Type 'text/plain; version=0.0.4; charset=utf-8'" in out


def test_url_openmetrics_content_type_selects_parser(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, f"{target_url}/openmetrics-without-eof")

    assert code == 1
    assert "om-missing-eof" in out
    assert "a_total 1" in out


def test_url_html_page(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, f"{target_url}/html")

    assert code == 1
    assert "content-type-unsupported" in out
    assert "'text/html; charset=utf-8'" in out
    assert "html-page" in out
    assert "/app/metrics" in out


def test_url_without_content_type(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, f"{target_url}/no-content-type")

    assert code == 1
    assert "content-type-missing" in out
    assert "fallback_scrape_protocol" in out


def test_url_not_found(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, f"{target_url}/missing")

    assert code == 1
    assert "http-status" in out
    assert "404" in out


def test_url_body_limit(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_check(capsys, "--max-bytes", "1000", f"{target_url}/large")

    assert code == 1
    assert "body-too-large" in out
    assert "1000 bytes" in out


def test_url_timeout_exits_2(target_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_check(capsys, "--timeout", "0.5", f"{target_url}{SLOW_PATH}")

    assert code == 2
    assert "timed out after 0.5 s" in err
    assert err.count("\n") == 1


def test_url_connection_refused_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()

    code, _, err = run_check(capsys, f"http://127.0.0.1:{port}/metrics")

    assert code == 2
    assert f"127.0.0.1:{port}" in err
    assert err.count("\n") == 1
