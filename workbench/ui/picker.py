"""The chat app's model picker: which quant, under which offload, on which machine, and whether it fits.

A thin view over :mod:`workbench.run`: the local list is :func:`~workbench.run.models.find_models`
(folders, scanned), the Hub list :func:`~workbench.run.quants.quants` (headers only; the table is
:mod:`workbench.ui.hub`), the panel :func:`~workbench.run.planner.plan_memory` with the pre-load
check :func:`~workbench.run.compat.check_compat`. Every change of model, offload, ``-ot``, GPU
layers, context, VRAM or RAM replans; a problem lands in the panel, never in a traceback. *Use
recommended* switches to the plan's recommendation (the least CPU offload that fits).

It runs nothing in the background itself: :meth:`ModelPicker.list_hub` blocks, and the chat app
calls it from its worker thread (:mod:`workbench.ui.chat_app`).

    >>> picker = ModelPicker(folders=["artifacts"], vram="24GiB", ram="256GiB")   # doctest: +SKIP
    >>> picker.plan.verdict, picker.selected.name                                  # doctest: +SKIP
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable

import ipywidgets as widgets

from workbench.errors import WorkbenchError
from workbench.run.models import ModelEntry, find_models
from workbench.run.offload import PRESETS as OFFLOADS
from workbench.ui.turns import GREY
from workbench.units import format_size

_BAR = ("<div style='display:flex;align-items:center;gap:.5em'><span style='width:3em'>{dev}</span>"
        "<div style='background:#eee;width:240px;height:12px'><div style='background:{colour};height:12px;"
        "width:{pct:.0f}%'></div></div><span>{used} of {have}</span></div>")
#: widget style for every labelled box of the app: labels are never cut ("temperat…")
WIDE = {"description_width": "initial"}


class ModelPicker(widgets.VBox):
    """Folders and Scan, a Hub repo and List quants, the model, offload, context and machine, and the plan panel."""

    def __init__(self, *, folders: list[str] | None = None, vram: str = "0", ram: str | None = None,
                 n_ctx: int = 4096) -> None:
        self._folders = folders
        self.folder = widgets.Text(value=", ".join(folders or []), description="Folders", style=WIDE,
                                   placeholder="default: LLAMA_CACHE, HF cache, artifacts/",
                                   layout=widgets.Layout(width="60%"))
        self.scan_button = widgets.Button(description="Scan", icon="search")
        self.hub = widgets.Text(description="or a Hub repo", style=WIDE, layout=widgets.Layout(width="45%"),
                                placeholder="hf://OWNER/REPO (only headers are read)")
        self.hub_button = widgets.Button(description="List quants", icon="cloud")
        self.hub_view = widgets.HTML()
        self.model = widgets.Dropdown(description="Model", style=WIDE, layout=widgets.Layout(width="70%"))
        self.offload = widgets.Dropdown(options=list(OFFLOADS), value="gpu-all", description="Offload", style=WIDE)
        self.custom = widgets.Text(description="-ot", placeholder="PATTERN=BUFFER,… (overrides the preset)",
                                   style=WIDE, layout=widgets.Layout(width="45%"))
        self.ngl = widgets.BoundedIntText(value=99, min=0, max=999, description="GPU layers", style=WIDE,
                                          layout=widgets.Layout(width="11em"))
        self.ctx = widgets.BoundedIntText(value=n_ctx, min=256, max=262144, step=256, description="Context",
                                          style=WIDE, layout=widgets.Layout(width="12em"))
        self.threads = widgets.BoundedIntText(value=0, min=0, max=512, description="Threads (0 = auto)",
                                              style=WIDE, layout=widgets.Layout(width="14em"))
        self.vram = widgets.Text(value=vram, description="VRAM", style=WIDE, layout=widgets.Layout(width="12em"))
        self.ram = widgets.Text(value=ram or "", description="RAM", placeholder="this machine's", style=WIDE,
                                layout=widgets.Layout(width="14em"))
        self.use_button = widgets.Button(description="Use recommended", icon="magic", disabled=True,
                                         layout=widgets.Layout(width="auto"),  # the whole label, never "Use recomme…"
                                         tooltip="switch to the least CPU offload that fits (the plan's recommendation)")
        self.plan_view = widgets.HTML()

        self.entries: list[ModelEntry] = []
        self.plan = None  # the last MemoryPlan shown
        self._compat: dict = {}  # model path -> its compat Report
        self._hub_infos: dict = {}  # hf:// address -> its headers, read once by List quants

        self.scan_button.on_click(lambda _b: self.scan())
        self.use_button.on_click(lambda _b: self.use_recommended())
        self.offload.observe(lambda _c: self._follow_preset(), names="value")
        for w in (self.model, self.offload, self.custom, self.ngl, self.ctx, self.vram, self.ram):
            w.observe(lambda _c: self.refresh_plan(), names="value")
        super().__init__([
            widgets.HBox([self.folder, self.scan_button]), widgets.HBox([self.hub, self.hub_button]), self.hub_view,
            self.model, widgets.HBox([self.offload, self.custom]), widgets.HBox([self.ngl, self.ctx, self.threads]),
            widgets.HBox([self.vram, self.ram, self.use_button]), self.plan_view,
        ])
        for w, name in ((self.model, "model"), (self.hub, "hub"), (self.hub_button, "hub-list"),
                        (self.hub_view, "hub-view"), (self.plan_view, "plan"), (self.vram, "vram"), (self.ram, "ram"),
                        (self.ctx, "ctx"), (self.offload, "offload"), (self.use_button, "use-recommended")):
            w.add_class(f"wb-{name}")

    @property
    def selected(self) -> ModelEntry | None:
        return self.entries[self.model.value] if self.model.value is not None else None

    def scan(self) -> None:
        """Refill the local part of the list from the folders; Hub quants already listed stay."""
        folders = [f.strip() for f in self.folder.value.split(",") if f.strip()] or self._folders
        self._show(find_models(folders) + [e for e in self.entries if e.remote])

    def _show(self, entries: list[ModelEntry], *, select: int = 0) -> None:
        self.entries = entries
        self.model.options = [(e.label, i) for i, e in enumerate(self.entries)]
        self.model.value = select if self.entries else None
        self.refresh_plan()

    def list_hub(self, progress: Callable[[int, int, str], None] | None = None) -> str:
        """List the Hub repo's quants for this machine (headers only), show the table, add the quants to the list
        (the best that fits selected); returns a one-line summary."""
        from workbench.run.quants import hub_entries, quants
        from workbench.ui.hub import quants_html

        repo = self.hub.value.strip()
        if not repo:
            raise WorkbenchError("give a Hub repo, hf://OWNER/REPO")
        table = quants(repo, vram=self.vram.value or "0", ram=self.ram.value or None, n_ctx=self.ctx.value,
                       progress=progress)
        self.hub_view.value = quants_html(table)
        self._hub_infos.update({q.first: q.info for q in table.rows if q.info is not None})
        local, remote = [e for e in self.entries if not e.remote], hub_entries(table)
        best = table.best()
        pick = next((i for i, e in enumerate(remote) if best is not None and e.quant == best.name), 0)
        self._show(local + remote, select=len(local) + pick if remote else 0)
        return f"{repo}: {len(table.rows)} quant(s), {table.header_bytes / 1e6:.1f} MB of headers read"

    def use_recommended(self) -> None:
        """Switch the offload to the plan's recommendation (added to the list when it is ``n-cpu-moe:N``); an ``-ot``
        string, which would override it, is cleared."""
        name = self.plan.recommendation if self.plan is not None else ""
        if not name or name.startswith("none"):
            return
        self.custom.value = ""
        if name not in self.offload.options:
            self.offload.options = [*OFFLOADS, name]
        self.offload.value = name

    def offload_choice(self):
        """The :class:`~workbench.run.offload.Offload` the boxes describe."""
        from workbench.run.offload import choose

        return choose(self.offload.value, overrides=self.custom.value, n_gpu_layers=self.ngl.value)

    def _follow_preset(self) -> None:
        """A preset brings its own GPU layers (cpu-only: 0); the box can then change them."""
        from workbench.run.offload import preset

        self.ngl.value = preset(self.offload.value).n_gpu_layers

    def refresh_plan(self) -> None:
        """Recompute the memory plan for the chosen model and offload; problems go to the panel."""
        from workbench.run.compat import check_compat, line
        from workbench.run.planner import plan_memory

        entry = self.selected
        self.use_button.disabled = True
        if entry is None:
            self.plan_view.value = ""
            return
        if entry.path not in self._compat and entry.complete and not entry.remote:
            from workbench.llamacpp import prefetch

            prefetch(entry.path)  # llama.cpp's isolated read runs while the plan is made
        source = self._hub_infos.get(str(entry.path), entry.path) if entry.remote else entry.path
        try:
            p = plan_memory(source, self.offload_choice(), n_ctx=self.ctx.value, vram=self.vram.value or "0",
                            ram=self.ram.value or None)
        except WorkbenchError as e:
            self.plan_view.value = f"<span style='color:#b00'>plan: {html.escape(str(e))}</span>"
            return
        self.plan = p
        chosen = self.offload.value if not self.custom.value.strip() else None
        self.use_button.disabled = p.recommendation.startswith("none") or p.recommendation == chosen
        need = p.need
        bars = "".join(_BAR.format(dev=dev, colour="#d62728" if need.get(dev, 0) > have else "#2ca02c",
                                   pct=min(100, 100 * need.get(dev, 0) / max(have, 1)), used=format_size(need.get(dev, 0)),
                                   have=format_size(have))
                       for dev, have in (("GPU", p.vram), ("CPU", p.ram)) if dev in need and (dev != "GPU" or p.vram))
        compat = self._compat.get(entry.path)
        if compat is None:  # once per model: llama.cpp reads its metadata (about a second for a real quant)
            compat = self._compat[entry.path] = check_compat(source)
        problems = "".join(f"<div style='color:#b00'>{html.escape(line(f))}</div>"
                           for f in compat.findings if f.severity == "error")
        if entry.remote:
            problems += (f"<div style='{GREY}'>on the Hub: planned from its headers; to load it, "
                         f"<code>{html.escape(shlex.join(entry.download))}</code>, then Scan</div>")
        self.plan_view.value = (f"<b>{p.verdict}</b> · recommended: {html.escape(p.recommendation)}{bars}"
                                + "".join(f"<div style='{GREY}'>{html.escape(r)}</div>" for r in p.reasons)
                                + (problems or f"<div style='{GREY}'>this llama.cpp reads its metadata</div>"))
