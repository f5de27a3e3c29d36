"""A declarative schema language for Prometheus's configuration, with strict decoding.

Each ``Type`` decodes a YAML node the way Go's yaml.v2 fills the matching Go type:
a string field takes any scalar, a list field needs a sequence, a struct needs a
mapping and rejects unknown keys. Type errors become findings with the field path and
position. A ``Struct`` runs its validators right after its fields are decoded, as
Prometheus's ``UnmarshalYAML`` methods do, unless one of its own fields had a type error.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import re
from collections.abc import Callable
from typing import Any

import yaml

from promwatchd.promconfig.credentials import is_credential_path
from promwatchd.promconfig.findings import ERROR, WARNING, Finding
from promwatchd.promconfig.yamlsource import excerpt, invisible_chars

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BINARY_TAG = "tag:yaml.org,2002:binary"

# Bound on decoded nodes, counting every alias expansion, so alias bombs end in a finding.
MAX_DECODED_NODES = 5_000_000


class Invalid:
    """Marker for a value that failed to decode; a finding was already reported.

    ``INVALID`` is the only instance, and the decoders test for it by identity.
    """

    def __repr__(self) -> str:
        return "INVALID"


INVALID = Invalid()


class DecodeLimitExceeded(Exception):
    """Raised inside decoding when the node budget runs out; caught by the validator."""


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def go_quote(text: str) -> str:
    """Return ``text`` quoted like Go's ``%q``: invalid UTF-8 bytes as ``\\xHH``, control characters escaped."""
    out = ['"']
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


class Decoder:
    """Decoding state for one file: where findings go and the stack of structs being decoded."""

    def __init__(self, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines
        self.findings: list[Finding] = []
        self.struct_stack: list[tuple[Struct, str]] = []
        self.budget = MAX_DECODED_NODES
        self.context: dict[str, Any] = {}

    def report(self, severity: str, rule: str, node: yaml.Node | None, path: str, message: str, fix: str = "", show_source: bool = False) -> None:
        line = column = 0
        snippet = ""
        if node is not None:
            line = node.start_mark.line + 1
            column = node.start_mark.column + 1
            if show_source:
                snippet = excerpt(self.lines, line - 1, column - 1)
        self.findings.append(Finding(severity, rule, self.filename, line, column, path, message, fix, snippet))

    def error(self, rule: str, node: yaml.Node | None, path: str, message: str, fix: str = "", show_source: bool = False) -> None:
        self.report(ERROR, rule, node, path, message, fix, show_source)

    def warn(self, rule: str, node: yaml.Node | None, path: str, message: str, fix: str = "") -> None:
        self.report(WARNING, rule, node, path, message, fix)

    def spend(self, nodes: int = 1) -> None:
        """Count ``nodes`` decoded nodes against the budget. Raises DecodeLimitExceeded when it runs out."""
        self.budget -= nodes
        if self.budget < 0:
            raise DecodeLimitExceeded


def scalar_text(node: yaml.ScalarNode) -> str | None:
    """Return a scalar's text, base64-decoded for ``!!binary`` (as yaml.v2 does); None for invalid base64."""
    if node.tag != BINARY_TAG:
        return node.value
    try:
        return base64.b64decode("".join(node.value.split()), validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return None


def describe_node(node: yaml.Node, secret: bool = False) -> str:
    """Return what a node contains in words: ``a list``, ``a mapping`` or ``the string "x"``."""
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if secret:
        return "a scalar"
    kind = {INT_TAG: "the number", FLOAT_TAG: "the number", BOOL_TAG: "the boolean", NULL_TAG: "null"}.get(node.tag, "the string")
    if node.tag == NULL_TAG:
        return "null"
    value = node.value if len(node.value) <= 60 else node.value[:57] + "..."
    hidden = invisible_chars(node.value)
    suffix = f" (it contains {', '.join(hidden)})" if hidden else ""
    return f"{kind} {go_quote(value)}{suffix}"


class Type:
    """Base class: ``label`` names the expected type in messages; ``zero`` is Go's zero value."""

    label = "a value"
    zero: Any = None
    secret = False

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        raise NotImplementedError

    def type_error(self, node: yaml.Node, d: Decoder, path: str, fix: str = "") -> Invalid:
        # A value under a key that names a credential, such as params.token, is not shown either.
        secret = self.secret or is_credential_path(re.split(r"[.\[\]]+", path))
        d.error("wrong-type", node, path, f"expected {self.label}, got {describe_node(node, secret)}", fix or f"write {self.label} here")
        return INVALID


class Scalar(Type):
    """Any YAML scalar read as text, as yaml.v2 fills a Go string. ``check`` returns an error message or None."""

    label = "a string"
    zero = ""

    def __init__(self, secret: bool = False, check: Callable[[str], str | None] | None = None, rule: str = "invalid-value", fix: str = "") -> None:
        self.secret = secret
        self.check = check
        self.rule = rule
        self.fix = fix

    def text(self, node: yaml.Node, d: Decoder, path: str) -> str | Invalid:
        if not isinstance(node, yaml.ScalarNode):
            return self.type_error(node, d, path)
        text = scalar_text(node)
        if text is None:
            d.error("invalid-value", node, path, "!!binary value contains invalid base64 data", "write valid base64 after !!binary, or remove the tag")
            return INVALID
        return text

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if node.__class__ is yaml.ScalarNode and node.tag != BINARY_TAG:
            text = node.value
        else:
            text = self.text(node, d, path)
            if text is INVALID:
                return text
        if self.check is not None:
            problem = self.check(text)
            if problem is not None:
                d.error(self.rule, node, path, problem, self.fix)
                return INVALID
        return self.convert(text, node, d, path)

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        return text


class Bool(Type):
    label = "a boolean (true or false)"
    zero = False

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL_TAG:
            return self.type_error(node, d, path, "write true or false")
        return node.value.lower() in ("true", "yes", "on", "y")


class Int(Type):
    """An integer; ``unsigned`` rejects negative numbers as Go's uint does."""

    zero = 0

    def __init__(self, unsigned: bool = False) -> None:
        self.unsigned = unsigned
        self.label = "a non-negative integer" if unsigned else "an integer"

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (INT_TAG, FLOAT_TAG):
            return self.type_error(node, d, path)
        value = _number(node)
        if value is None or value != value or value in (float("inf"), float("-inf")):
            return self.type_error(node, d, path)
        if self.unsigned and value < 0:
            return self.type_error(node, d, path)
        return int(value)


class Float(Type):
    label = "a number"
    zero = 0.0

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (INT_TAG, FLOAT_TAG):
            return self.type_error(node, d, path)
        value = _number(node)
        if value is None:
            return self.type_error(node, d, path)
        return float(value)


def _number(node: yaml.ScalarNode) -> float | int | None:
    try:
        if node.tag == INT_TAG:
            return yaml.SafeLoader.construct_yaml_int(_CONSTRUCTOR, node)
        return yaml.SafeLoader.construct_yaml_float(_CONSTRUCTOR, node)
    except (ValueError, TypeError, OverflowError):
        return None


_CONSTRUCTOR = yaml.SafeLoader("")


class ListOf(Type):
    """A YAML sequence; ``null_item`` is the error message for a null item (Go's nil pointer), if any."""

    zero: Any = ()

    def __init__(self, item: Type, null_item: str | None = None, null_rule: str = "empty-section", first_index_key: str | None = None) -> None:
        self.item = item
        self.null_item = null_item
        self.null_rule = null_rule
        # The d.context key that contains the index of the first item, when the list is part of a longer one.
        self.first_index_key = first_index_key
        # A list of secrets is described without its value in type errors.
        self.secret = item.secret
        self.label = "a list of strings" if isinstance(item, Scalar) else f"a list of {getattr(item, 'name', 'items')} entries"

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return self.type_error(node, d, path, self._fix(node, path))
        d.spend(len(node.value))
        item_decode = self.item.decode
        first_index = d.context.get(self.first_index_key, 0) if self.first_index_key else 0
        values = []
        for index, item_node in enumerate(node.value, first_index):
            item_path = f"{path}[{index}]"
            if item_node.tag == NULL_TAG and item_node.__class__ is yaml.ScalarNode:
                if self.null_item is not None:
                    d.error(self.null_rule, item_node, item_path, self.null_item, "remove the empty list item or fill it in")
                    values.append(INVALID)
                else:
                    values.append(self.item.zero)
                continue
            values.append(item_decode(item_node, d, item_path))
        # A list with an undecodable item is itself invalid, so the enclosing struct skips its checks.
        return INVALID if INVALID in values else values

    def _fix(self, node: yaml.Node, path: str) -> str:
        if isinstance(node, yaml.ScalarNode) and isinstance(self.item, Scalar):
            if self.item.secret or is_credential_path(re.split(r"[.\[\]]+", path)):
                return "wrap the value in a list: [VALUE]"
            return f"wrap the value in a list: [{_flow_scalar(node.value)}]; quoting alone does not make a list"
        if isinstance(node, yaml.MappingNode):
            dashed = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value.startswith("-")]
            if dashed:
                return f"add a space after the dash: '- {dashed[0][1:]}' starts a list item, '{dashed[0]}' is a key"
            return "make the mapping a list item: put '- ' before its first key and indent the other keys to match"
        return f"write {self.label} here"


_PLAIN_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_PLAIN_SPECIAL = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}


def _flow_scalar(value: str) -> str:
    """Return ``value`` as it reads back as a string inside a YAML flow list: plain when safe, else single-quoted."""
    if _PLAIN_SAFE.fullmatch(value) and value.lower() not in _PLAIN_SPECIAL:
        return value
    return "'" + value.replace("'", "''") + "'"


class MapOf(Type):
    """A YAML mapping with string keys; ``key_check`` returns an error message for a bad key, or None."""

    label = "a mapping"
    zero: Any = None

    def __init__(self, value: Type, key_check: Callable[[str], str | None] | None = None, key_rule: str = "invalid-label-name") -> None:
        self.value = value
        self.key_check = key_check
        self.key_rule = key_rule

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.type_error(node, d, path)
        result: dict[str, Any] = {}
        ok = True
        d.spend(len(node.value))
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                d.error("wrong-type", key_node, path, f"keys of {path} must be strings, got {describe_node(key_node)}", "use a plain string key")
                ok = False
                continue
            key = scalar_text(key_node)
            if key is None:
                d.error("invalid-value", key_node, path, "!!binary value contains invalid base64 data", "write valid base64 after !!binary, or remove the tag")
                ok = False
                continue
            item_path = join_path(path, key)
            if self.key_check is not None:
                problem = self.key_check(key)
                if problem is not None:
                    d.error(self.key_rule, key_node, item_path, problem)
                    ok = False
                    continue
            if is_null(value_node):
                result[key] = self.value.zero
                continue
            value = self.value.decode(value_node, d, item_path)
            ok = ok and not isinstance(value, Invalid)
            result[key] = value
        return result if ok else INVALID


Validator = Callable[["Obj", Decoder], None]

# Keys that users write in the wrong place or under another name, with the fix, by struct name.
_KNOWN_MISPLACED = {
    "config": {
        "rules": "did you mean rule_files? It lists the rule files to load, such as rule_files: [rules/*.yml]",
        "alertmanagers": "move alertmanagers under alerting: write alerting:, then alertmanagers: indented below it",
        "scrape_config": "did you mean scrape_configs?",
        "remote_writes": "did you mean remote_write?",
    },
}

# A key and value written without the space after the colon, such as "scrape_interval:15s".
_GLUED_KEY = re.compile(r"^([A-Za-z_][\w-]*):(\S.*)$")


class Struct(Type):
    """A Go struct: known fields only, then ``validators`` in order; ``defaults`` are Go's defaults."""

    zero: Any = None

    def __init__(self, name: str, fields: dict[str, Type], validators: list[Validator] | None = None, defaults: dict[str, Any] | None = None) -> None:
        self.name = name
        self.fields = fields
        self.validators = validators or []
        self.defaults = defaults or {}
        self.label = f"a mapping ({name})"
        # What Obj.get returns for an absent field: its default, else Go's zero value.
        self.absent_values = {**{field: field_type.zero for field, field_type in fields.items()}, **self.defaults}

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.type_error(node, d, path, self._fix(node))
        obj = Obj(self, node, path)
        d.spend(len(node.value))
        d.struct_stack.append((self, path))
        try:
            self._decode_fields(obj, node.value, d)
        finally:
            d.struct_stack.pop()
        if obj.ok:
            for validator in self.validators:
                validator(obj, d)
        return obj

    def _fix(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.SequenceNode):
            return f"write a single mapping of {self.name} fields here, not a list"
        glued = _GLUED_KEY.match(node.value) if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) else None
        if glued and glued.group(1) in self.fields:
            return f"add a space after the colon: '{glued.group(1)}: {glued.group(2)}' is a field, '{glued.group(1)}:{glued.group(2)}' is one string"
        return f"write a mapping of {self.name} fields here"

    def _decode_fields(self, obj: Obj, pairs: list[tuple[yaml.Node, yaml.Node]], d: Decoder) -> None:
        # One loop with local names, because this runs for every field of every struct in the file.
        fields = self.fields
        values = obj.values
        path = obj.path
        for key_node, value_node in pairs:
            if key_node.__class__ is not yaml.ScalarNode:
                d.error("wrong-type", key_node, path, f"keys of {path or 'the document'} must be field names, got {describe_node(key_node)}", "use a field name as the key")
                continue
            key = key_node.value
            field_type = fields.get(key)
            if field_type is None:
                self._unknown_field(key, key_node, path, d)
                continue
            obj.key_nodes[key] = key_node
            obj.nodes[key] = value_node
            if value_node.tag == NULL_TAG and value_node.__class__ is yaml.ScalarNode:
                # yaml.v2 sets a field to its zero value on null, replacing any default; a nil pointer,
                # slice or map counts as absent.
                if isinstance(field_type, (Struct, ListOf, MapOf)):
                    values.pop(key, None)
                else:
                    values[key] = field_type.zero
                continue
            value = field_type.decode(value_node, d, f"{path}.{key}" if path else key)
            values[key] = value
            if value is INVALID:
                obj.ok = False

    def _unknown_field(self, key: str, key_node: yaml.Node, path: str, d: Decoder) -> None:
        field_path = join_path(path, key)
        message = f"field {key} not found in type {self.name}"
        fix = ""
        hidden = invisible_chars(key)
        if hidden:
            message = f"field {go_quote(key)} not found in type {self.name}: the key contains {', '.join(hidden)}"
            fix = "retype the key with plain spaces and characters"
        for ancestor, ancestor_path in reversed(d.struct_stack[:-1]):
            if key in ancestor.fields:
                where = ancestor_path or "the top level"
                fix = f"move {key} to the {ancestor.name} at {where}: it is a {ancestor.name} field, not a {self.name} field"
                break
        if not fix and key in _KNOWN_MISPLACED.get(self.name, {}):
            fix = _KNOWN_MISPLACED[self.name][key]
        if not fix:
            close = difflib.get_close_matches(key, list(self.fields), n=1, cutoff=0.75)
            if close:
                fix = f"did you mean {close[0]}?"
            elif len(self.fields) <= 10:
                fix = f"remove it; {self.name} accepts: {', '.join(sorted(self.fields))}"
            else:
                fix = f"remove it or check its spelling against the {self.name} documentation"
        d.error("unknown-field", key_node, field_path, message, fix, show_source=bool(hidden))


class Obj:
    """A decoded struct: field values, their nodes for positions, and the struct's path."""

    __slots__ = ("schema", "node", "path", "values", "nodes", "key_nodes", "ok")

    def __init__(self, schema: Struct, node: yaml.Node, path: str) -> None:
        self.schema = schema
        self.node = node
        self.path = path
        self.values: dict[str, Any] = {}
        self.nodes: dict[str, yaml.Node] = {}
        self.key_nodes: dict[str, yaml.Node] = {}
        self.ok = True

    def has(self, name: str) -> bool:
        """Return whether the field is in the file; a struct, list or map field must also be non-null."""
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        """Return the field's value, else the struct's default, else ``default``, else Go's zero value."""
        value = self.values.get(name, INVALID)
        if value is not INVALID:
            return value
        schema = self.schema
        if default is not None and name not in schema.defaults:
            return default
        return schema.absent_values.get(name)

    def node_of(self, name: str) -> yaml.Node:
        """Return the value node of a field, or the struct's own node when the field is absent."""
        return self.nodes.get(name, self.node)

    def path_of(self, name: str) -> str:
        return join_path(self.path, name)

    def error(self, d: Decoder, rule: str, name: str | None, message: str, fix: str = "") -> None:
        """Report an error on field ``name``, at the struct's position when the field is absent, or on the struct when None."""
        d.error(rule, self.node_of(name) if name else self.node, self.path_of(name) if name else self.path, message, fix)

    def warn(self, d: Decoder, rule: str, name: str | None, message: str, fix: str = "") -> None:
        d.warn(rule, self.node_of(name) if name else self.node, self.path_of(name) if name else self.path, message, fix)


def source_excerpt(d: Decoder, node: yaml.Node) -> str:
    return excerpt(d.lines, node.start_mark.line, node.start_mark.column)
