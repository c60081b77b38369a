"""Tool calling end to end: the loop the Kimi K2 model card shows, with only your callables run.

:class:`Toolbox` holds the callables a user registers (``{name: callable}``) and their
declarations: given, or built from the signature and docstring (:func:`tool_schema`: type
hints to JSON Schema, defaults, ``Literal`` as enums, the docstring's first paragraph as the
description and its ``Args:`` lines as the parameters' descriptions).

:func:`run_tools` (also :meth:`LocalChat.run_tools <workbench.run.chat.LocalChat.run_tools>` and
:meth:`RemoteChat.run_tools <workbench.run.remote.RemoteChat.run_tools>`) sends the conversation
with the declarations, runs each call the model makes with its parsed arguments, appends the
assistant turn and one ``tool`` message per call (carrying the call's canonical id,
``functions.NAME:IDX``), and repeats until the model answers without calling or ``max_steps``
replies were made. Nothing but a registered callable ever runs: an unknown name, arguments that
are not a JSON object, arguments the callable does not take, or an exception inside it become
a tool message saying so (``{"error": "…"}``), which the model reads on its next turn; nothing
is ``eval``-ed.

    >>> from typing import Literal
    >>> def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    ...     '''Current weather for a city.
    ...
    ...     Args:
    ...         city: the city name, e.g. Paris
    ...     '''
    ...     return f"18 {unit} in {city}"
    >>> tool_schema(get_weather)["function"]["parameters"]["required"]
    ['city']
    >>> run = chat.run_tools([{"role": "user", "content": "Weather in Paris?"}], {"get_weather": get_weather})  # doctest: +SKIP
    >>> run.reply.answer, [m["role"] for m in run.messages]                          # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from workbench.chat.tool_ids import canonical_id
from workbench.errors import InputError

#: longest tool result kept in the conversation (characters); longer ones are cut and say so
MAX_RESULT_CHARS = 32_000
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _type_schema(hint) -> dict:
    """JSON Schema for one type hint (unknown hints: any)."""
    if hint is inspect.Parameter.empty or hint is typing.Any:
        return {}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a) for a in args]
        return {"anyOf": options} if all(options) else {}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set):
        return {"type": "array", **({"items": _type_schema(args[0])} if args and args[0] is not Ellipsis else {})}
    if origin is dict or hint is dict:
        return {"type": "object"}
    return {}


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph, and ``name -> description`` from its ``Args:`` section."""
    doc = inspect.cleandoc(doc or "")
    description = doc.split("\n\n", 1)[0].strip()
    params: dict[str, str] = {}
    lines = doc.splitlines()
    if "Args:" in [line.strip() for line in lines]:
        start = [line.strip() for line in lines].index("Args:") + 1
        current = None
        for line in lines[start:]:
            if not line.strip():
                current = None
                continue
            if not line.startswith((" ", "\t")):
                break
            m = _ARG_LINE.match(line)
            if m and (line.startswith("    ") and not line.startswith("        ") or current is None):
                current = m[1].lstrip("*")
                params[current] = m[2].strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
    return description, params


def tool_schema(fn: Callable, *, name: str | None = None) -> dict:
    """An OpenAI-style tool declaration for ``fn``, from its signature and docstring."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name or getattr(fn, '__name__', fn)!r}: cannot read its signature ({e}); "
                         "give its schema") from None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # hints that do not resolve: the annotations as written
        hints = {}
    description, docs = _doc_parts(fn.__doc__ or "")
    props, required = {}, []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        schema = _type_schema(hints.get(p.name, p.annotation))
        if p.name in docs:
            schema["description"] = docs[p.name]
        if p.default is p.empty:
            required.append(p.name)
        elif isinstance(p.default, (str, int, float, bool, list, dict)) or p.default is None:
            schema["default"] = p.default
        props[p.name] = schema
    function = {"name": name or fn.__name__, "parameters": {"type": "object", "properties": props, "required": required}}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


@dataclass
class Toolbox:
    """The callables the model may call, by name, and their declarations."""

    functions: dict[str, Callable]
    declarations: list[dict]

    @classmethod
    def of(cls, tools: dict[str, Callable] | Iterable[Callable] | Toolbox,
           schemas: dict[str, dict] | None = None) -> Toolbox:
        """From ``{name: callable}`` or callables (named by ``__name__``); ``schemas`` replace built ones by name."""
        if isinstance(tools, Toolbox):
            return tools
        named = dict(tools) if isinstance(tools, dict) else {getattr(f, "__name__", str(f)): f for f in tools}
        if not named:
            raise InputError("no tools given")
        for n, f in named.items():
            if not callable(f):
                raise InputError(f"tool {n!r} is a {type(f).__name__}, not a callable")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", n):
                raise InputError(f"tool name {n!r}: letters, digits, _ and - only (a Kimi call id is functions.NAME:IDX)")
        schemas = schemas or {}
        return cls(named, [schemas.get(n) or tool_schema(f, name=n) for n, f in named.items()])

    def call(self, call: dict) -> dict:
        """Run one parsed tool call; the ``tool`` message that answers it (an error message when it cannot run)."""
        fn_part = call.get("function") or {}
        name = str(fn_part.get("name", ""))
        tool_id = canonical_id(call.get("id"), name, int(call.get("index") or 0))
        result = self._result(name, fn_part.get("arguments"), call.get("error"))
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
        if len(text) > MAX_RESULT_CHARS:
            text = text[:MAX_RESULT_CHARS] + f"… [cut: {len(text):,} characters]"
        return {"role": "tool", "tool_call_id": tool_id, "name": name, "content": text}

    def _result(self, name: str, arguments, error: str | None):
        fn = self.functions.get(name)
        if fn is None:
            return {"error": f"no tool named {name!r}; tools: {', '.join(self.functions)}"}
        if error:
            return {"error": error}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError as e:
                return {"error": f"arguments are not JSON ({e.msg} at character {e.pos})"}
        if not isinstance(arguments, dict):
            return {"error": f"arguments must be a JSON object, got {type(arguments).__name__}"}
        try:
            inspect.signature(fn).bind(**arguments)
        except TypeError as e:
            return {"error": f"bad arguments for {name}: {e}"}
        except ValueError:
            pass  # no signature to check against (a builtin): let the call say
        try:
            return fn(**arguments)
        except Exception as e:  # the tool's own failure is the model's to read, not the loop's
            return {"error": f"{name} raised {type(e).__name__}: {e}"}


@dataclass
class ToolRun:
    """What a tool loop did: every message it added, the calls and their results, the last reply."""

    messages: list[dict]
    reply: object  # the final Reply
    steps: int
    calls: list[tuple[dict, dict]] = field(default_factory=list)  # (call, tool message)
    finished: bool = True  # False: max_steps replies were made and the last one still called tools

    def to_dict(self) -> dict:
        return {"answer": self.reply.answer, "steps": self.steps, "finished": self.finished,
                "calls": [{"call": c, "result": r} for c, r in self.calls], "messages": self.messages}


def run_tools(chat, messages: list[dict], tools, *, max_steps: int = 5, schemas: dict[str, dict] | None = None,
              on_event: Callable | None = None, **stream_kwargs) -> ToolRun:
    """The tool loop on ``chat`` (a LocalChat or RemoteChat); ``messages`` is not changed (the run has a copy).

    ``on_event(event)`` sees every streamed event and, after each call runs, an ``("tool_result", message)``
    tuple; ``stream_kwargs`` go to each ``chat.stream`` (mode, sampling, max_tokens, seed, stop…).
    """
    if max_steps < 1:
        raise InputError(f"max_steps must be >= 1, got {max_steps}")
    box = Toolbox.of(tools, schemas)
    history = list(messages)
    added: list[dict] = []
    run = ToolRun(added, None, 0)
    for step in range(1, max_steps + 1):
        for event in chat.stream(history, tools=box.declarations, **stream_kwargs):
            if on_event is not None:
                on_event(event)
        reply = chat.last
        run.reply, run.steps = reply, step
        turn = reply.as_message()
        for i, c in enumerate(turn.get("tool_calls", [])):
            c["id"] = canonical_id(c.get("id"), str((c.get("function") or {}).get("name", "")), c.get("index", i))
        history.append(turn)
        added.append(turn)
        if not reply.tool_calls or reply.finish_reason == "cancelled":
            run.finished = True
            return run
        for c in turn["tool_calls"]:
            message = box.call(c)
            history.append(message)
            added.append(message)
            run.calls.append((c, message))
            if on_event is not None:
                on_event(("tool_result", message))
    run.finished = False
    return run


def load_tools(spec: str) -> dict[str, Callable]:
    """``module:attr`` -> tools: a callable, a list of callables, or a ``{name: callable}`` dict (``--tools``)."""
    import importlib

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"--tools {spec!r}: expected module:attr (e.g. mytools:TOOLS)")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise InputError(f"--tools {spec!r}: cannot import {module_name} ({e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"--tools {spec!r}: {module_name} has no {attr}")
        obj = getattr(obj, part)
    if callable(obj) and not isinstance(obj, type):
        return {obj.__name__: obj}
    return Toolbox.of(obj).functions
