"""Plan memory before loading: bytes per device for weights, KV cache and compute, and a verdict.

From the headers of a whole split set (:func:`workbench.ggufio.inspect.inspect`, milliseconds
even at 1T scale) and an :class:`~workbench.run.offload.Offload`, each tensor is placed the
way llama.cpp places it (``src/llama-model.cpp``): an override that matches wins; else the
token embeddings stay on the CPU (the input layer), block ``i`` goes to the GPU when
``i >= n_layer + 1 - n_gpu_layers``, and the output layer counts as layer ``n_layer``.

KV cache: Kimi (``deepseek2`` with MLA) caches only the compressed K, ``key_length`` values
(``kv_lora_rank + rope_dim`` = 576 for Kimi K2) per token per layer, no V
(``src/llama-kv-cache.cpp``: ``has_v = !is_mla``), in F16 by default, on the device of its
layer. Compute buffers (:func:`compute_bytes`): on the CPU, llama.cpp's own reservation as measured
with ``llama-fit-params``; with a GPU, a larger allowance, stated as an estimate.

Verdict: ``fits`` (the GPU part fits in VRAM and the rest in RAM), ``mmap`` (the GPU part
fits, the CPU part only by paging weights from disk), ``cannot-run``. The recommendation is
the least CPU offload that fits, searched over ``gpu-all``, ``n-cpu-moe:N`` and
``experts-cpu`` — what llama.cpp's ``--fit`` aims for.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.ggufio.inspect import GGUFInfo, inspect
from workbench.run.offload import Offload, n_cpu_moe, preset
from workbench.units import format_size, parse_size

_BLOCK = re.compile(r"^blk\.(\d+)\.")
@dataclass
class MemoryPlan:
    path: str
    offload: Offload
    n_ctx: int
    weights_bytes: dict[str, int]  # "CPU" / "GPU"
    kv_cache_bytes: int
    kv_by_device: dict[str, int]
    compute_bytes: dict[str, int]  # estimate
    vram: int
    ram: int
    disk: int
    verdict: str = ""
    recommendation: str = ""
    reasons: list[str] = field(default_factory=list)
    #: the vision projector (``--mmproj``), counted in ``weights_bytes`` on ``mmproj_device``
    mmproj: str | None = None
    mmproj_bytes: int = 0
    mmproj_offload: bool = True

    @property
    def need(self) -> dict[str, int]:
        devices = set(self.weights_bytes) | set(self.kv_by_device) | set(self.compute_bytes)
        return {d: self.weights_bytes.get(d, 0) + self.kv_by_device.get(d, 0) + self.compute_bytes.get(d, 0)
                for d in sorted(devices)}

    def command(self, model: str | None = None, *, sampling=None) -> list[str]:
        """The ``llama-server`` command line for this plan (a remote file by its name: where the download will be)."""
        from workbench.gguffile.remote import Url, is_url

        local = Url(self.path).local_name if is_url(self.path) else self.path
        args = ["llama-server", "-m", model or local, *self.offload.cli_args(), "--ctx-size", str(self.n_ctx),
                "--jinja"]
        if self.mmproj:
            args += ["--mmproj", self.mmproj] + ([] if self.mmproj_offload else ["--no-mmproj-offload"])
        return args + (sampling.cli_args() if sampling is not None else [])

    @property
    def mmproj_device(self) -> str | None:
        if not self.mmproj:
            return None
        return "GPU" if self.mmproj_offload and self.vram > 0 and self.offload.n_gpu_layers > 0 else "CPU"

    def to_dict(self) -> dict:
        return {"path": self.path, "offload": self.offload.name, "n_gpu_layers": self.offload.n_gpu_layers,
                "override_tensor": self.offload.override_string, "n_ctx": self.n_ctx,
                "weights_bytes": self.weights_bytes, "kv_cache_bytes": self.kv_cache_bytes,
                "kv_by_device": self.kv_by_device, "compute_bytes": self.compute_bytes, "need": self.need,
                "available": {"VRAM": self.vram, "RAM": self.ram, "disk": self.disk}, "verdict": self.verdict,
                "recommendation": self.recommendation, "reasons": self.reasons, "command": self.command(),
                "mmproj": ({"path": self.mmproj, "bytes": self.mmproj_bytes, "device": self.mmproj_device}
                           if self.mmproj else None)}


def _hparam(info: GGUFInfo, key: str, default: int | None = None) -> int:
    """An integer hyper-parameter, ``key`` a ``gguf.Keys`` name with ``{arch}``; missing (without
    default) or not a non-negative integer is a one-line :class:`InputError`."""
    name = key.format(arch=info.value(Keys.General.ARCHITECTURE))
    value = info.value(name, default)
    if value is None:
        raise InputError(f"{info.path}: {name} is missing; cannot plan memory")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{info.path}: {name} is {value!r}, not a count; cannot plan memory")
    return value


def place(info: GGUFInfo, offload: Offload, *, gpu: bool) -> dict[str, int]:
    """Weights per device, as llama.cpp would place them."""
    n_layer = _hparam(info, Keys.LLM.BLOCK_COUNT)
    i_gpu_start = max(n_layer + 1 - offload.n_gpu_layers, 0)
    out = {"CPU": 0, "GPU": 0}
    for t in info.tensors:
        buffer = offload.buffer_for(t.name)
        if buffer is not None:
            device = "CPU" if buffer == "CPU" or not gpu else "GPU"
        elif not gpu or t.name.startswith("token_embd."):
            device = "CPU"
        else:
            m = _BLOCK.match(t.name)
            layer = int(m[1]) if m else n_layer  # output, output_norm: the output layer
            device = "GPU" if layer >= i_gpu_start else "CPU"
        out[device] += t.n_bytes
    return out


def plan_memory(
    path: str | os.PathLike[str] | GGUFInfo,
    offload: Offload | str = "gpu-all",
    *,
    n_ctx: int = 8192,
    n_ubatch: int = 512,
    vram: int | str = 0,
    ram: int | str | None = None,
    disk: int | str | None = None,
    recommend: bool = True,
    mmproj: str | os.PathLike[str] | GGUFInfo | None = None,
    mmproj_offload: bool = True,
) -> MemoryPlan:
    """The memory plan of ``path`` under ``offload`` for a machine with ``vram`` / ``ram`` (default: this one's RAM).

    ``mmproj``: a vision projector (K2.6 ships ``mmproj-*.gguf``, run with ``--mmproj``); its weights go on
    the GPU, as llama.cpp puts them, unless ``mmproj_offload=False`` (``--no-mmproj-offload``). Its
    encoder's compute buffer is not counted.
    """
    info = path if isinstance(path, GGUFInfo) else inspect(path)
    projector = _projector(mmproj) if mmproj is not None else None
    offload = preset(offload) if isinstance(offload, str) else offload
    if n_ctx <= 0 or n_ubatch <= 0:
        raise InputError("n_ctx and n_ubatch must be positive")
    vram_b = parse_size(vram)
    if ram is None:
        import psutil

        ram_b = psutil.virtual_memory().available
    else:
        ram_b = parse_size(ram)
    # free disk beside the model; for a remote file, here (where it would be downloaded)
    disk_b = parse_size(disk) if disk is not None else shutil.disk_usage(
        Path.cwd() if info.transfer is not None else Path(info.path).parent).free
    gpu = vram_b > 0 and offload.n_gpu_layers > 0
    weights = place(info, offload, gpu=gpu)
    if projector is not None:
        weights["GPU" if gpu and mmproj_offload else "CPU"] += projector.tensor_bytes

    n_layer = _hparam(info, Keys.LLM.BLOCK_COUNT)
    key_length = _hparam(info, Keys.Attention.KEY_LENGTH, 0)
    heads_kv = _hparam(info, Keys.Attention.HEAD_COUNT_KV, 1) or 1
    mla = bool(_hparam(info, Keys.Attention.KEY_LENGTH_MLA, 0))
    per_token_layer = key_length * heads_kv * 2 * (1 if mla else 2)  # F16 K (and V unless MLA)
    i_gpu_start = max(n_layer + 1 - offload.n_gpu_layers, 0)
    gpu_layers = max(0, n_layer - i_gpu_start) if gpu else 0
    kv_total = n_layer * n_ctx * per_token_layer
    kv = {"CPU": (n_layer - gpu_layers) * n_ctx * per_token_layer, "GPU": gpu_layers * n_ctx * per_token_layer}

    n_vocab = _hparam(info, Keys.LLM.VOCAB_SIZE, 0) or (info.keys[Keys.Tokenizer.LIST].length
                                                  if Keys.Tokenizer.LIST in info.keys else 0)
    hidden = _hparam(info, Keys.LLM.EMBEDDING_LENGTH)
    compute = compute_bytes(n_ubatch, n_ctx, n_vocab, hidden, gpu=gpu)

    p = MemoryPlan(str(info.path), offload, n_ctx, weights, kv_total, kv, compute, vram_b, ram_b, disk_b,
                   mmproj=str(projector.path) if projector is not None else None,
                   mmproj_bytes=projector.tensor_bytes if projector is not None else 0, mmproj_offload=mmproj_offload)
    need = p.need
    reasons = []
    if need.get("GPU", 0) > vram_b:
        p.verdict = "cannot-run"
        reasons.append(f"the GPU part needs {need['GPU'] / 2**30:.1f} GiB, VRAM is {vram_b / 2**30:.1f} GiB")
    elif need.get("CPU", 0) <= ram_b:
        p.verdict = "fits"
    else:
        # mmap: weights can stay on disk and be paged in; KV and compute must be in RAM
        resident = need["CPU"] - weights["CPU"]
        if resident <= ram_b and weights["CPU"] <= ram_b + disk_b + info.total_bytes:
            p.verdict = "mmap"
            reasons.append(f"the CPU part needs {need['CPU'] / 2**30:.1f} GiB, RAM has {ram_b / 2**30:.1f} GiB: "
                           "weights will be paged from disk (slow)")
        else:
            p.verdict = "cannot-run"
            reasons.append(f"the KV cache and buffers alone need {resident / 2**30:.1f} GiB of RAM")
    if not gpu and offload.n_gpu_layers > 0:
        reasons.insert(0, "no GPU (VRAM 0): every layer is planned on the CPU, whatever the offload says")
    p.reasons = reasons
    if recommend:
        p.recommendation = _recommend(info, n_ctx, n_ubatch, vram_b, ram_b, disk_b, n_layer,
                                      projector=projector, mmproj_offload=mmproj_offload)
    return p


def compute_bytes(n_ubatch: int, n_ctx: int, n_vocab: int, hidden: int, *, gpu: bool) -> dict[str, int]:
    """The compute buffers per device, for llama.cpp's default flash attention (``-fa auto``).

    On the CPU this is llama.cpp's own graph reservation, measured with ``llama-fit-params
    --fit-print`` on the 1T-shaped set: the logits of a micro-batch (F32), four F32 hidden vectors per
    micro-batch token, and the F16 KQ mask (micro-batch x context). It equals llama.cpp's number where
    the mask is the largest buffer and lies above it (by up to ~9%) where llama.cpp's allocator reuses
    the mask's memory (tests/run/test_llama_accounting.py). With a GPU, its buffer keeps the older,
    larger allowance (16 hidden vectors per token and an F32 score row per context position), because
    llama.cpp also stages CPU-resident expert weights through it for big batches and no GPU here
    could measure that.
    """
    logits = n_ubatch * n_vocab * 4
    if not gpu:
        return {"CPU": logits + n_ubatch * hidden * 4 * 4 + n_ubatch * n_ctx * 2}
    return {"GPU": logits + n_ubatch * hidden * 4 * 16 + n_ubatch * n_ctx * 4 * 4, "CPU": n_ubatch * hidden * 4 * 4}


def _projector(mmproj: str | os.PathLike[str] | GGUFInfo) -> GGUFInfo:
    """A projector's headers; a GGUF that is not a projector (``general.architecture`` ``clip``) is one line."""
    info = mmproj if isinstance(mmproj, GGUFInfo) else inspect(mmproj)
    arch = info.value(Keys.General.ARCHITECTURE)
    if arch != "clip":
        raise InputError(f"{info.path}: not a vision projector (general.architecture is {arch!r}, a projector's is "
                         "'clip'); --mmproj takes the mmproj-*.gguf file")
    return info


def _recommend(info, n_ctx, n_ubatch, vram, ram, disk, n_layer, *, projector=None, mmproj_offload=True) -> str:
    def verdict(o: Offload) -> str:
        return plan_memory(info, o, n_ctx=n_ctx, n_ubatch=n_ubatch, vram=vram, ram=ram, disk=disk,
                           recommend=False, mmproj=projector, mmproj_offload=mmproj_offload).verdict

    candidates = [preset("gpu-all")] if vram > 0 else []
    if vram > 0:
        lo, hi = 1, n_layer  # the fewest blocks whose experts go to the CPU
        if verdict(n_cpu_moe(hi)) in ("fits", "mmap"):
            while lo < hi:
                mid = (lo + hi) // 2
                if verdict(n_cpu_moe(mid)) in ("fits", "mmap"):
                    hi = mid
                else:
                    lo = mid + 1
            candidates.append(n_cpu_moe(lo))
        candidates.append(preset("experts-cpu"))
    candidates.append(preset("cpu-only"))
    for wanted in ("fits", "mmap"):
        for o in candidates:
            if verdict(o) == wanted:
                return o.name
    return "none: not enough memory for any placement"


@dataclass
class PlanGrid:
    """Plans of one file for several machines under several offloads: the table of notebook 05."""

    rows: list[dict]  # {"machine", "preset", "GPU", "CPU", "verdict"}: bytes needed per device

    def frame(self):
        """A pandas DataFrame, one row per (machine, preset), bytes per device (0 where none)."""
        import pandas as pd

        return pd.DataFrame(self.rows).fillna(0)

    def verdicts(self):
        """preset x machine -> verdict."""
        return self.frame().pivot(index="preset", columns="machine", values="verdict")

    def to_dict(self) -> dict:
        return {"rows": self.rows}


def compare(path: str | os.PathLike[str] | GGUFInfo, offloads: list[str | Offload],
            machines: dict[str, tuple[int | str, int | str]], *, n_ctx: int = 8192,
            disk: int | str | None = None) -> PlanGrid:
    """One plan per machine (name -> (VRAM, RAM)) and offload, headers read once:
    ``compare(info, ["gpu-all", "experts-cpu"], {"24 GB + 256 GB": ("24GiB", "256GiB")}).verdicts()``."""
    info = path if isinstance(path, GGUFInfo) else inspect(path)
    rows = []
    for machine, (vram, ram) in machines.items():
        for offload in offloads:
            p = plan_memory(info, offload, n_ctx=n_ctx, vram=vram, ram=ram, disk=disk, recommend=False)
            rows.append({"machine": machine, "preset": p.offload.name, **p.need, "verdict": p.verdict})
    return PlanGrid(rows)


@dataclass
class PlanReport:
    """A plan with the pre-load check and the command for a sampling mode (``kimi-wb plan``)."""

    plan: MemoryPlan
    compat: object  # a workbench.verify.Report from workbench.run.compat.check_compat
    sampling: object = None  # workbench.run.chat.Sampling, for the command's flags

    def recommended(self) -> Offload | None:
        """The recommended placement as an offload, None when nothing fits."""
        name = self.plan.recommendation
        return None if not name or name.startswith("none") else preset(name)

    def recommended_command(self) -> list[str] | None:
        """The ``llama-server`` command for the recommended placement (same context and sampling)."""
        o = self.recommended()
        return None if o is None else replace(self.plan, offload=o).command(sampling=self.sampling)

    def to_dict(self) -> dict:
        from workbench.run.compat import compat_json

        return {**self.plan.to_dict(), "command": self.plan.command(sampling=self.sampling),
                "recommended_command": self.recommended_command(), "compat": compat_json(self.compat)}

    def format(self) -> str:
        import shlex

        from workbench.run.compat import line

        p = self.plan
        lines = [f"{p.path}: {p.offload.name} (-ngl {p.offload.n_gpu_layers}), context {p.n_ctx:,}"]
        for device, need in p.need.items():
            have = p.vram if device == "GPU" else p.ram
            vision = f" (vision projector {format_size(p.mmproj_bytes)})" if p.mmproj_device == device else ""
            lines.append(f"  {device}: weights {format_size(p.weights_bytes.get(device, 0))}{vision} "
                         f"+ KV {format_size(p.kv_by_device.get(device, 0))}"
                         f" + compute ~{format_size(p.compute_bytes.get(device, 0))} = {format_size(need)} "
                         f"of {format_size(have)}")
        lines.append("this llama.cpp: " + ("loads it" if self.compat.ok else "would NOT load it")
                     + "".join(f"\n  {line(f)}" for f in self.compat.findings))
        lines.append(f"verdict: {p.verdict}" + "".join(f"\n  {r}" for r in p.reasons))
        lines.append(f"recommendation: {p.recommendation}")
        chosen = shlex.join(p.command(sampling=self.sampling))
        best = self.recommended_command()
        if best is None or shlex.join(best) == chosen or p.recommendation == p.offload.name:
            lines.append(f"command ({p.offload.name}{', the recommendation' if best else ''}): {chosen}")
        else:
            lines.append(f"command ({p.offload.name}, as chosen): {chosen}")
            lines.append(f"command ({p.recommendation}, recommended): {shlex.join(best)}")
        return "\n".join(lines)
