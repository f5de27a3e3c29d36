"""Validate prometheus.yml as Prometheus 3.x loads it: parse, decode strictly, check semantics, check files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from promwatchd.promconfig.check import check_text
from promwatchd.promconfig.compose import cyclic_gc_paused
from promwatchd.promconfig.config import check_job_names
from promwatchd.promconfig.findings import ERROR, Finding
from promwatchd.promconfig.parallel import PARALLEL_MIN_CHARS, check_in_parts
from promwatchd.promconfig.yamlsource import decode_source


@dataclass
class FileReport:
    """The outcome for one configuration file; ``readable`` is False when the file could not be read at all."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    readable: bool = True

    @property
    def valid(self) -> bool:
        return self.readable and not any(f.is_error for f in self.findings)

    def to_dict(self) -> dict:
        return {"file": self.file, "valid": self.valid, "findings": [f.to_dict() for f in self.findings]}


def validate_file(path: str | Path, agent: bool = False, syntax_only: bool = False, processes: int = 1) -> FileReport:
    """Validate one configuration file. Never raises: read errors and bad content become findings.

    With ``processes`` above 1, a large file is validated in that many parts at the same
    time, in forked processes (see parallel.py). While other threads run, it is validated
    in one pass instead, because forking then can deadlock the child.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        finding = Finding(ERROR, "file-unreadable", name, 0, 0, "", f"cannot read the configuration file: {reason}", "check the path and the file's permissions")
        return FileReport(name, [finding], readable=False)
    return validate_bytes(data, name, Path(path).resolve().parent, agent=agent, syntax_only=syntax_only, processes=processes)


def validate_bytes(data: bytes, filename: str, base_dir: Path, agent: bool = False, syntax_only: bool = False, processes: int = 1) -> FileReport:
    """Validate configuration ``data`` shown as ``filename``; relative paths resolve against ``base_dir``. Never raises."""
    # Decoding builds objects as large as the node tree, so the collector stays off for it too.
    with cyclic_gc_paused():
        try:
            findings = _validate(data, filename, base_dir, agent, syntax_only, processes)
        except Exception as error:  # noqa: BLE001 - the contract is findings, never an exception
            findings = [Finding(ERROR, "internal-error", filename, 0, 0, "", f"the validator failed on this input ({type(error).__name__}); the file could not be checked", "report this as a promwatchd bug, with the file")]
    findings.sort(key=lambda f: (f.file != filename, f.file, f.line, f.column))
    return FileReport(filename, findings)


def _validate(data: bytes, filename: str, base_dir: Path, agent: bool, syntax_only: bool, processes: int) -> list[Finding]:
    text, encoding_finding = decode_source(data, filename)
    if encoding_finding is not None:
        return [encoding_finding]

    results = None
    if processes > 1 and len(text) >= PARALLEL_MIN_CHARS:
        results = check_in_parts(text, filename, base_dir, agent, syntax_only, processes)
    if results is None:
        results = [check_text(text, filename, base_dir, agent, syntax_only)]

    # Prometheus checks job names across the main file and then the scrape_config_files, in that order.
    jobs = [job for result in results for job in result.main_jobs]
    jobs += [job for result in results for job in result.included_jobs]
    findings = [finding for result in results for finding in result.findings]
    findings.extend(check_job_names(jobs))
    return findings
