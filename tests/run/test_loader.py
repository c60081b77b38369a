"""The loader passes tensor overrides to llama.cpp, and llama.cpp's own load log shows it applied them."""

from __future__ import annotations

import itertools

import pytest

from workbench.errors import InputError
from workbench.ggufio.inspect import inspect
from workbench.run.loader import buffer_types, load_model
from workbench.run.offload import custom, preset


def greedy(loaded, n=5):
    llm = loaded.llm
    prompt = llm.tokenize(b"<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|>",
                          add_bos=False, special=True)
    return list(itertools.islice(llm.generate(prompt, temp=0.0), n))


def test_llama_cpp_moves_exactly_the_routed_experts(tiny_model):
    experts = {t.name for t in inspect(tiny_model).tensors if t.role == "routed-experts"}
    loaded = load_model(tiny_model, preset("experts-cpu"), n_ctx=256, n_threads=1)
    assert loaded.overridden == dict.fromkeys(experts, "CPU") and len(experts) == 6
    assert loaded.buffers and all(v > 0 for v in loaded.buffers.values())
    with_override = greedy(loaded)
    loaded.close()
    plain = load_model(tiny_model, preset("gpu-all"), n_ctx=256, n_threads=1)
    assert plain.overridden == {}
    assert greedy(plain) == with_override  # same numbers: the placement changed, not the model
    plain.close()


def test_n_cpu_moe_moves_only_the_first_blocks(tiny_model):
    loaded = load_model(tiny_model, preset("n-cpu-moe:2"), n_ctx=256)
    assert set(loaded.overridden) == {f"blk.1.ffn_{k}_exps.weight" for k in ("gate", "up", "down")}
    loaded.close()


def test_bad_inputs_fail_before_loading(tiny_model, tmp_path):
    assert "CPU" in buffer_types()
    with pytest.raises(InputError, match="unknown buffer type CUDA7 for this llama.cpp build; available: CPU"):
        load_model(tiny_model, custom(r"\.ffn_.*_exps\.=CUDA7"))
    with pytest.raises(InputError, match="no such model file"):
        load_model(tmp_path / "absent.gguf", preset("gpu-all"))
    (tmp_path / "K-00001-of-00002.gguf").write_bytes(tiny_model.read_bytes())
    with pytest.raises(InputError, match="missing K-00002-of-00002.gguf"):
        load_model(tmp_path / "K-00001-of-00002.gguf", preset("gpu-all"))


def test_llama_cpp_is_quiet_unless_asked(tiny_model, capfd):
    from workbench.run.loader import load_model
    from workbench.run.offload import preset

    quiet = load_model(tiny_model, preset("cpu-only"), n_ctx=256)
    quiet.close()
    assert capfd.readouterr().err == "" and any("llama_model_loader" in line for line in quiet.log)
    loud = load_model(tiny_model, preset("cpu-only"), n_ctx=256, verbose=True)
    loud.close()
    assert "llama_model_loader" in capfd.readouterr().err
