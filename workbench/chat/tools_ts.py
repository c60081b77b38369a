"""Tool declarations as K2.5/K2.6 see them: a TypeScript-style text, ``tools_ts_str``.

Moonshot's K2.5/K2.6 tokenizer (``tokenization_kimi.py``, ``apply_chat_template``) sorts every
dict inside ``tools`` by key, recursively, encodes the function tools into the text below and
passes it to the template as ``tools_ts_str``, which the template prints in the
``tool_declare`` turn instead of JSON. Written from the format facts (the guide, §3
"K2.5 / K2.6"), not from their code:

    >>> print(encode_tools([{"type": "function", "function": {"name": "get_weather",
    ...     "description": "Weather now.", "parameters": {"type": "object",
    ...     "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]))
    # Tools
    <BLANKLINE>
    ## functions
    namespace functions {
    // Weather now.
    type get_weather = (_: {
      city: string
    }) => any;
    }
    <BLANKLINE>

The frame is ``# Tools`` / ``## functions`` / ``namespace functions {…}``, one block per
``type == "function"`` tool. A block is the ``interface`` of each ``$defs`` entry, the
function's description as ``//`` lines, then ``type NAME = (_: PARAMS) => any;``. Fields:
required ones first, sorted, then optional ones sorted with ``?``; each preceded by its
description, its constraints and its default as ``//`` lines. A schema this encoder cannot
express raises :class:`ToolEncodingError`; the caller then passes no ``tools_ts_str`` and
the template prints compact JSON, as Moonshot's code does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from workbench.errors import WorkbenchError

INDENT = "  "
#: constraint keys shown per JSON type, as one ``// k: v, k: v`` line (sorted by key)
CONSTRAINTS = {"string": ("maxLength", "minLength", "pattern"), "number": ("maximum", "minimum"),
               "integer": ("maximum", "minimum"), "array": ("maxItems", "minItems")}
_NAMED = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean", "null": "null"}
_IN_LIST = {**_NAMED, "object": "{}", "array": "Array<any>"}


class ToolEncodingError(WorkbenchError):
    """A tool schema the TypeScript-style encoding cannot express (the template then gets JSON)."""


def sort_keys(value):
    """Every dict sorted by key, recursively; lists keep their order (Moonshot's tool preprocessing)."""
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


def moonshot_inputs(tools: list[dict] | None, kwargs: dict) -> tuple[list[dict] | None, dict]:
    """What Moonshot's K2.5/K2.6 ``apply_chat_template`` hands its template: the tools sorted by key,
    ``tools_ts_str`` when they encode (else nothing: the template prints JSON), ``thinking=True`` and
    ``preserve_thinking=False`` unless given."""
    out = {"thinking": True, "preserve_thinking": False, **kwargs}
    if not tools:
        return tools, out
    tools, text = declare(tools)
    if text and "tools_ts_str" not in out:
        out["tools_ts_str"] = text
    return tools, out


def declare(tools: list[dict]) -> tuple[list[dict], str | None]:
    """``(tools sorted by key, tools_ts_str)`` as Moonshot's tokenizer makes them; ``None`` for a schema the
    encoding cannot express (the template then prints the sorted tools as JSON)."""
    tools = sort_keys(tools)
    try:
        return tools, encode_tools(tools) or None
    except ToolEncodingError:
        return tools, None


def encode_tools(tools: Iterable[dict]) -> str:
    """``tools_ts_str`` for OpenAI-shaped tools; ``""`` when none is a function."""
    blocks = []
    for tool in tools:
        if not isinstance(tool, dict):
            raise ToolEncodingError(f"a tool is a {type(tool).__name__}, not an object")
        if tool.get("type") != "function":
            continue
        blocks.append(_function(tool.get("function")))
    if not blocks:
        return ""
    return "# Tools\n\n## functions\nnamespace functions {\n" + "\n".join(blocks) + "\n}\n"


def _comment(text: str, indent: str) -> list[str]:
    """Each line as ``// line`` at ``indent``; an empty line stays empty."""
    return [f"{indent}// {line}" if line else "" for line in str(text).split("\n")]


def _function(fn) -> str:
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ToolEncodingError("a function tool without a name")
    params = fn.get("parameters") or {}
    if not isinstance(params, dict):
        raise ToolEncodingError(f"{fn['name']}: parameters are not an object")
    defs = params.get("$defs") or {}
    if not isinstance(defs, dict):
        raise ToolEncodingError(f"{fn['name']}: $defs is not an object")
    enc = _Encoder(fn["name"], defs, params)
    parts = []
    for name, schema in defs.items():
        if isinstance(schema, dict) and schema.get("description"):
            parts += _comment(schema["description"], "")
        parts.append(f"interface {name} {enc.object_type(schema, '')}")
    body = enc.object_type(params, "")
    if enc.root_referenced:
        parts.append(f"interface parameters {body}")
        body = "parameters"
    if fn.get("description"):
        parts.append("\n".join(_comment(fn["description"], "")))
    parts.append(f"type {fn['name']} = (_: {body}) => any;")
    return "\n".join(p for p in parts if p)


class _Encoder:
    def __init__(self, function: str, defs: dict, root: dict) -> None:
        self.function, self.defs, self.root = function, defs, root
        self.root_referenced = False

    def fail(self, what: str) -> ToolEncodingError:
        return ToolEncodingError(f"{self.function}: {what}")

    def object_type(self, schema, indent: str) -> str:
        """``{`` fields ``}`` at ``indent`` (fields one level deeper); ``{}`` without fields."""
        if not isinstance(schema, dict):
            raise self.fail(f"an object schema is a {type(schema).__name__}")
        props = schema.get("properties") or {}
        if not isinstance(props, dict):
            raise self.fail("properties is not an object")
        required = schema.get("required") or []
        if not isinstance(required, list):
            raise self.fail("required is not a list")
        inner = indent + INDENT
        names = sorted(n for n in props if n in required) + sorted(n for n in props if n not in required)
        fields = [self.field(n, props[n], n in required, inner) for n in names]
        if "additionalProperties" in schema:
            fields.append(f"{inner}[k: string]: {self.extra_type(schema['additionalProperties'], inner)}")
        if not fields:
            return "{}"
        return "{\n" + ",\n".join(fields) + f"\n{indent}}}"

    def extra_type(self, extra, indent: str) -> str:
        if extra is True:
            return "any"
        if extra is False:
            return "never"
        return self.type_of(extra, indent)

    def field(self, name: str, schema, required: bool, indent: str) -> str:
        if not isinstance(schema, dict):
            schema = {} if schema is True else None
            if schema is None:
                raise self.fail(f"property {name!r} has no schema")
        lines = self.comments(schema, indent)
        lines.append(f"{indent}{name}{'' if required else '?'}: {self.type_of(schema, indent)}")
        return "\n".join(lines)

    def comments(self, schema: dict, indent: str) -> list[str]:
        """Description lines, the constraints line, the default line."""
        lines = _comment(schema["description"], indent) if schema.get("description") else []
        kind = schema.get("type")
        keys = sorted(k for k in CONSTRAINTS.get(kind, ()) if k in schema) if isinstance(kind, str) else []
        if keys:
            lines.append(f"{indent}// " + ", ".join(f"{k}: {schema[k]}" for k in keys))
        if "default" in schema:
            d = schema["default"]
            shown = json.dumps(d, ensure_ascii=False) if isinstance(d, (str, list, dict)) else str(d)
            lines.append(f"{indent}// Default: {shown}")
        return lines

    def type_of(self, schema, indent: str) -> str:
        if schema is True or schema == {}:
            return "any"
        if not isinstance(schema, dict):
            raise self.fail(f"a schema is a {type(schema).__name__}")
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref == "#":
                self.root_referenced = True
                return "parameters"
            prefix = "#/$defs/"
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix):] in self.defs:
                return ref[len(prefix):]
            raise self.fail(f"$ref {ref!r} names no $defs entry")
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise self.fail("enum is not a non-empty list")
            return " | ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
        if "anyOf" in schema:
            options = schema["anyOf"]
            if not isinstance(options, list) or not options:
                raise self.fail("anyOf is not a non-empty list")
            return " | ".join(self.type_of(o, indent) for o in options)
        kind = schema.get("type")
        if isinstance(kind, list):
            if not all(isinstance(k, str) and k in _IN_LIST for k in kind):
                raise self.fail(f"type {kind!r} has a name this encoding does not know")
            return " | ".join(_IN_LIST[k] for k in kind)
        if kind in _NAMED:
            return _NAMED[kind]
        if kind == "array":
            return self.array_type(schema, indent)
        if kind == "object" or (kind is None and "properties" in schema):
            return self.object_type(schema, indent)
        raise self.fail(f"type {kind!r} is not one this encoding knows")

    def array_type(self, schema: dict, indent: str) -> str:
        items = schema.get("items")
        if items is None:
            return "Array<any>"
        notes = self.comments(items, indent + INDENT) if isinstance(items, dict) else []
        if not notes:
            return f"Array<{self.type_of(items, indent)}>"
        inner = indent + INDENT
        return "Array<\n" + "\n".join(notes) + f"\n{inner}{self.type_of(items, inner)}\n{indent}>"
