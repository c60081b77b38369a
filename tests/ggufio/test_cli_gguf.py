"""kimi-wb gguf …: readable and JSON output, exit codes, one-line errors, files unchanged on error."""

from __future__ import annotations

import json

from tests.helpers import TEMPLATE, sha
from tests.test_cli import run


def test_inspect(capsys, split_set):
    code, out, _ = run(capsys, "gguf", "inspect", str(split_set[1]))
    assert code == 0 and "2 file(s)" in out and "by role:" in out and "tokenizer: gpt2 / pre kimi-k2" in out
    assert f"[{split_set[0].name}]" in out  # which split holds which key
    code, out, _ = run(capsys, "gguf", "inspect", "--json", str(split_set[0]))
    doc = json.loads(out)
    assert code == 0 and doc["n_tensors"] == 4 and doc["tokenizer"]["eos"]["content"] == "[EOS]"
    code, out, _ = run(capsys, "gguf", "inspect", "--tensors", str(split_set[0]))
    assert "blk.0.ffn_up_exps.weight" in out and "routed-experts" in out


def test_patch_dry_run_then_apply_then_restore(capsys, model, assets, tmp_path):
    before = sha(model)
    eos = assets.n_ranks + 2
    code, out, _ = run(capsys, "gguf", "patch", str(model), "--set", f"tokenizer.ggml.eos_token_id={eos}", "--dry-run")
    assert code == 0 and "[in-place]" in out and "4 bytes to write" in out and "dry run" in out and sha(model) == before
    code, out, _ = run(capsys, "gguf", "patch", "--json", str(model), "--set", f"tokenizer.ggml.eos_token_id={eos}",
                       "--set", "tokenizer.ggml.add_bos_token=false", "--backup")
    doc = json.loads(out)
    assert code == 0 and doc[0]["mode"] == "in-place" and doc[0]["applied"] and doc[0]["backup"]
    tmpl = tmp_path / "t.jinja"
    tmpl.write_text(TEMPLATE + "{# longer #}" * 10)
    code, out, _ = run(capsys, "gguf", "patch", str(model), "--template-file", str(tmpl), "--set", "my.flag=true")
    assert code == 0 and "rewrite of the file" in out and "sha256 equal" in out
    code, out, _ = run(capsys, "gguf", "restore", str(model))
    assert code == 0 and "restored" in out and sha(model) == before


def test_fix_kimi_is_idempotent(capsys, model):
    code, out, _ = run(capsys, "gguf", "fix-kimi", str(model))
    assert code == 0 and "applied (in-place)" in out and "llama.cpp EOS" in out
    code, out, _ = run(capsys, "gguf", "fix-kimi", str(model))
    assert code == 0 and "already fixed" in out


def test_errors_are_one_line_and_change_nothing(capsys, model, tmp_path):
    before = sha(model)
    for argv, message in [
        (["patch", str(model), "--set", "tokenizer.ggml.eos_token_id=-5"], "does not fit"),
        (["patch", str(model), "--set", "tokenizer.ggml.add_bos_token=maybe"], "expected true or false"),
        (["patch", str(model), "--set", "novalue"], "expects KEY=VALUE"),
        (["patch", str(model)], "nothing to change"),
        (["patch", str(model), "--set", "tokenizer.ggml.tokens=x"], "arrays are changed through the API"),
        (["patch", str(model), "--template-file", str(tmp_path / "none.jinja")], "cannot read template"),
        (["restore", str(model)], "no backup to restore"),
        (["inspect", str(tmp_path / "none.gguf")], "no such file"),
    ]:
        code, out, err = run(capsys, "gguf", *argv)
        assert code == 2 and err.count("\n") == 1 and message in err, (argv, err)
    assert sha(model) == before


def test_make_tiny_model_cli(capsys, tmp_path):
    code, out, _ = run(capsys, "make-tiny-model", "--json", "--split", "2", "--old", str(tmp_path / "T.gguf"))
    doc = json.loads(out)
    assert code == 0 and [p.rsplit("/", 1)[1] for p in doc["files"]] == ["T-00001-of-00002.gguf", "T-00002-of-00002.gguf"]
    code, out, _ = run(capsys, "gguf", "fix-kimi", doc["files"][1])
    assert code == 0 and "T-00001-of-00002.gguf: in place" in out
    code, _, err = run(capsys, "make-tiny-model", "--experts-used", "9", str(tmp_path / "U.gguf"))
    assert code == 2 and err.count("\n") == 1
