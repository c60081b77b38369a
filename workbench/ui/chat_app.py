"""The chat app: pick a quant, see whether it fits, load it with an offload, chat in thinking or instant mode.

A thin view over :mod:`workbench.run`: the model list is :func:`~workbench.run.models.find_models`,
the plan panel :func:`~workbench.run.planner.plan_memory`, loading
:func:`~workbench.run.loader.load_model`, chatting :class:`~workbench.run.chat.LocalChat`.
Loading and generation run on a worker thread, so the notebook stays responsive and Stop
works; every failure lands in the status line, never in a traceback or a frozen UI.

Drivable from Python (the tests do): set widget values, call ``.click()`` on buttons, then
:meth:`ChatApp.wait` for the worker.

    >>> app = ChatApp(folders=["artifacts"])                                   # doctest: +SKIP
    >>> app.load_button.click(); app.wait()                                   # doctest: +SKIP
    >>> app.prompt.value = "Hi"; app.send_button.click(); app.wait()          # doctest: +SKIP
    >>> app.reply.answer                                                       # doctest: +SKIP
"""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets

from workbench.errors import WorkbenchError
from workbench.run.chat import PRESETS as SAMPLING
from workbench.run.models import find_models
from workbench.run.offload import PRESETS as OFFLOADS
from workbench.units import format_size

_BAR = ("<div style='display:flex;align-items:center;gap:.5em'><span style='width:3em'>{dev}</span>"
        "<div style='background:#eee;width:240px;height:12px'><div style='background:{colour};height:12px;"
        "width:{pct:.0f}%'></div></div><span>{used} of {have}</span></div>")


class ChatApp(widgets.VBox):
    """Model picker, offload and plan, load, thinking/instant, streaming chat with a Stop button."""

    def __init__(self, *, folders: list[str] | None = None, vram: str = "0", ram: str | None = None,
                 n_ctx: int = 4096) -> None:
        self._folders = folders
        self.folder = widgets.Text(value=", ".join(folders or []), description="Folders",
                                   placeholder="default: LLAMA_CACHE, HF cache, artifacts/")
        self.scan_button = widgets.Button(description="Scan", icon="search")
        self.model = widgets.Dropdown(description="Model", layout=widgets.Layout(width="60%"))
        self.offload = widgets.Dropdown(options=list(OFFLOADS), value="gpu-all", description="Offload")
        self.custom = widgets.Text(description="-ot", placeholder="PATTERN=BUFFER,… (overrides the preset)")
        self.ngl = widgets.BoundedIntText(value=99, min=0, max=999, description="GPU layers")
        self.ctx = widgets.BoundedIntText(value=n_ctx, min=256, max=262144, step=256, description="Context")
        self.threads = widgets.BoundedIntText(value=0, min=0, max=512, description="Threads (0=auto)")
        self.vram = widgets.Text(value=vram, description="VRAM")
        self.ram = widgets.Text(value=ram or "", description="RAM", placeholder="this machine's")
        self.plan_view = widgets.HTML()
        self.load_button = widgets.Button(description="Load", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout=widgets.Layout(width="30%"))
        self.mode = widgets.ToggleButtons(options=list(SAMPLING), value="thinking", description="Mode")
        self.temperature = widgets.FloatText(description="temperature")
        self.top_p = widgets.FloatText(description="top_p")
        self.min_p = widgets.FloatText(description="min_p")
        self.max_tokens = widgets.BoundedIntText(value=512, min=1, max=262144, description="max tokens")
        self.prompt = widgets.Textarea(placeholder="Message", layout=widgets.Layout(width="100%", height="4em"))
        self.send_button = widgets.Button(description="Send", icon="paper-plane", disabled=True)
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.reasoning_view = widgets.HTML()
        self.reasoning_box = widgets.Accordion(children=[self.reasoning_view], titles=("Reasoning",))
        self.answer_view = widgets.HTML()
        self.stats = widgets.HTML()
        self.status = widgets.HTML()

        self.entries = []
        self._compat: dict = {}  # model path -> its compat Report
        self.loaded = None
        self.chat = None
        self.reply = None
        self.messages: list[dict] = []
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()

        self.scan_button.on_click(lambda _b: self.scan())
        self.load_button.on_click(lambda _b: self._start(self._load))
        self.send_button.on_click(lambda _b: self._start(self._generate))
        self.stop_button.on_click(lambda _b: self._stop.set())
        self.mode.observe(lambda _c: self._apply_mode(), names="value")
        self.offload.observe(lambda _c: self._follow_preset(), names="value")
        for w in (self.model, self.offload, self.custom, self.ngl, self.ctx, self.vram, self.ram):
            w.observe(lambda _c: self.refresh_plan(), names="value")
        super().__init__([
            widgets.HBox([self.folder, self.scan_button]), self.model,
            widgets.HBox([self.offload, self.custom]), widgets.HBox([self.ngl, self.ctx, self.threads]),
            widgets.HBox([self.vram, self.ram]), self.plan_view,
            widgets.HBox([self.load_button, self.progress]),
            self.mode, widgets.HBox([self.temperature, self.top_p, self.min_p, self.max_tokens]),
            self.prompt, widgets.HBox([self.send_button, self.stop_button]),
            self.reasoning_box, self.answer_view, self.stats, self.status,
        ])
        # stable CSS hooks for the browser test (tests/e2e) and for users' own styling
        self.add_class("wb-chat-app")
        for w, name in ((self.model, "model"), (self.load_button, "load"), (self.mode, "mode"),
                        (self.max_tokens, "max-tokens"), (self.prompt, "prompt"), (self.send_button, "send"),
                        (self.stop_button, "stop"), (self.reasoning_view, "reasoning"), (self.answer_view, "answer"),
                        (self.stats, "stats"), (self.status, "status")):
            w.add_class(f"wb-{name}")
        self._apply_mode()
        self.scan()

    # -- state

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00" if error else "#555"
        self.status.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    def _apply_mode(self) -> None:
        s = SAMPLING[self.mode.value]
        self.temperature.value, self.top_p.value, self.min_p.value = s.temperature, s.top_p, s.min_p

    def scan(self) -> None:
        """Refill the model list from the folders."""
        folders = [f.strip() for f in self.folder.value.split(",") if f.strip()] or self._folders
        self.entries = find_models(folders)
        self.model.options = [(e.label, i) for i, e in enumerate(self.entries)]
        self.model.value = 0 if self.entries else None
        if not self.entries:
            self._say("no GGUF found; give a folder and Scan")
        self.refresh_plan()

    def offload_choice(self):
        from workbench.run.offload import choose

        return choose(self.offload.value, overrides=self.custom.value, n_gpu_layers=self.ngl.value)

    def _follow_preset(self) -> None:
        """A preset brings its own GPU layers (cpu-only: 0); the box can then change them."""
        from workbench.run.offload import preset

        self.ngl.value = preset(self.offload.value).n_gpu_layers

    def refresh_plan(self) -> None:
        """Recompute the memory plan for the chosen model and offload; problems go to the panel."""
        from workbench.run.planner import plan_memory

        if self.model.value is None:
            self.plan_view.value = ""
            return
        entry = self.entries[self.model.value]
        if entry.path not in self._compat and entry.complete:
            from workbench.llamacpp import prefetch

            prefetch(entry.path)  # llama.cpp's isolated read runs while the plan is made
        try:
            p = plan_memory(entry.path, self.offload_choice(), n_ctx=self.ctx.value, vram=self.vram.value or "0",
                            ram=self.ram.value or None)
        except WorkbenchError as e:
            self.plan_view.value = f"<span style='color:#b00'>plan: {html.escape(str(e))}</span>"
            return
        self.plan = p
        need = p.need
        bars = "".join(_BAR.format(dev=dev, colour="#d62728" if need.get(dev, 0) > have else "#2ca02c",
                                   pct=min(100, 100 * need.get(dev, 0) / max(have, 1)), used=format_size(need.get(dev, 0)),
                                   have=format_size(have))
                       for dev, have in (("GPU", p.vram), ("CPU", p.ram)) if dev in need and (dev != "GPU" or p.vram))
        compat = self._compat.get(entry.path)
        if compat is None:  # once per model: llama.cpp reads its metadata (about a second for a real quant)
            from workbench.run.compat import check_compat

            compat = self._compat[entry.path] = check_compat(entry.path)
        from workbench.run.compat import line

        problems = "".join(f"<div style='color:#b00'>{html.escape(line(f))}</div>"
                           for f in compat.findings if f.severity == "error")
        self.plan_view.value = (f"<b>{p.verdict}</b> · recommended: {html.escape(p.recommendation)}{bars}"
                                + "".join(f"<div style='color:#555'>{html.escape(r)}</div>" for r in p.reasons)
                                + (problems or "<div style='color:#555'>this llama.cpp reads its metadata</div>"))

    # -- work on a thread

    def _start(self, job) -> None:
        if self._worker is not None and self._worker.is_alive():
            self._say("busy: wait for the current job or press Stop", error=True)
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._guarded, args=(job,), daemon=True)
        self._worker.start()

    def _guarded(self, job) -> None:
        try:
            job()
        except WorkbenchError as e:
            self._say(str(e), error=True)
        except Exception as e:  # the UI must survive anything a model or server throws
            self._say(f"{type(e).__name__}: {e}", error=True)
        finally:
            self.progress.bar_style = ""
            self.stop_button.disabled = True
            self.send_button.disabled = self.chat is None

    def wait(self, timeout: float | None = 120) -> None:
        """Block until the worker is done (for scripts and tests)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def _load(self) -> None:
        from workbench.run.chat import LocalChat
        from workbench.run.loader import load_model

        if self.model.value is None:
            raise WorkbenchError("no model selected")
        entry = self.entries[self.model.value]
        if not entry.complete:
            raise WorkbenchError(f"{entry.name}: split set incomplete ({len(entry.files)} files present)")
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = self.chat = None
        self.send_button.disabled = True
        self.progress.value, self.progress.bar_style = 0, "info"
        self._say(f"loading {entry.name} …")
        loaded = load_model(entry.path, self.offload_choice(), n_ctx=self.ctx.value, n_threads=self.threads.value or None)
        self.loaded, self.chat, self.messages = loaded, LocalChat(loaded), []
        self.progress.value = 1
        moved = len(loaded.overridden)
        self._say(f"loaded {entry.name}: {', '.join(f'{k} {v:,.1f} MiB' for k, v in loaded.buffers.items())}"
                  + (f"; {moved} tensors placed by overrides" if moved else ""))

    def _generate(self) -> None:  # not ``_send``: that is ipywidgets' comm sender, which this app must not shadow
        from workbench.run.chat import Sampling

        if self.chat is None:
            raise WorkbenchError("load a model first")
        text = self.prompt.value.strip()
        if not text:
            raise WorkbenchError("type a message first")
        self.messages.append({"role": "user", "content": text})
        self.prompt.value = ""
        self.stop_button.disabled, self.send_button.disabled = False, True
        self.reasoning_view.value = self.answer_view.value = ""
        sampling = Sampling(self.temperature.value, self.top_p.value, self.min_p.value)
        reasoning, answer = [], []
        self.reasoning_box.selected_index = 0
        for event in self.chat.stream(self.messages, mode=self.mode.value, sampling=sampling,
                                      max_tokens=self.max_tokens.value, stop=self._stop):
            if event.kind == "reasoning":
                reasoning.append(event.text)
                self.reasoning_view.value = f"<pre style='white-space:pre-wrap'>{html.escape(''.join(reasoning))}</pre>"
            elif event.kind in ("answer", "tool_call"):
                if event.kind == "answer" and self.reasoning_box.selected_index is not None and not answer:
                    self.reasoning_box.selected_index = None  # fold the reasoning once the answer starts
                call = event.call and event.call["function"]
                answer.append(event.text if call is None else f"\n[tool call {call['name']}({call['arguments']})]")
                self.answer_view.value = f"<div style='white-space:pre-wrap'>{html.escape(''.join(answer))}</div>"
        self.reply = self.chat.last
        self.messages.append(self.reply.as_message())
        r = self.reply
        self.stats.value = (f"<span style='color:#555'>{r.n_generated_tokens} tokens · "
                            f"{r.generation_tokens_per_s:,.1f} tok/s · prompt {r.prompt_tokens_per_s:,.0f} tok/s · "
                            f"{r.finish_reason}</span>")
        self._say("ready")
