"""Metadata values as GGUF types: a ``--set`` text in a key's type, range checks, the bytes a value packs to.

    >>> parse_value("163586", "uint32")
    (163586, 'uint32')
    >>> padded_template(12, "{{ x }}")
    '{{ x }}{# #}'

Not here: deciding what a patch does (:mod:`.plan`).
"""

from __future__ import annotations

import numpy as np
from gguf import Keys

from workbench.errors import InputError

TEMPLATE_KEY = Keys.Tokenizer.CHAT_TEMPLATE
_INT_RANGES = {
    "uint8": (0, 2**8 - 1), "int8": (-(2**7), 2**7 - 1), "uint16": (0, 2**16 - 1), "int16": (-(2**15), 2**15 - 1),
    "uint32": (0, 2**32 - 1), "int32": (-(2**31), 2**31 - 1), "uint64": (0, 2**64 - 1), "int64": (-(2**63), 2**63 - 1),
}
_FLOATS = ("float32", "float64")


def parse_value(text: str, type_name: str | None):
    """A ``--set`` value in the key's type; ``type_name`` None (a new key) infers bool, int, float, str."""
    if type_name is None:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true", "bool"
        for conv in (int, float):
            try:
                value = conv(text)
            except ValueError:
                continue
            return value, new_key_type(value)
        return text, "string"
    if type_name == "bool":
        if text.lower() not in ("true", "false", "1", "0"):
            raise InputError(f"expected true or false for a bool key, got {text!r}")
        return text.lower() in ("true", "1"), type_name
    if type_name in _INT_RANGES:
        try:
            return int(text, 0), type_name
        except ValueError:
            raise InputError(f"expected an integer for a {type_name} key, got {text!r}") from None
    if type_name in _FLOATS:
        try:
            return float(text), type_name
        except ValueError:
            raise InputError(f"expected a number for a {type_name} key, got {text!r}") from None
    if type_name == "string":
        return text, type_name
    raise InputError(f"cannot set a {type_name} key from the command line; arrays are changed through the API")


def check_fits(key: str, value, type_name: str) -> None:
    if type_name in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{key} is {type_name}; {value!r} is not an integer")
        lo, hi = _INT_RANGES[type_name]
        if not lo <= value <= hi:
            raise InputError(f"{key} is {type_name}; {value} does not fit ({lo}..{hi})")
    elif type_name == "bool" and not isinstance(value, bool):
        raise InputError(f"{key} is bool; {value!r} is not true/false")
    elif type_name in _FLOATS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InputError(f"{key} is {type_name}; {value!r} is not a number")
    elif type_name == "string" and not isinstance(value, str):
        raise InputError(f"{key} is a string; {value!r} is not")


def pack(dtype, value) -> bytes:
    """``value`` as one little-endian item of ``dtype``: ``(<u4, 7) -> b"\\x07\\0\\0\\0"``."""
    return np.array([value], dtype=dtype).tobytes()


def value_type(gguf, name: str):
    return gguf.GGUFValueType[name.upper()]


def new_key_type(value) -> str | None:
    """The GGUF type a new key gets from its Python value (as ``parse_value`` infers it from text)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32" if value < 0 else "uint32"
    return {float: "float32", str: "string"}.get(type(value))


def padded_template(old_len: int, new: str) -> str | None:
    """``new`` padded with a Jinja comment to exactly ``old_len`` UTF-8 bytes, or None when it cannot be."""
    gap = old_len - len(new.encode("utf-8"))
    if gap < 4:
        return None
    return new + "{#" + " " * (gap - 4) + "#}"


def is_padded(held: object, template: str) -> bool:
    """``held`` is ``template`` itself, or ``template`` padded with a Jinja comment as :func:`padded_template`
    pads it: ``("ab{#  #}", "ab") -> True``."""
    if not isinstance(held, str):
        return False
    rest = held[len(template):] if held.startswith(template) else None
    return rest == "" or (rest is not None and rest.startswith("{#") and rest.endswith("#}"))


def parse_assignments(items: list[str], types: dict[str, str]) -> dict[str, object]:
    """``["KEY=VALUE", …]`` (``--set``) as values in each key's GGUF type (``types``: key -> type name;
    a key not in it is new, its type inferred): ``(["general.name=x"], {"general.name": "string"}) -> {"general.name": "x"}``."""
    values: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        values[key], _ = parse_value(text, types.get(key))
    return values
