"""patch / fix_kimi / restore on real GGUF files: in place when it fits, else a verified rewrite; never a broken file."""

from __future__ import annotations

import hashlib
import os

import gguf
import pytest

from tests.helpers import TEMPLATE, sha
from workbench.errors import InputError
from workbench.ggufio import backup_path, padded_template, patch, plan, restore
from workbench.ggufio import rewrite as rewrite_mod
from workbench.ggufio.fixes import fix_kimi, kimi_fixes
from workbench.ggufio.inspect import inspect

EOS_KEY, TEMPLATE_KEY = "tokenizer.ggml.eos_token_id", "tokenizer.chat_template"


def tensor_digest(path):
    r = gguf.GGUFReader(path)
    return hashlib.sha256(b"".join(bytes(t.data.tobytes()) for t in r.tensors)).hexdigest(), \
        [(t.name, int(t.data_offset)) for t in r.tensors]


def test_in_place_scalar_touches_four_bytes(model, assets):
    before = model.read_bytes()
    (result,) = patch(model, {EOS_KEY: assets.n_ranks + 2}, progress=False)
    after = model.read_bytes()
    assert result.plan.mode == "in-place" and result.plan.write_bytes == 4
    diff = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(after) == len(before) and 1 <= len(diff) <= 4 and max(diff) - min(diff) < 4
    assert f"llama.cpp EOS = {assets.n_ranks + 2}" in result.verified
    assert inspect(model).tokenizer()["eos"]["content"] == "<|im_end|>"
    assert not any(p.name.endswith((".wb-journal", ".wb-backup")) for p in model.parent.iterdir())


def test_dry_run_writes_nothing(model, assets):
    before = sha(model)
    (result,) = patch(model, {EOS_KEY: assets.n_ranks + 2, "general.name": "x" * 40}, dry_run=True)
    assert not result.applied and result.plan.mode == "rewrite" and sha(model) == before
    text = result.plan.describe()
    assert f"{EOS_KEY} (uint32): {assets.n_ranks + 1} -> {assets.n_ranks + 2}  [in-place]" in text
    assert "general.name (string): 'fixture' -> " in text and "rewrite of the file" in text


@pytest.mark.parametrize("values,match", [
    ({EOS_KEY: 2**32}, "does not fit"), ({EOS_KEY: -1}, "does not fit"), ({EOS_KEY: "x"}, "not an integer"),
    ({"tokenizer.ggml.add_bos_token": 1}, "not true/false"), ({"general.name": 3}, "not"),
    ({"general.architecture": "llama"}, "cannot be patched"), ({"split.count": 3}, "cannot be patched"),
])
def test_values_that_do_not_fit_are_refused(model, values, match):
    before = sha(model)
    with pytest.raises(InputError, match=match):
        patch(model, values)
    assert sha(model) == before


def test_template_padding_renders_identically(model):
    shorter = TEMPLATE.replace("You are Kimi, an AI assistant created by Moonshot AI.", "You are Kimi.")
    padded = padded_template(len(TEMPLATE.encode()), shorter)
    assert len(padded.encode()) == len(TEMPLATE.encode()) and padded.endswith("#}")
    (result,) = patch(model, {TEMPLATE_KEY: shorter}, progress=False)
    assert result.plan.mode == "in-place" and "Jinja comment" in result.plan.changes[0].note
    assert inspect(model).value(TEMPLATE_KEY) == padded
    assert "llama.cpp reads the new template" in result.verified
    assert padded_template(10, "12345678") is None  # fewer than 4 spare bytes: no room for {##}


def test_rewrite_keeps_tensor_bytes_and_restore_undoes_it(model, assets):
    original = model.read_bytes()
    digest, layout = tensor_digest(model)
    longer = TEMPLATE + "{# a longer template #}" * 20
    (result,) = patch(model, {TEMPLATE_KEY: longer, "workbench.fixed": True, EOS_KEY: assets.n_ranks + 2},
                      remove=["general.name"], backup=True, progress=False)
    assert result.plan.mode == "rewrite" and any("sha256 equal" in v for v in result.verified)
    info = inspect(model)
    assert info.value(TEMPLATE_KEY) == longer and info.value("workbench.fixed") is True
    assert info.value("general.name") is None and info.keys["workbench.fixed"].type == "bool"
    new_digest, new_layout = tensor_digest(model)
    assert new_digest == digest and [n for n, _ in new_layout] == [n for n, _ in layout]
    assert backup_path(model).exists()
    assert restore(model, progress=False) == [model]
    assert model.read_bytes() == original and not backup_path(model).exists()


def test_restore_after_in_place(model, assets):
    original = model.read_bytes()
    patch(model, {EOS_KEY: assets.n_ranks + 2}, backup=True)
    assert model.read_bytes() != original
    restore(model)
    assert model.read_bytes() == original
    with pytest.raises(InputError, match="no backup to restore"):
        restore(model)


def test_fix_kimi_on_a_split_set_touches_split_one_only(split_set, assets):
    second = sha(split_set[1])
    assert kimi_fixes(split_set[1]) == {EOS_KEY: assets.n_ranks + 2}  # looked up in the file's own vocabulary
    results = fix_kimi(split_set[1], template=TEMPLATE.replace(" an AI assistant created by Moonshot AI", ""))
    assert [r.plan.path for r in results] == [split_set[0]] and results[0].plan.mode == "in-place"
    assert sha(split_set[1]) == second
    assert fix_kimi(split_set[0], template=TEMPLATE.replace(" an AI assistant created by Moonshot AI", "")) == []  # already fixed


def test_new_key_in_a_split_set_goes_to_split_one(split_set):
    (p,) = plan(split_set[1], {"workbench.note": "hi"})
    assert p.path == split_set[0] and p.mode == "rewrite"


def test_read_only_file_is_refused(model, assets):
    before = sha(model)
    os.chmod(model, 0o444)
    try:
        with pytest.raises(InputError, match="read-only"):
            patch(model, {EOS_KEY: assets.n_ranks + 2})
    finally:
        os.chmod(model, 0o644)
    assert sha(model) == before


def test_not_enough_disk_for_a_rewrite(model, monkeypatch):
    before = sha(model)
    monkeypatch.setattr(rewrite_mod.shutil, "disk_usage", lambda _p: type("U", (), {"free": 1000})())
    with pytest.raises(InputError, match="needs .* GiB free"):
        patch(model, {"general.name": "a much longer name than before"}, progress=False)
    assert sha(model) == before and [p.name for p in model.parent.iterdir()] == [model.name]


def test_missing_key_and_missing_vocabulary(model, assets, tmp_path):
    with pytest.raises(InputError, match="no key 'nope.key' to remove"):
        patch(model, {}, remove=["nope.key"])
    from tests.helpers import tensors, write_gguf

    bare = write_gguf(tmp_path / "bare.gguf", assets, tensors=tensors(0, ["output.weight"]), tokenizer=False)
    with pytest.raises(InputError, match="no tokenizer metadata"):
        fix_kimi(bare)


def test_fix_kimi_repairs_an_old_tiny_model_completely(assets, tmp_path):
    from workbench.chat.bundled import bundled_template
    from workbench.models.tiny import make_tiny_model
    from workbench.verify import check

    (old,) = make_tiny_model(tmp_path / "old.gguf", old=True, vocab=assets)
    before = check(old)
    assert {f.check for f in before.findings if f.severity == "error"} >= {"eos-token", "special-token-ids"}
    (result,) = fix_kimi(old, template=bundled_template())
    assert result.plan.mode == "in-place" and "llama.cpp keeps 7 USER_DEFINED token(s) in plain text" in result.verified
    after = check(old)
    assert after.ok, [f for f in after.findings if f.severity == "error"]
    (fresh,) = make_tiny_model(tmp_path / "fresh.gguf", vocab=assets)
    assert kimi_fixes(fresh, template=bundled_template()) == {}  # the default model is the fixed state
