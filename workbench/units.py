"""Sizes in bytes: read from what people type (``24GiB``, ``256 GB``) and shown back (``1.56 MiB``)."""

from __future__ import annotations

import re

from workbench.errors import InputError

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 10**3, "KIB": 2**10, "M": 2**20, "MB": 10**6, "MIB": 2**20,
          "G": 2**30, "GB": 10**9, "GIB": 2**30, "T": 2**40, "TB": 10**12, "TIB": 2**40}


def parse_size(text: str | int | float) -> int:
    """``"24GiB"`` / ``"256 GB"`` / ``1e9`` -> bytes."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text)
    if not m or m[2].upper() not in _UNITS:
        raise InputError(f"cannot read size {text!r}; write e.g. 24GiB, 256GB or 80G")
    return int(float(m[1]) * _UNITS[m[2].upper()])


def format_size(n: float) -> str:
    """``1639264 -> '1.56 MiB'``: GiB from 1 GiB, MiB from 1 MiB, bytes below."""
    return f"{n / 2**30:,.2f} GiB" if n >= 2**30 else f"{n / 2**20:,.2f} MiB" if n >= 2**20 else f"{n:,} B"
