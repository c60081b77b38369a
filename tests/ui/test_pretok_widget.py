"""The side-by-side split widget, driven as a user would: set values, read the views."""

from __future__ import annotations

from workbench.pretok import diff
from workbench.pretok.pieces import Piece
from workbench.ui.pretok import SplitCompare, diff_html, pieces_html


def test_typing_updates_both_views():
    app = SplitCompare("plain")
    assert "identical" in app.summary.value
    app.text.value = "ChatGPT 中文English"
    assert [p.text for p in app.diff.pieces_a] == ["Chat", "GPT", " ", "中文", "English"]
    assert ">中文</span>" in app.view_a.value and "> 中文English</span>" in app.view_b.value
    assert "han ×1" in app.summary.value
    assert app.view_a.value.count("outline") == 3  # the three kimi pieces of the divergence


def test_changing_scheme_and_engine_redraws():
    app = SplitCompare("it's", a="kimi-k2", b="o200k")
    assert "identical" in app.summary.value
    app.scheme_b.value = "cl100k"
    assert [p.text for p in app.diff.pieces_b] == ["it", "'s"] and "contraction ×1" in app.summary.value
    app.engine_b.value = "tokenizers"
    assert app.diff.b == "cl100k/tokenizers"


def test_pieces_html_escapes_and_shows_whitespace():
    out = pieces_html([Piece("<b>", 0, 3, "punct"), Piece("\n", 3, 4, "newline")], marked=[(3, 4)])
    assert "&lt;b&gt;" in out and "↵" in out and out.count("outline") == 1
    assert 'title="punct [0:3]"' in out


def test_diff_html_has_both_rows():
    out = diff_html(diff("a中", "kimi-k2", "o200k"))
    assert out.count("<tr>") == 2 and "han ×1" in out
