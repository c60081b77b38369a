"""The llama-server renderer (workbench.run.server_renderer): the real C++ Jinja engine through /apply-template."""

from __future__ import annotations

import os

import pytest

from tests.helpers import REFERENCE
from workbench.chat.bundled import bundled_template
from workbench.chat.parity import parity
from workbench.chat.render import RENDERERS, TemplateError, available_renderers, render

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def _binary(llama_server_binary):
    """Every test here needs the real server (`make test` builds it)."""


def both(template: str, **kw) -> tuple[str, str]:
    return (render(template, HI, renderer="hf", add_generation_prompt=False, **kw),
            render(template, HI, renderer="llama-server", add_generation_prompt=False, **kw))


def test_it_is_a_default_renderer_where_a_binary_exists():
    assert "llama-server" in available_renderers()


def test_the_bundled_kimi_template_renders_alike_except_images():
    table = parity(bundled_template("kimi-k2"), renderers=["llama-server"])
    status = {c.case: c.status for c in table.cells}
    assert status.pop("content-parts-with-image") == "unsupported"  # no vision projector: the server refuses, says so
    assert set(status.values()) == {"equal"}, status


def test_its_jinja_engine_is_not_python_jinja2():
    # HF raises on an attribute of an undefined; llama.cpp's engine prints nothing
    assert render("{{ foo.bar }}|", HI, renderer="llama-server") == "|"
    with pytest.raises(TemplateError, match="UndefinedError"):
        render("{{ foo.bar }}", HI, renderer="hf")
    hf, server = both("{{ 'a,b'.split(',') }}")  # a printed list
    assert (hf, server) == ("['a', 'b']", "ab")
    hf, server = both("{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}")
    assert hf == server == '{"a":[1,2]}'


def test_a_template_that_fails_is_one_line():
    with pytest.raises(TemplateError, match="^llama-server refused the template: .*Jinja Exception: no system role$"):
        render("{{ raise_exception('no system role') }}", HI, renderer="llama-server")
    with pytest.raises(TemplateError, match="^llama-server refused the template") as e:
        render("{% if %}", HI, renderer="llama-server")
    assert "\n" not in str(e.value)


def test_servers_are_reused_and_stopped():
    r = RENDERERS["llama-server"]
    r.close()
    for text in ("a{{ messages[0].content }}", "b{{ messages[0].content }}", "a{{ messages[0].content }}"):
        render(text, HI, renderer="llama-server")
    assert len(r._servers) == 2  # the first template's server was reused
    pids = [s.proc.pid for s in r._servers.values()]
    render("c{{ messages[0].content }}", HI, renderer="llama-server")
    assert len(r._servers) == r.keep
    r.close()
    assert not r._servers
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.skipif(not (REFERENCE / "templates").is_dir(), reason="needs ../shared/reference/templates")
def test_llama_server_renders_the_tool_loop_that_hf_refuses():
    """Kimi-K2-Thinking's tool_response_queue.ids.append(...) is blocked by HF's sandbox, not by llama.cpp's engine."""
    template = (REFERENCE / "templates" / "Kimi-K2-Thinking.jinja").read_text(encoding="utf-8")
    cell = parity(template, renderers=["llama-server"]).cell("one-tool-call", "llama-server")
    assert "append" in cell.baseline_error
    assert "## Return of functions.get_weather:0\n" in cell.text
    assert "<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>" in cell.text
