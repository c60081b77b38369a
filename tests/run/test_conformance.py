"""``kimi-wb server-check`` against real servers on loopback: llama-server with --jinja (reasoning format
auto, and none), with --no-jinja, and llama_cpp.server, each serving the demo model (its K2.6-style
template reads ``thinking``, not ``enable_thinking``)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from tests.run.test_remote import started_python_server
from workbench.errors import InputError
from workbench.run.conformance import check_server
from workbench.run.llama_server import LlamaServer
from workbench.run.remote import RemoteChat


@pytest.fixture(scope="module", params=["jinja", "jinja-no-reasoning-format", "no-jinja"])
def llama_server_report(request, demo_model, llama_server_binary):
    flags = {"jinja": ["--jinja"], "jinja-no-reasoning-format": ["--jinja", "--reasoning-format", "none"],
             "no-jinja": ["--no-jinja"]}[request.param]
    with LlamaServer(["-m", str(demo_model), "-c", "1024", "--threads", "1", *flags],
                     binary=llama_server_binary) as srv:
        yield request.param, check_server(f"{srv.url}/v1"), f"{srv.url}/v1"


def test_llama_server_as_measured(llama_server_report):
    kind, report, _ = llama_server_report
    c = report.conclusions()
    assert len(report.probes) == 12 and c["stream_agrees"] is True and c["finish_reasons"] == ["length"]
    if kind == "jinja":  # the reasoning parser splits it off; the template's own switch works, the other not
        assert c["reasoning_field"] == "reasoning_content" and c["leaks"] == []
        assert c["thinking_switch"] == {"thinking": True, "enable_thinking": False} and c["tool_round_trip"]
    elif kind == "jinja-no-reasoning-format":  # everything stays in the content, tags and all
        assert c["reasoning_field"] == "inline" and "<think>" in c["leaks"]
        assert c["thinking_switch"] == {"thinking": True, "enable_thinking": False} and c["tool_round_trip"]
    else:  # the built-in formatter: no template, so no switch; tools refused
        assert c["reasoning_field"] == "none" and c["thinking_switch"] == {"thinking": False, "enable_thinking": False}
        assert not c["tool_round_trip"]
        assert all("tools param requires --jinja" in p.error for p in report.probes if p.name.startswith("tool"))
    text = report.format()
    assert "reasoning arrives in:" in text and "thinking=:" in text and json.loads(json.dumps(report.to_dict()))


def test_remote_chat_learns_the_switch(llama_server_report):
    kind, report, url = llama_server_report
    chat = RemoteChat(url)
    chat.learn(report)
    assert chat.switches == (("thinking",) if kind != "no-jinja" else ("thinking", "enable_thinking"))


def test_llama_cpp_server(demo_model):
    """llama_cpp.server passes no chat_template_kwargs to the template, so neither switch changes its prompt; on
    this build it also stops answering at the tool-result round trip after the probes before it, which the
    report says (no reply within the timeout, the rest not sent) instead of hanging the check."""
    proc, url = started_python_server(demo_model)
    try:
        report = check_server(url, timeout=15)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    c = report.conclusions()
    assert len(report.probes) == 12 and c["thinking_switch"] == {"thinking": False, "enable_thinking": False}
    assert all(p.ok for p in report.probes[:8])  # the four switch probes, each streamed and not
    if c["hung"]:
        assert c["hung"] == "no reply within 15 s" and "the rest were not sent" in report.format()
        after = report.probes[[p.error for p in report.probes].index(c["hung"]) + 1:]
        assert all(p.error.startswith("not sent: the server stopped answering at ") for p in after)


def test_unreachable_and_non_openai_servers_are_one_line(tmp_path, capsys):
    from tests.test_cli import run

    with pytest.raises(InputError, match=r"^cannot reach http://127\.0\.0\.1:9/v1"):
        check_server("http://127.0.0.1:9/v1")
    (tmp_path / "index.html").write_text("<html>not an API</html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(tmp_path), **k)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
        code, out, err = run(capsys, "server-check", url)
        assert code == 2 and err.count("\n") == 1 and url in err and "Traceback" not in err
    finally:
        srv.shutdown()
