"""The workbench's checks as named claims, one per check and subject, each with an outcome.

A *subject* is what the user points at: a GGUF (any member of a split set; only its header
and vocabulary are read), a tokenizer folder, a template file, or the pre-tokenizer itself
(engines against the reference regex). :func:`claims` turns the options into
:class:`Claim` objects named like pytest tests (``test_eos`` with the parameter
``Kimi-K2-Tiny``); running one gives an :class:`Outcome`:

- ``passed``; ``failed`` with the finding's message, its minimal example and the fix;
- ``warned``: a warning finding (passes unless strict); ``xfailed``: a known, documented
  divergence (:mod:`workbench.verify.known`), with its reason; ``skipped``: does not apply.

Nothing here knows pytest: :mod:`workbench.pytest_plugin` makes the claims into test items.
The work behind several claims (a subject's assets, a parity run) is done once and shared.

    >>> [c.id for c in claims(Options(templates=(Path("kimi-k2.jinja"),)))][:2]   # doctest: +SKIP
    ['kimi-k2.jinja::test_template_reads[kimi-k2]', 'kimi-k2.jinja::test_template_renders[single-turn]']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from workbench.errors import WorkbenchError

STATUSES = ("passed", "failed", "warned", "xfailed", "skipped")
#: template checks whose warnings break the model's format (text it was never trained on): they fail the claim
FORMAT_WARNINGS = frozenset({"template-whitespace", "tool-call-json"})
#: the template checks after ``template-renders``, each one claim (``renderer-parity`` is one claim per cell)
TEMPLATE_CHECKS = ("default-system-prompt", "generation-prompt", "template-unknown-token", "template-whitespace",
                   "tool-call-json", "tool-result-format")
_SPLIT = re.compile(r"-\d{5}-of-\d{5}$")


@dataclass(frozen=True)
class Options:
    """What to check, as the plugin's command-line options give it (paths resolved by the caller)."""

    ggufs: tuple[Path, ...] = ()
    tokenizers: tuple[Path, ...] = ()
    templates: tuple[Path, ...] = ()
    corpus: tuple[Path, ...] = ()  # empty: the bundled corpus
    renderers: tuple[str, ...] | None = None  # None: every renderer available here
    engines: tuple[str, ...] | None = None  # None: every engine; the first is the reference
    scheme: str = "kimi-k2"
    strict: bool = False
    fuzz: int = 0
    seed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.ggufs or self.tokenizers or self.templates or self.engines)


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class Claim:
    """One test item: ``subject::test[param]``; :meth:`run` computes its outcome once."""

    subject: str
    test: str
    param: str
    check: Callable[[], Outcome] = field(repr=False)
    path: Path | None = None
    _outcome: Outcome | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.test}[{self.param}]"

    @property
    def id(self) -> str:
        return f"{self.subject}::{self.name}"

    def run(self) -> Outcome:
        if self._outcome is None:
            try:
                self._outcome = self.check()
            except WorkbenchError as e:  # bad input: one line, never a traceback
                self._outcome = Outcome("failed", str(e))
        return self._outcome


def display_name(path: Path) -> str:
    """``Kimi-K2-Thinking-UD-Q2_K_XL-00001-of-00008.gguf`` -> ``Kimi-K2-Thinking-UD-Q2_K_XL``."""
    return _SPLIT.sub("", path.stem) if path.suffix else path.name


def _id_safe(text: str) -> str:
    """pytest ids: no ``::``, ``/`` or spaces (they would cut the node id)."""
    return re.sub(r"[\s/\\]+", "_", text.replace("::", ":")) or "_"


# --- outcomes from findings ---------------------------------------------------------------------


def from_findings(findings, *, warnings_fail: bool = False) -> Outcome:
    """Errors fail; warnings fail when ``warnings_fail`` (a format defect), else warn; info passes."""
    errors = [f.message for f in findings if f.severity == "error"]
    warnings = [f.message for f in findings if f.severity == "warning"]
    if errors or (warnings and warnings_fail):
        return Outcome("failed", "\n".join(errors + warnings))
    if warnings:
        return Outcome("warned", "\n".join(warnings))
    return Outcome("passed", "\n".join(f.message for f in findings))


def _diverged(known: str | None, what: str, detail: str) -> Outcome:
    if known:
        return Outcome("xfailed", f"known divergence: {known}\n{what}\n{detail}".rstrip())
    return Outcome("failed", f"{what}\n{detail}".rstrip())


# --- subjects -----------------------------------------------------------------------------------


class _Tokenizer:
    """A GGUF or tokenizer folder: its assets loaded once, the findings of each check."""

    def __init__(self, path: Path, kind: str, options: Options) -> None:
        self.path, self.kind, self.options = path, kind, options
        self.name = display_name(path)

    @cached_property
    def assets(self):
        from workbench.gguffile.splits import first_split
        from workbench.tokenizer import load

        path = (first_split(self.path) or self.path) if self.kind == "gguf" else self.path
        if not path.exists():
            raise WorkbenchError(f"{path}: no such file or folder")
        return load(path, require_ranks=False)

    def report(self, check: str):
        from workbench.tokenizer.special import EOS
        from workbench.verify.gguf import check_gguf_keys
        from workbench.verify.report import Report
        from workbench.verify.tokenizer import check_eos, check_layout

        a, r = self.assets, Report(str(self.path), self.kind)
        if check == "eos-token":
            fix = (f"set tokenizer.ggml.eos_token_id to {a.special_id(EOS)} (the id of {EOS}), in place, no "
                   f"download: kimi-wb gguf fix-kimi {a.path}" if a.source == "gguf"
                   else f'set "eos_token": "{EOS}" in tokenizer_config.json')
            check_eos(a.eos, r, fix=fix)
        elif check == "special-token-layout":
            check_layout(a, r, flags=a.source != "gguf")
        elif check == "gguf-tokenizer-keys":
            check_gguf_keys(a, r)
        return r.findings

    def ids(self, impl: str) -> Outcome:
        from workbench.verify.tokenizer import id_problems

        reference = self.assets.impls[0]
        problems = id_problems(self.assets, reference) + id_problems(self.assets, impl)
        if problems:
            more = f"\n… and {len(problems) - 12} more" if len(problems) > 12 else ""
            fix = (f"\nFix, in place: kimi-wb gguf fix-kimi {self.assets.path} (types <think>, </think> and the tool "
                   "markers USER_DEFINED)" if any("types the token CONTROL" in p for p in problems) else "")
            return Outcome("failed", "\n".join(problems[:12]) + more + fix)
        return Outcome("passed", f"each named special token: the same id in {reference} and {impl}, decoding to itself")

    @cached_property
    def token_parity(self):
        from workbench.tokenizer.parity import token_parity

        return token_parity(self.assets, corpus=[str(p) for p in self.options.corpus] or None,
                            fuzz=self.options.fuzz, seed=self.options.seed, impls=self.assets.impls, errors="replace")

    def tokens(self, impl: str) -> Outcome:
        from workbench.verify.known import TOKENS, known_reasons

        report = self.token_parity
        a = report.reference
        p = report.pair(a, impl)
        if not p.differ:
            return Outcome("passed", f"{p.texts:,} texts: the same ids")
        causes = [c for c, n in p.causes.most_common() if n]
        examples = [f"  {e.cause}: {e.text!r}: " + " | ".join(f"{n} {e.ids[n]}" for n in (a, impl))
                    for c in causes for e in report.examples_for(a, impl, c)[:2]]
        what = (f"{a} and {impl} give different ids for {p.differ:,} of {p.texts:,} texts; causes: "
                + ", ".join(f"{c} {p.causes[c]:,}" for c in causes))
        return _diverged(known_reasons(TOKENS, (a, impl), causes), what, "minimal examples:\n" + "\n".join(examples))

    def claims(self) -> list[Claim]:
        s, c = self.name, []
        reads = "test_gguf_reads" if self.kind == "gguf" else "test_tokenizer_reads"
        try:
            a = self.assets
        except WorkbenchError as e:
            return [Claim(s, reads, s, lambda e=e: Outcome("failed", str(e)), self.path)]
        c.append(Claim(s, reads, s, lambda: Outcome("passed", f"{a.vocab_size:,} tokens ({a.source})"), self.path))
        c.append(Claim(s, "test_eos", s, lambda: from_findings(self.report("eos-token")), self.path))
        c.append(Claim(s, "test_special_token_layout", s, lambda: from_findings(self.report("special-token-layout")),
                       self.path))
        if self.kind == "gguf":
            c.append(Claim(s, "test_gguf_tokenizer_keys", s, lambda: from_findings(self.report("gguf-tokenizer-keys")),
                           self.path))
        others = a.impls[1:]
        no_ranks = f"{self.path} has no BPE ranks (tiktoken.model): ids cannot be encoded"
        for impl in others:
            check = (lambda impl=impl: self.ids(impl)) if a.has_ranks else (lambda: Outcome("skipped", no_ranks))
            c.append(Claim(s, "test_special_token_ids", f"{a.impls[0]}|{impl}", check, self.path))
        if a.chat_template:
            c += _Template(s, a.chat_template, self.options, path=self.path, tokenizer=a).claims(reads=False)
        for impl in others:
            check = (lambda impl=impl: self.tokens(impl)) if a.has_ranks else (lambda: Outcome("skipped", no_ranks))
            c.append(Claim(s, "test_token_parity", f"{a.impls[0]}|{impl}", check, self.path))
        return c


class _Template:
    """A chat template: the suite rendered under HF semantics, each template check, renderer parity per cell."""

    def __init__(self, subject: str, text: str | None, options: Options, *, path: Path | None = None,
                 tokenizer=None) -> None:
        self.subject, self._text, self.options, self.path, self.tokenizer = subject, text, options, path, tokenizer

    @cached_property
    def text(self) -> str:
        from workbench.chat.render import read_template

        return self._text if self._text is not None else read_template(self.path)

    @cached_property
    def rendered(self):
        from workbench.verify.templates import render_suite

        return render_suite(self.text)

    @cached_property
    def findings(self):
        from workbench.tokenizer.special import NAMED
        from workbench.verify.report import Report
        from workbench.verify.templates import check_template

        vocabulary = ([t.content for t in self.tokenizer.specials.values()] if self.tokenizer is not None
                      else [content for content, _ in NAMED.values()])
        r = Report(self.subject, "template")
        check_template(self.text, r, vocabulary=vocabulary, renderer_parity=False,
                       tokenizer=self.tokenizer if self.tokenizer is not None and self.tokenizer.has_ranks else None)
        return r.findings

    def renders(self, case: str) -> Outcome:
        from workbench.chat.modes import template_variables

        template_variables(self.text)  # a template that does not parse: its one-line error
        out = self.rendered[case]
        if isinstance(out, str):
            return Outcome("passed", f"{len(out):,} characters")
        return Outcome("failed", f"{case}: {out}")

    def check(self, check: str) -> Outcome:
        found = [f for f in self.findings if f.check == check]
        if found:
            return from_findings(found, warnings_fail=check in FORMAT_WARNINGS)
        if not any(isinstance(v, str) for v in self.rendered.values()):
            return Outcome("skipped", "the template renders no conversation (see test_template_renders)")
        return Outcome("passed", "no finding")

    @cached_property
    def parity(self):
        from workbench.chat.parity import parity

        tokenizer = self.tokenizer if self.tokenizer is not None and self.tokenizer.has_ranks else None
        return parity(self.text, renderers=self.renderers, tokenizer=tokenizer)

    @cached_property
    def renderers(self) -> list[str]:
        from workbench.chat.parity import default_renderers

        names = list(self.options.renderers) if self.options.renderers is not None else default_renderers(self.text)
        return [n for n in names if n != "hf"]

    def cell(self, case: str, renderer: str) -> Outcome:
        from workbench.verify.known import RENDER, known_reasons, render_difference

        c = self.parity.cell(case, renderer)
        if c.status == "equal":
            return Outcome("passed", "the same prompt as hf")
        if c.status == "unsupported":
            return Outcome("skipped", f"{renderer} cannot express {case}: {c.error}")
        if c.status == "fails":
            if c.baseline_error is not None:
                return Outcome("skipped", f"hf fails on {case} too (see test_template_renders[{case}])")
            return Outcome("failed", f"{renderer} fails on {case} where hf renders it: {c.error}")
        from workbench.chat.suite import SUITE

        spec = next(x for x in SUITE if x.name == case)
        how = render_difference(c.baseline, c.text, renderer=renderer, tools=bool(spec.tools))
        if how == "differs" and renderer == "llama-server" and self._server_preserves(spec, c.baseline):
            how = "preserve-reasoning-default"
        ids = f"\ntoken ids: {c.id_diff()}" if c.ids is not None else ""
        return _diverged(known_reasons(RENDER, renderer, [how]), f"{renderer} renders {case} differently from hf:",
                         c.text_diff() + ids)

    def _server_preserves(self, case, baseline: str) -> bool:
        """llama-server renders HF's prompt once told not to keep earlier reasoning (its default keeps it)."""
        from workbench.chat.render import RendererLimitation, TemplateError, render

        try:
            told = render(self.text, case.messages, tools=case.tools, add_generation_prompt=case.add_generation_prompt,
                          renderer="llama-server", preserve_thinking=False, preserve_reasoning=False)
        except (TemplateError, RendererLimitation):
            return False
        return told == baseline

    def claims(self, *, reads: bool = True) -> list[Claim]:
        from workbench.chat.suite import SUITE

        s, p, c = self.subject, self.path, []
        if reads:
            try:
                n = len(self.text)
            except WorkbenchError as e:
                return [Claim(s, "test_template_reads", s, lambda e=e: Outcome("failed", str(e)), p)]
            c.append(Claim(s, "test_template_reads", s, lambda: Outcome("passed", f"{n:,} characters"), p))
        c += [Claim(s, "test_template_renders", case.name, lambda n=case.name: self.renders(n), p) for case in SUITE]
        c += [Claim(s, f"test_{check.replace('-', '_')}", s, lambda k=check: self.check(k), p) for check in TEMPLATE_CHECKS]
        c += [Claim(s, "test_renderer_parity", f"{case.name}-{r}", lambda n=case.name, r=r: self.cell(n, r), p)
              for case in SUITE for r in self.renderers]
        return c


class _PreTokenizer:
    """Every engine against the first (the reference) on the corpus, and fuzzed strings."""

    def __init__(self, options: Options) -> None:
        from workbench.pretok.parity import DEFAULT_ENGINES

        self.options = options
        self.engines = list(options.engines or DEFAULT_ENGINES)
        self.subject = f"pre-tokenizer-{options.scheme}"

    @cached_property
    def report(self):
        from workbench.pretok.parity import engine_parity
        from workbench.tokenizer.train import DEFAULT_CORPUS

        corpus = [str(p) for p in self.options.corpus] or [DEFAULT_CORPUS]
        return engine_parity(self.engines, scheme=self.options.scheme, corpus=corpus, fuzz=self.options.fuzz,
                             seed=self.options.seed)

    def pair(self, engine: str) -> Outcome:
        from workbench.verify.known import SPLIT, known_reasons

        ref = self.engines[0]
        p = self.report.pair(ref, engine)
        if not p.differing:
            return Outcome("passed", f"{p.texts:,} texts cut the same way")
        causes = [c for c, _ in p.causes.most_common()]
        examples = [f"  {c}: {x.text!r}: {ref} {list(x.a)} | {engine} {list(x.b)}"
                    for c in causes for x in p.groups.get(c, [])[:2]]
        what = (f"{engine} cuts {p.differing:,} of {p.texts:,} texts differently from {ref}; divergences by cause: "
                + ", ".join(f"{c} {p.causes[c]:,}" for c in causes))
        return _diverged(known_reasons(SPLIT, (engine, self.options.scheme), causes), what,
                         "minimal examples:\n" + "\n".join(examples))

    def claims(self) -> list[Claim]:
        ref = self.engines[0]
        return [Claim(self.subject, "test_pretokenizer_parity", f"{ref}|{e}", lambda e=e: self.pair(e))
                for e in self.engines[1:]]


def claims(options: Options) -> list[Claim]:
    """Every claim the options ask for, subjects in the order given (names made unique), then the pre-tokenizer."""
    out: list[Claim] = []
    seen: dict[str, int] = {}

    def unique(name: str) -> str:
        seen[name] = seen.get(name, 0) + 1
        return _id_safe(name if seen[name] == 1 else f"{name}-{seen[name]}")

    for kind, paths in (("gguf", options.ggufs), ("tokenizer", options.tokenizers)):
        for path in paths:
            t = _Tokenizer(path, kind, options)
            t.name = unique(t.name)
            out += t.claims()
    for path in options.templates:
        out += _Template(unique(display_name(path)), None, options, path=path).claims()
    if options.ggufs or options.tokenizers or options.engines:
        out += _PreTokenizer(options).claims()
    return out
