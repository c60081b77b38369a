"""``pytest --kimi-gguf MODEL``: the workbench's checks on your own files, as pytest test items.

Installed with the package (the ``pytest11`` entry point ``kimi``); it does nothing unless
one of its options is given, so unrelated test suites never see it. Given one, it adds one
test item per check and subject (:mod:`workbench.pytest_plugin.checks`) next to whatever
tests pytest collects, with ids such as::

    Kimi-K2-Thinking-UD-Q2_K_XL::test_eos[Kimi-K2-Thinking-UD-Q2_K_XL]
    Kimi-K2-Thinking-UD-Q2_K_XL::test_special_token_ids[tiktoken|llama.cpp]
    my-template::test_renderer_parity[one-tool-call-llama-server]
    pre-tokenizer-kimi-k2::test_pretokenizer_parity[regex|llama.cpp]

so ``-k eos``, ``-x``, ``--junitxml`` and ``pytest-xdist`` work as they do on any test. A
failure shows the finding, its minimal example and the fix, never a traceback into the
workbench. Known, documented divergences (llama.cpp's kimi-k2 splitter) are ``xfail`` with
their reason; a warning passes with a :class:`KimiWarning` in pytest's warnings summary.
``--kimi-strict`` fails both.

For tests of your own, the fixtures ``kimi_assets`` and ``kimi_gguf`` (parametrized over the
files given), ``kimi_findings`` (the ``verify`` report of each subject) and ``kimi_render``::

    def test_my_prompt(kimi_render):
        assert kimi_render("my.jinja", [{"role": "user", "content": "hi"}]).endswith("<think>")

Only pytest and the standard library are imported until an option is given.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from workbench.pytest_plugin.checks import Claim, Options, claims

__all__ = ["KimiWarning"]

_OPTIONS = pytest.StashKey[Options]()


class KimiWarning(UserWarning):
    """A warning finding of a Kimi check: the item passes unless ``--kimi-strict``."""


def _names(value: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _count(value: str) -> int:
    n = int(value)
    if n < 0:
        raise ValueError(value)
    return n


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kimi", "Kimi GGUF, tokenizer and template checks (kimi-workbench)")
    g.addoption("--kimi-gguf", action="append", default=[], metavar="PATH",
                help="a GGUF to check, any member of a split set (only its header and vocabulary are read); repeatable")
    g.addoption("--kimi-tokenizer", action="append", default=[], metavar="PATH",
                help="an HF snapshot folder or its tokenizer_config.json; repeatable")
    g.addoption("--kimi-template", action="append", default=[], metavar="PATH", help="a chat template file; repeatable")
    g.addoption("--kimi-corpus", action="extend", nargs="+", default=[], metavar="PATH",
                help="text files or folders of *.txt for the parity checks (default: the workbench's corpus); "
                     "it takes every path after it, so give test paths before it")
    g.addoption("--kimi-renderers", type=_names, default=None, metavar="R,R",
                help="renderers compared with hf (default: every one available here)")
    g.addoption("--kimi-engines", type=_names, default=None, metavar="E,E",
                help="pre-tokenizer engines, the first the reference (default: regex and every other one)")
    g.addoption("--kimi-strict", action="store_true", help="warnings and known divergences fail too")
    g.addoption("--kimi-fuzz", type=_count, default=0, metavar="N", help="fuzzed strings for the parity checks")
    g.addoption("--kimi-seed", type=_count, default=0, metavar="N", help="seed of the fuzzed strings (default 0)")


def _existing(config: pytest.Config, option: str) -> tuple[Path, ...]:
    paths = []
    for value in config.getoption(option):
        p = Path(value).expanduser()
        if not p.exists():
            raise pytest.UsageError(f"--{option.replace('_', '-')} {value}: no such file or folder")
        paths.append(p.resolve())
    return tuple(paths)


def _known(kind: str, names: tuple[str, ...] | None, registry) -> None:
    for n in names or ():
        if n not in registry:
            raise pytest.UsageError(f"--kimi-{kind}: unknown name {n!r}; valid: {', '.join(registry)}")


def pytest_configure(config: pytest.Config) -> None:
    options = Options(
        ggufs=_existing(config, "kimi_gguf"), tokenizers=_existing(config, "kimi_tokenizer"),
        templates=_existing(config, "kimi_template"), corpus=_existing(config, "kimi_corpus"),
        renderers=config.getoption("kimi_renderers"), engines=config.getoption("kimi_engines"),
        strict=config.getoption("kimi_strict"), fuzz=config.getoption("kimi_fuzz"), seed=config.getoption("kimi_seed"))
    if options.renderers is not None:
        from workbench.chat.render import RENDERERS

        _known("renderers", options.renderers, RENDERERS)
    if options.engines is not None:
        from workbench.pretok.engines import ENGINES

        _known("engines", options.engines, ENGINES)
        if len(options.engines) < 2:
            raise pytest.UsageError("--kimi-engines: give at least two engines, the reference first (e.g. regex,llama.cpp)")
    config.stash[_OPTIONS] = options
    config.addinivalue_line("markers", "kimi: a check the kimi-workbench plugin added (--kimi-gguf and friends)")


class KimiSubject(pytest.Collector):
    """The checks on one subject (a GGUF, tokenizer, template, or the pre-tokenizer)."""

    def __init__(self, *, claims: list[Claim], **kwargs) -> None:
        super().__init__(**kwargs)
        self._claims = claims

    def collect(self) -> list[KimiItem]:
        return [KimiItem.from_parent(self, name=c.name, claim=c) for c in self._claims]


class KimiItem(pytest.Item):
    """One claim: runs its check and turns the outcome into pass, fail, xfail, skip or a warning."""

    def __init__(self, *, claim: Claim, **kwargs) -> None:
        super().__init__(**kwargs)
        self.claim = claim
        self.add_marker("kimi")

    def runtest(self) -> None:
        outcome = self.claim.run()
        strict = self.config.stash[_OPTIONS].strict
        if outcome.status == "failed":
            raise KimiCheckFailed(outcome.message)
        if outcome.status == "skipped":
            raise pytest.skip.Exception(outcome.message, _use_item_location=True)
        if outcome.status == "xfailed":
            if strict:
                raise KimiCheckFailed(f"{outcome.message}\n(a known divergence; --kimi-strict fails it)")
            pytest.xfail(outcome.message.splitlines()[0])
        if outcome.status == "warned":
            if strict:
                raise KimiCheckFailed(f"{outcome.message}\n(a warning; --kimi-strict fails it)")
            path, _, _ = self.reportinfo()
            warnings.warn_explicit(KimiWarning(f"{self.claim.id}: {outcome.message}"), KimiWarning, str(path), 1)

    def repr_failure(self, excinfo, style=None) -> str:
        if isinstance(excinfo.value, KimiCheckFailed):
            return str(excinfo.value)  # the header names the item; the first line is the summary's
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.claim.path or self.path, 0, self.claim.id


class KimiCheckFailed(AssertionError):
    """A check found a problem: its message is the report (no traceback)."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the Kimi items before ``-k`` / ``-m`` select among all items."""
    options = config.stash.get(_OPTIONS, None)
    if options is None or not options.any:
        return
    from workbench.errors import WorkbenchError

    try:
        found = claims(options)
    except WorkbenchError as e:
        raise pytest.UsageError(str(e)) from None
    subjects: dict[str, list[Claim]] = {}
    for c in found:
        subjects.setdefault(c.subject, []).append(c)
    for name, group in subjects.items():
        path = group[0].path or session.path
        collector = KimiSubject.from_parent(session, name=name, nodeid=name, path=path, claims=group)
        items.extend(session.genitems(collector))


@pytest.hookimpl(trylast=True)
def pytest_report_header(config: pytest.Config) -> list[str] | None:
    options = config.stash.get(_OPTIONS, None)
    if options is None or not options.any:
        return None
    return [f"kimi: {len(options.ggufs)} GGUF, {len(options.tokenizers)} tokenizer, {len(options.templates)} template"
            + (", strict" if options.strict else "") + (f", fuzz {options.fuzz} seed {options.seed}" if options.fuzz
                                                        else "")]


# --- fixtures for users' own tests ----------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    options = metafunc.config.stash.get(_OPTIONS, Options())
    given = {"kimi_gguf": options.ggufs, "kimi_assets": options.ggufs + options.tokenizers,
             "kimi_findings": options.ggufs + options.tokenizers + options.templates}
    for name, paths in given.items():
        if name not in metafunc.fixturenames:
            continue
        if paths:
            metafunc.parametrize(name, list(paths), indirect=True, ids=[p.name for p in paths])
        else:
            flag = {"kimi_gguf": "--kimi-gguf", "kimi_assets": "--kimi-gguf or --kimi-tokenizer"}.get(
                name, "--kimi-gguf, --kimi-tokenizer or --kimi-template")
            metafunc.parametrize(name, [pytest.param(None, marks=pytest.mark.skip(reason=f"no {flag} given"))],
                                 indirect=True, ids=["none"])


@pytest.fixture
def kimi_gguf(request: pytest.FixtureRequest):
    """The inspected header of each ``--kimi-gguf`` file (a :class:`workbench.ggufio.inspect.GGUFInfo`)."""
    from workbench.ggufio.inspect import inspect

    return inspect(request.param)


@pytest.fixture
def kimi_assets(request: pytest.FixtureRequest):
    """The tokenizer assets of each ``--kimi-gguf`` / ``--kimi-tokenizer`` subject (encode, decode, specials)."""
    from workbench.gguffile.splits import first_split
    from workbench.tokenizer import load

    return load(first_split(request.param) or request.param, require_ranks=False)


@pytest.fixture
def kimi_findings(request: pytest.FixtureRequest):
    """``kimi-wb verify``'s report on each subject: ``.ok``, ``.findings``, ``.by_check("eos-token")``."""
    from workbench.gguffile.splits import first_split
    from workbench.verify import check

    return check(first_split(request.param) or request.param)


@pytest.fixture
def kimi_render():
    """``kimi_render(template, messages, renderer="hf", **kwargs) -> str``: a template (text or path) rendered
    by one renderer, as :func:`workbench.chat.render.render` does (bounded time and memory)."""
    from workbench.chat.render import render

    def _render(template, messages, renderer: str = "hf", **kwargs) -> str:
        return render(template, messages, renderer=renderer, **kwargs)

    return _render
