"""Backward-compatibility guard for the trade contract (its JSON Schema).

A change breaks consumers of already-published messages when it removes or renames a field,
changes a field's type or format, makes a field required, or tightens a bound. Adding an
optional field is compatible.
"""

from __future__ import annotations

from typing import Any

_TIGHTER_IF_HIGHER = ("minLength", "minimum", "exclusiveMinimum")
_TIGHTER_IF_LOWER = ("maxLength", "maximum", "exclusiveMaximum")


def _type_signature(prop: dict[str, Any]) -> tuple[Any, ...]:
    if "anyOf" in prop:
        return ("anyOf", tuple(sorted(str(_type_signature(p)) for p in prop["anyOf"])))
    return (prop.get("type"), prop.get("format"), prop.get("$ref"))


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every backward-incompatible difference from `old` to `new`; empty when compatible."""
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name, old_prop in old_props.items():
        new_prop = new_props.get(name)
        if new_prop is None:
            problems.append(f"field {name!r} was removed or renamed")
            continue
        if _type_signature(old_prop) != _type_signature(new_prop):
            problems.append(
                f"field {name!r} changed type from {_type_signature(old_prop)} to {_type_signature(new_prop)}"
            )
        for bound in _TIGHTER_IF_HIGHER:
            if bound in new_prop and new_prop[bound] > old_prop.get(bound, float("-inf")):
                problems.append(f"field {name!r} tightened {bound} to {new_prop[bound]}")
        for bound in _TIGHTER_IF_LOWER:
            if bound in new_prop and new_prop[bound] < old_prop.get(bound, float("inf")):
                problems.append(f"field {name!r} tightened {bound} to {new_prop[bound]}")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    problems.extend(f"field {name!r} is newly required" for name in sorted(newly_required))
    return problems
