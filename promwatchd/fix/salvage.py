"""Salvage a broken prometheus.yml: keep every scrape job that passes validation, drop the rest with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from promwatchd.fix import roundtrip, textpass
from promwatchd.fix.tree import line_of, parse_path
from promwatchd.promconfig import Finding, validate_bytes
from promwatchd.promconfig.split import find_scrape_config_items
from promwatchd.redact import redact_text

# The job_name of a scrape job cut out by lines, for the list of dropped jobs.
_JOB_NAME = re.compile(r"job_name:[ \t]*[\"']?([^\"'\s#]+)")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Name under which the salvaged text is validated; findings in other files come from scrape_config_files.
_SOURCE_NAME = "prometheus.yml"

# Printed when nothing of the file can be used; promtool 2.42 and our validator accept it.
EMPTY_CONFIG = "scrape_configs: []\n"


@dataclass(frozen=True)
class DroppedPart:
    """A scrape job, a list item or a section left out of the salvaged config, and why.

    ``path`` is the field path in the input (``scrape_configs[2]``, ``rule_files[0]``,
    ``remote_write``); ``line`` is 1-based in the input, 0 when unknown.
    """

    path: str
    name: str
    line: int
    reason: str

    def describe(self) -> str:
        """Return one line: what was dropped, where, and why."""
        subject = f"scrape job {self.name!r}" if self.path.startswith("scrape_configs[") else self.name
        where = f"{self.path}, line {self.line}" if self.line else self.path
        return f"{subject} ({where}): {self.reason}" if where else f"{subject}: {self.reason}"


@dataclass
class SalvageResult:
    """The salvaged config text, which always passes validation, with the names of the kept jobs and what was dropped.

    ``corrected`` describes the text corrections made before salvaging, such as tabs in
    the indentation that became spaces, one line each.
    """

    text: str
    kept_jobs: list[str] = field(default_factory=list)
    dropped: list[DroppedPart] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)


def salvage_config(text: str, base_dir: Path, slow_allowed: bool = True) -> SalvageResult:
    """Return ``text`` reduced to what passes validation: scrape jobs, list items and sections with errors are removed.

    An input that already passes validation is returned unchanged. Relative paths in the
    config (rule files, credential files) resolve against ``base_dir``. The returned text
    always passes ``validate_bytes``; when no part of the input can be kept it is an empty
    scrape configuration.
    """
    try:
        return _salvage(text, base_dir, slow_allowed)
    except Exception as error:  # noqa: BLE001 - the caller needs a config that loads, whatever the input
        return _nothing_kept(f"salvage failed on this input ({type(error).__name__})")


def _salvage(text: str, base_dir: Path, slow_allowed: bool) -> SalvageResult:
    errors = _errors(text, base_dir)
    if errors == []:
        return SalvageResult(text, _job_names_of(text))

    corrected_text, corrected = _correct_text(text, base_dir)
    if corrected_text != text:
        text, errors = corrected_text, _errors(corrected_text, base_dir)
    result = _drop_jobs_by_lines(text, errors, base_dir)
    if result is None and not slow_allowed:
        return _nothing_kept("the errors are not all inside scrape jobs that can be cut out by lines, and the file is too large to salvage through a YAML round trip")
    if result is None:
        result = _salvage_parsed(text, base_dir)
    if corrected:
        result.corrected = corrected
        result.text = _correction_header(corrected) + result.text
    return result


def _drop_jobs_by_lines(text: str, errors: list[Finding], base_dir: Path) -> SalvageResult | None:
    """Cut the failing scrape jobs out of the text by their lines, or return None when that cannot work.

    It works when every error is inside a scrape job of a block list that split.py can cut
    by lines. This keeps every other line as written and takes two validations, where the
    round trip through ruamel.yaml takes about 15 s per MB.
    """
    found = find_scrape_config_items(text)
    if found is None:
        return None
    offsets, sequence_end, _ = found
    bounds = offsets + [sequence_end]

    doomed: dict[int, Finding] = {}
    for finding in errors:
        tokens = parse_path(finding.path)
        if finding.file != _SOURCE_NAME or len(tokens) < 2 or tokens[0] != "scrape_configs" or not isinstance(tokens[1], int) or tokens[1] >= len(offsets):
            return None
        doomed.setdefault(tokens[1], finding)

    pieces: list[str] = []
    dropped: list[DroppedPart] = []
    position = 0
    for index in sorted(doomed):
        pieces.append(text[position : bounds[index]])
        name = _JOB_NAME.search(text, bounds[index], bounds[index + 1])
        line = text.count("\n", 0, bounds[index]) + 1
        dropped.append(DroppedPart(f"scrape_configs[{index}]", name.group(1) if name else "", line, _reason(doomed[index])))
        position = bounds[index + 1]
    pieces.append(text[position:])
    reduced = "".join(pieces)
    if _errors(reduced, base_dir):
        return None
    kept_names = [_JOB_NAME.search(text, bounds[i], bounds[i + 1]) for i in range(len(offsets)) if i not in doomed]
    return SalvageResult(_header(dropped) + reduced, [match.group(1) if match else "" for match in kept_names], dropped)


def _correct_text(text: str, base_dir: Path) -> tuple[str, list[str]]:
    """Apply fix config's text corrections (tabs in the indentation, ``-key`` without a space) when the result parses.

    One tab would otherwise make the whole file unreadable and drop every job.
    """

    def error_count(candidate: str) -> int | None:
        errors = _errors(candidate, base_dir)
        if any(finding.rule in ("yaml-syntax", "tab-indentation") for finding in errors):
            return None
        return len(errors)

    corrected, tab_corrections = textpass.expand_tabs(text, error_count)
    corrected, dash_corrections = textpass.split_dash_keys(corrected)
    corrections = [c for c in tab_corrections + dash_corrections if c.applied]
    if not corrections or error_count(corrected) is None:
        return text, []
    return corrected, [redact_text(f"line {c.line}: {c.explanation} [{c.rule}]") for c in corrections]


def _correction_header(corrected: list[str]) -> str:
    lines = ["# Salvaged by promwatchd: these corrections were made before checking the jobs."]
    lines.extend(f"# corrected {description}" for description in corrected)
    return "\n".join(lines) + "\n"


def _salvage_parsed(text: str, base_dir: Path) -> SalvageResult:
    yaml = roundtrip.make_yaml(text)
    try:
        document = roundtrip.load(yaml, text)
    except YAMLError:
        first = _errors(text, base_dir)[0]
        return _nothing_kept(f"the file cannot be parsed: {_reason(first)}")
    if not isinstance(document, CommentedMap):
        return _nothing_kept("the file is not a YAML mapping of configuration sections")

    dropped: list[DroppedPart] = []
    # Input positions and lines of the items still in each list, so dropped items are reported as in the input.
    origins: dict[str, list[tuple[int, int]]] = {
        key: [(index, line_of(value, index)) for index in range(len(value))] for key, value in document.items() if isinstance(value, list)
    }
    current = text
    for _ in range(_max_rounds(document)):
        errors = _errors(current, base_dir)
        if not errors:
            break
        if not _drop_failing_parts(document, errors, origins, dropped):
            return _nothing_kept("the file has errors outside the scrape jobs that cannot be removed", dropped)
        current = roundtrip.dump(yaml, document)
    else:
        return _nothing_kept("the file still fails validation after removing the failing parts", dropped)

    salvaged = _header(dropped) + current
    if _errors(salvaged, base_dir):
        return _nothing_kept("the reduced file still fails validation", dropped)
    jobs = document.get("scrape_configs")
    kept_jobs = [str(job.get("job_name")) for job in jobs if isinstance(job, dict)] if isinstance(jobs, list) else []
    return SalvageResult(salvaged, kept_jobs, dropped)


def _drop_failing_parts(document: CommentedMap, errors: list[Finding], origins: dict[str, list[tuple[int, int]]], dropped: list[DroppedPart]) -> bool:
    """Remove the list item or section under each error; return False when an error is not under one."""
    doomed: dict[str, dict[int, Finding]] = {}
    sections: dict[str, Finding] = {}
    for finding in errors:
        if finding.file != _SOURCE_NAME:
            # An error inside a file named by scrape_config_files: leave out all those files.
            if "scrape_config_files" not in document:
                return False
            sections.setdefault("scrape_config_files", finding)
            continue
        tokens = parse_path(finding.path)
        if not tokens or not isinstance(tokens[0], str) or tokens[0] not in document:
            return False
        section = tokens[0]
        if len(tokens) > 1 and isinstance(tokens[1], int) and isinstance(document[section], list):
            doomed.setdefault(section, {}).setdefault(tokens[1], finding)
        else:
            sections.setdefault(section, finding)

    for section, finding in sections.items():
        dropped.append(DroppedPart(section, f"section {section!r}", line_of(document, section), _reason(finding)))
        del document[section]
        doomed.pop(section, None)
    for section, items in doomed.items():
        values = document[section]
        for index in sorted(items, reverse=True):
            item = values[index]
            original, line = origins[section][index]
            name = str(item.get("job_name", "")) if isinstance(item, dict) else ""
            label = name if section == "scrape_configs" else f"{section} entry"
            dropped.append(DroppedPart(f"{section}[{original}]", label, line, _reason(items[index])))
            del values[index]
            del origins[section][index]
    dropped.sort(key=lambda part: (part.line, part.path))
    return True


def _errors(text: str, base_dir: Path) -> list[Finding]:
    """Return the errors in ``text``, and rule file patterns that match no file.

    Prometheus loads nothing from such a pattern, so dropping it changes nothing, but
    ``promtool check config`` (2.42) rejects a rule file that does not exist.
    """
    report = validate_bytes(text.encode("utf-8"), _SOURCE_NAME, base_dir)
    return [finding for finding in report.findings if finding.is_error or (finding.rule == "glob-matches-nothing" and finding.path.startswith("rule_files["))]


def _reason(finding: Finding) -> str:
    return _one_line(redact_text(f"{finding.message} [{finding.rule}]"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _max_rounds(document: CommentedMap) -> int:
    items = sum(len(value) for value in document.values() if isinstance(value, list))
    return items + len(document) + 2


def _header(dropped: list[DroppedPart]) -> str:
    if not dropped:
        return ""
    lines = ["# Salvaged by promwatchd: the parts below were dropped because they fail validation."]
    lines.extend(f"# dropped {part.describe()}" for part in dropped)
    return "\n".join(lines) + "\n"


def _nothing_kept(reason: str, dropped: list[DroppedPart] | None = None) -> SalvageResult:
    parts = list(dropped or []) + [DroppedPart("", "the whole file", 0, reason)]
    return SalvageResult(_header(parts) + EMPTY_CONFIG, [], parts)


def _job_names_of(text: str) -> list[str]:
    try:
        document = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return []
    jobs = document.get("scrape_configs") if isinstance(document, dict) else None
    return [str(job.get("job_name")) for job in jobs if isinstance(job, dict)] if isinstance(jobs, list) else []
