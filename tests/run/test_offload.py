"""Offload presets and -ot overrides on Kimi K2's real tensor table: which tensor goes where."""

from __future__ import annotations

import pytest

from workbench.errors import InputError, UnknownNameError
from workbench.models.shape import KIMI_K2, tensor_table
from workbench.run.offload import PRESETS, custom, parse_overrides, preset

NAMES = [t.name for t in tensor_table(KIMI_K2)]


def on_cpu(offload) -> set[str]:
    return {n for n in NAMES if offload.buffer_for(n) == "CPU"}


def test_experts_cpu_moves_exactly_the_routed_experts():
    moved = on_cpu(preset("experts-cpu"))
    assert len(moved) == 60 * 3 and all("_exps." in n for n in moved)  # 60 MoE blocks x gate/up/down
    assert not any("shexp" in n or "attn" in n for n in moved)
    assert on_cpu(preset("cpu-moe")) == moved  # llama.cpp's --cpu-moe pattern selects the same tensors here


@pytest.mark.parametrize("name,count,kinds", [
    ("up-down-cpu", 120, {"ffn_up_exps", "ffn_down_exps"}),
    ("up-cpu", 60, {"ffn_up_exps"}),
    ("n-cpu-moe:3", 6, {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}),  # block 0 is dense: blocks 1 and 2
    ("experts-cpu-from-layer:6", 55 * 3, {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}),
    ("gpu-all", 0, set()),
])
def test_presets(name, count, kinds):
    moved = on_cpu(preset(name))
    assert len(moved) == count and {n.split(".")[2] for n in moved} == kinds


def test_layer_ranges_are_exact():
    moved = on_cpu(preset("experts-cpu-from-layer:6"))
    assert {int(n.split(".")[1]) for n in moved} == set(range(6, 61))
    assert {int(n.split(".")[1]) for n in on_cpu(preset("n-cpu-moe:20"))} == set(range(1, 20))


def test_first_match_wins_and_cli_args():
    o = custom(r"blk\.1\.ffn_up_exps=CUDA0,\.ffn_.*_exps\.=CPU", n_gpu_layers=40)
    assert o.buffer_for("blk.1.ffn_up_exps.weight") == "CUDA0" and o.buffer_for("blk.2.ffn_up_exps.weight") == "CPU"
    assert o.cli_args() == ["-ngl", "40", "-ot", r"blk\.1\.ffn_up_exps=CUDA0,\.ffn_.*_exps\.=CPU"]
    assert preset("cpu-only").cli_args() == ["-ngl", "0"] and preset("cpu-only").n_gpu_layers == 0
    assert preset("n-cpu-moe:1").override_string == r"blk\.0\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU"
    assert preset("n-cpu-moe:20").cli_args() == ["-ngl", "99", "--n-cpu-moe", "20"]  # llama.cpp's own flag
    assert preset("cpu-moe").cli_args() == ["-ngl", "99", "--cpu-moe"]


@pytest.mark.parametrize("text,message", [
    (r"\.ffn_(up_exps=CPU", "invalid regular expression"),
    (r"\.ffn_.*_exps\.=GPU", "unknown buffer type 'GPU'"),
    (r"\.ffn_.*_exps\.", "expected PATTERN=BUFFER"),
    (r"blk\.[0-9]{1,3}\.ffn_up_exps=CPU", "expected PATTERN=BUFFER"),  # llama.cpp splits on the comma too
])
def test_bad_overrides(text, message):
    with pytest.raises(InputError, match=message):
        parse_overrides(text)


def test_bad_presets():
    with pytest.raises(UnknownNameError, match="valid: gpu-all, experts-cpu"):
        preset("all-on-gpu")
    with pytest.raises(InputError, match="needs a number"):
        preset("n-cpu-moe")
    with pytest.raises(InputError, match="0 <= N <= 61"):
        preset("experts-cpu-from-layer:70")
    with pytest.raises(InputError, match=">= 0"):
        custom(n_gpu_layers=-1)
    assert set(PRESETS) >= {"gpu-all", "experts-cpu", "up-down-cpu", "up-cpu", "cpu-only"}


def test_gpu_layers_are_set_one_way_for_the_cli_and_the_app():
    from workbench.run.offload import choose

    flagged = preset("n-cpu-moe:2").with_gpu_layers(40)
    assert flagged.cli_args() == ["-ngl", "40", "--n-cpu-moe", "2"] and flagged.overrides == preset("n-cpu-moe:2").overrides
    assert preset("cpu-only").with_gpu_layers(0) is preset("cpu-only")
    assert choose("experts-cpu", n_gpu_layers=10).n_gpu_layers == 10
    assert choose("experts-cpu", overrides=r"\.ffn_up_exps\.=CPU").override_string == r"\.ffn_up_exps\.=CPU"
    assert choose("cpu-only").n_gpu_layers == 0
    with pytest.raises(InputError, match="n_gpu_layers must be >= 0"):
        choose("gpu-all", n_gpu_layers=-1)
