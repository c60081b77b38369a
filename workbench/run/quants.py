"""Every quant in a Hugging Face repo, ranked for this machine before anything is downloaded (``kimi-wb quants``).

A Kimi GGUF repo holds a dozen quants, each a split set (often one folder per quant) from 230 to
600 GB. :func:`quants` lists the repo (``hf://OWNER/REPO``, or a folder in it) through the Hub's
tree listing, groups its ``.gguf`` files into sets, reads every set's headers by range requests
(:mod:`workbench.gguffile.remote`, cached on disk), and gives each quant:

- its size, the least CPU offload that fits this machine (:func:`workbench.run.planner.plan_memory`'s
  recommendation), that plan's verdict and its ``llama-server`` command;
- what :func:`workbench.verify.check` says about its EOS and its chat template, from split 1's header.
  Quants whose tokenizer metadata is byte-identical share one check.

Vision projectors (``mmproj-*.gguf``) are listed apart; pass one to ``plan --mmproj`` to count it.

    >>> table = quants("hf://unsloth/Kimi-K2-Instruct-GGUF", vram="24GiB", ram="256GiB")   # doctest: +SKIP
    >>> print(table.format())                                                             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from workbench.errors import InputError, WorkbenchError
from workbench.gguffile.remote import HUB, NOT_A_MODEL, Url, hub_filesystem, list_ggufs
from workbench.gguffile.splits import SPLIT_NAME
from workbench.units import format_size

#: the template checks summarised in the ``template`` column
TEMPLATE_CHECKS = ("template-renders", "default-system-prompt", "generation-prompt", "template-unknown-token",
                   "template-whitespace", "tool-call-json", "tool-result-format", "tool-declarations")
_ORDER = {"fits": 0, "mmap": 1, "cannot-run": 2, "unreadable": 3}


@dataclass
class Quant:
    """One quant of a repo: where it is, what it needs, and what its metadata says."""

    name: str  # the folder for a folder-per-quant repo, else the set's file stem
    first: str  # split 1's address
    files: int
    size: int  # bytes, from the Hub's listing
    verdict: str = ""  # of the recommended placement: fits / mmap / cannot-run; "unreadable" when the header is not
    recommendation: str = ""  # the least CPU offload that fits, or "none: …"
    command: list[str] | None = None
    download: list[str] | None = None  # the ``hf download`` command that fetches exactly this quant
    need: dict[str, int] = field(default_factory=dict)  # bytes per device under the recommendation
    eos: str = ""  # the eos-token check: "ok: …" or "error: …"
    template: str = ""  # the template checks, summarised
    error: str | None = None  # why the quant could not be read
    #: its headers (a workbench.ggufio.GGUFInfo), kept so a later plan needs no request; not in to_dict()
    info: object = field(default=None, repr=False, compare=False)


@dataclass
class QuantTable:
    """``kimi-wb quants``: every quant of ``source`` for one machine."""

    source: str
    machine: dict  # vram, ram, disk (bytes), n_ctx
    rows: list[Quant]
    projectors: list[tuple[str, int]]  # (name, bytes)
    header_bytes: int = 0  # read over the wire for this table
    cached: int = 0  # headers that came from the disk cache

    def best(self) -> Quant | None:
        """The largest quant that fits in memory (the best quality this machine runs at full speed), if any."""
        fits = [q for q in self.rows if q.verdict == "fits"]
        return max(fits, key=lambda q: q.size) if fits else None

    def to_dict(self) -> dict:
        best = self.best()
        return {"source": self.source, "machine": self.machine, "best": best.name if best else None,
                "quants": [{f.name: getattr(q, f.name) for f in fields(q) if f.name != "info"} for q in self.rows],
                "projectors": [{"name": n, "size": s} for n, s in self.projectors],
                "header_bytes": self.header_bytes, "cached": self.cached}

    def frame(self):
        """A pandas DataFrame, one row per quant (the widget's table)."""
        import pandas as pd

        return pd.DataFrame([{"quant": q.name, "files": q.files, "size": format_size(q.size), "verdict": q.verdict,
                              "offload": q.recommendation, "EOS": q.eos, "template": q.template} for q in self.rows])

    def format(self) -> str:
        m = self.machine
        lines = [f"{self.source}: {len(self.rows)} quant(s) for VRAM {format_size(m['vram'])}, RAM "
                 f"{format_size(m['ram'])}, disk {format_size(m['disk'])}, context {m['n_ctx']:,}"]
        width = max([len(q.name) for q in self.rows] + [5])
        lines.append(f"  {'quant':<{width}}  {'files':>5}  {'size':>9}  {'verdict':<10}  offload")
        for q in self.rows:
            lines.append(f"  {q.name:<{width}}  {q.files:>5}  {format_size(q.size):>9}  {q.verdict:<10}  "
                         f"{q.error or q.recommendation}")
            if q.error is None:
                lines.append(f"  {'':<{width}}  EOS: {q.eos}; template: {q.template}")
        for name, size in self.projectors:
            lines.append(f"  vision projector {name} ({format_size(size)}): add it with plan --mmproj")
        if any(q.eos.startswith("error") for q in self.rows):
            lines.append("an old EOS is fixed in place after the download: kimi-wb gguf fix-kimi FILE")
        best = self.best()
        if best is not None:
            lines.append(f"best that fits: {best.name} ({best.recommendation})")
            lines.append(f"  download: {shlex.join(best.download or [])}")
            lines.append(f"  run:      {shlex.join(best.command or [])}")
        else:
            paged = next((q.name for q in self.rows if q.verdict == "mmap"), None)
            lines.append("no quant fits in memory on this machine"
                         + (f"; the first that runs from disk (mmap) is {paged}" if paged else ""))
        return "\n".join(lines)


def hub_entries(table: QuantTable) -> list:
    """The readable quants of ``table`` as model-picker entries (:class:`~workbench.run.models.ModelEntry`, remote)."""
    from workbench.gguffile.splits import member_names
    from workbench.run.models import ModelEntry

    return [ModelEntry(Url(q.first), tuple(member_names(Url(q.first)) or [Url(q.first)]), q.size, q.name, True,
                       tuple(q.download or ()))
            for q in table.rows if q.error is None]


def group(entries: list[tuple[Url, int]]) -> tuple[list[Quant], list[tuple[str, int]]]:
    """Quants (one per split set or single file, smallest first) and projectors from a listing of ``.gguf`` files."""
    sets: dict[str, list[tuple[Url, int]]] = {}
    projectors = []
    for url, size in entries:
        if NOT_A_MODEL.match(url.name):
            if url.name.lower().startswith("mmproj"):
                projectors.append((url.name, size))
            continue
        m = SPLIT_NAME.match(url.name)
        sets.setdefault(f"{url.parent}/{m['stem'] if m else url.name[:-5]}", []).append((url, size))
    per_folder: dict[str, int] = {}
    for key in sets:
        per_folder[key.rsplit("/", 1)[0]] = per_folder.get(key.rsplit("/", 1)[0], 0) + 1
    rows = []
    for key, members in sets.items():
        folder, stem = key.rsplit("/", 1)
        depth = folder[len(HUB):].count("/")  # OWNER/REPO is depth 1
        name = folder.rsplit("/", 1)[-1] if depth >= 2 and per_folder[folder] == 1 else stem
        members.sort()
        first = members[0][0]
        pattern = f"{first.local_name.rsplit('/', 1)[0]}/*" if depth >= 2 and per_folder[folder] == 1 else \
            (f"{stem}-*-of-*.gguf" if len(members) > 1 else first.local_name)
        rows.append(Quant(name, str(first), len(members), sum(s for _, s in members),
                          download=["hf", "download", first.repo, "--include", pattern, "--local-dir", "."]))
    return sorted(rows, key=lambda q: q.size), sorted(projectors)


def quants(source: str, *, vram: int | str = 0, ram: int | str | None = None, disk: int | str | None = None,
           n_ctx: int = 8192, check: bool = True, progress: Callable[[int, int, str], None] | None = None) -> QuantTable:
    """Every quant under ``source`` (``hf://OWNER/REPO[/FOLDER]``) planned for this machine; see the module doc.

    ``progress(done, total, name)`` is called as each quant is read. A quant whose header cannot be read is a
    row with ``verdict="unreadable"`` and the one-line cause, not a failed table.
    """
    from workbench.ggufio.inspect import inspect
    from workbench.run.planner import plan_memory
    from workbench.units import parse_size

    url = Url(source)
    if not url.hub:
        raise InputError(f"{source}: quants lists a Hugging Face repo (hf://OWNER/REPO); for one file, use plan")
    rows, projectors = group(list_ggufs(url, fs=hub_filesystem()))
    if not rows:
        raise InputError(f"{source}: no .gguf model files in this repo")
    table = QuantTable(source, {}, rows, projectors)
    checks: dict[str, tuple[str, str]] = {}
    for done, q in enumerate(rows, 1):
        try:
            info = q.info = inspect(q.first)
            table.header_bytes += info.transfer.bytes
            table.cached += info.transfer.cached
            plan = plan_memory(info, "gpu-all", n_ctx=n_ctx, vram=vram, ram=ram, disk=disk)
            table.machine = {"vram": plan.vram, "ram": plan.ram, "disk": plan.disk, "n_ctx": n_ctx}
            q.recommendation = plan.recommendation
            if plan.recommendation.startswith("none"):
                q.verdict, q.need = "cannot-run", plan.need
            else:
                best = plan_memory(info, plan.recommendation, n_ctx=n_ctx, vram=vram, ram=ram, disk=disk,
                                   recommend=False)
                q.verdict, q.need, q.command = best.verdict, best.need, best.command()
            if check:
                q.eos, q.template = _checked(info, checks)
        except WorkbenchError as e:
            q.verdict, q.error = "unreadable", str(e)
        if progress is not None:
            progress(done, len(rows), q.name)
    if not table.machine:
        table.machine = {"vram": parse_size(vram), "ram": parse_size(ram) if ram is not None else 0,
                         "disk": parse_size(disk) if disk is not None else 0, "n_ctx": n_ctx}
    table.rows = sorted(rows, key=lambda q: (_ORDER.get(q.verdict, 9), -q.size if q.verdict == "fits" else q.size))
    return table


def _checked(info, memo: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(EOS, template) summaries of ``verify.check`` on split 1's tokenizer metadata (from the header ``info``
    already holds); identical metadata is checked once."""
    from workbench.tokenizer.gguf_vocab import read_vocab_gguf
    from workbench.verify import check_assets

    split1 = info.files[0]
    assets = read_vocab_gguf(split1.path, header=split1.header)
    meta = {k: v for k, v in assets.metadata.items() if k.startswith("tokenizer.") and not isinstance(v, list)}
    specials = sorted((t.id, t.content, t.special) for t in assets.specials.values())
    key = hashlib.sha256(repr((sorted(meta.items()), assets.token_types, specials)).encode()).hexdigest()
    if key not in memo:
        report = check_assets(assets)
        eos = next((f for f in report.findings if f.check == "eos-token"), None)
        template = [f for f in report.findings if f.check in TEMPLATE_CHECKS]
        memo[key] = (_summary([eos] if eos else []), _summary(template))
    return memo[key]


def _summary(findings: list) -> str:
    """``ok``, or the worst severity with its first message (and how many more)."""
    for severity in ("error", "warning"):
        bad = [f for f in findings if f.severity == severity]
        if bad:
            more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
            return f"{severity}: {_first_sentence(bad[0].message)}{more}"
    return "ok" + (f": {_first_sentence(findings[0].message)}" if len(findings) == 1 else "")


def _first_sentence(text: str, limit: int = 110) -> str:
    text = text.split(". ", 1)[0].split("; ", 1)[0]
    return text if len(text) <= limit else text[:limit - 1] + "…"


__all__ = ["Quant", "QuantTable", "group", "hub_entries", "quants"]
