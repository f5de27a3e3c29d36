"""Relabeling rules (relabel_configs, metric_relabel_configs and the like), as ``model/relabel/relabel.go`` checks them."""

from __future__ import annotations

import re

from promwatchd.promconfig.scalars import Choice, LabelName, Regex, is_valid_label_name
from promwatchd.promconfig.schema import Decoder, Int, ListOf, Obj, Scalar, Struct, go_quote

ACTIONS = ("replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase")

DEFAULTS = {"separator": ";", "regex": "(.*)", "replacement": "$1", "action": "replace", "modulus": 0, "target_label": ""}

_TEMPLATE_VARIABLE = re.compile(r"\$(?:\{\w+\}|\w+)")
# Legacy label names with ${1}-style variables, as relabelTargetLegacy in Prometheus.
_LEGACY_TARGET = re.compile(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$")


def _needs_target(action: str) -> bool:
    return action in ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")


def validation_scheme(d: Decoder) -> str:
    return d.context.get("name_validation_scheme", "utf8")


def validate_relabel(obj: Obj, d: Decoder) -> None:
    """Check one rule as ``relabel.Config.Validate`` does: required fields per action and valid label names."""
    action = obj.get("action")
    target = obj.get("target_label")
    replacement = obj.get("replacement")
    scheme = validation_scheme(d)

    if obj.has("action") and action == "":
        obj.error(d, "missing-field", "action", "relabel action cannot be empty", f"set action to one of: {', '.join(ACTIONS)}")
        return
    if action == "hashmod" and obj.get("modulus") == 0:
        obj.error(d, "missing-field", "modulus", "relabel configuration for hashmod requires non-zero modulus", "set modulus to the number of shards, such as 4")
        return
    if _needs_target(action) and target == "":
        obj.error(d, "missing-field", "target_label", f"relabel configuration for {action} action requires 'target_label' value", "add target_label with the name of the label to write")
        return

    has_variable = bool(_TEMPLATE_VARIABLE.search(target))
    if action == "replace" and not has_variable and not is_valid_label_name(target, scheme):
        _invalid_target(obj, d, target, action)
        return
    if action == "replace" and has_variable and not _valid_name_with_variables(target, scheme):
        _invalid_target(obj, d, target, action)
        return
    if action in ("lowercase", "uppercase", "keepequal", "dropequal", "hashmod") and not is_valid_label_name(target, scheme):
        _invalid_target(obj, d, target, action)
        return
    if action in ("lowercase", "uppercase", "keepequal", "dropequal") and replacement != DEFAULTS["replacement"]:
        obj.error(d, "extra-field", "replacement", f"'replacement' can not be set for {action} action", "remove replacement")
        return
    if action == "labelmap" and not _valid_name_with_variables(replacement, scheme):
        obj.error(d, "invalid-label-name", "replacement", f"{go_quote(replacement)} is invalid 'replacement' for {action} action", "use a label name, optionally with ${1}-style references to regex groups")
        return

    if action in ("keepequal", "dropequal"):
        # Prometheus compares the compiled regex by identity, so any regex written in the file counts as set.
        extra = [n for n in ("regex", "modulus", "separator", "replacement") if (obj.has(n) if n == "regex" else obj.get(n) != DEFAULTS[n])]
        if extra:
            obj.error(d, "extra-field", extra[0], f"{action} action requires only 'source_labels' and `target_label`, and no other fields", f"remove {', '.join(extra)}")
            return
    if action in ("labeldrop", "labelkeep"):
        extra = [n for n in ("source_labels", "target_label", "modulus", "separator", "replacement") if (obj.has("source_labels") if n == "source_labels" else obj.get(n) != DEFAULTS[n])]
        if extra:
            obj.error(d, "extra-field", extra[0], f"{action} action requires only 'regex', and no other fields", f"remove {', '.join(extra)}")
            return

    if action in ("keep", "drop") and not obj.has("source_labels") and obj.get("regex") != DEFAULTS["regex"]:
        obj.warn(d, "no-source-labels", None, f"this {action} rule has a regex but no source_labels, so it matches the empty string only", "add source_labels naming the labels to match")


def _valid_name_with_variables(value: str, scheme: str) -> bool:
    if scheme == "utf8":
        return is_valid_label_name(value, scheme)
    return bool(_LEGACY_TARGET.match(value))


def _invalid_target(obj: Obj, d: Decoder, target: str, action: str) -> None:
    obj.error(d, "invalid-label-name", "target_label", f"{go_quote(target)} is invalid 'target_label' for {action} action", "use a label name such as instance_role")


class _Action(Choice):
    """The action field: case-insensitive, as relabel.Action's UnmarshalYAML lowers it."""

    def __init__(self) -> None:
        super().__init__(ACTIONS, "unknown relabel action {quoted}", allow_empty=True, lower=True)


RELABEL_CONFIG = Struct(
    "relabel_config",
    {
        "source_labels": ListOf(LabelName()),
        "separator": Scalar(),
        "regex": Regex(),
        "modulus": Int(unsigned=True),
        "target_label": Scalar(),
        "replacement": Scalar(),
        "action": _Action(),
    },
    [validate_relabel],
    DEFAULTS,
)


def relabel_list(null_message: str) -> ListOf:
    """Return a list of relabel rules; a null item is an error with ``null_message``, as in Prometheus."""
    return ListOf(RELABEL_CONFIG, null_item=null_message)
