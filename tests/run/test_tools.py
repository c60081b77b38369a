"""Tool calling: schemas from signatures, only registered callables run, the loop on the demo model and
through a real llama-server."""

from __future__ import annotations

import json
import sys
from typing import Literal

import pytest

from workbench.errors import InputError
from workbench.run.tools import MAX_RESULT_CHARS, Toolbox, load_tools, run_tools, tool_schema

CALLS: list[tuple] = []


def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int | None = None) -> dict:
    """Current weather for a city.

    More text that is not the description.

    Args:
        city: the city name,
            e.g. Paris
        unit: c or f
    """
    CALLS.append((city, unit, days))
    return {"city": city, "temperature": 18, "unit": unit}


def test_a_schema_from_the_signature_and_docstring():
    fn = tool_schema(get_weather)["function"]
    assert fn["name"] == "get_weather" and fn["description"] == "Current weather for a city."
    params = fn["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "description": "the city name, e.g. Paris"}
    assert params["properties"]["unit"] == {"enum": ["c", "f"], "description": "c or f", "default": "c"}
    assert params["properties"]["days"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}

    def tags(names: list[str], *, limit: float = 1.5, **rest) -> None:
        pass

    p = tool_schema(tags)["function"]["parameters"]
    assert p["properties"] == {"names": {"type": "array", "items": {"type": "string"}},
                               "limit": {"type": "number", "default": 1.5}}
    assert "description" not in tool_schema(tags)["function"]


def call(name: str, arguments, index: int = 0, **extra) -> dict:
    return {"id": "call_x", "type": "function", "index": index, "function": {"name": name, "arguments": arguments},
            **extra}


@pytest.mark.parametrize("c,fragment", [
    (call("os.system", '{"command": "rm -rf /"}'), "no tool named 'os.system'"),
    (call("get_weather", "{city: Paris}"), "arguments are not JSON"),
    (call("get_weather", '["Paris"]'), "must be a JSON object, got list"),
    (call("get_weather", '{"town": "Paris"}'), "bad arguments for get_weather"),
    (call("get_weather", "{}"), "missing a required argument: 'city'"),
    (call("get_weather", '{"city": "Paris"}', error="tool call cut off before <|tool_call_end|>"), "cut off"),
])
def test_only_registered_callables_run_and_bad_calls_become_tool_errors(c, fragment):
    CALLS.clear()
    box = Toolbox.of({"get_weather": get_weather})
    message = box.call(c)
    assert message["role"] == "tool" and message["tool_call_id"].startswith("functions.")
    assert fragment in json.loads(message["content"])["error"] and CALLS == []


def test_a_good_call_runs_and_a_failing_tool_is_reported():
    CALLS.clear()

    def boom(x: int) -> str:
        raise ValueError("no such sensor")

    def big() -> str:
        return "x" * (MAX_RESULT_CHARS + 10)

    box = Toolbox.of([get_weather, boom, big])
    ok = box.call(call("get_weather", '{"city": "Oslo", "unit": "f"}', index=2))
    assert ok == {"role": "tool", "tool_call_id": "functions.get_weather:2", "name": "get_weather",
                  "content": json.dumps({"city": "Oslo", "temperature": 18, "unit": "f"})}
    assert CALLS == [("Oslo", "f", None)]
    assert json.loads(box.call(call("boom", '{"x": 1}'))["content"]) == {"error": "boom raised ValueError: no such sensor"}
    assert box.call(call("big", "{}"))["content"].endswith(f"… [cut: {MAX_RESULT_CHARS + 10:,} characters]")


@pytest.mark.parametrize("tools,fragment", [
    ({}, "no tools given"), ({"x": 3}, "not a callable"), ({"a b": get_weather}, "letters, digits"),
])
def test_bad_toolboxes(tools, fragment):
    with pytest.raises(InputError, match=fragment):
        Toolbox.of(tools)


@pytest.fixture(scope="module")
def demo(demo_model):
    from workbench.run.chat import LocalChat
    from workbench.run.loader import load_model
    from workbench.run.offload import preset

    loaded = load_model(demo_model, preset("cpu-only"), n_ctx=2048, n_threads=1)
    yield LocalChat(loaded)
    loaded.close()


ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]


def check_loop(run, calls_before: int) -> None:
    assert run.finished and run.steps == 2
    first, result, answer = run.messages
    assert first["role"] == "assistant" and first["tool_calls"][0]["id"] == "functions.get_weather:0"
    assert json.loads(first["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert result == {"role": "tool", "tool_call_id": "functions.get_weather:0", "name": "get_weather",
                      "content": json.dumps({"city": "Oslo", "temperature": 18, "unit": "c"})}
    assert answer["role"] == "assistant" and answer["content"].strip() and "tool_calls" not in answer
    assert CALLS[calls_before:] == [("Oslo", "c", None)]


def test_the_loop_calls_then_answers_on_the_demo_model(demo):
    CALLS.clear()
    events = []
    run = demo.run_tools(ASK, {"get_weather": get_weather}, seed=1, on_event=events.append)
    check_loop(run, 0)
    assert ("tool_result", run.messages[1]) in events and any(getattr(e, "kind", "") == "tool_call" for e in events)
    assert ASK == [{"role": "user", "content": "What is the weather in Oslo?"}]  # the caller's list is untouched
    assert run.to_dict()["calls"][0]["result"]["tool_call_id"] == "functions.get_weather:0"


def test_max_steps_ends_a_loop_that_keeps_calling(demo):
    CALLS.clear()
    run = run_tools(demo, ASK, {"get_weather": get_weather}, max_steps=1, seed=1)
    assert not run.finished and run.steps == 1 and [m["role"] for m in run.messages] == ["assistant", "tool"]
    with pytest.raises(InputError, match="max_steps"):
        run_tools(demo, ASK, {"get_weather": get_weather}, max_steps=0)


def test_load_tools_and_the_cli(tmp_path, monkeypatch, demo_model, capsys):
    from tests.test_cli import run

    (tmp_path / "mytools.py").write_text(
        "def get_weather(city: str) -> dict:\n    '''Current weather for a city.'''\n"
        "    return {'city': city, 'temperature': 18}\n\nTOOLS = [get_weather]\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mytools", None)
    assert list(load_tools("mytools:TOOLS")) == ["get_weather"] and list(load_tools("mytools:get_weather"))
    for spec, fragment in (("mytools", "expected module:attr"), ("nomodule_x:f", "cannot import"),
                           ("mytools:nope", "has no nope")):
        with pytest.raises(InputError, match=fragment):
            load_tools(spec)
    code, out, err = run(capsys, "chat", str(demo_model), "--ctx", "1024", "-p", "Weather in Rome?", "--seed", "1",
                         "--tools", "mytools:TOOLS", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["finished"] and doc["steps"] == 2
    assert doc["calls"][0]["result"]["content"] == json.dumps({"city": "Rome", "temperature": 18})
    assert "tools: get_weather (only these run" in err
    code, out, err = run(capsys, "chat", str(demo_model), "-p", "x", "--tools", "mytools:nope")
    assert code == 2 and "has no nope" in err
