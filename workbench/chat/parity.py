"""Renderer parity: the same template and conversations through every renderer, compared with HF.

Each (case, renderer) cell is one of

- ``equal``: the same prompt text as the baseline (``hf``, transformers' semantics);
- ``differs``: another prompt; :meth:`Cell.text_diff` shows where, and, given a tokenizer,
  :meth:`Cell.id_diff` shows what the model would see differently;
- ``fails``: the renderer raised (``error``), or the baseline did (``baseline_error``; then
  every cell of that case says so);
- ``unsupported``: the renderer cannot express the case (tools, kwargs, reasoning fields
  for llama.cpp's built-in formatters) and said so.

    >>> table = parity(template, tokenizer=assets)                  # doctest: +SKIP
    >>> table.frame()                     # cases x renderers, one status per cell  # doctest: +SKIP
    >>> print(table.cell("single-turn", "llama.cpp").text_diff())  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.chat.modes import reads_tools_ts
from workbench.chat.render import RENDERERS, RendererLimitation, TemplateError, available_renderers, render
from workbench.chat.suite import SUITE, Case
from workbench.errors import InputError

STATUSES = ("equal", "differs", "fails", "unsupported")


def _edits(a, b, show, *, context: int, limit: int, at: str, pad: str) -> list[str]:
    """The first ``limit`` edits from ``a`` to ``b``, each with ``context`` items of ``a`` either side."""
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    parts = []
    for tag, i1, i2, j1, j2 in ops[:limit]:
        edit = (f"[-{show(a[i1:i2])}-]" if tag in ("delete", "replace") else "") + \
               (f"{{+{show(b[j1:j2])}+}}" if tag in ("insert", "replace") else "")
        parts.append(f"{at}{i1}: …{pad}{show(a[max(0, i1 - context):i1])} {edit} {show(a[i2:i2 + context])}{pad}…")
    if len(ops) > limit:
        parts.append(f"… and {len(ops) - limit} more edits")
    return parts


def text_diff(a: str, b: str, *, context: int = 24, limit: int = 3) -> str:
    """Where ``b`` departs from ``a``: ``…context[-only in a-]{+only in b+}context…``, first ``limit`` edits."""
    parts = _edits(a, b, repr, context=context, limit=limit, at="at ", pad="")
    return "\n".join(parts) if parts else "(identical)"


def id_diff(a: list[int], b: list[int], *, piece=None, context: int = 3, limit: int = 3) -> str:
    """Where the id sequence ``b`` departs from ``a``; ``piece(id) -> str`` labels ids when given."""
    show = (lambda ids: " ".join(f"{i}:{piece(i)!r}" for i in ids)) if piece else (lambda ids: " ".join(map(str, ids)))
    parts = _edits(a, b, show, context=context, limit=limit, at="at id #", pad=" ")
    return "\n".join([f"{len(a)} ids vs {len(b)}", *parts]) if parts else f"(identical, {len(a)} ids)"


@dataclass
class Cell:
    case: str
    renderer: str
    status: str
    text: str | None = field(default=None, repr=False)
    baseline: str | None = field(default=None, repr=False)
    error: str | None = None
    baseline_error: str | None = None
    ids: list[int] | None = field(default=None, repr=False)
    baseline_ids: list[int] | None = field(default=None, repr=False)
    piece: object = field(default=None, repr=False)

    def text_diff(self) -> str:
        if self.text is None or self.baseline is None:
            return self.error or "(nothing to compare)"
        return text_diff(self.baseline, self.text)

    def id_diff(self) -> str:
        if self.ids is None or self.baseline_ids is None:
            return "(no token ids: pass a tokenizer)" if self.error is None else self.error
        return id_diff(self.baseline_ids, self.ids, piece=self.piece)

    def to_dict(self) -> dict:
        out = {"case": self.case, "renderer": self.renderer, "status": self.status}
        if self.error:
            out["error"] = self.error
        if self.baseline_error:
            out["baseline_error"] = self.baseline_error
        if self.status == "differs":
            out["text_diff"] = self.text_diff()
            if self.ids is not None:
                out["id_diff"] = self.id_diff()
        return out


#: what to do when a runtime renders a ``tools_ts_str`` template without it
TOOLS_TS_FIX = ("pass tools_ts_str (workbench.chat.tools_ts.encode_tools on the key-sorted tools) as a template "
                "kwarg: kimi-workbench's LocalChat does, its RemoteChat sends it in chat_template_kwargs, and "
                "llama-server and vLLM accept it per request (chat_template_kwargs)")


@dataclass
class ParityTable:
    baseline: str
    renderers: list[str]
    cases: list[str]
    cells: list[Cell]
    #: what the table means beyond its cells (e.g. a template Moonshot's tokenizer renders differently)
    notes: list[str] = field(default_factory=list)

    def cell(self, case: str, renderer: str) -> Cell:
        for c in self.cells:
            if (c.case, c.renderer) == (case, renderer):
                return c
        raise KeyError(f"no cell for case {case!r} and renderer {renderer!r}")

    def frame(self):
        """A pandas DataFrame: one row per case, one column per renderer, the status in each cell."""
        import pandas as pd

        df = pd.DataFrame([{"case": c.case, "renderer": c.renderer, "status": c.status} for c in self.cells])
        return df.pivot(index="case", columns="renderer", values="status").reindex(index=self.cases,
                                                                                   columns=self.renderers)

    def counts(self) -> dict[str, dict[str, int]]:
        """renderer -> status -> number of cases."""
        out = {r: dict.fromkeys(STATUSES, 0) for r in self.renderers}
        for c in self.cells:
            out[c.renderer][c.status] += 1
        return out

    def format(self) -> str:
        """The status table, the notes, then each differing cell's diff and each failing cell's error."""
        lines = [self.frame().to_string(), *(f"\nnote: {n}" for n in self.notes)]
        for c in self.cells:
            if c.status == "differs":
                lines.append(f"\n{c.case} / {c.renderer} differs from {self.baseline}:\n  "
                             + c.text_diff().replace("\n", "\n  ")
                             + ("\n  " + c.id_diff().replace("\n", "\n  ") if c.ids is not None else ""))
            elif c.status == "fails":
                lines.append(f"\n{c.case} / {c.renderer} fails: {c.error}"
                             + (f" ({self.baseline}: {c.baseline_error})" if c.baseline_error not in (None, c.error) else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "renderers": self.renderers, "cases": self.cases,
                "cells": [c.to_dict() for c in self.cells], "notes": self.notes}


def default_renderers(template: str) -> list[str]:
    """Every default renderer available here, and ``moonshot`` where the template reads ``tools_ts_str``
    (there Moonshot's tokenizer is what the model was trained on)."""
    return available_renderers() + (["moonshot"] if reads_tools_ts(template) else [])


def parity(
    template: str,
    *,
    renderers: Iterable[str] | None = None,
    cases: Iterable[Case] = SUITE,
    tokenizer=None,
    baseline: str = "hf",
) -> ParityTable:
    """Render every case through ``baseline`` and each renderer and compare.

    ``tokenizer`` (a :class:`~workbench.tokenizer.assets.TokenizerAssets`) adds the token ids
    each prompt encodes to, so a text difference can be read as the model sees it.
    """
    names = list(renderers) if renderers is not None else default_renderers(template)
    for n in names:
        RENDERERS[n]  # unknown names fail here, with the valid ones listed
    cases = list(cases)
    encode = tokenizer.encode if tokenizer is not None else None
    piece = (lambda i: tokenizer.decode([i])) if tokenizer is not None else None
    cells = []
    for case in cases:
        outputs: dict[str, str | Exception] = {}
        for n in dict.fromkeys([baseline, *names]):
            try:
                outputs[n] = render(template, case.messages, tools=case.tools,
                                    add_generation_prompt=case.add_generation_prompt, renderer=n)
            except (TemplateError, RendererLimitation) as e:
                outputs[n] = e
        base = outputs[baseline]
        base_error = str(base) if isinstance(base, Exception) else None
        base_ids = encode(base) if encode and base_error is None else None
        for n in names:
            out = outputs[n]
            if isinstance(out, RendererLimitation):
                cells.append(Cell(case.name, n, "unsupported", error=str(out), baseline_error=base_error))
            elif isinstance(out, Exception):
                cells.append(Cell(case.name, n, "fails", error=str(out), baseline_error=base_error))
            elif base_error is not None:
                cells.append(Cell(case.name, n, "fails", text=out, error=f"baseline {baseline} failed",
                                  baseline_error=base_error))
            else:
                ids = encode(out) if encode else None
                status = "equal" if out == base else "differs"
                cells.append(Cell(case.name, n, status, out, base, ids=ids, baseline_ids=base_ids, piece=piece))
    return ParityTable(baseline, names, [c.name for c in cases], cells, _notes(template, cells))


def _notes(template: str, cells: list[Cell]) -> list[str]:
    if not reads_tools_ts(template):
        return []
    differ = [c.case for c in cells if c.renderer == "moonshot" and c.status == "differs"]
    declared = f"; Moonshot's tokenizer renders {', '.join(differ)} differently from hf" if differ else ""
    return [f"this template reads tools_ts_str, which Moonshot's K2.5/K2.6 tokenizer sets to a TypeScript-style "
            f"declaration of the tools; hf, llama.cpp, llama-cpp-python and llama-server leave it unset, so the "
            f"model sees JSON declarations it was not trained on{declared}. Fix: {TOOLS_TS_FIX}"]


def renders_same(a: str, b: str, *, cases: Iterable[Case] = SUITE, renderer: str = "hf") -> bool:
    """``a`` and ``b`` render identically (or fail alike) through ``renderer`` on every case:
    ``renders_same(t, t + "{# pad #}") -> True``. The GGUF patcher asks this before it pads a
    shorter template in place."""
    for case in cases:
        outs = []
        for t in (a, b):
            try:
                outs.append(render(t, case.messages, tools=case.tools, add_generation_prompt=case.add_generation_prompt,
                                   renderer=renderer))
            except TemplateError as e:
                outs.append(f"error: {e}")
        if outs[0] != outs[1]:
            return False
    return True


@dataclass(frozen=True)
class Rendered:
    """One prompt as a renderer made it (``kimi-wb render``)."""

    renderer: str
    kwargs: dict
    text: str

    def format(self) -> str:
        return self.text

    def to_dict(self) -> dict:
        return {"renderer": self.renderer, "kwargs": self.kwargs, "text": self.text}


def template_source(source: str | Path, *, tokenizer=None):
    """``(template text, tokenizer assets or None)`` from a ``.jinja`` file, or from a GGUF or snapshot
    folder's own template (whose assets then serve for token ids unless ``tokenizer`` is given)."""
    from workbench.chat.render import read_template
    from workbench.tokenizer import load

    src = Path(source)
    if src.suffix == ".gguf" or src.is_dir():
        tokenizer = tokenizer or load(src)
        if not tokenizer.chat_template:
            raise InputError(f"{src}: no chat template in these tokenizer assets")
        return tokenizer.chat_template, tokenizer
    return read_template(src), tokenizer
