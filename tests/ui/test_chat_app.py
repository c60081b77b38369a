"""The chat app driven as a user would: scan, plan, load, switch mode, send, stop; failures in the status line."""

from __future__ import annotations

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
