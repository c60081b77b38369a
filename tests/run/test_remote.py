"""The remote backend against real server processes on loopback: llama_cpp.server and llama-server, each
serving the tiny model."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.run.llama_server import LlamaServer, free_port
from workbench.run.remote import RemoteChat

HI = [{"role": "user", "content": "Hi"}]


def _python_server(model: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "512", "--n_threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def started_python_server(model: Path) -> tuple[subprocess.Popen, str]:
    """llama_cpp.server on a free loopback port, answering ``/v1/models``: the process and its ``/v1`` URL."""
    port = free_port()
    proc = _python_server(model, port)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="module", params=["llama_cpp.server", "llama-server"])
def server(request, tiny_vocab, tiny_model):
    """Both real servers users point the remote backend at, serving the tiny model on loopback."""
    from workbench.tokenizer import load

    if request.param == "llama-server":
        binary = request.getfixturevalue("llama_server_binary")
        with LlamaServer(["-m", str(tiny_model), "-c", "512", "--threads", "1", "--jinja"], binary=binary) as srv:
            yield f"{srv.url}/v1", load(tiny_vocab)
        return
    proc, url = started_python_server(tiny_model)
    yield url, load(tiny_vocab)
    proc.terminate()
    proc.wait(timeout=30)


def test_streams_a_reply(server):
    url, assets = server
    chat = RemoteChat(url)
    assert "Kimi-K2-Tiny" in chat.model
    events = list(chat.stream(HI, mode="instant", max_tokens=6, seed=3,
                              logit_bias={assets.special_id("<|im_end|>"): -100.0}))
    reply = chat.last
    assert reply.finish_reason == "length" and events and all(e.kind in ("answer", "reasoning") for e in events)
    assert reply.answer + reply.reasoning == "".join(e.text for e in events)
    assert reply.n_generated_tokens >= 1 and reply.generation_tokens_per_s >= 0


def test_stop_on_im_end(server):
    url, assets = server
    reply = RemoteChat(url).reply(HI, mode="thinking", max_tokens=6, logit_bias={assets.special_id("<|im_end|>"): 100.0})
    assert reply.finish_reason == "stop" and reply.answer == reply.reasoning == ""


def test_unreachable_and_bad_urls():
    with pytest.raises(InputError, match="cannot reach http://127.0.0.1:9/v1"):
        RemoteChat("http://127.0.0.1:9/v1").reply(HI)
    with pytest.raises(InputError, match="must start with http"):
        RemoteChat("localhost:8080")


@pytest.fixture(scope="module")
def demo_server(demo_model, llama_server_binary):
    """Real llama-server --jinja serving the demo model, whose K2.6-style template reads tools_ts_str."""
    with LlamaServer(["-m", str(demo_model), "-c", "1024", "--threads", "1", "--jinja"],
                     binary=llama_server_binary) as srv:
        yield f"{srv.url}/v1"


@pytest.fixture(scope="module")
def demo_local(demo_model):
    from workbench.run.chat import LocalChat
    from workbench.run.loader import load_model
    from workbench.run.offload import preset

    loaded = load_model(demo_model, preset("cpu-only"), n_ctx=1024, n_threads=1)
    yield LocalChat(loaded)
    loaded.close()


def test_the_server_gets_tools_ts_str_and_preserve_thinking(demo_server, demo_local):
    """The prompt llama-server built from RemoteChat's chat_template_kwargs has exactly the tokens of
    the prompt LocalChat renders as Moonshot's tokenizer does (TypeScript declarations, not JSON)."""
    from workbench.chat.suite import SUITE

    case = next(c for c in SUITE if c.name == "tool-declaration")
    remote = RemoteChat(demo_server).reply(case.messages, tools=case.tools, max_tokens=1, seed=1)
    assert remote.n_prompt_tokens == demo_local.count(case.messages, tools=case.tools)
    json_prompt = demo_local.llm.tokenize(
        __import__("workbench.chat", fromlist=["render"]).render(demo_local.template, case.messages, tools=case.tools)
        .encode(), add_bos=False, special=True)
    assert remote.n_prompt_tokens != len(json_prompt)  # what a runtime without tools_ts_str would have sent
    history = next(c for c in SUITE if c.name == "thinking-history").messages
    kept = RemoteChat(demo_server).reply(history, max_tokens=1, seed=1, preserve_thinking=True)
    dropped = RemoteChat(demo_server).reply(history, max_tokens=1, seed=1)  # llama-server alone would keep it
    assert kept.n_prompt_tokens == demo_local.count(history, preserve_thinking=True)
    assert dropped.n_prompt_tokens == demo_local.count(history) < kept.n_prompt_tokens


KEY = "wb-test-key-7f3a"


@pytest.fixture(scope="module")
def keyed_server(tiny_model, llama_server_binary):
    """Real llama-server started with --api-key, as deployments run it."""
    with LlamaServer(["-m", str(tiny_model), "-c", "256", "--threads", "1", "--api-key", KEY],
                     binary=llama_server_binary) as srv:
        yield f"{srv.url}/v1"


def test_a_server_behind_a_key(keyed_server, monkeypatch, capsys):
    from tests.test_cli import run

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert RemoteChat(keyed_server, api_key=KEY).reply(HI, max_tokens=2, seed=1).n_generated_tokens >= 1
    for key in ("wrong-key-1234", None):
        with pytest.raises(InputError) as e:
            RemoteChat(keyed_server, api_key=key).reply(HI, max_tokens=2)
        message = str(e.value)
        assert message.startswith(f"{keyed_server} refused the API key (401)") and "\n" not in message
        assert KEY not in message and "wrong-key-1234" not in message
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert RemoteChat(keyed_server).reply(HI, max_tokens=2, seed=1).n_generated_tokens >= 1
    code, out, err = run(capsys, "chat", "--server", keyed_server, "-p", "Hi", "--max-tokens", "2",
                         "--api-key", "wrong-key-1234")
    assert code == 2 and "refused the API key" in err and "wrong-key-1234" not in out + err and KEY not in out + err
