"""Where each weight lives: the guides' offload presets and llama.cpp's tensor overrides, as data.

llama.cpp places every tensor of layers below ``n_gpu_layers`` on the GPU unless a
*tensor buffer override* says otherwise: ``-ot PATTERN=BUFFER[,PATTERN=BUFFER…]``, where
each pattern is searched in the tensor's name (``std::regex_search``) and the first match
wins. ``--cpu-moe`` adds ``\\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU``; ``--n-cpu-moe N``
adds ``blk\\.I\\.ffn_(up|down|gate|gate_up)_(ch|)exps=CPU`` for I < N (shared experts,
``_shexp``, stay on the GPU). Source: llama.cpp ``common/arg.cpp`` (``-ot``, ``-cmoe``,
``-ncmoe``) and ``common/common.h`` (``LLM_FFN_EXPS_REGEX``).

    >>> o = preset("experts-cpu")
    >>> o.buffer_for("blk.7.ffn_up_exps.weight"), o.buffer_for("blk.7.attn_q_b.weight")
    ('CPU', None)
    >>> preset("n-cpu-moe:2").cli_args(), preset("experts-cpu").cli_args()
    (['-ngl', '99', '--n-cpu-moe', '2'], ['-ngl', '99', '-ot', '\\\\.ffn_.*_exps\\\\.=CPU'])

Patterns cannot contain commas (llama.cpp splits the list on them, so ``{1,3}`` breaks).
Python's ``re`` validates the patterns; the ECMAScript flavour of ``std::regex`` is a
subset for everything the guides use (no lookbehind, no possessive quantifiers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property

from workbench.errors import InputError, UnknownNameError

#: buffer-type names of ggml backends (``ggml_backend_buft_name``): CPU, CUDA0, Vulkan1, Metal, …
BUFFER = re.compile(r"^(CPU|Metal|(CUDA|ROCm|Vulkan|SYCL|CANN|MUSA|OpenCL|BLAS)\d*|RPC\[[^\]]+\])$")
EXPS = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"
GPU_ALL = 99  # "all layers": any number >= the block count


@dataclass(frozen=True)
class Override:
    pattern: str
    buffer: str

    def __str__(self) -> str:
        return f"{self.pattern}={self.buffer}"


@dataclass(frozen=True)
class Offload:
    """A placement: ``n_gpu_layers`` plus overrides, first match wins."""

    name: str
    n_gpu_layers: int = GPU_ALL
    overrides: tuple[Override, ...] = ()
    description: str = field(default="", compare=False)
    #: llama.cpp's own flag for these overrides, when it has one (``--n-cpu-moe 20``, ``--cpu-moe``)
    flag: tuple[str, ...] = field(default=(), compare=False)

    def buffer_for(self, tensor: str) -> str | None:
        """The override buffer for ``tensor`` (first pattern found in its name), or None."""
        for search, buffer in self._compiled:
            if search(tensor):
                return buffer
        return None

    @cached_property
    def _compiled(self) -> tuple[tuple, ...]:
        """``(pattern.search, buffer)`` per override, compiled once (the planner asks per tensor, per plan)."""
        return tuple((re.compile(o.pattern).search, o.buffer) for o in self.overrides)

    def with_gpu_layers(self, n: int) -> Offload:
        """The same overrides (and llama.cpp flag) with ``n_gpu_layers = n``:
        ``preset("n-cpu-moe:2").with_gpu_layers(40).cli_args() -> ['-ngl', '40', '--n-cpu-moe', '2']``."""
        if n < 0:
            raise InputError(f"n_gpu_layers must be >= 0, got {n}")
        if n == self.n_gpu_layers:
            return self
        return replace(self, name=f"{self.name}, ngl {n}", n_gpu_layers=n)

    @property
    def override_string(self) -> str:
        return ",".join(str(o) for o in self.overrides)

    def cli_args(self) -> list[str]:
        """The ``llama-server`` / ``llama-cli`` arguments for this placement."""
        args = ["-ngl", str(self.n_gpu_layers)]
        if self.flag:
            return args + list(self.flag)
        return args + (["-ot", self.override_string] if self.overrides else [])


def parse_overrides(text: str) -> tuple[Override, ...]:
    """``"PATTERN=BUFFER[,PATTERN=BUFFER…]"`` as llama.cpp's ``-ot`` reads it; bad input is an :class:`InputError`."""
    out = []
    for item in text.split(","):
        pattern, sep, buffer = item.rpartition("=")
        if not sep or not pattern:
            raise InputError(f"override {item!r}: expected PATTERN=BUFFER (e.g. '\\.ffn_.*_exps\\.=CPU'); "
                             "a comma inside a pattern splits it in two")
        try:
            re.compile(pattern)
        except re.error as e:
            raise InputError(f"override {item!r}: invalid regular expression: {e}") from None
        if not BUFFER.match(buffer):
            raise InputError(f"override {item!r}: unknown buffer type {buffer!r}; expected CPU, CUDA0, Vulkan0, "
                             "Metal, SYCL0, … (the names llama.cpp prints)")
        out.append(Override(pattern, buffer))
    return tuple(out)


def custom(overrides: str = "", *, n_gpu_layers: int = GPU_ALL, name: str = "custom") -> Offload:
    """A placement from an ``-ot`` string and ``n_gpu_layers``."""
    if n_gpu_layers < 0:
        raise InputError(f"n_gpu_layers must be >= 0, got {n_gpu_layers}")
    return Offload(name, n_gpu_layers, parse_overrides(overrides) if overrides else (), "custom -ot")


def n_cpu_moe(n: int) -> Offload:
    """``--n-cpu-moe N``: routed experts of blocks 0..N-1 on the CPU."""
    if n < 0:
        raise InputError(f"n-cpu-moe must be >= 0, got {n}")
    return Offload(f"n-cpu-moe:{n}", GPU_ALL, tuple(Override(f"blk\\.{i}{EXPS}", "CPU") for i in range(n)),
                   f"routed experts of the first {n} blocks on the CPU (--n-cpu-moe {n})", ("--n-cpu-moe", str(n)))


def experts_cpu_from_layer(n: int, blocks: int = 61) -> Offload:
    """Routed experts of blocks ``n``.. on the CPU, earlier ones on the GPU (the guides' layer-range -ot)."""
    if not 0 <= n <= blocks:
        raise InputError(f"experts-cpu-from-layer needs 0 <= N <= {blocks}, got {n}")
    layers = "|".join(str(i) for i in range(n, blocks))
    overrides = (Override(f"blk\\.({layers})\\.ffn_.*_exps\\.", "CPU"),) if layers else ()
    return Offload(f"experts-cpu-from-layer:{n}", GPU_ALL, overrides,
                   f"routed experts of blocks {n}..{blocks - 1} on the CPU")


#: fixed presets from the guides; parametrised ones are "n-cpu-moe:N" and "experts-cpu-from-layer:N"
PRESETS: dict[str, Offload] = {p.name: p for p in (
    Offload("gpu-all", GPU_ALL, (), "every layer on the GPU"),
    Offload("experts-cpu", GPU_ALL, (Override(r"\.ffn_.*_exps\.", "CPU"),), "all routed experts on the CPU"),
    Offload("up-down-cpu", GPU_ALL, (Override(r"\.ffn_(up|down)_exps\.", "CPU"),),
            "routed up and down projections on the CPU, gates on the GPU"),
    Offload("up-cpu", GPU_ALL, (Override(r"\.ffn_(up)_exps\.", "CPU"),), "routed up projections on the CPU"),
    Offload("cpu-moe", GPU_ALL, (Override(EXPS, "CPU"),), "llama.cpp --cpu-moe", ("--cpu-moe",)),
    Offload("cpu-only", 0, (), "no layer on the GPU"),
)}
PARAMETRISED = {"n-cpu-moe": n_cpu_moe, "experts-cpu-from-layer": experts_cpu_from_layer}


def preset(name: str, *, blocks: int = 61) -> Offload:
    """A preset by name: ``experts-cpu``, ``n-cpu-moe:20``, ``experts-cpu-from-layer:6``, …"""
    base, sep, arg = name.partition(":")
    if base in PARAMETRISED:
        if not sep or not arg.lstrip("-").isdigit():
            raise InputError(f"preset {base} needs a number: {base}:N")
        n = int(arg)
        return PARAMETRISED[base](n) if base == "n-cpu-moe" else experts_cpu_from_layer(n, blocks)
    if name in PRESETS:
        return PRESETS[name]
    valid = [*PRESETS, *(f"{p}:N" for p in PARAMETRISED)]
    raise UnknownNameError(f"unknown offload preset {name!r}; valid: {', '.join(valid)}")


def choose(name: str = "gpu-all", *, overrides: str = "", n_gpu_layers: int | None = None) -> Offload:
    """What a user picked, the one way the CLI and the app read it: an ``-ot`` string replaces the
    preset; ``n_gpu_layers``, when given, is set on either (:meth:`Offload.with_gpu_layers`)."""
    base = custom(overrides.strip()) if overrides.strip() else preset(name)
    return base if n_gpu_layers is None else base.with_gpu_layers(n_gpu_layers)
