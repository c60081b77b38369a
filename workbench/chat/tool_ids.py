"""Canonical tool-call ids: ``functions.NAME:IDX``, the only form a Kimi prompt carries.

Kimi's format names a call ``functions.NAME:IDX`` (``<|tool_call_begin|>functions.get_weather:0``)
and the ``tool`` turn that answers it starts ``## Return of functions.NAME:IDX``. Servers have
sent other shapes: ``call_…`` (OpenAI style), ``functionsexec5`` (the separators lost), bare
numbers, nothing at all — each reported against vLLM or SGLang. Fed back into the history such
an id gives the model a turn it has never seen. :func:`canonical_id` rewrites any id into the
canonical form before it reaches the user or the history:

    >>> canonical_id("call_8f2a", "get_weather", 0)
    'functions.get_weather:0'
    >>> canonical_id("functions.get_weather:3", "get_weather", 0)   # already canonical: kept
    'functions.get_weather:3'
    >>> canonical_id("get_weather:2", "get_weather", 0)             # the prefix restored, its index kept
    'functions.get_weather:2'
"""

from __future__ import annotations

import re

_ID = re.compile(r"^(?:functions\.)?(?P<name>[^:\s]+):(?P<index>\d+)$")


def canonical_id(raw: str | None, name: str, index: int) -> str:
    """``functions.NAME:IDX`` for a call to ``name`` that was ``index``-th in its reply. An id that already
    names this function with an index keeps its index; any other id (or none) gets ``index``."""
    m = _ID.match((raw or "").strip())
    if m and m["name"] == name:
        return f"functions.{name}:{int(m['index'])}"
    return f"functions.{name}:{index}"


def is_canonical(tool_id: str) -> bool:
    """``functions.NAME:IDX`` exactly."""
    return (m := _ID.match(tool_id)) is not None and tool_id.startswith("functions.") and m["index"] == str(int(m["index"]))
