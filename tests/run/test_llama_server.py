"""The real llama-server: finding the binary, running it, and the planner's exported command run as-is."""

from __future__ import annotations

import os

import pytest

from workbench.errors import InputError
from workbench.run import llama_server
from workbench.run.chat import PRESETS
from workbench.run.llama_server import LlamaServer, ServerError
from workbench.run.planner import plan_memory
from workbench.run.remote import RemoteChat

HI = [{"role": "user", "content": "Hi"}]


def test_the_binary_is_the_pinned_llama_cpp(llama_server_binary):
    import subprocess

    out = subprocess.run([str(llama_server_binary), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "version:" in (out.stdout + out.stderr)


def test_find_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(llama_server.ENV_BINARY, str(tmp_path / "nope"))
    with pytest.raises(InputError, match="KIMI_WB_LLAMA_SERVER is .* not an executable"):
        llama_server.find()
    monkeypatch.delenv(llama_server.ENV_BINARY)
    monkeypatch.setenv("KIMI_WB_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert llama_server.find() is None
    with pytest.raises(InputError, match="no llama-server found.*make test"):
        llama_server.require()


def test_a_server_that_cannot_start_says_why(llama_server_binary, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    server = LlamaServer(["-m", str(bad)], binary=llama_server_binary, ready_timeout=60)
    with pytest.raises(ServerError, match="exited with"):
        server.start()
    assert server.proc.poll() is not None


def test_the_planners_command_runs_unchanged(llama_server_binary, tiny_model):
    """The exported llama-server line (-ngl, -ot, --ctx-size, --jinja, sampling) starts and answers.

    Only ``--host``/``--port`` (loopback, a free port) and ``-v`` (so llama.cpp logs where it
    put each overridden tensor) are added.
    """
    plan = plan_memory(tiny_model, "experts-cpu", n_ctx=512, vram="0", ram="8GiB", disk="1GiB", recommend=False)
    argv = plan.command(str(tiny_model), sampling=PRESETS["instant"])
    assert argv[0] == "llama-server" and "--jinja" in argv and "--ctx-size" in argv and "--temp" in argv
    with LlamaServer([*argv[1:], "-v"], binary=llama_server_binary) as server:
        reply = RemoteChat(f"{server.url}/v1").reply(HI, mode="instant", max_tokens=4, seed=1)
        log = server.log_tail(10_000)
    assert reply.n_generated_tokens >= 1 and reply.finish_reason in ("length", "stop")
    assert "llama_context: n_ctx                 = 512" in log
    # the experts went where the plan said: llama.cpp logs each routed-expert tensor it placed by override
    # (named twice: llama-server's --fit first simulates the load, then loads)
    overridden = {line.split(" tensor ")[1].split()[0] for line in log.splitlines()
                  if "_exps.weight" in line and "buffer type overridden to CPU" in line}
    assert overridden == {f"blk.{b}.ffn_{k}_exps.weight" for b in (1, 2) for k in ("gate", "up", "down")}


def test_every_started_server_is_stopped(llama_server_binary, tiny_model):
    with LlamaServer(["-m", str(tiny_model), "-c", "256"], binary=llama_server_binary) as server:
        pid = server.proc.pid
        assert server.post("/tokenize", {"content": "Hi"})["tokens"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
