"""The TypeScript-style tool declarations (``tools_ts_str``): expectations written by hand from the
format facts (the guide, §3 "K2.5 / K2.6"), one rule per test."""

from __future__ import annotations

import pytest

from workbench.chat.tools_ts import ToolEncodingError, encode_tools, sort_keys

FRAME_START = "# Tools\n\n## functions\nnamespace functions {\n"
FRAME_END = "\n}\n"


def fn(name: str, properties: dict | None = None, required: list | None = None, description: str | None = None,
       **extra) -> dict:
    params = {"type": "object", **extra}
    if properties is not None:
        params["properties"] = properties
    if required is not None:
        params["required"] = required
    f = {"name": name, "parameters": params}
    if description is not None:
        f["description"] = description
    return {"type": "function", "function": f}


def block(tool: dict) -> str:
    text = encode_tools([tool])
    assert text.startswith(FRAME_START) and text.endswith(FRAME_END)
    return text[len(FRAME_START):-len(FRAME_END)]


def test_required_first_sorted_then_optional_sorted_with_a_question_mark():
    tool = fn("f", {"zeta": {"type": "string"}, "alpha": {"type": "integer"}, "mid": {"type": "boolean"}},
              required=["zeta", "mid"])
    assert block(tool) == ("type f = (_: {\n"
                           "  mid: boolean,\n"
                           "  zeta: string,\n"
                           "  alpha?: number\n"
                           "}) => any;")


def test_descriptions_constraints_and_defaults_as_comments():
    tool = fn("weather", {
        "city": {"type": "string", "description": "City name.\nNo country.", "maxLength": 40, "minLength": 1,
                 "default": "Paris"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
        "metric": {"type": "boolean", "default": True},
        "ratio": {"type": "number", "default": 0.5},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "default": ["a"]},
    }, description="Weather now.\n\nCelsius by default.")
    assert block(tool) == ("// Weather now.\n"
                           "\n"
                           "// Celsius by default.\n"
                           "type weather = (_: {\n"
                           "  // City name.\n"
                           "  // No country.\n"
                           "  // maxLength: 40, minLength: 1\n"
                           '  // Default: "Paris"\n'
                           "  city?: string,\n"
                           "  // maximum: 7, minimum: 1\n"
                           "  // Default: 3\n"
                           "  days?: number,\n"
                           "  // Default: True\n"
                           "  metric?: boolean,\n"
                           "  // Default: 0.5\n"
                           "  ratio?: number,\n"
                           "  // minItems: 1\n"
                           '  // Default: ["a"]\n'
                           "  tags?: Array<string>\n"
                           "}) => any;")


def test_enums_unions_lists_of_types_and_arrays():
    tool = fn("f", {
        "a_unit": {"enum": ["c", "f"]},
        "b_level": {"enum": [1, 2]},
        "c_value": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "d_either": {"type": ["string", "integer", "object", "array"]},
        "e_items": {"type": "array"},
        "f_any": {},
        "g_nested": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    }, required=["a_unit", "b_level", "c_value", "d_either", "e_items", "f_any", "g_nested"])
    assert block(tool) == ("type f = (_: {\n"
                           '  a_unit: "c" | "f",\n'
                           "  b_level: 1 | 2,\n"
                           "  c_value: string | null,\n"
                           "  d_either: string | number | {} | Array<any>,\n"
                           "  e_items: Array<any>,\n"
                           "  f_any: any,\n"
                           "  g_nested: Array<Array<number>>\n"
                           "}) => any;")


def test_an_array_item_with_comments_opens_the_array_on_its_own_lines():
    tool = fn("f", {"points": {"type": "array", "items": {
        "type": "object", "description": "A point.", "properties": {"x": {"type": "number"}}, "required": ["x"]}}})
    assert block(tool) == ("type f = (_: {\n"
                           "  points?: Array<\n"
                           "    // A point.\n"
                           "    {\n"
                           "      x: number\n"
                           "    }\n"
                           "  >\n"
                           "}) => any;")


def test_nested_objects_indent_and_additional_properties_come_last():
    tool = fn("f", {
        "opts": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
        "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
        "free": {"type": "object", "additionalProperties": True},
    })
    assert block(tool) == ("type f = (_: {\n"
                           "  free?: {\n"
                           "    [k: string]: any\n"
                           "  },\n"
                           "  meta?: {\n"
                           "    [k: string]: number\n"
                           "  },\n"
                           "  opts?: {\n"
                           "    a?: string,\n"
                           "    [k: string]: never\n"
                           "  }\n"
                           "}) => any;")


def test_defs_are_interfaces_before_the_function_and_refs_name_them():
    tool = fn("route", {"start": {"$ref": "#/$defs/Point"}}, required=["start"], description="A route.",
              **{"$defs": {"Point": {"description": "A point.", "type": "object",
                                     "properties": {"x": {"type": "number"}}, "required": ["x"]}}})
    assert block(tool) == ("// A point.\n"
                           "interface Point {\n"
                           "  x: number\n"
                           "}\n"
                           "// A route.\n"
                           "type route = (_: {\n"
                           "  start: Point\n"
                           "}) => any;")


def test_a_reference_to_the_root_declares_interface_parameters():
    tool = fn("tree", {"child": {"$ref": "#"}, "name": {"type": "string"}}, required=["name"])
    assert block(tool) == ("interface parameters {\n"
                           "  name: string,\n"
                           "  child?: parameters\n"
                           "}\n"
                           "type tree = (_: parameters) => any;")


def test_no_fields_no_functions_and_several_functions():
    assert block(fn("ping")) == "type ping = (_: {}) => any;"
    assert block({"type": "function", "function": {"name": "ping"}}) == "type ping = (_: {}) => any;"
    assert encode_tools([]) == "" and encode_tools([{"type": "retrieval"}]) == ""
    assert encode_tools([fn("a"), {"type": "retrieval"}, fn("b")]) == (
        FRAME_START + "type a = (_: {}) => any;\ntype b = (_: {}) => any;" + FRAME_END)


@pytest.mark.parametrize("tool,fragment", [
    (fn("f", {"x": {"type": "date"}}), "type 'date'"),
    (fn("f", {"x": {"$ref": "#/$defs/Missing"}}), "names no $defs entry"),
    (fn("f", {"x": {"type": ["string", "date"]}}), "does not know"),
    ({"type": "function", "function": {"description": "no name"}}, "without a name"),
    (fn("f", {"x": {"enum": []}}), "enum"),
])
def test_what_it_cannot_encode_raises_one_line(tool, fragment):
    with pytest.raises(ToolEncodingError, match=None) as e:
        encode_tools([tool])
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_sort_keys_sorts_dicts_recursively_and_keeps_lists():
    value = {"b": [{"z": 1, "a": 2}, 3], "a": {"d": 1, "c": {"f": 0, "e": 0}}}
    out = sort_keys(value)
    assert list(out) == ["a", "b"] and list(out["a"]) == ["c", "d"] and list(out["a"]["c"]) == ["e", "f"]
    assert list(out["b"][0]) == ["a", "z"] and out["b"][1] == 3 and out == value
