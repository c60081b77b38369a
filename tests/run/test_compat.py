"""The pre-load check against the installed llama.cpp: what it would refuse, said before a long load."""

from __future__ import annotations

import hashlib

import pytest

from workbench.errors import InputError
from workbench.gguffile.bpe import finish
from workbench.ggufio import patch
from workbench.models.tiny import make_tiny_model
from workbench.run.compat import LLAMA_MAX_EXPERTS, check_compat
from workbench.run.loader import load_model
from workbench.run.offload import preset


def broken(tmp_path, **values):
    (path,) = make_tiny_model(tmp_path / "m.gguf")
    patch(path, values, llama_check=False, progress=False)
    return path


def test_the_tiny_model_passes(tiny_model):
    r = check_compat(tiny_model)
    assert r.ok and [f.check for f in r.findings] == ["split-set", "experts", "llama.cpp"]
    assert "pre-tokenizer kimi-k2" in r.findings[-1].message


def test_an_unknown_pre_tokenizer_in_llama_cpps_words(tmp_path):
    r = check_compat(broken(tmp_path, **{"tokenizer.ggml.pre": "kimi-k9"}))
    assert not r.ok and "unknown pre-tokenizer type: 'kimi-k9'" in r.findings[-1].message


def test_an_unknown_architecture(tmp_path, tiny_vocab):
    import gguf

    from workbench.gguffile.bpe import add_minimal_hparams
    from workbench.tokenizer import load
    from workbench.tokenizer.gguf_vocab import add_tokenizer

    assets, path = load(tiny_vocab), tmp_path / "future.gguf"
    w = gguf.GGUFWriter(path, arch="deepseek9")  # an architecture from a newer llama.cpp
    add_minimal_hparams(w, assets.vocab_size)
    add_tokenizer(w, assets)
    finish(w)
    r = check_compat(path)
    assert not r.ok and "unknown model architecture: 'deepseek9'" in r.findings[-1].message


def test_too_many_experts_is_caught_before_llama_cpp_would_abort(tmp_path):
    path = broken(tmp_path, **{"deepseek2.expert_count": LLAMA_MAX_EXPERTS + 1})
    r = check_compat(path)  # llama.cpp itself would GGML_ASSERT here and take the process down
    assert not r.ok and [f.check for f in r.findings] == ["split-set", "experts"]
    assert f"at most {LLAMA_MAX_EXPERTS}" in r.findings[-1].message
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InputError, match="would not load it: experts"):
        load_model(path, preset("cpu-only"))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_missing_split_member(tmp_path):
    files = make_tiny_model(tmp_path / "s.gguf", split=3)
    files[1].unlink()
    r = check_compat(files[0])
    assert not r.ok and r.findings[0].check == "split-set" and files[1].name in r.findings[0].message


def test_plan_cli_reports_it(tmp_path, capsys):
    import json

    from workbench.cli import main

    path = broken(tmp_path, **{"tokenizer.ggml.pre": "kimi-k9"})
    assert main(["plan", str(path), "--json", "--ram", "8GiB"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["compat"]["ok"] is False and doc["verdict"] == "fits"
    assert main(["plan", str(path), "--ram", "8GiB"]) == 0
    assert "would NOT load it" in capsys.readouterr().out


def test_a_header_llama_cpp_aborts_on_is_a_finding_not_a_dead_process(aborting_model):
    """llama.cpp GGML_ASSERTs on a duplicated token; its read runs in a worker, so this process lives to say so."""
    r = check_compat(aborting_model)
    (failed,) = [f for f in r.findings if f.severity == "error"]
    assert failed.check == "llama.cpp" and failed.message.startswith("aborted: ")
    assert "llama-vocab.cpp" in failed.message and "GGML_ASSERT(" in failed.message and "\n" not in failed.message
    with pytest.raises(InputError, match="llama.cpp would not load it: llama.cpp: aborted: .*GGML_ASSERT"):
        load_model(aborting_model, preset("cpu-only"))


def test_the_plan_command_survives_it_too(aborting_model):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "plan", str(aborting_model), "--ram", "64GiB"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, (proc.returncode, proc.stderr[-2000:])
    assert "would NOT load it" in proc.stdout and "GGML_ASSERT" in proc.stdout
