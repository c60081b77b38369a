"""Renderer parity: every renderer against HF on the suite, each status shown reachable."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REFERENCE, ROOT
from workbench.chat.parity import id_diff, parity, text_diff
from workbench.chat.suite import SUITE
from workbench.errors import UnknownNameError
from workbench.tokenizer import load

GOOD = (ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja").read_text(encoding="utf-8")
THINKING = REFERENCE / "templates" / "Kimi-K2-Thinking.jinja"


@pytest.fixture(scope="module")
def assets(tiny_vocab):
    return load(tiny_vocab)


def test_good_template_across_renderers(assets):
    table = parity(GOOD, tokenizer=assets)
    assert table.frame().shape == (len(SUITE), 4)  # hf, llama.cpp, llama-cpp-python, llama-server
    counts = table.counts()
    assert counts["llama-cpp-python"]["equal"] == len(SUITE) and counts["hf"]["equal"] == len(SUITE)
    # llama.cpp's built-in kimi-k2 formatter: no default system prompt, no tools or reasoning fields
    cell = table.cell("single-turn", "llama.cpp")
    assert cell.status == "differs" and "You are Kimi" in cell.text_diff()
    assert "4106:'<|im_system|>'" in cell.id_diff() and cell.ids == cell.baseline_ids[len(cell.baseline_ids) - len(cell.ids):]
    assert table.cell("with-system", "llama.cpp").status == "equal"
    assert table.cell("one-tool-call", "llama.cpp").status == "unsupported"
    json.dumps(table.to_dict())


def test_differs_and_fails_are_reachable():
    """HF passes the whole special-tokens map; llama-cpp-python only bos/eos."""
    table = parity("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ pad_token }}",
                   renderers=["llama-cpp-python"])
    cell = table.cell("single-turn", "llama-cpp-python")
    assert cell.status == "differs" and "[-'[PAD]'-]" in cell.text_diff() and cell.id_diff().startswith("(no token ids")
    table = parity("{{ pad_token.lower() }}{% for m in messages %}{{ m.content }}{% endfor %}",
                   renderers=["llama-cpp-python"])
    cell = table.cell("single-turn", "llama-cpp-python")
    assert cell.status == "fails" and "pad_token" in cell.error and cell.baseline_error is None


def test_a_failing_baseline_marks_every_cell():
    table = parity("{{ raise_exception('no') }}", renderers=["hf", "llama-cpp-python"])
    assert {c.status for c in table.cells} == {"fails"}
    assert all("no" in c.baseline_error for c in table.cells)


def test_unknown_renderer():
    with pytest.raises(UnknownNameError, match="valid"):
        parity(GOOD, renderers=["vllm"])


@pytest.mark.skipif(not THINKING.is_file(), reason=f"reference template not found at {THINKING}")
def test_thinking_history_markers_only_in_jinja(assets):
    """K2 Thinking's template writes an empty <think></think> into earlier assistant turns; the built-in formatter does not."""
    cell = parity(THINKING.read_text(encoding="utf-8"), tokenizer=assets, renderers=["llama.cpp"]).cell("multi-turn", "llama.cpp")
    assert cell.status == "differs" and "<think></think" in cell.text_diff()
    n = assets.n_ranks
    assert f"{n + 22}:'<think>' {n + 23}:'</think>'" in cell.id_diff()


def test_diff_helpers():
    assert text_diff("abc", "abc") == "(identical)"
    assert "[-'b'-]{+'x'+}" in text_diff("abc", "axc")
    assert id_diff([1, 2, 3], [1, 2, 3]) == "(identical, 3 ids)"
    assert "[-2-]{+9 9+}" in id_diff([1, 2, 3], [1, 9, 9, 3])
