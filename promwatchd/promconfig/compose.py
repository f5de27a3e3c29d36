"""Build YAML nodes with libyaml, resolving plain scalars as Go's yaml.v2 does.

Plain scalars resolve with YAML 1.1 rules as yaml.v2 applies them (``yes``/``on`` are
booleans, ``~`` is null), without PyYAML's sexagesimal numbers, which yaml.v2 reads as
strings. Only the first document is read, as yaml.v2's ``Unmarshal`` does.

Two composers build the same nodes. The fast one is libyaml's own composer in PyYAML's C
extension, with the resolver hooks replaced, followed by one pass over the mappings and
sequences. On a file with 5,000 scrape jobs (bench/config_validation.py, 2-core AMD EPYC)
it took 0.30 s where the event composer took 0.45 s. It handles files without merge keys,
non-specific ``!`` tags or ``\\x`` escapes that compose without error. Every other file goes
through the composer that builds nodes from libyaml's event stream in Python, which also
reports the problems: PyYAML's C composer rejects a repeated anchor, which yaml.v2 accepts.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
import re
from collections.abc import Iterator

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

try:
    _Loader = yaml.CSafeLoader
    from yaml._yaml import CParser as _CParser
except (AttributeError, ImportError):  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader
    _CParser = None

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = frozenset({"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"})
_INT = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_NUMBER_START = frozenset("0123456789+-.")


def resolve_plain(value: str) -> str:
    """Return the tag of a plain (unquoted) scalar."""
    if value in _NULLS:
        return NULL_TAG
    if value in _BOOLS:
        return BOOL_TAG
    if value[0] in _NUMBER_START:
        if _INT.fullmatch(value):
            return INT_TAG
        if _FLOAT.fullmatch(value):
            return FLOAT_TAG
    if value == "<<":
        return MERGE_TAG
    return STR_TAG


_resolve_plain_cached = functools.lru_cache(maxsize=4096)(resolve_plain)

# Upper bounds that keep hostile inputs from exhausting memory or the stack. Aliases are
# shared nodes here, so they do not count; decoding bounds alias expansion separately.
MAX_NODES = 2_000_000
MAX_DEPTH = 200

Problem = tuple[str, yaml.Node, str, str]
"""A finding of composition: rule id, node, message, fix."""


class ComposeLimitExceeded(Exception):
    """The document has more than MAX_NODES nodes or deeper nesting than MAX_DEPTH."""


def compose_first_document(text: str, lines: list[str], max_nodes: int = MAX_NODES) -> tuple[yaml.Node | None, list[Problem]]:
    """Return the root node of the first document in ``text`` (None when there is none) and its problems.

    Uses the fast composer when ``text`` qualifies (see the module docstring), else builds
    the nodes from the event stream. Both build the same nodes and problems, though the
    problems may come in another order.

    While building, each mapping is checked for duplicate keys (an error under strict
    unmarshalling), its ``<<`` merge keys are expanded, and double-quoted scalars with
    ``\\x`` escapes are decoded byte-wise as yaml.v2 does. ``lines`` is ``text`` split into lines.
    A document with more than ``max_nodes`` nodes raises ComposeLimitExceeded.
    Raises ``yaml.MarkedYAMLError`` for syntax errors and undefined aliases,
    ``yaml.reader.ReaderError`` for characters YAML does not allow, and ComposeLimitExceeded.
    """
    with cyclic_gc_paused():
        if _fast_composer_applies(text, max_nodes):
            try:
                return _compose_with_libyaml(text, max_nodes)
            except yaml.YAMLError:
                pass  # The event composer reports the problem, or accepts a repeated anchor as yaml.v2 does.
        return _compose_from_events(text, lines, max_nodes)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Turn Python's cyclic garbage collector off for the block, and back on if it was on.

    Node trees contain no reference cycles unless the YAML has recursive aliases, so the
    collector only costs time while they are built: more than half of it on large files.
    NOTE: the collector is process-wide, so a concurrent thread also runs without it meanwhile.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# Texts with these go to the event composer: merge keys (plain ``<<`` or a merge tag) and
# ``\x`` escapes, which _apply_go_byte_escapes decodes byte-wise. So does anything that may be
# the non-specific tag ``!``, because the C composer's resolver hook cannot tell it from no tag.
_EVENT_COMPOSER_MARKERS = ("<<", "merge", "\\x")
_NON_SPECIFIC_TAG = re.compile(r"!(?=[\s,\]}]|\Z)")


def _fast_composer_applies(text: str, max_nodes: int) -> bool:
    # The fast composer counts nodes only after building them all. Every node but an empty
    # value takes at least one character, so the length limit bounds the nodes it can build
    # to about twice max_nodes before the count rejects them.
    if not _C_COMPOSER_IS_BOUNDED or len(text) > 2 * max_nodes:
        return False
    # Substring tests first, because each is one fast scan and the regex is several times slower.
    if any(marker in text for marker in _EVENT_COMPOSER_MARKERS):
        return False
    return "!" not in text or _NON_SPECIFIC_TAG.search(text) is None


if _CParser is not None:

    class _FastParser(_CParser):
        """libyaml's composer with yaml.v2's scalar resolution and no path resolvers."""

        def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
            if kind is yaml.ScalarNode:
                return _resolve_plain_cached(value) if implicit[0] else STR_TAG
            return MAP_TAG if kind is yaml.MappingNode else SEQ_TAG

        # The C composer calls these two hooks for every node. Path resolvers are not used, so
        # C functions that ignore their arguments stand in, saving two Python calls per node.
        descend_resolver = staticmethod(operator.is_)
        ascend_resolver = staticmethod(tuple)


def _libyaml_limits_nesting() -> bool:
    """Return whether libyaml rejects 1,001 nested levels, which bounds the C composer's recursion.

    The C composer recurses once per level on the C stack, so without such a limit a
    deeply nested file could crash the process. libyaml 0.2.6 rejects more than 1,000 levels.
    """
    if _CParser is None:
        return False
    parser = _FastParser("[" * 1001 + "]" * 1001)
    try:
        parser.check_node()
        parser.get_node()
    except yaml.YAMLError:
        return True
    except (AttributeError, TypeError):
        return False  # A PyYAML whose C composer has other hooks: use the event composer.
    finally:
        parser.dispose()
    return False


_C_COMPOSER_IS_BOUNDED = _libyaml_limits_nesting()


def _compose_with_libyaml(text: str, max_nodes: int) -> tuple[yaml.Node | None, list[Problem]]:
    """Compose the first document with libyaml's composer, then count nodes, bound depth and find duplicate keys."""
    parser = _FastParser(text)
    try:
        root = parser.get_node() if parser.check_node() else None
    finally:
        parser.dispose()
    problems: list[Problem] = []
    if root is None or root.__class__ is yaml.ScalarNode:
        return root, problems

    # Document order, each mapping or sequence once (an alias shares its node), as the events
    # come: the depth and node count match those of the event composer. Without an anchor
    # (``&``) no node is shared, so the check for nodes already seen is skipped.
    may_share = "&" in text
    count = 1
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, int]] = [(root, 1)]
    scalar_class = yaml.ScalarNode
    mapping_class = yaml.MappingNode
    while pending:
        node, depth = pending.pop()
        if may_share:
            if id(node) in seen:
                continue
            seen.add(id(node))
        if depth > MAX_DEPTH:
            raise ComposeLimitExceeded(f"the YAML document is nested more than {MAX_DEPTH} levels deep")
        children = node.value
        depth += 1
        if node.__class__ is mapping_class:
            count += 2 * len(children)
            keys = [key.value for key, _ in children if key.__class__ is scalar_class]
            if len(set(keys)) != len(keys):
                _report_duplicate_keys(children, problems)
            for key, value in reversed(children):
                if value.__class__ is not scalar_class:
                    pending.append((value, depth))
                if key.__class__ is not scalar_class:
                    pending.append((key, depth))
        else:
            count += len(children)
            pending.extend((item, depth) for item in reversed(children) if item.__class__ is not scalar_class)
        if count > max_nodes:
            raise ComposeLimitExceeded(f"the YAML document has more than {max_nodes} nodes")
    return root, problems


def _compose_from_events(text: str, lines: list[str], max_nodes: int) -> tuple[yaml.Node | None, list[Problem]]:
    anchors: dict[str, yaml.Node] = {}
    stack: list[yaml.Node] = []
    pending_keys: list[yaml.Node | None] = []
    problems: list[Problem] = []
    root: yaml.Node | None = None
    count = 0

    for event in yaml.parse(text, Loader=_Loader):
        kind = event.__class__
        if kind is ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve_plain(event.value) if tag is None and event.implicit[0] else STR_TAG
            node: yaml.Node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if event.style == '"':
                _apply_go_byte_escapes(node, lines)
            if event.anchor is not None:
                anchors[event.anchor] = node
        elif kind is AliasEvent:
            node = anchors.get(event.anchor)
            if node is None:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            is_mapping = kind is MappingStartEvent
            tag = event.tag
            if tag is None or tag == "!":
                tag = MAP_TAG if is_mapping else SEQ_TAG
            node_class = yaml.MappingNode if is_mapping else yaml.SequenceNode
            node = node_class(tag, [], event.start_mark, event.end_mark, event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            root = _attach(node, stack, pending_keys, root)
            stack.append(node)
            pending_keys.append(None)
            if len(stack) > MAX_DEPTH:
                raise ComposeLimitExceeded(f"the YAML document is nested more than {MAX_DEPTH} levels deep")
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            finished = stack.pop()
            pending_keys.pop()
            finished.end_mark = event.end_mark
            if kind is MappingEndEvent:
                _finish_mapping(finished, problems)
            continue
        elif kind is DocumentEndEvent or kind is StreamEndEvent:
            break
        else:
            continue
        count += 1
        if count > max_nodes:
            raise ComposeLimitExceeded(f"the YAML document has more than {max_nodes} nodes")
        root = _attach(node, stack, pending_keys, root)
    return root, problems


def _attach(node: yaml.Node, stack: list[yaml.Node], pending_keys: list[yaml.Node | None], root: yaml.Node | None) -> yaml.Node | None:
    if not stack:
        return node
    parent = stack[-1]
    if parent.__class__ is yaml.SequenceNode:
        parent.value.append(node)
    elif pending_keys[-1] is None:
        pending_keys[-1] = node
    else:
        parent.value.append((pending_keys[-1], node))
        pending_keys[-1] = None
    return root


def _finish_mapping(node: yaml.MappingNode, problems: list[Problem]) -> None:
    pairs = node.value
    if any(key.tag == MERGE_TAG for key, _ in pairs):
        pairs = _expand_merges(node, problems)
    _report_duplicate_keys(pairs, problems)


def _report_duplicate_keys(pairs: list[tuple[yaml.Node, yaml.Node]], problems: list[Problem]) -> None:
    seen: dict[str, yaml.Node] = {}
    for key, _ in pairs:
        if key.__class__ is not yaml.ScalarNode:
            continue
        first = seen.get(key.value)
        if first is None:
            seen[key.value] = key
            continue
        problems.append(
            (
                "duplicate-key",
                key,
                f"field {key.value} already set in this mapping (first set at line {first.start_mark.line + 1}); strict YAML parsing rejects duplicate keys",
                f"keep one {key.value!r} key and merge the values",
            )
        )


def _expand_merges(node: yaml.MappingNode, problems: list[Problem]) -> list[tuple[yaml.Node, yaml.Node]]:
    """Replace ``<<`` entries by the keys of the mappings they name; keys set explicitly win."""
    explicit = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
    known = {k.value for k, _ in explicit if isinstance(k, yaml.ScalarNode)}
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.tag != MERGE_TAG:
            continue
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                problems.append(("yaml-syntax", key, "a merge key (<<) must refer to a mapping or a list of mappings", "point << at a mapping anchor"))
                continue
            for merged_key, merged_value in source.value:
                if isinstance(merged_key, yaml.ScalarNode) and merged_key.value not in known and merged_key.tag != MERGE_TAG:
                    known.add(merged_key.value)
                    merged.append((merged_key, merged_value))
    node.value = merged + explicit
    return explicit


_SIMPLE_ESCAPES = {
    "0": "\x00", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}


def _apply_go_byte_escapes(node: yaml.ScalarNode, lines: list[str]) -> None:
    """Decode a one-line double-quoted scalar as yaml.v2 does, where ``\\xHH`` is one byte, not a code point.

    The result may be invalid UTF-8; such bytes are kept as surrogate escapes so label
    value checks can reject them the way Prometheus does.
    """
    start, end = node.start_mark, node.end_mark
    if start.line != end.line or not 0 <= start.line < len(lines):
        return
    raw = lines[start.line][start.column : end.column]
    if "\\x" not in raw or len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return
    body = raw[1:-1]
    out = bytearray()
    i = 0
    try:
        while i < len(body):
            char = body[i]
            if char != "\\":
                out += char.encode("utf-8")
                i += 1
                continue
            code = body[i + 1]
            if code in _SIMPLE_ESCAPES:
                out += _SIMPLE_ESCAPES[code].encode("utf-8")
                i += 2
            elif code in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[code]
                value = int(body[i + 2 : i + 2 + width], 16)
                out += bytes([value]) if code == "x" else chr(value).encode("utf-8")
                i += 2 + width
            else:
                return
    except (IndexError, ValueError, OverflowError):
        return
    node.value = out.decode("utf-8", "surrogateescape")
