"""A Hub repo's quants as the chat app shows them: one table row per quant, coloured by verdict.

The data is :func:`workbench.run.quants.quants`; this module only renders it.
"""

from __future__ import annotations

import html
import shlex

from workbench.run.quants import QuantTable
from workbench.ui.turns import GREY
from workbench.units import format_size

COLOURS = {"fits": "#2ca02c", "mmap": "#e69500", "cannot-run": "#d62728", "unreadable": "#d62728"}
_CELL = "padding:2px 10px 2px 0;vertical-align:top"


def quants_html(table: QuantTable) -> str:
    """The quant table: name, files, size, verdict, least offload, EOS and template; the best that fits below."""
    head = "".join(f"<th style='{_CELL};text-align:left'>{h}</th>"
                   for h in ("quant", "files", "size", "verdict", "offload", "EOS", "template"))
    rows = []
    for q in table.rows:
        verdict = f"<b style='color:{COLOURS.get(q.verdict, '#555')}'>{html.escape(q.verdict)}</b>"
        cells = [html.escape(q.name), str(q.files), format_size(q.size), verdict]
        if q.error is not None:
            cells.append(f"<span style='color:#b00'>{html.escape(q.error)}</span>")
            rows.append("".join(f"<td style='{_CELL}'>{c}</td>" for c in cells[:4])
                        + f"<td style='{_CELL}' colspan='3'>{cells[4]}</td>")
            continue
        cells += [html.escape(q.recommendation), _check(q.eos), _check(q.template)]
        rows.append("".join(f"<td style='{_CELL}'>{c}</td>" for c in cells))
    notes = "".join(f"<div style='color:{'#b00' if text.startswith('error') else '#e69500'}'>{html.escape(q.name)}: "
                    f"{what} {html.escape(text)}</div>" for q in table.rows if q.error is None
                    for what, text in (("EOS", q.eos), ("template", q.template)) if not text.startswith("ok"))
    if any(q.eos.startswith("error") for q in table.rows):
        notes += (f"<div style='{GREY}'>an old EOS is fixed in place after the download: "
                  "<code>kimi-wb gguf fix-kimi FILE</code></div>")
    best = table.best()
    if best is not None:
        foot = (f"<div>best that fits: <b>{html.escape(best.name)}</b> · download: "
                f"<code>{html.escape(shlex.join(best.download or []))}</code></div>")
    else:
        runs = next((q for q in table.rows if q.verdict == "mmap"), None)
        foot = ("<div style='color:#b00'>no quant fits in memory on this machine"
                + (f"; {html.escape(runs.name)} runs with its weights paged from disk (slow)" if runs else "") + "</div>")
    foot = notes + foot
    projectors = "".join(f"<div style='{GREY}'>vision projector {html.escape(n)} ({format_size(s)})</div>"
                         for n, s in table.projectors)
    wire = (f"<div style='{GREY}'>headers: {table.header_bytes / 1e6:.1f} MB over the wire, {table.cached} from the "
            "cache; pick a quant in Model to see its plan</div>")
    return (f"<table style='border-collapse:collapse;font-size:90%'><tr>{head}</tr>"
            + "".join(f"<tr class='wb-quant'>{r}</tr>" for r in rows) + "</table>" + foot + projectors + wire)


def _check(summary: str) -> str:
    colour = "#b00" if summary.startswith("error") else "#e69500" if summary.startswith("warning") else "#2ca02c"
    return f"<span style='color:{colour}' title='{html.escape(summary)}'>{html.escape(summary.split(':', 1)[0])}</span>"
