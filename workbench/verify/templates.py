"""Checks on a Kimi chat template, run on the standard conversation suite under HF semantics.

Stable check ids: ``template-renders``, ``default-system-prompt``, ``generation-prompt``,
``template-unknown-token``, ``template-whitespace``, ``tool-call-json``,
``tool-result-format``, ``renderer-parity`` (every renderer against HF on the suite, see
:mod:`workbench.chat.parity`), ``tool-declarations`` (a template that reads ``tools_ts_str``,
which only Moonshot's K2.5/K2.6 tokenizer sets: what runtimes show instead, and the fix).

Facts behind them: the model's format has no characters between turns; the default system
prompt is "You are Kimi, an AI assistant created by Moonshot AI." (fixed K2 Instruct, K2
Thinking) or "You are a helpful assistant" (earliest K2); tool declarations and arguments
are compact JSON; a tool result starts with ``## Return of functions.NAME:IDX`` and a newline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from workbench.chat.modes import THINKING_SWITCHES, mode_kwargs, template_variables, thinking_switches
from workbench.chat.parity import parity
from workbench.chat.render import TemplateError, render
from workbench.chat.suite import SUITE, Case
from workbench.verify.report import Report

KIMI_SYSTEM = "You are Kimi, an AI assistant created by Moonshot AI."
HELPFUL_SYSTEM = "You are a helpful assistant"
ASSISTANT_PROMPT = "<|im_assistant|>assistant<|im_middle|>"
_SYSTEM_TURN = re.compile(r"<\|im_system\|>system<\|im_middle\|>(.*?)<\|im_end\|>", re.S)
_MARKER = re.compile(r"<\|[A-Za-z0-9_]+\|>")
_BETWEEN_TURNS = re.compile(r"<\|im_end\|>([^<]+)(?=<\||$)")
_ARGS = re.compile(r"<\|tool_call_argument_begin\|>(.*?)<\|tool_call_end\|>", re.S)
_DECLARE = re.compile(r"<\|im_system\|>tool_declare<\|im_middle\|>(.*?)<\|im_end\|>", re.S)
_RESULT = re.compile(r"<\|im_system\|>tool<\|im_middle\|>(.*?)<\|im_end\|>", re.S)
_RESULT_HEAD = re.compile(r"## Return of functions\.[A-Za-z0-9_\-]+:\d+\n")


def render_suite(template: str, cases: Iterable[Case] = SUITE) -> dict[str, str | TemplateError]:
    """Case name -> the HF rendering, or the error it raised."""
    out: dict[str, str | TemplateError] = {}
    for case in cases:
        try:
            out[case.name] = render(template, case.messages, tools=case.tools,
                                    add_generation_prompt=case.add_generation_prompt)
        except TemplateError as e:
            out[case.name] = e
    return out


def check_template(template: str, report: Report, *, vocabulary: Iterable[str], tokenizer=None,
                   renderer_parity: bool = True) -> None:
    """Run every template check; ``vocabulary`` is the special tokens' texts, ``tokenizer`` (optional
    :class:`~workbench.tokenizer.assets.TokenizerAssets`) adds token-id diffs to the parity findings;
    ``renderer_parity=False`` leaves out the one check that runs other renderers."""
    try:
        template_variables(template)
    except TemplateError as e:
        report.add("template-renders", "error", str(e))
        return
    rendered = render_suite(template)
    for name, out in rendered.items():
        if isinstance(out, TemplateError):
            report.add("template-renders", "error", f"{name}: {out}")
    ok = {name: out for name, out in rendered.items() if isinstance(out, str)}
    if len(ok) == len(rendered):
        report.add("template-renders", "info", f"all {len(rendered)} suite conversations render under HF semantics")
    _default_system(ok, report)
    _generation_prompt(template, report)
    _unknown_tokens(template, ok, set(vocabulary), report)
    _whitespace(ok, report)
    _tool_json(ok, report)
    _tool_results(ok, report)
    if renderer_parity:
        _parity(template, report, tokenizer)


def _default_system(ok: dict[str, str], report: Report) -> None:
    check = "default-system-prompt"
    if "single-turn" not in ok:
        return
    first = _SYSTEM_TURN.search(ok["single-turn"])
    if first is None:
        report.add(check, "warning", "inserts no default system prompt when the conversation has none "
                                     f"(fixed K2 templates insert {KIMI_SYSTEM!r})")
    elif first.group(1) == KIMI_SYSTEM:
        report.add(check, "info", f"inserts {KIMI_SYSTEM!r} on the first turn (the fixed K2 / K2 Thinking prompt)")
    elif first.group(1) == HELPFUL_SYSTEM:
        report.add(check, "warning", f"inserts {HELPFUL_SYSTEM!r}: the earliest K2 template; the fix inserts {KIMI_SYSTEM!r}")
    else:
        report.add(check, "warning", f"inserts an unexpected default system prompt {first.group(1)!r}")
    own = ok.get("with-system", "")
    if own and len(_SYSTEM_TURN.findall(own)) != 1:
        report.add(check, "error", "a conversation with its own system message gets a second, default one")


def _generation_prompt(template: str, report: Report) -> None:
    check = "generation-prompt"
    msgs = SUITE[0].messages
    try:
        base = render(template, msgs, add_generation_prompt=False)
        modes = {m: render(template, msgs, **mode_kwargs(template, thinking=m == "thinking")) for m in ("thinking", "instant")}
    except TemplateError as e:
        report.add(check, "error", f"cannot render the generation prompt: {e}")
        return
    for mode, full in modes.items():
        if not full.startswith(base):
            report.add(check, "error", f"{mode}: add_generation_prompt changes earlier text, not only appends")
            continue
        suffix = full[len(base):]
        if not suffix.startswith(ASSISTANT_PROMPT):
            report.add(check, "error", f"{mode}: appends {suffix!r}, expected it to start with {ASSISTANT_PROMPT!r}")
        elif suffix.endswith("<think>"):
            report.add(check, "warning", f"{mode}: prompt ends in '<think>': the model emits only '</think>'; a client "
                                         "waiting for an opening tag shows no reasoning")
        else:
            report.add(check, "info", f"{mode}: appends {suffix!r}")
    read = thinking_switches(template)
    if not read:
        same = modes["thinking"] == modes["instant"]
        report.add(check, "info", "no thinking switch in this template (thinking=/enable_thinking= have no effect)"
                   + ("" if same else "; yet the modes differ"))
    for switch in THINKING_SWITCHES:
        if read and switch not in read:
            report.add(check, "warning", f"{switch}= is ignored by this template, which switches on "
                                         f"{' and '.join(read)}=; pass that instead")


def _unknown_tokens(template: str, ok: dict[str, str], vocabulary: set[str], report: Report) -> None:
    markers = set(_MARKER.findall(template))
    for out in ok.values():
        markers |= set(_MARKER.findall(out))
    unknown = sorted(m for m in markers if m not in vocabulary)
    if unknown:
        report.add("template-unknown-token", "error",
                   f"emits {', '.join(unknown)}, not special tokens of the vocabulary (they would be split into text pieces)")
    else:
        report.add("template-unknown-token", "info", f"all {len(markers)} markers are special tokens")


def _whitespace(ok: dict[str, str], report: Report) -> None:
    stray: dict[str, list[str]] = {}
    for name, out in ok.items():
        for m in _BETWEEN_TURNS.finditer(out):
            if m.group(1).strip() == "":
                stray.setdefault(f"{m.group(1)!r} between turns", []).append(name)
        for m in re.finditer(r"<\|media_end\|>(\s+)", out):
            stray.setdefault(f"{m.group(1)!r} after <|media_end|>", []).append(name)
    for what, cases in stray.items():
        report.add("template-whitespace", "warning",
                   f"emits {what}, which the model's format does not have, e.g. in {', '.join(sorted(set(cases)))}")


def _tool_json(ok: dict[str, str], report: Report) -> None:
    spaced = []
    for name, out in ok.items():
        for what, rx in (("tool declaration", _DECLARE), ("call arguments", _ARGS)):
            for m in rx.finditer(out):
                try:
                    compact = json.dumps(json.loads(m.group(1)), ensure_ascii=False, separators=(",", ":"))
                except json.JSONDecodeError:
                    report.add("tool-call-json", "error", f"{name}: {what} are not JSON: {m.group(1)[:60]!r}")
                    continue
                if m.group(1) != compact:
                    spaced.append(f"{what} ({name}): {m.group(1)[:40]!r}")
    if spaced:
        report.add("tool-call-json", "warning",
                   "spaced JSON where Kimi expects compact ({\"a\":\"1\"}): " + "; ".join(spaced[:3]))


def _tool_results(ok: dict[str, str], report: Report) -> None:
    for name, out in ok.items():
        for m in _RESULT.finditer(out):
            if not _RESULT_HEAD.match(m.group(1)):
                literal = "\\n" in m.group(1)[:60] and "\n" not in m.group(1)[:60]
                report.add("tool-result-format", "error",
                           f"{name}: tool result starts {m.group(1)[:45]!r}, expected '## Return of functions.NAME:IDX' "
                           "and a newline" + ("; it writes a literal backslash-n instead" if literal else ""))


def _parity(template: str, report: Report, tokenizer) -> None:
    table = parity(template, tokenizer=tokenizer)
    for note in table.notes:
        report.add("tool-declarations", "warning", note)
    for name in table.renderers:
        if name in (table.baseline, "moonshot"):  # moonshot's difference is the note above
            continue
        cells = [c for c in table.cells if c.renderer == name]
        by = {s: [c for c in cells if c.status == s] for s in ("equal", "differs", "fails", "unsupported")}
        if by["differs"]:
            first = by["differs"][0]
            ids = f"; ids: {first.id_diff().splitlines()[0]}" if first.ids is not None else ""
            report.add("renderer-parity", "warning",
                       f"{name} renders {len(by['differs'])} case(s) differently from {table.baseline} "
                       f"({', '.join(c.case for c in by['differs'])}); first, {first.case}: "
                       f"{first.text_diff().splitlines()[0][:160]}{ids}"
                       + ("; llama-server serves this with --no-jinja (its default is the Jinja engine)"
                          if name == "llama.cpp" else ""))
        own = [c for c in by["fails"] if c.baseline_error is None]
        if own:
            report.add("renderer-parity", "warning", f"{name} fails on {', '.join(c.case for c in own)} "
                                                     f"where {table.baseline} renders: {own[0].error}")
        if by["unsupported"]:
            report.add("renderer-parity", "info", f"{name} cannot express {', '.join(c.case for c in by['unsupported'])} "
                                                  f"({by['unsupported'][0].error})")
        if by["equal"]:
            report.add("renderer-parity", "info", f"{name} matches {table.baseline} on {len(by['equal'])} of "
                                                  f"{len(cells)} cases")
