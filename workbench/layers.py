"""The layers of the workbench, as data: each may import only the layers before it (and itself).

    base       errors, files, units, registry, isolate, the llama.cpp door, gguffile
    pretok     pre-tokenization schemes and engines
    tokenizer  tokenizer assets, the Kimi layout, token-id parity
    chat       chat templates and their renderers
    models     Kimi-shaped models we build (a vocabulary and a template inside)
    ggufio     inspect and patch GGUF files, the Kimi fixes
    verify     check(path): findings
    run        offload, planner, loading, chatting, servers
    ui         ipywidgets apps
    plugins    what registries find by looking (above all it registers into)
    cli        kimi-wb, and the pytest plugin (two front ends; neither imports the other)

``models`` sits below ``ggufio`` because it needs only the layers under both, and ``ggufio``
never needs it; ``gguffile`` (reading a header, the locks, the BPE writer) is base, because
``tokenizer`` reads GGUF vocabularies and ``pretok`` writes probe vocabularies. ``plugins``
are imported by name only (:mod:`workbench.registry`), never by an ``import`` statement.

``tests/test_layers.py`` parses every import of the package, the ones inside functions
included, and fails on any that runs up a layer or closes a circle between modules.
"""

from __future__ import annotations

#: layer name -> the top-level modules or packages of ``workbench`` in it, lowest first
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("errors", "files", "units", "registry", "isolate", "llamacpp", "gguffile", "layers"),
    "pretok": ("pretok",),
    "tokenizer": ("tokenizer",),
    "chat": ("chat",),
    "models": ("models",),
    "ggufio": ("ggufio",),
    "verify": ("verify",),
    "run": ("run",),
    "ui": ("ui",),
    "plugins": ("plugins",),
    "cli": ("cli", "pytest_plugin"),
}


def layer_of(module: str) -> int:
    """The rank of a ``workbench.*`` module's layer: ``"workbench.chat.render" -> 3``."""
    parts = module.split(".")
    if parts[0] != "workbench":
        raise ValueError(f"{module} is not a workbench module")
    if len(parts) == 1:
        return 0  # the package's own face: errors and a version
    for rank, units in enumerate(LAYERS.values()):
        if parts[1] in units:
            return rank
    raise KeyError(f"workbench.{parts[1]} is in no layer; add it to workbench.layers.LAYERS")
