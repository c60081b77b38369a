"""Find GGUF models on disk: folders, ``LLAMA_CACHE``, the Hugging Face cache; split sets grouped.

    >>> [m.label for m in find_models(["artifacts"])]                       # doctest: +SKIP
    ['Kimi-K2-Tiny.gguf · 1.6 MB', 'Kimi-K2-Instruct UD-Q2_K_XL (8 files) · 381.0 GB']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.gguffile.splits import SPLIT_NAME

#: quant names as Unsloth / llama.cpp spell them in file names
QUANT = re.compile(r"(?:UD-)?(?:IQ\d_[A-Z]+|TQ\d_\d|Q\d_K(?:_[A-Z]+)?|Q\d_\d|Q\d_K_XL|BF16|F16|F32)(?=[-.]|$)", re.I)


@dataclass(frozen=True)
class ModelEntry:
    path: Path  # the file to load: the single file, or split 1
    files: tuple[Path, ...]
    size: int
    quant: str | None
    complete: bool  # every member of a split set is present
    #: for a quant on the Hub (``path`` an ``hf://`` address): the ``hf download`` command that fetches it
    download: tuple[str, ...] | None = None

    @property
    def remote(self) -> bool:
        """On the Hub, not on this machine: it can be planned and verified, not loaded."""
        return self.download is not None

    @property
    def name(self) -> str:
        m = SPLIT_NAME.match(self.path.name)
        return m["stem"] if m else self.path.name

    @property
    def label(self) -> str:
        parts = f" ({len(self.files)} files)" if len(self.files) > 1 else ""
        missing = " · on the Hub" if self.remote else "" if self.complete else " · INCOMPLETE"
        return f"{self.name}{parts} · {self.size / 1e9:,.1f} GB{missing}" if self.size >= 1e8 else \
            f"{self.name}{parts} · {self.size / 1e6:,.1f} MB{missing}"


def default_folders() -> list[Path]:
    """``LLAMA_CACHE`` (or llama.cpp's default cache), the Hugging Face hub cache, and ``artifacts/``."""
    home = Path.home()
    folders = [Path(os.environ["LLAMA_CACHE"])] if os.environ.get("LLAMA_CACHE") else [home / ".cache" / "llama.cpp"]
    hf = os.environ.get("HF_HUB_CACHE") or (Path(os.environ["HF_HOME"]) / "hub" if os.environ.get("HF_HOME") else
                                            home / ".cache" / "huggingface" / "hub")
    return [*folders, Path(hf), Path("artifacts")]


def find_models(folders: list[str | os.PathLike[str]] | None = None) -> list[ModelEntry]:
    """Every GGUF under ``folders`` (default :func:`default_folders`), split sets as one entry, sorted by name."""
    groups: dict[tuple[Path, str], dict[int, Path]] = {}
    counts: dict[tuple[Path, str], int] = {}
    for folder in [Path(f) for f in (folders if folders is not None else default_folders())]:
        if not folder.is_dir():
            continue
        for p in folder.rglob("*.gguf"):
            if p.name.startswith(".") or not p.is_file():
                continue
            m = SPLIT_NAME.match(p.name)
            key = (p.parent, m["stem"] if m else p.name)
            groups.setdefault(key, {})[int(m["no"]) if m else 0] = p
            counts[key] = int(m["count"]) if m else 1
    out = []
    for key, members in groups.items():
        files = tuple(members[k] for k in sorted(members))
        first = members.get(1, members.get(0, files[0]))
        quant = QUANT.search(key[1].removesuffix(".gguf"))
        out.append(ModelEntry(first, files, sum(f.stat().st_size for f in files), quant[0] if quant else None,
                              len(files) == counts[key] and (1 in members or 0 in members)))
    return sorted(out, key=lambda e: (e.name.lower(), str(e.path)))
