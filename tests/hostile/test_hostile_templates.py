"""Hostile chat templates end in one-line TemplateErrors: never a traceback, a hang, or a grown process.

Renders of templates that did not ship with the workbench run in an isolated worker under
``template_limits()``; these tests shorten the time limit to 1 s (``KIMI_WB_TEMPLATE_SECONDS``)
so that each runaway template costs a second. Whether a render is stopped by time or by
memory depends on the machine; that it is stopped, in one line, does not.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from tests.helpers import REFERENCE
from tests.hostile.templates import EXHAUSTING, HOSTILE
from workbench.chat.bundled import bundled_template
from workbench.chat.parity import parity
from workbench.chat.render import TemplateError, render, template_limits
from workbench.chat.suite import SUITE
from workbench.isolate import Limits
from workbench.verify import check

HI = [{"role": "user", "content": "Hi"}]
SANDBOX = {"class-escape", "globals-escape", "format-escape"}
LEAKS = ("<class", "<function", "subclasses", "__builtins__", "os.")


@pytest.fixture(autouse=True)
def _one_second(monkeypatch):
    monkeypatch.setenv("KIMI_WB_TEMPLATE_SECONDS", "1")


def _one_line_error(template: str, renderer: str) -> str:
    """The TemplateError's message; a sandbox escape may instead render harmlessly (empty, nothing leaked)."""
    try:
        out = render(template, HI, renderer=renderer)
    except TemplateError as e:
        assert "\n" not in str(e) and str(e), repr(str(e))
        return str(e)
    assert not any(leak in out for leak in LEAKS), out[:300]
    return ""


@pytest.mark.parametrize("renderer", ["hf", "llama-cpp-python"])
@pytest.mark.parametrize("name,template,what", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_python_renderers_stop_every_hostile_template(renderer, name, template, what, monkeypatch):
    if name == "huge-output":  # what stops it must be the output limit, not a busy machine's clock
        monkeypatch.setenv("KIMI_WB_TEMPLATE_SECONDS", "60")
    message = _one_line_error(template, renderer)
    if name not in SANDBOX:
        assert message, f"{name} rendered"
    if name in EXHAUSTING:
        assert "took longer than" in message or "needed more than" in message
    if name == "huge-output":
        assert "more than the 16,777,216-byte limit" in message


def test_the_caller_does_not_grow():
    """The worker takes the blow: this process's resident memory stays where it was."""
    me = psutil.Process()
    before = me.memory_info().rss
    for name in ("huge-string", "print-loop", "doubling", "huge-output"):
        template = dict((h[0], h[1]) for h in HOSTILE)[name] + "{# caller-growth #}"  # not remembered from before
        with pytest.raises(TemplateError):
            render(template, HI)
    assert me.memory_info().rss - before < 200 << 20


def test_a_stopped_template_fails_at_once_afterwards():
    template = HOSTILE[0][1] + "{# once #}"
    with pytest.raises(TemplateError, match="took longer than 1 s") as first:
        render(template, HI)
    with pytest.raises(TemplateError, match=r"\(earlier; not run again\)$") as again:
        render(template, SUITE[2].messages, renderer="llama-cpp-python")
    assert str(again.value).startswith(str(first.value))


def test_limits_are_configurable():
    assert template_limits().seconds == 1.0
    slow = "{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}ok"  # ~1 s of loops
    assert render(slow, HI, limits=Limits(seconds=120)) == "ok"
    with pytest.raises(TemplateError, match="more than the 100-byte limit"):
        render("{{ 'x' * 1000 }}", HI, limits=Limits(output=100))


def test_our_own_templates_render_in_process():
    """The bundled template is trusted: no worker, so no limit applies (and no cost is paid)."""
    text = bundled_template("kimi-k2")
    assert render(text, HI, limits=Limits(seconds=0.0, memory=0, output=0)).endswith("<|im_middle|>")


@pytest.mark.skipif(not (REFERENCE / "templates").is_dir(), reason="needs ../shared/reference/templates")
@pytest.mark.parametrize("name", ["Kimi-K2-Instruct.jinja", "moonshotai-Kimi-K2.jinja", "Kimi-K2-Thinking.jinja"])
def test_bounded_renders_are_byte_identical_to_transformers(name):
    """Through the worker, the reference templates render exactly as transformers renders them here."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from workbench.chat.render import KIMI_SPECIAL_TOKENS_MAP

    template = (REFERENCE / "templates" / name).read_text(encoding="utf-8")
    for case in SUITE:
        try:
            out = render_jinja_template([case.messages], tools=case.tools, chat_template=template,
                                        add_generation_prompt=case.add_generation_prompt, **KIMI_SPECIAL_TOKENS_MAP)
            want = out[0][0] if isinstance(out, tuple) else out[0]
        except Exception:  # the reference fails on this case (list.append in HF's sandbox)
            want = None
        try:
            got = render(template, case.messages, tools=case.tools, add_generation_prompt=case.add_generation_prompt)
        except TemplateError:
            got = None
        assert got == want, (name, case.name)


def test_verify_and_parity_report_a_runaway_template(tmp_path):
    path = tmp_path / "loops.jinja"
    path.write_text(HOSTILE[0][1] + "{# verify #}", encoding="utf-8")
    report = check(path)
    errors = [f for f in report.by_check("template-renders") if f.severity == "error"]
    assert not report.ok and errors and all("took longer than 1 s" in f.message for f in errors)
    table = parity(path.read_text(), renderers=["hf", "llama-cpp-python"])
    assert {c.status for c in table.cells} == {"fails"}


def test_the_cli_says_one_line_per_finding(tmp_path):
    path = tmp_path / "huge.jinja"
    path.write_text(dict((h[0], h[1]) for h in HOSTILE)["huge-string"], encoding="utf-8")
    env = {**os.environ, "KIMI_WB_TEMPLATE_SECONDS": "1"}
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "verify", str(path)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "template-renders" in proc.stdout and ("needed more than 1 GiB" in proc.stdout
                                                  or "took longer than 1 s" in proc.stdout)


@pytest.mark.parametrize("name", ["nested-loops", "huge-string", "self-calling-macro"])
def test_llama_server_is_bounded_too(llama_server_binary, name):
    """The C++ engine gets the same time limit (plus start-up), a capped address space, and a crash is named."""
    template = dict((h[0], h[1]) for h in HOSTILE)[name]
    message = _one_line_error(template, "llama-server")
    assert message.startswith("llama-server"), message
    if name == "self-calling-macro":
        assert "crashed (SIGSEGV)" in message
