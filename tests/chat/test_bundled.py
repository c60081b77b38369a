"""The workbench's own template ships in the package and passes its own checks."""

from __future__ import annotations

import pytest

from workbench.chat.bundled import bundled_names, bundled_path, bundled_template, load_templates
from workbench.errors import InputError, UnknownNameError
from workbench.verify import check
from workbench.verify.report import side_by_side


def test_bundled_template_is_packaged_and_clean():
    assert "kimi-k2" in bundled_names() and bundled_path().is_file()
    r = check(bundled_path())
    assert r.ok and "<|im_end|>" in bundled_template()


def test_unknown_bundled_name():
    with pytest.raises(UnknownNameError, match="valid: kimi-k2"):
        bundled_template("kimi-k9")


def test_load_templates(tmp_path):
    assert load_templates(tmp_path / "absent") == {}
    (tmp_path / "b.jinja").write_text("B")
    (tmp_path / "a.jinja").write_text("A")
    (tmp_path / "notes.txt").write_text("x")
    assert load_templates(tmp_path) == {"a": "A", "b": "B"}
    with pytest.raises(InputError, match="not a folder"):
        load_templates(tmp_path / "a.jinja")


def test_side_by_side_keeps_the_worst_finding(tmp_path):
    bad = tmp_path / "bad.jinja"
    bad.write_text(bundled_template().replace("<|media_begin|>", "<|media_start|>"))
    frame = side_by_side({"good": check(bundled_path()), "bad": check(bad)})
    assert list(frame.columns) == ["good", "bad"]
    row = frame.loc["template-unknown-token"]
    assert row["good"].startswith("info:") and row["bad"].startswith("error: emits <|media_start|>")
