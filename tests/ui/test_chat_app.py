"""The chat app driven as a user would: scan, plan, load, switch mode, send, stop; failures in the status line."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest

from workbench.models.tiny import make_tiny_model
from workbench.run.models import find_models
from workbench.ui.chat_app import ChatApp


@pytest.fixture(scope="module")
def folder(tiny_vocab, tmp_path_factory):
    from workbench.tokenizer import load

    root = tmp_path_factory.mktemp("models")
    make_tiny_model(root / "Kimi-K2-Tiny.gguf", vocab=load(tiny_vocab))
    (root / "sets").mkdir()
    make_tiny_model(root / "sets" / "Kimi-K2-Tiny-UD-Q2_K_XL.gguf", vocab=load(tiny_vocab), split=2)
    return root


def test_models_are_found_and_grouped(folder, tmp_path):
    entries = find_models([folder])
    assert [(e.name, len(e.files), e.quant, e.complete) for e in entries] == [
        ("Kimi-K2-Tiny-UD-Q2_K_XL", 2, "UD-Q2_K_XL", True), ("Kimi-K2-Tiny.gguf", 1, None, True)]
    shutil.copytree(folder / "sets", tmp_path / "sets")
    (tmp_path / "sets" / "Kimi-K2-Tiny-UD-Q2_K_XL-00002-of-00002.gguf").unlink()
    (broken,) = find_models([tmp_path])
    assert not broken.complete and "INCOMPLETE" in broken.label
    assert find_models([tmp_path / "absent"]) == []


def test_plan_panel_follows_the_choices(folder):
    app = ChatApp(folders=[str(folder)], vram="0", ram="64GiB")
    assert "fits" in app.plan_view.value
    app.ram.value = "1KiB"
    assert "cannot-run" in app.plan_view.value or "mmap" in app.plan_view.value
    app.custom.value = r"\.ffn_.*_exps\.=GPU"
    assert "unknown buffer type" in app.plan_view.value


def test_load_chat_and_stop(folder):
    app = ChatApp(folders=[str(folder)], ram="64GiB", n_ctx=512)
    app.model.value = [i for i, e in enumerate(app.entries) if len(e.files) == 2][0]  # the split set
    app.offload.value = "experts-cpu"
    app.load_button.click()
    app.wait()
    assert "loaded Kimi-K2-Tiny-UD-Q2_K_XL" in app.status.value and not app.send_button.disabled
    app.mode.value = "instant"
    assert (app.temperature.value, app.top_p.value, app.min_p.value) == (0.6, 0.95, 0.01)
    app.max_tokens.value = 8
    app.prompt.value = "Hi"
    app.send_button.click()
    app.wait()
    assert app.reply is not None and app.reply.n_generated_tokens >= 1 and "tok/s" in app.stats.value
    assert app.answer_view.value or app.reasoning_view.value
    assert [m["role"] for m in app.messages] == ["user", "assistant"] and app.status.value.endswith("ready</span>")
    # a reply that would run to the end of the context; Stop is pressed as its first text appears (on the
    # worker thread, before the next token): only a Stop that works ends it "cancelled"
    app.max_tokens.value = 100000

    def stop_on_first_text(change):
        if change["new"]:
            app.stop_button.click()

    app.reasoning_view.observe(stop_on_first_text, names="value")
    app.answer_view.observe(stop_on_first_text, names="value")
    app.prompt.value = "Again"
    app.send_button.click()
    app.wait()
    assert app.reply.finish_reason == "cancelled" and app.reply.n_generated_tokens < 20 and len(app.messages) == 4


def test_errors_go_to_the_status_line(folder, tmp_path):
    app = ChatApp(folders=[str(tmp_path)])
    assert "no GGUF found" in app.status.value
    app.send_button.disabled = False
    app.prompt.value = "Hi"
    app.send_button.click()
    app.wait()
    assert "load a model first" in app.status.value
    bad = tmp_path / "Broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 40)
    app.scan()
    app.load_button.click()
    app.wait()
    assert "color:#b00" in app.status.value  # a one-line cause, no exception escaped


def test_a_model_llama_cpp_aborts_on_is_a_status_line(aborting_model):
    """llama.cpp would abort the kernel on this file; the app says why and stays usable."""
    app = ChatApp(folders=[str(aborting_model.parent)], ram="64GiB")
    assert "GGML_ASSERT" in app.plan_view.value
    app.load_button.click()
    app.wait()
    assert "color:#b00" in app.status.value and "aborted" in app.status.value and app.chat is None


def test_a_runaway_template_is_a_status_line(tiny_vocab, tmp_path, monkeypatch):
    """The template in a user's GGUF is untrusted: a loop that never ends stops at the limit, at Send."""
    from workbench.tokenizer import load

    monkeypatch.setenv("KIMI_WB_TEMPLATE_SECONDS", "1")
    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    make_tiny_model(tmp_path / "Kimi-K2-Loop.gguf", vocab=load(tiny_vocab), chat_template=loop)
    app = ChatApp(folders=[str(tmp_path)], ram="64GiB", n_ctx=512)
    app.load_button.click()
    app.wait()
    assert "loaded Kimi-K2-Loop" in app.status.value
    app.prompt.value = "Hi"
    app.send_button.click()
    app.wait()
    assert "took longer than 1 s" in app.status.value and "color:#b00" in app.status.value
    assert not app.send_button.disabled  # ready for the next try
    assert app.messages == [] and app.prompt.value == "Hi"  # the failed message is not history; it is not lost
    assert not app.history.children and not app.live_user.value


# -- the conversation, on the demo model (hybrid template, scripted words)

def _text(w) -> str:
    return re.sub(r"<[^>]+>", "", html.unescape(w.value)) if hasattr(w, "value") else ""


@pytest.fixture
def demo_app(demo_model, tmp_path):
    app = ChatApp(folders=[str(demo_model.parent)], ram="64GiB", n_ctx=512, export_dir=tmp_path / "chats")
    app.load_button.click()
    app.wait()
    assert "loaded Kimi-K2-Demo" in app.status.value and "random weights" in app.about.value
    return app


def test_a_conversation_is_shown_turn_by_turn(demo_app):
    app = demo_app
    for i, text in enumerate(["First question", "Second question", "Third question"]):
        app.prompt.value = text
        (app.send_button.click if i % 2 else app.prompt.submit)()  # the button, or Enter
        app.wait()
        assert app.status.value.endswith("ready</span>") and app.prompt.value == ""
        assert text in _text(app.live_user) and _text(app.answer_view).strip()
        assert _text(app.reasoning_view).strip() and app.reasoning_box.selected_index is None  # folded after
    # earlier turns are in the history: user turns, then assistant turns with their reasoning and answer
    users = [w for w in app.history.children if "wb-turn-user" in w._dom_classes]
    assistants = [w for w in app.history.children if "wb-turn-assistant" in w._dom_classes]
    assert [_text(w).strip() for w in users] == ["First question", "Second question"]
    assert len(assistants) == 2 and all(len(w.children) == 2 for w in assistants)  # reasoning accordion + answer
    assert [m["role"] for m in app.messages] == ["user", "assistant"] * 3
    assert all(m["reasoning_content"] and m["content"] for m in app.messages[1::2])
    used = app.chat.count(app.conversation.context(), mode="thinking")
    assert "of 512 tokens" in _text(app.gauge_label) and 0 < app.gauge.value <= 512 and used <= app.gauge.value
    assert re.search(r"prompt [\d,]+ tokens · [\d,]+ tok/s · reply \d+ tokens · [\d,.]+ tok/s · [\d.]+ s · stop",
                     _text(app.stats))
    # Edit puts the last message back and removes its turn; Retry answers the previous one again
    app.edit_button.click()
    app.wait()
    assert app.prompt.value == "Third question" and len(app.messages) == 4 and not app.live_user.value
    app.prompt.value = ""
    app.retry_button.click()
    app.wait()
    assert len(app.messages) == 4 and "Second question" in _text(app.live_user)
    # Export: the OpenAI request body that continues the chat, and the exact prompt of the last reply
    json_path, prompt_path = app.export()
    body = json.loads(json_path.read_text(encoding="utf-8"))
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"] * 2 and body["model"] == "Kimi-K2-Demo.gguf"
    assert prompt_path.read_text(encoding="utf-8") == app.reply.prompt and app.reply.prompt.endswith("<think>")
    # New chat clears everything on screen and in the conversation; the model stays loaded
    app.new_button.click()
    app.wait()
    assert app.messages == [] and not app.history.children and not app.answer_view.value and app.gauge.value == 0
    assert "new chat" in app.status.value and not app.send_button.disabled


def test_overflow_drops_the_oldest_turns_or_stops(demo_app):
    app = demo_app
    app.mode.value = "instant"
    for i in range(4):
        app.prompt.value = f"Turn {i}: answer in 100 words"
        app.send_button.click()
        app.wait()
        assert app.reply.finish_reason == "stop", app.status.value
    assert app.conversation.start > 0 and "left the context" in app.status.value
    dropped = [w for w in app.history.children if "wb-dropped" in w._dom_classes]
    assert len(dropped) == app.conversation.start and any("left the context" in _text(w) for w in app.history.children)
    assert app.reply.n_prompt_tokens + 128 <= 512  # what was sent fits, with room for the reply
    # "stop": nothing is sent, the message stays in the box, the history is untouched
    app.overflow.value = "stop"
    before = list(app.messages)
    app.prompt.value = "Turn 4: answer in 100 words"
    app.send_button.click()
    app.wait()
    assert "the context holds 512" in app.status.value and "color:#b00" in app.status.value
    assert app.messages == before and app.prompt.value == "Turn 4: answer in 100 words"


def test_status_is_live_while_a_reply_streams(demo_app):
    app = demo_app
    seen = []

    def look(change):
        if change["new"] and len(seen) < 3:
            seen.append(app.live_status())

    app.answer_view.observe(look, names="value")
    app.mode.value = "instant"
    app.prompt.value = "Hi"
    app.send_button.click()
    app.wait()
    assert seen and all(re.fullmatch(r"generating · \d+ tokens · [\d,.]+ tok/s · [\d.]+ s", s) for s in seen), seen
    assert app.live_status() == ""  # nothing in flight


def test_the_mode_note_on_a_template_without_a_switch(folder):
    app = ChatApp(folders=[str(folder)], ram="64GiB", n_ctx=512)
    app.model.value = [i for i, e in enumerate(app.entries) if len(e.files) == 1][0]
    app.load_button.click()
    app.wait()
    assert "reads no thinking switch: thinking mode changes only the sampling" in html.unescape(app.about.value)
    app.mode.value = "instant"
    assert "instant mode changes only the sampling" in html.unescape(app.about.value)


def test_tools_in_the_app(demo_model, tmp_path):
    """Registered tools are listed; a message runs the loop and the calls and results join the conversation."""
    ran = []

    def get_weather(city: str) -> dict:
        """Current weather for a city."""
        ran.append(city)
        return {"city": city, "temperature": 18}

    app = ChatApp(folders=[str(demo_model.parent)], ram="64GiB", n_ctx=1024, export_dir=tmp_path / "chats",
                  tools={"get_weather": get_weather})
    assert "tools: get_weather (only these run" in _text(app.tools_line)
    app.load_button.click()
    app.wait()
    app.prompt.value = "What is the weather in Oslo?"
    app.send_button.click()
    app.wait()
    assert ran == ["Oslo"] and app.status.value.endswith("ready</span>")
    assert [m["role"] for m in app.messages] == ["user", "assistant", "tool", "assistant"]
    assert app.messages[1]["tool_calls"][0]["id"] == "functions.get_weather:0"
    classes = [c for w in app.history.children for c in w._dom_classes]
    assert "wb-turn-tool" in classes and classes.count("wb-turn-assistant") == 2
    (tool,) = [w for w in app.history.children if "wb-turn-tool" in w._dom_classes]
    assert "result of functions.get_weather:0" in _text(tool) and '"temperature": 18' in _text(tool)
    assert "2 replies, 1 tool calls" in _text(app.stats)


def test_thinking_controls_in_the_app(demo_app):
    app = demo_app
    app.budget.value = 0
    app.prompt.value = "Hi"
    app.send_button.click()
    app.wait()
    assert app.reply.reasoning == "" and app.reply.answer.strip() and app.reply.n_reasoning_tokens == 0
    app.budget.value = -1
    app.preserve.value = True
    app.prompt.value = "And again"
    app.send_button.click()
    app.wait()
    first_reasoning = app.messages[1]["reasoning_content"]
    assert app.reply.reasoning.strip() and first_reasoning == ""  # the first turn had none to keep
    app.prompt.value = "Once more"
    app.send_button.click()
    app.wait()
    kept = app.messages[3]["reasoning_content"].strip()
    assert kept and kept in app.conversation.prompt  # preserve_thinking: the earlier reasoning is in the prompt


def test_the_app_on_a_server_behind_a_key(demo_model, llama_server_binary, tmp_path):
    """Connect to a real llama-server started with --api-key: the key leaves the box, a wrong one is one line,
    the conversation and server-check work, and nothing the app shows holds the key."""
    from workbench.run.llama_server import LlamaServer

    key = "app-test-key-3e1d"
    with LlamaServer(["-m", str(demo_model), "-c", "1024", "--threads", "1", "--jinja", "--api-key", key],
                     binary=llama_server_binary) as srv:
        app = ChatApp(folders=[str(tmp_path)], ram="64GiB", export_dir=tmp_path / "chats")
        app.server.value = f"{srv.url}/v1"
        app.api_key.value = "wrong-key-7c"
        app.connect_button.click()
        app.wait()
        assert "refused the API key (401)" in app.status.value and app.chat is None and app.api_key.value == ""
        app.api_key.value = key
        app.connect_button.click()
        app.wait()
        assert "connected to" in app.status.value and app.api_key.value == "" and not app.send_button.disabled
        assert "context: the server's" in _text(app.gauge_label)
        app.prompt.value = "Hi"
        app.send_button.click()
        app.wait()
        assert app.status.value.endswith("ready</span>") and app.reply.n_generated_tokens > 0
        assert [m["role"] for m in app.messages] == ["user", "assistant"] and app.reply.reasoning
        app.check_button.click()
        app.wait()
        assert "reasoning in reasoning_content" in app.status.value and app.chat.switches == ("thinking",)
        assert "thinking=: changes the prompt" in _text(app.server_report)
        shown = json.dumps(app.get_state(), default=str) + "".join(
            json.dumps(w.get_state(), default=str) for w in app.children)
        for w in (app.status, app.stats, app.about, app.server_report, app.history, app.api_key):
            shown += json.dumps(w.get_state(), default=str)
        assert key not in shown and "wrong-key-7c" not in shown


def test_a_hub_repo_in_the_model_picker(folder, tmp_path_factory, tmp_path, monkeypatch):
    """List quants reads only headers, shows the table, adds the quants to the picker with their plans; Load says
    how to download one instead of trying."""
    from tests.hub import KIMI_REPO, serve_hub, write_kimi_repo

    root = tmp_path_factory.mktemp("hub")
    write_kimi_repo(root)
    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))
    app = ChatApp(folders=[str(folder)], vram="24GiB", ram="512GiB", n_ctx=8192)
    local = len(app.entries)
    with serve_hub(root) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub)
        app.hub.value = f"hf://{KIMI_REPO}"
        app.hub_button.click()
        app.wait()
        assert hub.bytes_served < 50e6  # headers only, of 600 GB of quants
    assert "2 quant(s)" in app.status.value, app.status.value
    view = app.hub_view.value
    assert view.count("<tr class='wb-quant'>") == 2 and "best that fits: <b>UD-Q2_K_XL</b>" in view
    assert "UD-TQ1_0: EOS error: EOS is [EOS]" in html.unescape(view) and "kimi-wb gguf fix-kimi" in view
    labels = [label for label, _ in app.model.options]
    assert len(labels) == local + 2 and all("on the Hub" in x for x in labels[local:])
    chosen = app.entries[app.model.value]
    assert chosen.remote and chosen.quant == "UD-Q2_K_XL"  # the best that fits is picked
    plan = html.unescape(app.plan_view.value)
    assert "recommended: n-cpu-moe:" in plan and "on the Hub: planned from its headers" in plan and "hf download" in plan
    recommended = app.plan.recommendation
    assert not app.picker.use_button.disabled
    app.picker.use_button.click()  # the least CPU offload that fits, added to the list
    assert app.offload.value == recommended and recommended in app.offload.options
    assert html.unescape(app.plan_view.value).startswith("<b>fits</b>") and app.picker.use_button.disabled
    app.offload.value = "experts-cpu"  # the panel follows the offload as for a local file
    assert html.unescape(app.plan_view.value).startswith("<b>fits</b>")
    app.load_button.click()
    app.wait()
    assert "is on the Hub, not on this machine: download it first (hf download" in html.unescape(app.status.value)
    assert app.loaded is None
    app.scan_button.click()  # a rescan of the folders keeps the Hub entries
    assert len(app.model.options) == local + 2
