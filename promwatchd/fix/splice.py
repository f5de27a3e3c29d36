"""Keep the user's own formatting outside the regions a correction changed.

ruamel.yaml writes the whole file in one indentation style, so a file that mixes styles
comes back with unrelated lines re-indented. Three texts take part: ``original`` (the
user's text), ``baseline`` (ruamel's dump of it without changes) and ``fixed`` (ruamel's
dump with the corrections). The lines where baseline and fixed differ are the
corrections. They are taken from ``fixed``, together with the whole region of the
original that ruamel reformatted around them, and every other line comes from the
original unchanged. This is a three-way merge by lines, with the baseline as the base.
"""

from __future__ import annotations

from difflib import SequenceMatcher


def splice(original: str, baseline: str, fixed: str) -> str:
    """Return ``original`` with the changes from ``baseline`` to ``fixed`` applied in ruamel's formatting."""
    if baseline == original:
        return fixed
    base_lines = baseline.splitlines(keepends=True)
    original_lines = original.splitlines(keepends=True)
    fixed_lines = fixed.splitlines(keepends=True)

    # Lines are matched with their spaces collapsed, so a line that ruamel only re-indented
    # or re-spaced before a comment still maps to its original, which is then kept as is.
    to_original = SequenceMatcher(None, [" ".join(line.split()) for line in base_lines], [" ".join(line.split()) for line in original_lines], autojunk=False).get_opcodes()
    to_fixed = SequenceMatcher(None, base_lines, fixed_lines, autojunk=False).get_opcodes()

    # Baseline line ranges that a correction changed, widened to whole reformatted blocks.
    dirty = _widen([(i1, i2) for tag, i1, i2, _, _ in to_fixed if tag != "equal"], to_original)
    shifts_before = _indent_shifts(to_original, base_lines, original_lines)
    shifts_after = _indent_shifts(_reversed_opcodes(to_original, len(base_lines), len(original_lines)), base_lines[::-1], original_lines[::-1])[::-1]

    total = len(base_lines)
    output: list[str] = []
    position = 0
    for start, end in dirty:
        output += _map_range(to_original, position, start, original_lines, total)
        changed = _map_range(to_fixed, start, end, fixed_lines, total)
        output += [_shift(line, shifts_before[start], shifts_after[end]) for line in changed]
        position = end
    output += _map_range(to_original, position, total, original_lines, total)
    return "".join(output)


Shifts = dict[tuple[int, bool], int]


def _indent_shifts(to_original: list[tuple[str, int, int, int, int]], base_lines: list[str], original_lines: list[str]) -> list[Shifts]:
    """Return, for each baseline line, the indentation changes seen so far.

    A change is keyed by the baseline line's indentation and whether it starts a list
    item, because ruamel indents list dashes and mapping keys by separate settings.
    """
    shifts: list[Shifts] = []
    seen: Shifts = {}
    for tag, i1, i2, j1, _ in to_original:
        for offset in range(i2 - i1):
            if tag == "equal":
                line = base_lines[i1 + offset]
                seen = {**seen, _shape(line): _indent(original_lines[j1 + offset]) - _indent(line)}
            shifts.append(seen)
    shifts.append(seen)
    return shifts


def _reversed_opcodes(opcodes: list[tuple[str, int, int, int, int]], base_count: int, other_count: int) -> list[tuple[str, int, int, int, int]]:
    """Return the opcodes of the same comparison with both sequences reversed."""
    return [(tag, base_count - i2, base_count - i1, other_count - j2, other_count - j1) for tag, i1, i2, j1, j2 in reversed(opcodes)]


def _shift(line: str, before: Shifts, after: Shifts) -> str:
    """Re-indent a line that ruamel wrote by the change seen for its shape nearest before it, else after it."""
    shape = _shape(line)
    delta = before.get(shape, after.get(shape))
    if not line.strip() or delta is None:
        return line
    indent = shape[0]
    return " " * max(0, indent + delta) + line[indent:]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _shape(line: str) -> tuple[int, bool]:
    return _indent(line), line.lstrip(" ").startswith("- ")


def _widen(ranges: list[tuple[int, int]], to_original: list[tuple[str, int, int, int, int]]) -> list[tuple[int, int]]:
    """Return the ranges grown to cover every non-equal block of ``to_original`` they touch, merged and sorted."""
    widened = []
    for start, end in ranges:
        for tag, i1, i2, _, _ in to_original:
            if tag != "equal" and i1 <= max(end, start + 1) - 1 and start <= max(i2, i1 + 1) - 1:
                start, end = min(start, i1), max(end, i2)
        widened.append((start, end))

    merged: list[tuple[int, int]] = []
    for start, end in sorted(widened):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _map_range(opcodes: list[tuple[str, int, int, int, int]], start: int, end: int, target: list[str], total: int) -> list[str]:
    """Return the lines of ``target`` that correspond to baseline lines ``start:end`` of ``total``.

    Equal blocks map line by line. A non-equal block maps as a whole, so it is taken only
    when the range covers it entirely. An insertion belongs to the range that starts at
    its position, and an insertion at the end of the file to the range that ends there.
    """
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            low, high = max(i1, start), min(i2, end)
            if low < high:
                lines += target[j1 + (low - i1) : j1 + (high - i1)]
        elif tag == "insert":
            if start <= i1 < end or i1 == start == end or i1 == end == total:
                lines += target[j1:j2]
        elif start <= i1 and i2 <= end:
            lines += target[j1:j2]
    return lines
