"""Play with a chat template: edit the conversation, switch mode and tools, see every renderer.

- :func:`tokens_html` shows token ids as coloured spans (hover: the id), special tokens bold;
- :func:`prompt_html` shows a rendered prompt with its ``<|…|>`` markers highlighted;
- :func:`parity_styler` colours a renderer-parity table for a notebook cell;
- :class:`TemplatePlayground` is the live widget: a template picker, the messages as JSON
  (re-rendered as you type, once typing pauses), thinking / instant, tools on or off, the
  generation prompt; each renderer's prompt (and, with a tokenizer, its token ids, bytes in
  hex where a token is not whole characters) redrawn on every change, marked equal to HF or not.

Handlers are calls into :func:`workbench.chat.render` and the tokenizer's ``encode``;
nothing here renders or tokenizes by itself.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as widgets

from workbench.chat.modes import mode_kwargs
from workbench.chat.parity import ParityTable
from workbench.chat.render import RENDERERS, RendererLimitation, TemplateError, available_renderers, render
from workbench.chat.suite import SUITE, WEATHER_TOOL
from workbench.errors import WorkbenchError
from workbench.pretok.pieces import Piece
from workbench.ui.pretok import MONO_STYLE, pieces_html, visible

_MARKER = re.compile(r"(<\|[A-Za-z0-9_]+\|>|</?think>)")
_STATUS_COLOURS = {"equal": "#d4f5d4", "differs": "#fff5b8", "fails": "#ffd0d0", "unsupported": "#e8e8e8"}


def prompt_html(text: str) -> str:
    """The prompt with line breaks visible and special markers in bold blue."""
    parts = _MARKER.split(text)
    out = "".join(f"<b style='color:#1f5fbf'>{html.escape(p)}</b>" if i % 2 else visible(p) for i, p in enumerate(parts))
    return f'<div style="{MONO_STYLE}">{out}</div>'


def token_text(tokenizer, token: int) -> str:
    """A token's text, or its bytes in hex where they are not whole UTF-8 (a piece cut inside a
    character): ``"京"`` or ``"⟨e4 ba⟩"``, never ``"��"``."""
    data = tokenizer.tiktoken.decode_single_token_bytes(token)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "⟨" + " ".join(f"{b:02x}" for b in data) + "⟩"


def tokens_html(ids: Sequence[int], tokenizer) -> str:
    """Each id as a coloured span of its text (its bytes where they are not whole characters); hover shows the id."""
    pieces, pos = [], 0
    for i in ids:
        text = token_text(tokenizer, i)
        pieces.append(Piece(text, pos, pos + len(text), f"id {i}"))
        pos += len(text)
    return pieces_html(pieces)


def parity_styler(table: ParityTable):
    """The parity table as a pandas Styler, one colour per status."""
    return table.frame().style.map(lambda s: f"background-color: {_STATUS_COLOURS.get(s, 'white')}")


@dataclass
class Rendered:
    """One renderer's output in the playground: text and ids, or why there are none."""

    renderer: str
    text: str | None = None
    ids: list[int] | None = None
    error: str | None = None
    status: str = ""  # equal / differs (against hf) / fails / unsupported


class TemplatePlayground(widgets.VBox):
    """Edit a conversation and see what every renderer makes of it with the chosen template.

    ``templates`` maps a label to template text; ``tokenizer`` (optional
    :class:`~workbench.tokenizer.assets.TokenizerAssets`) adds the token ids.

    >>> app = TemplatePlayground({"mine": "{% for m in messages %}{{ m.content }}{% endfor %}"})
    >>> app.results["hf"].text
    'Hi'
    """

    def __init__(self, templates: Mapping[str, str] | str, *, tokenizer=None, messages: list[dict] | None = None,
                 renderers: Sequence[str] | None = None, debounce: float = 0.4) -> None:
        self.templates = {"template": templates} if isinstance(templates, str) else dict(templates)
        if not self.templates:
            raise WorkbenchError("TemplatePlayground needs at least one template")
        self.tokenizer = tokenizer
        self.renderer_names = list(renderers) if renderers is not None else available_renderers()
        for n in self.renderer_names:
            RENDERERS[n]
        messages = messages if messages is not None else SUITE[2].messages
        self.template = widgets.Dropdown(options=list(self.templates), description="Template")
        #: the messages re-render this many seconds after the last keystroke (the other controls at once)
        self.debounce = debounce
        self._pending: threading.Timer | None = None
        self._pending_lock = threading.Lock()
        self.messages = widgets.Textarea(value=json.dumps(messages, indent=1, ensure_ascii=False), description="Messages",
                                         continuous_update=True, layout=widgets.Layout(width="100%", height="12em"))
        self.mode = widgets.ToggleButtons(options=["thinking", "instant"], value="thinking", description="Mode")
        self.tools = widgets.Checkbox(value=False, description="tools (get_weather)")
        self.generation = widgets.Checkbox(value=True, description="generation prompt")
        self.status = widgets.HTML()
        self.views = {n: widgets.HTML() for n in self.renderer_names}
        self.results: dict[str, Rendered] = {}
        for w in (self.template, self.mode, self.tools, self.generation):
            w.observe(self.refresh, names="value")
        self.messages.observe(self._typed, names="value")
        panels = [widgets.VBox([widgets.HTML(f"<b>{html.escape(n)}</b> <small>{html.escape(RENDERERS[n].description)}"
                                             "</small>"), self.views[n]]) for n in self.renderer_names]
        super().__init__([self.template, self.messages,
                          widgets.HBox([self.mode, self.tools, self.generation]), self.status, *panels])
        self.refresh()

    def _typed(self, _change=None) -> None:
        """The messages changed: refresh once typing pauses (a timer restarted by every keystroke)."""
        with self._pending_lock:
            if self._pending is not None:
                self._pending.cancel()
            self._pending = threading.Timer(self.debounce, self.flush)
            self._pending.daemon = True
            self._pending.start()

    def flush(self) -> None:
        """Run a refresh that typing scheduled, now (scripts and tests call this instead of waiting)."""
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            self.refresh()

    def _conversation(self) -> list[dict] | None:
        try:
            messages = json.loads(self.messages.value)
        except json.JSONDecodeError as e:
            self.status.value = f"<span style='color:#b00'>messages: invalid JSON at line {e.lineno}: {html.escape(e.msg)}</span>"
            return None
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
            self.status.value = "<span style='color:#b00'>messages: expected a JSON array of objects with a role</span>"
            return None
        return messages

    def refresh(self, *_change) -> None:
        """Render with every renderer and redraw (the handler of every control)."""
        messages = self._conversation()
        if messages is None:  # what is shown would be stale: say so instead (results keep the last good state)
            for view in self.views.values():
                view.value = "<span style='color:#888'>not rendered: fix the messages above</span>"
            return
        template = self.templates[self.template.value]
        try:
            kwargs = mode_kwargs(template, thinking=self.mode.value == "thinking")
        except TemplateError as e:
            kwargs, switch = {}, f" · {e}"
        else:
            switch = f" · switch: {', '.join(f'{k}={v}' for k, v in kwargs.items())}" if kwargs else \
                " · this template has no thinking switch"
        tools = [WEATHER_TOOL] if self.tools.value else None
        self.results = {n: self._render(n, template, messages, tools, kwargs) for n in self.renderer_names}
        base = self.results.get("hf")
        for r in self.results.values():
            if r.text is not None:
                r.status = "equal" if base is None or base.text is None or r.text == base.text else "differs"
            self.views[r.renderer].value = self._view(r)
        counts = ", ".join(f"{r.renderer}: {r.status}" for r in self.results.values())
        self.status.value = f"<span style='color:#555'>{html.escape(counts + switch)}</span>"

    def _render(self, name: str, template: str, messages: list[dict], tools, kwargs) -> Rendered:
        try:
            text = render(template, messages, tools=tools, renderer=name,
                          add_generation_prompt=self.generation.value, **kwargs)
        except RendererLimitation as e:
            return Rendered(name, error=str(e), status="unsupported")
        except WorkbenchError as e:
            return Rendered(name, error=str(e), status="fails")
        ids = self.tokenizer.encode(text) if self.tokenizer is not None else None
        return Rendered(name, text, ids)

    def _view(self, r: Rendered) -> str:
        badge = (f"<span style='background:{_STATUS_COLOURS.get(r.status, 'white')};padding:0 .4em'>"
                 f"{html.escape(r.status)}</span>")
        if r.text is None:
            return f"{badge} <span style='color:#555'>{html.escape(r.error or '')}</span>"
        ids = ""
        if r.ids is not None:
            ids = (f"<div style='color:#555'>{len(r.ids)} tokens</div>{tokens_html(r.ids, self.tokenizer)}"
                   f"<div style='font-family:monospace;font-size:11px;color:#555'>{r.ids}</div>")
        return f"{badge} {len(r.text)} characters{prompt_html(r.text)}{ids}"
