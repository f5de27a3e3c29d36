"""Fix a prometheus.yml: text passes, then one validator-guided correction at a time, then a final validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from promwatchd.fix import jobs, roundtrip, shapes, targets, textpass, timing
from promwatchd.fix.model import Correction, FixResult
from promwatchd.fix.splice import splice
from promwatchd.fix.tree import plain
from promwatchd.promconfig import Finding, validate_bytes

Handler = Callable[[Any, Finding], "Correction | None"]

# Validator rule id -> the correction that handles it.
HANDLERS: dict[str, Handler] = {
    "wrong-type": shapes.fix_wrong_type,
    "unknown-field": shapes.fix_unknown_field,
    "invalid-duration": timing.fix_duration,
    "timeout-exceeds-interval": timing.fix_timeout,
    "duplicate-job-name": jobs.fix_duplicate_job,
    "target-with-scheme": targets.fix_target_url,
    "target-with-path": targets.fix_target_url,
}

# Bound on corrections per file; each one re-validates the whole file.
MAX_CORRECTIONS = 500


def fix_config_text(text: str, filename: str, base_dir: Path) -> FixResult:
    """Apply the safe corrections to ``text``, list the suggested ones, and validate the result.

    The result's ``fixed`` text is the input itself when nothing was applied. Bad input
    does not raise: what cannot be fixed stays in the result's ``remaining`` findings.
    """
    corrections: list[Correction] = []
    # ruamel.yaml writes "\n" line ends, so a CRLF file is corrected as LF and converted back.
    crlf = "\r\n" in text
    source = text.replace("\r\n", "\n") if crlf else text

    def errors_in(candidate: str) -> list[Finding]:
        report = validate_bytes(candidate.encode("utf-8"), filename, base_dir)
        return [finding for finding in report.findings if finding.is_error]

    def error_count(candidate: str) -> int | None:
        errors = errors_in(candidate)
        if any(finding.rule in ("yaml-syntax", "tab-indentation") for finding in errors):
            return None
        return len(errors)

    current, applied = textpass.expand_tabs(source, error_count)
    corrections.extend(applied)
    current, applied = textpass.split_dash_keys(current)
    corrections.extend(applied)

    try:
        before_tree = current
        current = _apply_tree_corrections(current, filename, base_dir, corrections)
        if current != before_tree:
            current = _keep_formatting(before_tree, current)
    except Exception:  # noqa: BLE001 - a failed correction must not hide the validation result
        # NOTE: a correction that raised may have been half done, so no tree correction
        # is kept. The findings of the final validation still show what is wrong.
        corrections[:] = [c for c in corrections if c.rule in ("tab-indentation", "dash-without-space")]
    if current == source:
        current = text
    elif crlf:
        current = current.replace("\n", "\r\n")
    remaining = validate_bytes(current.encode("utf-8"), filename, base_dir).findings
    return FixResult(filename, text, current, corrections, remaining)


def _apply_tree_corrections(text: str, filename: str, base_dir: Path, corrections: list[Correction]) -> str:
    """Apply one correction at a time to the commented tree, re-validating in between; return the new text."""
    errors = _errors(text, filename, base_dir)
    if not any(finding.rule in HANDLERS for finding in errors):
        return text
    yaml = roundtrip.make_yaml(text)
    try:
        document = roundtrip.load(yaml, text)
    except YAMLError:
        return text

    current = text
    suggested: set[tuple[str, str]] = set()
    tried: set[tuple[str, str]] = set()
    for _ in range(MAX_CORRECTIONS):
        candidate = next((f for f in errors if f.rule in HANDLERS and (f.rule, f.path) not in tried), None)
        if candidate is None:
            break
        tried.add((candidate.rule, candidate.path))
        if candidate.rule == "wrong-type" and candidate.path == "":
            wrapped = shapes.wrap_root_jobs(document)
            if wrapped is None:
                continue
            document, correction = wrapped
        else:
            correction = HANDLERS[candidate.rule](document, candidate)
        if correction is None:
            continue
        if not correction.applied:
            suggested.add((candidate.rule, candidate.path))
            # One suggestion covers a whole job, so the job's other targets would repeat it.
            if not any((c.rule, c.change) == (correction.rule, correction.change) for c in corrections):
                corrections.append(correction)
            continue
        corrections.append(correction)
        current = roundtrip.dump(yaml, document)
        errors = _errors(current, filename, base_dir)
        # Paths now refer to the changed tree, so findings passed over before are tried again.
        tried = set(suggested)
    return current


def _keep_formatting(original: str, fixed: str) -> str:
    """Return ``fixed`` with the lines no correction touched written as in ``original`` (see splice.py).

    Falls back to ``fixed`` as ruamel.yaml wrote it when the spliced text does not read
    back as the same configuration.
    """
    try:
        yaml = roundtrip.make_yaml(original)
        baseline = roundtrip.dump(yaml, roundtrip.load(yaml, original))
        spliced = splice(original, baseline, fixed)
        same = plain(roundtrip.load(roundtrip.make_yaml(spliced), spliced)) == plain(roundtrip.load(roundtrip.make_yaml(fixed), fixed))
    except YAMLError:
        return fixed
    return spliced if same else fixed


def _errors(text: str, filename: str, base_dir: Path) -> list[Finding]:
    report = validate_bytes(text.encode("utf-8"), filename, base_dir)
    return [finding for finding in report.findings if finding.is_error and finding.file == filename]
