"""Exit classification from exit status and Prometheus's last log lines.

The log lines are as Prometheus 2.42 (Debian) writes them.
"""

from __future__ import annotations

import signal

from promwatchd.backends.base import ExitInfo
from promwatchd.exitcause import classify_exit

CONFIG_ERROR = (
    'ts=2026-12-04T20:06:48.852Z caller=main.go:469 level=error msg="Error loading config '
    '(--config.file=bad.yml)" file=/tmp/pt/bad.yml err="parsing YAML file bad.yml: yaml: line 6: '
    "did not find expected ',' or ']'\""
)
PORT_IN_USE = (
    'ts=2026-12-04T20:10:00.000Z caller=main.go:802 level=error msg="Unable to start web listener" '
    'err="listen tcp 127.0.0.1:9090: bind: address already in use"'
)
LOCK_HELD = (
    'ts=2026-12-04T20:10:00.000Z caller=main.go:1000 level=error err="opening storage failed: '
    'lock DB directory: resource temporarily unavailable"'
)
INFO_LINE = 'ts=2026-12-04T20:10:00.000Z caller=main.go:1229 level=info msg="Completed loading of configuration file"'


def test_config_error_line():
    cause = classify_exit(ExitInfo(code=1, output_tail=(INFO_LINE, CONFIG_ERROR)))
    assert cause.cause == "config"
    assert "Error loading config" in cause.evidence


def test_rule_file_error_is_config():
    """Prometheus 2.42 reports a rule_files problem in lower case, after "Failed to apply configuration"."""
    line = (
        'ts=2026-12-04T21:14:48.284Z caller=main.go:1127 level=error err="error loading config from '
        '\\"prometheus.yml\\": one or more errors occurred while applying the new configuration"'
    )
    assert classify_exit(ExitInfo(code=1, output_tail=(line,))).cause == "config"


def test_port_in_use_line():
    assert classify_exit(ExitInfo(code=1, output_tail=(PORT_IN_USE,))).cause == "port_in_use"


def test_lock_held_line():
    assert classify_exit(ExitInfo(code=1, output_tail=(LOCK_HELD,))).cause == "lock_held"


def test_sigkill_is_killed():
    assert classify_exit(ExitInfo(code=None, signal=signal.SIGKILL, output_tail=(INFO_LINE,))).cause == "killed"


def test_oom_flag_wins_over_signal():
    assert classify_exit(ExitInfo(code=137, oom_killed=True)).cause == "oom"


def test_other_signal_is_crash():
    cause = classify_exit(ExitInfo(code=None, signal=signal.SIGSEGV))
    assert cause.cause == "crash"
    assert "SIGSEGV" in cause.evidence


def test_status_zero_is_clean():
    assert classify_exit(ExitInfo(code=0)).cause == "clean"


def test_info_lines_are_not_evidence():
    cause = classify_exit(ExitInfo(code=2, output_tail=('level=info msg="permission denied is just a word here"',)))
    assert cause.cause == "crash"
