"""See two pre-tokenizers cut the same text, side by side, as you type.

- :func:`pieces_html` renders pieces as coloured spans (hover: branch and offsets), with
  pieces inside a divergence outlined in red;
- :func:`show_diff` renders a :class:`~workbench.pretok.Diff` for a notebook cell;
- :class:`SplitCompare` is the live widget: a text box, a scheme and engine picker per side,
  and both splits redrawn on every keystroke.

Handlers are one call into :func:`workbench.pretok.diff`; nothing here parses text itself.
Splitting a few KB takes milliseconds, so the work stays on the kernel's thread.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets

from workbench.pretok import ENGINES, SCHEMES, Diff, diff
from workbench.pretok.pieces import Piece

_BACKGROUNDS = ("#cfe3ff", "#ffe1c2", "#d4f5d4", "#fdd5ef", "#fff5b8")
MONO_STYLE = "font-family: monospace; white-space: pre-wrap; line-height: 1.9; font-size: 13px"


def visible(text: str) -> str:
    """Escape for HTML and make line breaks and tabs visible: ``"a\\n" -> "a↵\\n"``."""
    return html.escape(text).replace("\t", "→\t").replace("\r", "␍").replace("\n", "↵\n")


def pieces_html(pieces: Sequence[Piece], *, marked: Sequence[tuple[int, int]] = ()) -> str:
    """Pieces as alternating coloured spans; those inside a ``marked`` range get a red outline."""
    out = []
    for i, p in enumerate(pieces):
        hot = any(s <= p.start and p.end <= e for s, e in marked)
        border = "outline: 2px solid #d62728;" if hot else ""
        out.append(
            f'<span title="{html.escape(str(p.branch))} [{p.start}:{p.end}]" '
            f'style="background:{_BACKGROUNDS[i % len(_BACKGROUNDS)]};{border}border-radius:2px">'
            f"{visible(p.text)}</span>"
        )
    return f'<div style="{MONO_STYLE}">{"".join(out)}</div>'


def diff_summary(d: Diff) -> str:
    """One line: piece counts and divergences by cause."""
    causes: dict[str, int] = {}
    for v in d.divergences:
        causes[v.cause] = causes.get(v.cause, 0) + 1
    detail = ", ".join(f"{c} ×{n}" for c, n in causes.items()) or "identical"
    return f"{d.a}: {len(d.pieces_a)} pieces · {d.b}: {len(d.pieces_b)} pieces · {detail}"


def diff_html(d: Diff) -> str:
    """Both splits of a diff stacked, divergences outlined, with a summary line."""
    marked = [(v.start, v.end) for v in d.divergences]
    rows = "".join(
        f"<tr><td style='padding-right:1em;vertical-align:top'><b>{html.escape(name)}</b></td>"
        f"<td>{pieces_html(pieces, marked=marked)}</td></tr>"
        for name, pieces in ((d.a, d.pieces_a), (d.b, d.pieces_b))
    )
    return f"<div><table>{rows}</table><div style='color:#555'>{html.escape(diff_summary(d))}</div></div>"


def show_diff(text: str, a: str = "kimi-k2", b: str = "o200k", **engines: str):
    """A notebook display of :func:`workbench.pretok.diff` (``engine_a=``, ``engine_b=`` pass through)."""
    from IPython.display import HTML

    return HTML(diff_html(diff(text, a, b, **engines)))


class SplitCompare(widgets.VBox):
    """Type text, pick two schemes (and engines), see both splits update live.

    >>> app = SplitCompare("ChatGPT 中文English"); app.text.value = "12345"
    >>> app.diff.pieces_a[0].text
    '123'
    """

    def __init__(self, text: str = "ChatGPT 中文English, 12345 it's */\n/next", *,
                 a: str = "kimi-k2", b: str = "o200k", engine_a: str = "regex", engine_b: str = "regex") -> None:
        self.text = widgets.Textarea(value=text, continuous_update=True, description="Text",
                                     layout=widgets.Layout(width="100%", height="6em"))
        self.scheme_a = widgets.Dropdown(options=list(SCHEMES), value=a, description="A")
        self.scheme_b = widgets.Dropdown(options=list(SCHEMES), value=b, description="B")
        self.engine_a = widgets.Dropdown(options=list(ENGINES), value=engine_a, description="engine")
        self.engine_b = widgets.Dropdown(options=list(ENGINES), value=engine_b, description="engine")
        self.view_a, self.view_b = widgets.HTML(), widgets.HTML()
        self.summary = widgets.HTML()
        self.diff: Diff | None = None
        for w in (self.text, self.scheme_a, self.scheme_b, self.engine_a, self.engine_b):
            w.observe(self.refresh, names="value")
        column = dict(layout=widgets.Layout(width="50%"))
        super().__init__([
            self.text,
            widgets.HBox([
                widgets.VBox([widgets.HBox([self.scheme_a, self.engine_a]), self.view_a], **column),
                widgets.VBox([widgets.HBox([self.scheme_b, self.engine_b]), self.view_b], **column),
            ]),
            self.summary,
        ])
        self.refresh()

    def refresh(self, *_change) -> None:
        """Recompute the diff and redraw both sides (the handler of every control)."""
        d = diff(self.text.value, self.scheme_a.value, self.scheme_b.value,
                 engine_a=self.engine_a.value, engine_b=self.engine_b.value)
        marked = [(v.start, v.end) for v in d.divergences]
        self.diff = d
        self.view_a.value = pieces_html(d.pieces_a, marked=marked)
        self.view_b.value = pieces_html(d.pieces_b, marked=marked)
        self.summary.value = f"<span style='color:#555'>{html.escape(diff_summary(d))}</span>"
