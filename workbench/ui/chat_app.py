"""The chat app: pick a quant, see whether it fits, load it with an offload, hold a conversation in thinking or instant mode.

A thin view over :mod:`workbench.run`: the model picker and its plan panel are
:class:`~workbench.ui.picker.ModelPicker` (local folders and Hub repos), loading
:func:`~workbench.run.loader.load_model`, replies :class:`~workbench.run.chat.LocalChat`, and the
conversation (what fits the context, retry and edit, exports)
:class:`~workbench.run.conversation.Conversation`.

What a user sees:

- the conversation: each user turn, then each assistant turn with its folding reasoning, its
  answer and its tool calls; turns dropped from the context stay visible, greyed;
- a message box where Enter sends and Shift+Enter adds a newline; Send, Stop, Retry (the last
  turn again), Edit (the last message back into the box), New chat and Export (the OpenAI
  request body as JSON and the exact prompt, into ``export_dir``);
- a context gauge, and a choice for when the conversation no longer fits: drop the oldest
  turns, or stop and say so. A message whose reply fails is never kept in the history;
- a status line that says what is happening while a reply streams (reading the prompt, then
  tokens, live tok/s and elapsed time), and a stats line after it (prompt and generation
  tokens and tok/s, time, finish reason);
- a line that says what the loaded model is when it is the demo, and when its template has
  no thinking switch (the mode then changes only the sampling);
- a Hub repo field (``hf://OWNER/REPO``): List quants reads every quant's headers (never the
  weights), shows the quants table (:mod:`workbench.ui.hub`) and adds each quant to the model
  picker, where its plan shows like a local file's; Load then says how to download it;
- thinking controls (keep earlier reasoning, a reasoning budget), the tools given with
  ``tools=`` (each call and result shown), and instead of a local model a server with its API
  key (emptied once connected) and a Check server button (:mod:`workbench.run.conformance`).

How a message renders as HTML is :mod:`workbench.ui.turns`.

Loading and generation run on a worker thread, so the notebook stays responsive and Stop
works; every failure lands in the status line, never in a traceback or a frozen UI. Drivable
from Python (the tests do): set widget values, call ``.click()`` on buttons (or
``prompt.submit()`` for Enter), then :meth:`ChatApp.wait` for the worker.

    >>> app = ChatApp(folders=["artifacts"])                                   # doctest: +SKIP
    >>> app.load_button.click(); app.wait()                                   # doctest: +SKIP
    >>> app.prompt.value = "Hi"; app.send_button.click(); app.wait()          # doctest: +SKIP
    >>> app.reply.answer                                                       # doctest: +SKIP
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import ipywidgets as widgets

from workbench.errors import WorkbenchError
from workbench.run.chat import PRESETS as SAMPLING
from workbench.run.conversation import Conversation
from workbench.ui.composer import Composer
from workbench.ui.picker import WIDE, ModelPicker
from workbench.ui.turns import GREY, answer_html, content_text, pre, step_html, tool_result_html, user_html

OVERFLOW_CHOICES = [("drop the oldest turns", "drop"), ("stop and say so", "stop")]
#: how often the status line is refreshed while a reply streams
TICK_S = 0.25


class ChatApp(widgets.VBox):
    """Model picker, offload and plan, load, and a streaming conversation with Stop (see the module docstring)."""

    def __init__(self, *, folders: list[str] | None = None, vram: str = "0", ram: str | None = None,
                 n_ctx: int = 4096, export_dir: str | Path = "chats", tools=None) -> None:
        from workbench.run.tools import Toolbox

        self.toolbox = Toolbox.of(tools) if tools else None
        self.export_dir = Path(export_dir)
        self.picker = ModelPicker(folders=folders, vram=vram, ram=ram, n_ctx=n_ctx)
        # the picker's boxes, under the names users and tests drive
        p = self.picker
        self.folder, self.scan_button, self.hub, self.hub_button, self.hub_view = \
            p.folder, p.scan_button, p.hub, p.hub_button, p.hub_view
        self.model, self.offload, self.custom, self.ngl, self.ctx, self.threads = \
            p.model, p.offload, p.custom, p.ngl, p.ctx, p.threads
        self.vram, self.ram, self.plan_view = p.vram, p.ram, p.plan_view
        self.load_button = widgets.Button(description="Load", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="30%"))
        self.about = widgets.HTML()
        self.server = widgets.Text(description="or a server", style=WIDE, layout=widgets.Layout(width="45%"),
                                   placeholder="http://host:port/v1 (llama-server, vLLM, SGLang)")
        self.api_key = widgets.Password(description="API key", style=WIDE, layout=widgets.Layout(width="18em"),
                                        placeholder="empty: $OPENAI_API_KEY")
        self.connect_button = widgets.Button(description="Connect", icon="plug",
                                             tooltip="chat with the server instead of a local model")
        self.check_button = widgets.Button(description="Check server", icon="stethoscope", disabled=True,
                                           tooltip="what the server does with thinking, tools and streaming "
                                                   "(server-check), and use what it finds")
        self.server_report = widgets.HTML()
        self.mode = widgets.ToggleButtons(options=list(SAMPLING), value="thinking", description="Mode", style=WIDE)
        self.temperature = widgets.FloatText(description="temperature", style=WIDE, layout=widgets.Layout(width="11em"))
        self.top_p = widgets.FloatText(description="top_p", style=WIDE, layout=widgets.Layout(width="8em"))
        self.min_p = widgets.FloatText(description="min_p", style=WIDE, layout=widgets.Layout(width="8em"))
        self.max_tokens = widgets.BoundedIntText(value=512, min=1, max=262144, description="max tokens", style=WIDE,
                                                 layout=widgets.Layout(width="13em"))
        self.preserve = widgets.Checkbox(value=False, description="keep earlier reasoning", style=WIDE,
                                         tooltip="preserve_thinking: earlier turns keep their reasoning in the prompt "
                                                 "(templates that read it)", layout=widgets.Layout(width="16em"))
        self.budget = widgets.BoundedIntText(value=-1, min=-1, max=262144, description="reasoning budget (-1 = none)",
                                             style=WIDE, layout=widgets.Layout(width="22em"),
                                             tooltip="end the reasoning after this many tokens and answer")
        self.tools_line = widgets.HTML(
            f"<span style='{GREY}'>tools: {', '.join(html.escape(n) for n in self.toolbox.functions)} "
            "(only these run; each call and result is shown)</span>" if self.toolbox else "")
        self.live_steps = widgets.HTML()
        self.overflow = widgets.Dropdown(options=OVERFLOW_CHOICES, value="drop", description="When the context is full",
                                         style=WIDE, layout=widgets.Layout(width="24em"))
        self.gauge = widgets.IntProgress(value=0, min=0, max=n_ctx, layout=widgets.Layout(width="240px"))
        self.gauge_label = widgets.HTML()
        self.history = widgets.VBox()
        self.live_user = widgets.HTML()
        self.reasoning_view = widgets.HTML()
        self.reasoning_box = widgets.Accordion(children=[self.reasoning_view], titles=("Reasoning",),
                                               layout=widgets.Layout(display="none"))
        self.answer_view = widgets.HTML()
        # the conversation scrolls inside a box that stays anchored at its newest line (column-reverse around one child)
        self.conversation_view = widgets.Box(
            [widgets.VBox([self.history, self.live_user, self.live_steps, self.reasoning_box, self.answer_view],
                          layout=widgets.Layout(width="100%", flex="0 0 auto"))],  # never squeezed: it scrolls
            layout=widgets.Layout(display="flex", flex_flow="column-reverse", max_height="30em", overflow="auto",
                                  border="1px solid #e0e0e0", padding="0 .4em"))
        self.prompt = Composer(placeholder="Message · Enter sends, Shift+Enter adds a line")
        self.send_button = widgets.Button(description="Send", icon="paper-plane", disabled=True)
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.retry_button = widgets.Button(description="Retry", icon="redo", disabled=True,
                                           tooltip="the last message again, for a new reply")
        self.edit_button = widgets.Button(description="Edit last", icon="edit", disabled=True,
                                          tooltip="the last message back into the box; its reply is removed")
        self.new_button = widgets.Button(description="New chat", icon="file", tooltip="clear the conversation")
        self.export_button = widgets.Button(description="Export", icon="download",
                                            tooltip="the OpenAI request body (JSON) and the exact prompt, as files")
        self.stats = widgets.HTML()
        self.status = widgets.HTML()

        self.loaded = None
        self.chat = None
        self.reply = None
        self.conversation = Conversation()
        self._turn_widgets: dict[tuple[int, bool], widgets.Widget] = {}
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._live: dict = {}  # the reply in flight: started, n_prompt, previous reply
        self._used = 0  # context tokens after the last reply

        self.hub_button.on_click(lambda _b: self._start(self._list_hub))
        self.load_button.on_click(lambda _b: self._start(self._load))
        self.connect_button.on_click(lambda _b: self._start(self._connect))
        self.check_button.on_click(lambda _b: self._start(self._check_server))
        self.send_button.on_click(lambda _b: self._start(self._generate))
        self.prompt.on_submit(lambda _text: self._start(self._generate))
        self.stop_button.on_click(lambda _b: self._stop.set())
        self.retry_button.on_click(lambda _b: self._start(self._retry))
        self.edit_button.on_click(lambda _b: self._start(self._edit))
        self.new_button.on_click(lambda _b: self._start(self.new_chat))
        self.export_button.on_click(lambda _b: self._start(self.export))
        self.mode.observe(lambda _c: self._apply_mode(), names="value")
        self.scan_button.on_click(lambda _b: self._say_if_empty())  # after the picker's own scan
        super().__init__([
            self.picker,
            widgets.HBox([self.load_button, self.progress]),
            widgets.HBox([self.server, self.api_key, self.connect_button, self.check_button]), self.server_report,
            self.about,
            self.mode, widgets.HBox([self.temperature, self.top_p, self.min_p, self.max_tokens]),
            widgets.HBox([self.preserve, self.budget]), self.tools_line,
            widgets.HBox([self.overflow, self.gauge, self.gauge_label]),
            self.conversation_view,
            self.prompt,
            widgets.HBox([self.send_button, self.stop_button, self.retry_button, self.edit_button, self.new_button,
                          self.export_button]),
            self.status, self.stats,
        ])
        # stable CSS hooks for the browser test (tests/e2e) and for users' own styling
        self.add_class("wb-chat-app")
        for w, name in ((self.load_button, "load"), (self.mode, "mode"),
                        (self.max_tokens, "max-tokens"), (self.overflow, "overflow"),
                        (self.preserve, "preserve"), (self.budget, "budget"), (self.tools_line, "tools"),
                        (self.server, "server"), (self.api_key, "api-key"), (self.connect_button, "connect"),
                        (self.check_button, "check"), (self.server_report, "server-report"),
                        (self.live_steps, "live-steps"),
                        (self.gauge_label, "gauge"), (self.about, "about"), (self.history, "history"),
                        (self.live_user, "live-user"), (self.conversation_view, "conversation"),
                        (self.prompt, "prompt"), (self.send_button, "send"),
                        (self.stop_button, "stop"), (self.retry_button, "retry"), (self.edit_button, "edit"),
                        (self.new_button, "new"), (self.export_button, "export"),
                        (self.reasoning_box, "reasoning-box"), (self.reasoning_view, "reasoning"),
                        (self.answer_view, "answer"), (self.stats, "stats"), (self.status, "status")):
            w.add_class(f"wb-{name}")
        self._apply_mode()
        self._show_gauge(0)
        self.scan()

    @property
    def entries(self) -> list:
        """The models in the picker (local, then Hub quants listed)."""
        return self.picker.entries

    @property
    def plan(self):
        """The memory plan the panel shows."""
        return self.picker.plan

    def scan(self) -> None:
        """Refill the model list from the folders."""
        self.picker.scan()
        self._say_if_empty()

    def _say_if_empty(self) -> None:
        if not self.entries:
            self._say("no GGUF found; give a folder and Scan")

    @property
    def messages(self) -> list[dict]:
        """Every message of the conversation, oldest first (dropped ones included)."""
        return self.conversation.messages

    # -- state

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00" if error else "#555"
        self.status.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    def _apply_mode(self) -> None:
        s = SAMPLING[self.mode.value]
        self.temperature.value, self.top_p.value, self.min_p.value = s.temperature, s.top_p, s.min_p
        self._show_about()

    def _show_about(self) -> None:
        """What the loaded model is (the demo says so) and whether the mode reaches its template."""
        lines = []
        if self.chat is not None:
            if getattr(self.chat, "demo", None) is not None:
                lines.append(self.chat.demo.about)
            note = self.chat.mode_note(self.mode.value) if hasattr(self.chat, "mode_note") else None
            if note:
                lines.append(note)
        self.about.value = "".join(f"<div style='{GREY};font-size:90%'>{html.escape(x)}</div>" for x in lines)

    def _show_gauge(self, used: int) -> None:
        if self.chat is not None and not hasattr(self.chat, "n_ctx"):  # a server: its context is its own
            self.gauge.value = 0
            self.gauge_label.value = f"<span style='{GREY}'>context: the server's (last prompt {used:,} tokens)</span>"
            return
        n_ctx = self.chat.n_ctx() if self.chat is not None else self.ctx.value
        self.gauge.max, self.gauge.value = n_ctx, min(used, n_ctx)
        self.gauge.bar_style = "danger" if used >= 0.9 * n_ctx else "warning" if used >= 0.7 * n_ctx else ""
        self.gauge_label.value = (f"<span style='{GREY}'>context {used:,} of {n_ctx:,} tokens "
                                  f"({100 * used / max(n_ctx, 1):.0f}%)</span>")

    def _set_busy(self, busy: bool) -> None:
        ready = self.chat is not None and not busy
        has_turn = ready and any(m.get("role") == "user" for m in self.messages)
        self.send_button.disabled = not ready
        self.stop_button.disabled = not busy
        self.retry_button.disabled = self.edit_button.disabled = not has_turn
        self.new_button.disabled = self.export_button.disabled = self.load_button.disabled = busy
        self.connect_button.disabled = busy
        self.check_button.disabled = busy or not hasattr(self.chat, "learn")

    def _list_hub(self) -> None:
        """The picker's List quants, on the worker: progress in the bar and the status line."""
        self._set_busy(True)
        self.progress.value, self.progress.bar_style = 0, "info"

        def progress(done: int, total: int, name: str) -> None:
            self.progress.max, self.progress.value = total, done
            self._say(f"read quant {done} of {total}: {name}")

        self._say(f"listing {self.hub.value.strip()} …")
        self._say(self.picker.list_hub(progress))

    # -- the conversation on screen

    def _turn_widget(self, message: dict, dropped: bool) -> widgets.Widget:
        """One finished message as widgets, made once (a folded reasoning stays as the user left it)."""
        key = (id(message), dropped)
        w = self._turn_widgets.get(key)
        if w is not None:
            return w
        role = message.get("role")
        if role == "user":
            w = widgets.HTML(user_html(content_text(message), dropped=dropped))
            w.add_class("wb-turn-user")
        elif role == "assistant":
            parts = []
            if message.get("reasoning_content"):
                view = widgets.HTML(pre(message["reasoning_content"].strip()))
                view.add_class("wb-reasoning")
                parts.append(widgets.Accordion(children=[view], titles=("Reasoning",), selected_index=None))
            answer = widgets.HTML(answer_html(content_text(message), message.get("tool_calls") or [],
                                               dropped=dropped))
            answer.add_class("wb-answer")
            parts.append(answer)
            w = widgets.VBox(parts)
            w.add_class("wb-turn-assistant")
        elif role == "tool":
            w = widgets.HTML(tool_result_html(message, dropped=dropped))
            w.add_class("wb-turn-tool")
        else:
            w = widgets.HTML(f"<div style='{GREY}'><b>{html.escape(str(role))}</b> "
                             f"{pre(content_text(message))}</div>")
            w.add_class(f"wb-turn-{role}")
        if dropped:
            w.add_class("wb-dropped")
        self._turn_widgets[key] = w
        return w

    def _show_history(self, *, keep_live: bool) -> None:
        """History = the conversation, less its last exchange when the live area still shows it."""
        messages = self.messages
        shown = len(messages) - 2 if keep_live and len(messages) >= 2 else len(messages)
        dropped = {id(m) for m in self.conversation.dropped()}
        children = [self._turn_widget(m, id(m) in dropped) for m in messages[:shown]]
        n_dropped = sum(id(m) in dropped for m in messages[:shown])
        if n_dropped:
            note = widgets.HTML(f"<div style='{GREY};font-size:90%;border-top:1px dashed #bbb'>"
                                f"{n_dropped} message{'s' if n_dropped > 1 else ''} above left the context</div>")
            note.add_class("wb-dropped-note")
            last_dropped = max(i for i, m in enumerate(messages[:shown]) if id(m) in dropped)
            children.insert(last_dropped + 1, note)
        self.history.children = children
        keys = {(id(m), id(m) in dropped) for m in messages}
        self._turn_widgets = {k: v for k, v in self._turn_widgets.items() if k in keys}
        if not keep_live:
            self._clear_live()

    def _clear_live(self) -> None:
        self.live_user.value = self.live_steps.value = self.reasoning_view.value = self.answer_view.value = ""
        self.reasoning_box.layout.display = "none"

    def live_status(self) -> str:
        """What the reply in flight is doing, as the status line shows it ("" when none is)."""
        live = self._live
        if not live or self.chat is None:
            return ""
        now = time.perf_counter()
        elapsed = now - live["started"]
        r = self.chat.last
        if r is live["previous"] or r is None or r.first_token_at is None:
            return f"reading the prompt ({live['n_prompt']:,} tokens) · {elapsed:.1f} s"
        n = r.n_generated_tokens
        rate = (n - 1) / (now - r.first_token_at) if n > 1 and now > r.first_token_at else 0.0
        return f"generating · {n:,} tokens · {rate:,.1f} tok/s · {elapsed:.1f} s"

    def _tick(self, done: threading.Event) -> None:
        while not done.wait(TICK_S):
            text = self.live_status()
            if text:
                self._say(text)
                r = self.chat.last if self.chat is not None else None
                n = r.n_generated_tokens if r is not None and r is not self._live.get("previous") else 0
                self._show_gauge(self._live.get("n_prompt", 0) + n)

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
            self._set_busy(False)

    def wait(self, timeout: float | None = 120) -> None:
        """Block until the worker is done (for scripts and tests)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def _load(self) -> None:
        from workbench.run.chat import LocalChat
        from workbench.run.loader import load_model

        entry = self.picker.selected
        if entry is None:
            raise WorkbenchError("no model selected")
        if entry.remote:
            import shlex

            raise WorkbenchError(f"{entry.name} is on the Hub, not on this machine: download it first "
                                 f"({shlex.join(entry.download)}), then Scan")
        if not entry.complete:
            raise WorkbenchError(f"{entry.name}: split set incomplete ({len(entry.files)} files present)")
        self._set_busy(True)
        self.stop_button.disabled = True  # a load cannot be interrupted
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = self.chat = None
        self.progress.max, self.progress.value, self.progress.bar_style = 1, 0, "info"
        self._say(f"loading {entry.name} …")
        loaded = load_model(entry.path, self.picker.offload_choice(), n_ctx=self.ctx.value, n_threads=self.threads.value or None)
        self.loaded, self.chat = loaded, LocalChat(loaded)
        self._reset_conversation()  # a new model starts a new conversation
        self._show_about()
        self.progress.value = 1
        moved = len(loaded.overridden)
        self._say(f"loaded {entry.name}: {', '.join(f'{k} {v:,.1f} MiB' for k, v in loaded.buffers.items())}"
                  + (f"; {moved} tensors placed by overrides" if moved else ""))

    def _connect(self) -> None:
        """Chat with an OpenAI-compatible server instead of a local model. The key stays in the client only: the
        box is emptied once connected, so no notebook or widget state keeps it."""
        from workbench.run.remote import RemoteChat

        url = self.server.value.strip()
        if not url:
            raise WorkbenchError("type the server's URL, e.g. http://127.0.0.1:8080/v1")
        self._set_busy(True)
        self.stop_button.disabled = True
        self._say(f"connecting to {url} …")
        key = self.api_key.value or None
        self.api_key.value = ""
        chat = RemoteChat(url, api_key=key)
        name = chat.model  # reachability and the key, in one line
        if self.loaded is not None:
            self.loaded.close()
        self.loaded, self.chat = None, chat
        self._reset_conversation()
        self.server_report.value = ""
        self._show_about()
        self.check_button.disabled = False
        self.api_key.placeholder = "key set (hidden)" if key else "empty: $OPENAI_API_KEY"
        self._say(f"connected to {chat.base_url}: model {name}")

    def _check_server(self) -> None:
        """server-check against the connected server; the chat then sends only the thinking switch that works."""
        from workbench.run.conformance import check_server

        if self.chat is None or not hasattr(self.chat, "learn"):
            raise WorkbenchError("connect to a server first")
        self._set_busy(True)
        self.stop_button.disabled = True
        self._say("checking the server (12 probes) …")
        report = check_server(self.chat.base_url, self.chat.model, api_key=self.chat.client.api_key)
        self.chat.learn(report)
        self.server_report.value = (f"<pre style='font-size:85%;line-height:1.3'>{html.escape(report.format())}</pre>")
        self._say(f"checked {self.chat.base_url}: reasoning in {report.reasoning_field}; sending "
                  f"{' and '.join(self.chat.switches)}=")

    def _generate(self, text: str | None = None) -> None:  # not ``_send``: that is ipywidgets' comm sender
        from workbench.run.chat import Sampling

        if self.chat is None:
            raise WorkbenchError("load a model first")
        text = (self.prompt.value if text is None else text).strip()
        if not text:
            raise WorkbenchError("type a message first")
        user = {"role": "user", "content": text}
        mode = self.mode.value
        self._set_busy(True)  # at once, before counting the prompt: Send cannot be pressed twice
        self._say("counting the prompt …")
        shape = {"preserve_thinking": self.preserve.value,
                 "tools": self.toolbox.declarations if self.toolbox else None}
        fit = self.conversation.fit(self.chat, user, mode=mode, max_tokens=self.max_tokens.value,
                                    overflow=self.overflow.value, **shape)  # ContextFull: the status says so
        if self.prompt.value.strip() == text:
            self.prompt.value = ""
        self._show_history(keep_live=False)
        self.live_user.value = user_html(text)
        sampling = Sampling(self.temperature.value, self.top_p.value, self.min_p.value)
        started = time.perf_counter()
        self._live = {"started": started, "n_prompt": fit.n_prompt, "previous": self.chat.last}
        self._say(self.live_status())
        self._show_gauge(fit.n_prompt)
        done = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(done,), daemon=True)
        ticker.start()
        step = {"reasoning": [], "answer": [], "calls": [], "done": []}  # the reply in flight; finished tool steps

        def show(event) -> None:
            if isinstance(event, tuple):  # ("tool_result", message): this step is done, the next reply follows
                step["done"].append(step_html("".join(step["reasoning"]), step["calls"], event[1]))
                self.live_steps.value = "".join(step["done"])
                step.update(reasoning=[], answer=[], calls=[])
                self.reasoning_view.value = self.answer_view.value = ""
                self.reasoning_box.layout.display = "none"
                self._live["previous"] = self.chat.last  # the status counts the next reply afresh
                return
            if event.kind == "reasoning":
                if not step["reasoning"]:
                    self.reasoning_box.layout.display = None
                    self.reasoning_box.selected_index = 0  # open while the model thinks
                step["reasoning"].append(event.text)
                self.reasoning_view.value = pre("".join(step["reasoning"]).lstrip())
            elif event.kind in ("answer", "tool_call"):
                if not step["answer"] and not step["calls"] and self.reasoning_box.selected_index is not None:
                    self.reasoning_box.selected_index = None  # fold the reasoning once the answer starts
                if event.kind == "answer":
                    step["answer"].append(event.text)
                else:
                    step["calls"].append(event.call)
                self.answer_view.value = answer_html("".join(step["answer"]), step["calls"])

        budget = self.budget.value if self.budget.value >= 0 and hasattr(self.chat, "llm") else None
        common = dict(mode=mode, sampling=sampling, max_tokens=self.max_tokens.value, stop=self._stop,
                      preserve_thinking=self.preserve.value, **({"reasoning_budget": budget} if budget is not None
                                                               else {}))
        try:
            if self.toolbox is not None:
                run = self.chat.run_tools(fit.messages, self.toolbox, on_event=show, **common)
                added = run.messages
            else:
                for event in self.chat.stream(fit.messages, **common):
                    show(event)
                added = [self.chat.last.as_message()]
        except BaseException:
            self._clear_live()
            if not self.prompt.value.strip():
                self.prompt.value = text  # the message is not lost, and not in the history
            self._show_history(keep_live=False)
            self._show_gauge(self._used)
            raise
        finally:
            done.set()
            ticker.join()
            self._live = {}
        r = self.reply = self.chat.last
        self.conversation.add(user, added, start=fit.start, prompt=r.prompt)
        self._show_history(keep_live=len(added) == 1)  # a tool loop's steps go to the history, folded
        elapsed = time.perf_counter() - started
        self._used = r.n_prompt_tokens + r.n_generated_tokens
        self._show_gauge(self._used)
        steps = f" · {len(added) // 2 + 1} replies, {sum(m.get('role') == 'tool' for m in added)} tool calls" \
            if len(added) > 1 else ""
        self.stats.value = (f"<span style='{GREY}'>prompt {r.n_prompt_tokens:,} tokens · "
                            f"{r.prompt_tokens_per_s:,.0f} tok/s · reply {r.n_generated_tokens:,} tokens · "
                            f"{r.generation_tokens_per_s:,.1f} tok/s · {elapsed:.1f} s · {r.finish_reason}{steps}</span>")
        note = f" · {fit.dropped} oldest message{'s' if fit.dropped > 1 else ''} left the context" if fit.dropped else ""
        self._say(("stopped" if r.finish_reason == "cancelled" else "ready") + note)

    def _retry(self) -> None:
        """The last user message again, for a new reply (its old reply is removed)."""
        text = self.conversation.undo()
        if text is None:
            raise WorkbenchError("nothing to retry yet")
        self._show_history(keep_live=False)
        try:
            self._generate(text)
        except BaseException:
            if not self.prompt.value.strip():
                self.prompt.value = text  # the message is not lost
            raise

    def _edit(self) -> None:
        """The last user message back into the box; it and its reply leave the conversation."""
        text = self.conversation.undo()
        if text is None:
            raise WorkbenchError("nothing to edit yet")
        self._show_history(keep_live=False)
        self.prompt.value = text
        self._used = (self.chat.count(self.conversation.context(), mode=self.mode.value)
                      if self.messages and hasattr(self.chat, "count") else 0)
        self._show_gauge(self._used)
        self._say("edit the message, then Send")

    def new_chat(self) -> None:
        """Clear the conversation (the model stays loaded)."""
        self._reset_conversation()
        self._say("new chat" if self.chat is not None else "new chat; load a model to start")

    def _reset_conversation(self) -> None:
        """An empty conversation on screen: no turns, no stats, the gauge at zero."""
        self.conversation.clear()
        self._show_history(keep_live=False)
        self.stats.value = ""
        self.reply = None
        self._used = 0
        self._show_gauge(0)

    def export(self) -> tuple[Path, Path]:
        """Write the conversation as an OpenAI request body (JSON) and its last exact prompt; returns both paths."""
        from workbench.run.chat import Sampling
        from workbench.run.conversation import export

        name = self.entries[self.model.value].name if self.model.value is not None else "model"
        paths = export(self.conversation, self.export_dir, model=name, mode=self.mode.value,
                       sampling=Sampling(self.temperature.value, self.top_p.value, self.min_p.value),
                       max_tokens=self.max_tokens.value)
        self._say(f"exported {len(self.conversation.context())} messages: {paths[0]} (OpenAI request body) and "
                  f"{paths[1].name} (the exact prompt)")
        return paths
