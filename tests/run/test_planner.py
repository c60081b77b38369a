"""The memory planner: placement like llama.cpp's, MLA KV size from the metadata, verdicts, recommendation."""

from __future__ import annotations

import json

import pytest

from workbench.errors import InputError
from workbench.ggufio.inspect import inspect
from workbench.models.sparse import write_kimi_shaped
from workbench.run.loader import load_model
from workbench.run.offload import custom, preset
from workbench.run.planner import parse_size, plan_memory

GiB = 2**30


@pytest.fixture(scope="module")
def kimi(tmp_path_factory):
    (path,) = write_kimi_shaped(tmp_path_factory.mktemp("k") / "Kimi-K2-UD-Q2_K_XL.gguf")
    return inspect(path)


def test_weights_match_llama_cpp_on_the_tiny_model(tiny_model):
    path = tiny_model
    plan = plan_memory(path, "experts-cpu", n_ctx=256, vram=0, ram="1GiB", disk="1GiB")
    loaded = load_model(path, preset("experts-cpu"), n_ctx=256)
    measured = sum(loaded.buffers.values()) * 2**20  # llama.cpp's own "model buffer size" lines
    loaded.close()
    assert plan.weights_bytes["GPU"] == 0 and abs(plan.weights_bytes["CPU"] - measured) / measured < 0.02


def test_placement_on_the_real_layout(kimi):
    experts = sum(t.n_bytes for t in kimi.tensors if t.role == "routed-experts")
    embd = sum(t.n_bytes for t in kimi.tensors if t.role == "embeddings")
    p = plan_memory(kimi, "experts-cpu", n_ctx=98304, vram="24GiB", ram="256GiB", disk="1TB")
    assert p.weights_bytes["CPU"] == experts + embd  # token embeddings stay with the input layer on the CPU
    assert p.weights_bytes["CPU"] + p.weights_bytes["GPU"] == kimi.tensor_bytes
    assert p.kv_cache_bytes == 61 * 98304 * 576 * 2  # MLA: compressed K only, F16
    assert p.kv_by_device["GPU"] == p.kv_cache_bytes  # every layer is on the GPU
    cpu_only = plan_memory(kimi, "cpu-only", n_ctx=4096, vram="24GiB", ram="512GiB", disk="1TB")
    assert cpu_only.weights_bytes["GPU"] == 0 and cpu_only.kv_by_device["CPU"] == 61 * 4096 * 576 * 2
    half = plan_memory(kimi, custom(n_gpu_layers=30), vram="1TB", ram="1TB", disk="1TB")
    blocks_on_gpu = {int(t.name.split(".")[1]) for t in kimi.tensors if t.name.startswith("blk.")} & set(range(32, 61))
    assert len(blocks_on_gpu) == 29 and half.kv_by_device["GPU"] == 29 * 8192 * 576 * 2  # 30 = 29 blocks + output


@pytest.mark.parametrize("machine,offload,verdict", [
    (("24GiB", "512GiB"), "experts-cpu", "fits"),
    (("24GiB", "256GiB"), "experts-cpu", "mmap"),  # RAM + VRAM < the 351 GiB quant: pages from disk
    (("24GiB", "256GiB"), "gpu-all", "cannot-run"),
    (("0", "16GiB"), "cpu-only", "mmap"),
])
def test_verdicts(kimi, machine, offload, verdict):
    p = plan_memory(kimi, offload, n_ctx=32768, vram=machine[0], ram=machine[1], disk="1TB")
    assert p.verdict == verdict, p.reasons


def test_recommendation_is_the_least_cpu_offload_that_fits(kimi):
    p = plan_memory(kimi, "gpu-all", n_ctx=32768, vram="80GiB", ram="512GiB", disk="1TB")
    name = p.recommendation
    assert name.startswith("n-cpu-moe:")
    n = int(name.split(":")[1])
    assert plan_memory(kimi, name, n_ctx=32768, vram="80GiB", ram="512GiB", disk="1TB").verdict == "fits"
    assert plan_memory(kimi, f"n-cpu-moe:{n - 1}", n_ctx=32768, vram="80GiB", ram="512GiB", disk="1TB",
                       recommend=False).verdict != "fits"


def test_command_and_json(kimi):
    from workbench.run.chat import PRESETS

    p = plan_memory(kimi, "experts-cpu", n_ctx=98304, vram="24GiB", ram="512GiB", disk="1TB")
    cmd = p.command(sampling=PRESETS["thinking"])
    assert cmd[:3] == ["llama-server", "-m", str(kimi.path)] and "-ot" in cmd and "--jinja" in cmd
    assert cmd[cmd.index("--ctx-size") + 1] == "98304" and cmd[cmd.index("--temp") + 1] == "1"
    doc = p.to_dict()
    assert set(doc["weights_bytes"]) == {"CPU", "GPU"} and doc["verdict"] in ("fits", "mmap", "cannot-run")
    assert doc["kv_cache_bytes"] == p.kv_cache_bytes and doc["recommendation"]


def test_sizes():
    assert parse_size("24GiB") == 24 * GiB and parse_size("256 GB") == 256 * 10**9 and parse_size(5) == 5
    with pytest.raises(InputError, match="cannot read size"):
        parse_size("lots")


def test_plan_cli(kimi, capsys):
    import json

    from tests.test_cli import run

    code, out, _ = run(capsys, "plan", str(kimi.path), "--json", "--preset", "experts-cpu", "--vram", "24GiB",
                       "--ram", "512GiB", "--disk", "1TB", "--ctx", "98304")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "fits" and doc["weights_bytes"]["GPU"] < 24 * GiB
    assert doc["command"][doc["command"].index("-ot") + 1] == r"\.ffn_.*_exps\.=CPU"
    code, out, _ = run(capsys, "plan", str(kimi.path), "--preset", "gpu-all", "--vram", "24GiB", "--ram", "256GiB")
    assert code == 0 and "verdict: cannot-run" in out and "recommendation: " in out and "llama-server -m" in out
    code, _, err = run(capsys, "plan", str(kimi.path), "--vram", "lots")
    assert code == 2 and "cannot read size 'lots'" in err


def test_compare_is_one_plan_per_machine_and_offload(kimi):
    from workbench.run.planner import compare

    machines = {"small": ("24GiB", "256GiB"), "big": ("1128GiB", "2TiB")}
    grid = compare(kimi, ["gpu-all", "experts-cpu"], machines, n_ctx=8192, disk="2TB")
    assert [(r["machine"], r["preset"]) for r in grid.rows] == [
        ("small", "gpu-all"), ("small", "experts-cpu"), ("big", "gpu-all"), ("big", "experts-cpu")]
    one = plan_memory(kimi, "experts-cpu", n_ctx=8192, vram="24GiB", ram="256GiB", disk="2TB", recommend=False)
    assert grid.rows[1]["verdict"] == one.verdict and grid.rows[1]["GPU"] == one.need["GPU"]
    verdicts = grid.verdicts()
    assert verdicts.loc["gpu-all", "small"] == "cannot-run" and verdicts.loc["gpu-all", "big"] == "fits"


def test_the_plan_says_what_it_plans_for(kimi, tiny_model, capsys):
    """No GPU: the verdict says every layer is planned on the CPU; the CLI prints the chosen and the recommended
    command, each named."""
    from tests.test_cli import run

    no_gpu = plan_memory(tiny_model, "gpu-all", n_ctx=256, vram=0, ram="64GiB")
    assert no_gpu.verdict == "fits" and no_gpu.recommendation == "cpu-only" and no_gpu.reasons[0].startswith("no GPU")
    with_gpu = plan_memory(kimi, "gpu-all", n_ctx=8192, vram="24GiB", ram="256GiB", disk="1TB")
    assert not any(r.startswith("no GPU") for r in with_gpu.reasons)
    code, out, _ = run(capsys, "plan", str(tiny_model), "--ram", "64GiB")
    assert code == 0 and "command (gpu-all, as chosen): llama-server" in out
    assert "command (cpu-only, recommended): llama-server" in out and " -ngl 0 " in out
    code, out, _ = run(capsys, "plan", str(tiny_model), "--ram", "64GiB", "--preset", "cpu-only", "--json")
    doc = json.loads(out)
    assert doc["recommendation"] == "cpu-only" and doc["recommended_command"] == doc["command"]


@pytest.fixture(scope="module")
def projector(tmp_path_factory):
    """A small vision projector as K2.6 ships one: general.architecture clip, projector type kimik25."""
    import gguf
    import numpy as np

    path = tmp_path_factory.mktemp("mmproj") / "mmproj-Kimi-K2.6-F16.gguf"
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_string("clip.projector_type", "kimik25")
    w.add_bool("clip.has_vision_encoder", True)
    for name, shape in (("v.patch_embd.weight", (64, 3, 14, 14)), ("v.blk.0.attn_q.weight", (256, 256)),
                        ("mm.0.weight", (512, 256)), ("mm.2.weight", (7168, 512))):
        w.add_tensor(name, np.zeros(shape, dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_a_vision_projector_is_planned_and_in_the_command(kimi, projector, capsys):
    from tests.test_cli import run

    size = inspect(projector).tensor_bytes
    assert size == 2 * (64 * 3 * 14 * 14 + 256 * 256 + 512 * 256 + 7168 * 512)  # F16 weights
    base = plan_memory(kimi, "experts-cpu", vram="24GiB", ram="512GiB")
    on_gpu = plan_memory(kimi, "experts-cpu", vram="24GiB", ram="512GiB", mmproj=projector)
    on_cpu = plan_memory(kimi, "experts-cpu", vram="24GiB", ram="512GiB", mmproj=projector, mmproj_offload=False)
    assert on_gpu.weights_bytes["GPU"] == base.weights_bytes["GPU"] + size and on_gpu.mmproj_device == "GPU"
    assert on_cpu.weights_bytes["CPU"] == base.weights_bytes["CPU"] + size and on_cpu.mmproj_device == "CPU"
    assert on_gpu.command()[-2:] == ["--mmproj", str(projector)]
    assert on_cpu.command()[-3:] == ["--mmproj", str(projector), "--no-mmproj-offload"]
    code, out, _ = run(capsys, "plan", str(kimi.path), "--json", "--preset", "experts-cpu", "--vram", "24GiB",
                       "--ram", "512GiB", "--mmproj", str(projector), "--no-mmproj-offload")
    doc = json.loads(out)
    assert code == 0 and doc["mmproj"] == {"path": str(projector), "bytes": size, "device": "CPU"}
    assert doc["command"][doc["command"].index("--mmproj"):][:3] == ["--mmproj", str(projector), "--no-mmproj-offload"]
    assert "--mmproj" in doc["recommended_command"]
    code, out, _ = run(capsys, "plan", str(kimi.path), "--vram", "24GiB", "--ram", "512GiB", "--mmproj", str(projector))
    assert code == 0 and "(vision projector " in out
    code, _, err = run(capsys, "plan", str(kimi.path), "--mmproj", str(kimi.path))
    assert code == 2 and "not a vision projector (general.architecture is 'deepseek2'" in err
