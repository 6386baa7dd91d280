"""Item expansion: `[items]` (cross product) and `[itemstable]` (columns) into item dicts.

An item is an ordered dict `variable -> value`; its itempath is the values joined
by `/`. Item values become directory names under the run directory and are
exported into the test's shell environment, so `check_item_value` refuses any
value that could escape the directory or be misread by a shell.
"""
from itertools import product

from megatest.errors import MtError

__all__ = ["expand_items", "item_path", "item_info", "check_item_value", "TABLE_FILLER"]

TABLE_FILLER = "-"  # the value of a missing cell in [itemstable]

_UNSAFE_CHARS = frozenset(" ;&|<>$`'\"\\()*?[]{}!#~")


def _split(values_text):
    return (values_text or "").split()


def _pairs(section):
    if isinstance(section, dict):
        return list(section.items())
    return list(section or ())


def _cross_product(pairs):
    names = [name for name, _ in pairs]
    columns = [_split(text) for _, text in pairs]
    return [dict(zip(names, combo)) for combo in product(*columns)]


def _table_columns(pairs):
    rows = [(name, _split(text)) for name, text in pairs]
    width = max((len(values) for _, values in rows), default=0)
    return [
        {name: values[k] if k < len(values) else TABLE_FILLER for name, values in rows}
        for k in range(width)
    ]


def expand_items(items, itemstable, warn=None, check=False):
    """Expand the two sections into a list of item dicts.

    ITEMS and ITEMSTABLE are ordered lists of (variable, values_text) pairs.
    Returns None when both are empty or absent (the test is not iterated), []
    when a variable has no values (zero items), else `[items]`' cross product
    (first variable outermost) followed by `[itemstable]`'s columns.
    A repeated itempath keeps its first item; WARN(message) is called for the
    others. With CHECK, every value goes through `check_item_value` here;
    otherwise the caller checks (and can add the test name and config line).
    """
    items = _pairs(items)
    itemstable = _pairs(itemstable)
    if not items and not itemstable:
        return None
    expanded = (_cross_product(items) if items else []) + _table_columns(itemstable)
    result, seen = [], set()
    for item in expanded:
        path = item_path(item)
        if path in seen:
            if warn is not None:
                warn(f"duplicate item {path!r}; only the first is kept")
            continue
        seen.add(path)
        if check:
            for var, value in item.items():
                check_item_value(var, value)
        result.append(item)
    return result


def item_path(item):
    """The itempath of an item: its values joined by `/` in variable order."""
    return "/".join(item.values()) if item else ""


def item_info(item):
    """Megatest's MT_ITEM_INFO text, e.g. `((A 1) (B x))`."""
    return "(" + " ".join(f"({var} {value})" for var, value in (item or {}).items()) + ")"


def _unsafe_reason(value):
    if value.startswith("/"):
        return "starts with '/'"
    for ch in value:
        if ord(ch) < 32 or ord(ch) == 127:
            return "contains a control character"
        if ch in _UNSAFE_CHARS or ch.isspace():
            return f"contains {ch!r}"
    for component in value.split("/"):
        if component == "":
            return "has an empty path component"
        if component in (".", ".."):
            return f"has a path component {component!r}"
    return None


def check_item_value(var, value):
    """Raise MtError if VALUE is not safe as a directory name and a shell word.

    A `/` inside a value is allowed (Megatest documents `blah/3`): it only adds
    a directory level, and empty, `.` and `..` components are refused.
    """
    reason = _unsafe_reason(value) if value else "is empty"
    if reason:
        raise MtError(
            f"item variable {var}: unsafe value {value!r}: {reason}",
            hint="item values become directory names; use letters, digits and . _ - + = , : @ /",
        )
