"""``pytest --kimi-gguf``: the plugin run by pytest's own ``pytester`` on files we build.

Each run is a real pytest session (in-process, or a subprocess where a run registers something
global); its items are counted and each outcome asserted, by node id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import ROOT
from workbench.chat.suite import SUITE

GOOD_TEMPLATE = ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja"
TEMPLATE_CHECKS = ["test_default_system_prompt", "test_generation_prompt", "test_template_unknown_token",
                   "test_template_whitespace", "test_tool_call_json", "test_tool_result_format"]
#: fast renderer and engine choices for runs that are not about them (llama-server starts a server)
RENDERERS = ["--kimi-renderers", "llama-cpp-python", "-p", "no:cacheprovider"]
FAST = [*RENDERERS, "--kimi-engines", "regex,tokenizers"]


@pytest.fixture(scope="module")
def old_model(tiny_vocab, tmp_path_factory) -> Path:
    """The tiny model as old conversions wrote it: EOS on [EOS], the earliest template."""
    from workbench.models.tiny import make_tiny_model
    from workbench.tokenizer import load

    return make_tiny_model(tmp_path_factory.mktemp("old") / "Kimi-K2-Old.gguf", vocab=load(tiny_vocab), old=True)[0]


def outcomes(reprec) -> dict[str, str]:
    """node id -> passed | failed | skipped | xfailed, for every test item of an inline run."""
    out = {}
    for rep in reprec.getreports("pytest_runtest_logreport"):
        if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
            out[rep.nodeid] = "xfailed" if hasattr(rep, "wasxfail") else rep.outcome
    return out


def failure(reprec, nodeid: str) -> str:
    (rep,) = [r for r in reprec.getreports("pytest_runtest_logreport") if r.nodeid == nodeid and r.failed]
    return str(rep.longrepr)


def test_inactive_without_options(pytester):
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "kimi:" not in result.stdout.str() and "Kimi" not in result.stdout.str()  # no header line, no items
    help_text = pytester.runpytest("--help").stdout.str()
    for option in ("--kimi-gguf", "--kimi-tokenizer", "--kimi-template", "--kimi-corpus", "--kimi-renderers",
                   "--kimi-engines", "--kimi-strict", "--kimi-fuzz", "--kimi-seed"):
        assert option in help_text


def test_old_model_fails_test_eos_and_the_fixed_one_passes(pytester, old_model, tiny_model):
    reprec = pytester.inline_run("--kimi-gguf", str(old_model), "--kimi-gguf", str(tiny_model), "-k", "test_eos", *FAST)
    assert outcomes(reprec) == {"Kimi-K2-Old::test_eos[Kimi-K2-Old]": "failed",
                                "Kimi-K2-Tiny::test_eos[Kimi-K2-Tiny]": "passed"}
    message = failure(reprec, "Kimi-K2-Old::test_eos[Kimi-K2-Old]")
    assert "EOS is [EOS], which never ends a chat turn" in message
    assert "Fix: set tokenizer.ggml.eos_token_id to" in message and f"kimi-wb gguf fix-kimi {old_model}" in message
    assert "Traceback" not in message and "workbench/" not in message


def test_a_good_model_every_item(pytester, tiny_model):
    """Items per check and subject, with stable ids; the tiny model passes all but the known divergences."""
    reprec = pytester.inline_run("--kimi-gguf", str(tiny_model), *FAST)
    got = outcomes(reprec)
    s = "Kimi-K2-Tiny"
    expected = {f"{s}::test_{t}[{s}]": "passed" for t in ("gguf_reads", "eos", "special_token_layout",
                                                          "gguf_tokenizer_keys")}
    expected |= {f"{s}::test_special_token_ids[tiktoken|{i}]": "passed" for i in ("hf", "llama.cpp")}
    expected |= {f"{s}::test_template_renders[{c.name}]": "passed" for c in SUITE}
    expected |= {f"{s}::{t}[{s}]": "passed" for t in TEMPLATE_CHECKS}
    expected |= {f"{s}::test_renderer_parity[{c.name}-llama-cpp-python]": "passed" for c in SUITE}
    expected |= {f"{s}::test_token_parity[tiktoken|hf]": "passed",
                 f"{s}::test_token_parity[tiktoken|llama.cpp]": "xfailed",  # llama.cpp's own splitter
                 "pre-tokenizer-kimi-k2::test_pretokenizer_parity[regex|tokenizers]": "passed"}
    assert got == expected


def test_a_template_with_three_faults_fails_exactly_those_items(pytester):
    text = GOOD_TEMPLATE.read_text(encoding="utf-8")
    for old, new in (("<|im_middle|>{{ content(m) }}<|im_end|>", "<|im_middle|>{{ content(m) }}<|im_end|>{{ '\\n' }}"),
                     ("<|media_begin|>", "<|media_start|>"),
                     ("tools | tojson(separators=(',', ':'))", "tools | tojson")):
        assert old in text
        text = text.replace(old, new)
    bad = pytester.path / "bad.jinja"
    bad.write_text(text, encoding="utf-8")
    reprec = pytester.inline_run("--kimi-template", str(bad), *RENDERERS)
    got = outcomes(reprec)
    assert len(got) == 1 + len(SUITE) + len(TEMPLATE_CHECKS) + len(SUITE)  # reads, renders, checks, parity cells
    assert {k for k, v in got.items() if v == "failed"} == {
        "bad::test_template_whitespace[bad]", "bad::test_template_unknown_token[bad]", "bad::test_tool_call_json[bad]"}
    assert set(got.values()) == {"passed", "failed"}
    assert "'\\n' between turns" in failure(reprec, "bad::test_template_whitespace[bad]")
    assert "<|media_start|>" in failure(reprec, "bad::test_template_unknown_token[bad]")
    assert "spaced JSON" in failure(reprec, "bad::test_tool_call_json[bad]")


def test_the_bundled_template_is_clean(pytester):
    reprec = pytester.inline_run("--kimi-template", str(GOOD_TEMPLATE), *RENDERERS)
    got = outcomes(reprec)
    assert len(got) == 1 + 2 * len(SUITE) + len(TEMPLATE_CHECKS) and set(got.values()) == {"passed"}


_PLANTED = '''
from workbench.pretok import Branch, Scheme
from workbench.pretok.engines import ENGINES, RegexEngine


class TwoDigitEngine(RegexEngine):
    """The reference with digits grouped by two: a deliberately wrong implementation."""

    name = "two-digit"

    def matches(self, text, scheme):
        branches = tuple(Branch(b.name, b.pattern.replace(r"\\p{N}{1,3}", r"\\p{N}{1,2}")) for b in scheme.branches)
        return super().matches(text, Scheme(scheme.name, scheme.description, scheme.source, branches))


ENGINES.register("two-digit", TwoDigitEngine())
'''


def test_a_planted_pretokenizer_fault_fails_the_parity_item(pytester):
    pytester.makeconftest(_PLANTED)
    corpus = pytester.makefile(".txt", corpus="Call 5551234 now\nplain words\n")
    result = pytester.runpytest_subprocess("--kimi-engines", "regex,two-digit", "--kimi-corpus", str(corpus),
                                           "-p", "no:cacheprovider", "-rA", timeout=300)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "FAILED pre-tokenizer-kimi-k2::test_pretokenizer_parity[regex|two-digit]" in out
    assert "two-digit cuts 1 of 2 texts differently from regex; divergences by cause: digits" in out
    assert "Traceback" not in out


def test_llama_cpp_splitter_is_a_known_divergence_unless_strict(pytester):
    corpus = pytester.makefile(".txt", corpus="getHTTPResponse\nشكرا\u064b جزيلا\n")
    nodeid = "pre-tokenizer-kimi-k2::test_pretokenizer_parity[regex|llama.cpp]"
    args = ["--kimi-engines", "regex,llama.cpp", "--kimi-corpus", str(corpus), "-p", "no:cacheprovider"]
    assert outcomes(pytester.inline_run(*args)) == {nodeid: "xfailed"}
    reprec = pytester.inline_run(*args, "--kimi-strict")
    assert outcomes(reprec) == {nodeid: "failed"}
    message = failure(reprec, nodeid)
    assert "unicode_regex_split_custom_kimi_k2" in message and "--kimi-strict fails it" in message
    assert "case" in message and "mark" in message


def test_a_hostile_template_fails_its_items_within_its_bound(pytester, monkeypatch):
    from tests.hostile.templates import HOSTILE

    monkeypatch.setenv("KIMI_WB_TEMPLATE_SECONDS", "2")
    loops = pytester.path / "loops.jinja"
    loops.write_text(dict((n, t) for n, t, _ in HOSTILE)["nested-loops"], encoding="utf-8")
    result = pytester.runpytest_subprocess("--kimi-template", str(loops), *RENDERERS, "-rA", timeout=300)
    out = result.stdout.str()
    # it reads, and its markers are known; no conversation and no generation prompt renders; nothing else to check
    result.assert_outcomes(passed=2, failed=len(SUITE) + 1, skipped=len(TEMPLATE_CHECKS) - 2 + len(SUITE))
    assert "PASSED loops::test_template_reads[loops]" in out
    assert "PASSED loops::test_template_unknown_token[loops]" in out
    for case in SUITE:
        assert f"FAILED loops::test_template_renders[{case.name}]" in out
    assert "FAILED loops::test_generation_prompt[loops]" in out
    assert "Traceback" not in out and "MemoryError" not in out


def test_a_broken_gguf_is_one_failing_item_with_one_line(pytester, tiny_model):
    broken = pytester.path / "Broken.gguf"
    broken.write_bytes(tiny_model.read_bytes()[:5000])  # the header cut short
    reprec = pytester.inline_run("--kimi-gguf", str(broken), *FAST)
    got = outcomes(reprec)
    assert got == {"Broken::test_gguf_reads[Broken]": "failed",
                   "pre-tokenizer-kimi-k2::test_pretokenizer_parity[regex|tokenizers]": "passed"}
    lines = failure(reprec, "Broken::test_gguf_reads[Broken]").splitlines()
    assert len(lines) == 1 and str(broken) in lines[0]


def test_junitxml_and_exitfirst(pytester, old_model, tiny_model):
    xml = pytester.path / "out.xml"
    result = pytester.runpytest("--kimi-gguf", str(old_model), "--kimi-gguf", str(tiny_model), "-k", "eos or layout",
                                f"--junitxml={xml}", *FAST)
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(xml).getroot().iter("testcase")}
    assert set(cases) == {("Kimi-K2-Old", "test_eos[Kimi-K2-Old]"), ("Kimi-K2-Old", "test_special_token_layout[Kimi-K2-Old]"),
                          ("Kimi-K2-Tiny", "test_eos[Kimi-K2-Tiny]"),
                          ("Kimi-K2-Tiny", "test_special_token_layout[Kimi-K2-Tiny]")}
    (fail,) = cases[("Kimi-K2-Old", "test_eos[Kimi-K2-Old]")].iter("failure")
    assert "EOS is [EOS]" in fail.text
    result = pytester.runpytest("--kimi-gguf", str(old_model), "--kimi-gguf", str(tiny_model), "-k", "eos or layout",
                                "-x", *FAST)
    result.assert_outcomes(failed=1)  # -x: the old model's EOS is the first item, nothing runs after it


def test_xdist_gives_the_same_outcomes(pytester, old_model):
    pytest.importorskip("xdist")
    result = pytester.runpytest_subprocess("--kimi-gguf", str(old_model), "-k", "eos or layout or keys", "-n", "2",
                                           *FAST, timeout=300)
    result.assert_outcomes(passed=2, failed=1)


def test_fixtures_for_users_own_tests(pytester, tiny_model):
    pytester.makepyfile(test_mine='''
        def test_gguf(kimi_gguf):
            assert kimi_gguf.keys["general.architecture"].value == "deepseek2"

        def test_assets(kimi_assets):
            assert kimi_assets.eos == "<|im_end|>"
            for impl in kimi_assets.impls:
                assert kimi_assets.encode("<|im_end|>", impl=impl) == [kimi_assets.special_id("<|im_end|>")]

        def test_findings(kimi_findings):
            assert kimi_findings.ok, kimi_findings.format()

        def test_render(kimi_render):
            text = kimi_render("{{ messages[0].content }}!", [{"role": "user", "content": "hi"}])
            assert text == "hi!"
    ''')
    reprec = pytester.inline_run("test_mine.py", "--kimi-gguf", str(tiny_model), "-p", "no:cacheprovider",
                                 "-m", "not kimi")
    got = outcomes(reprec)
    assert {k.split("::")[-1]: v for k, v in got.items() if "test_mine.py" in k} == {
        "test_gguf[Kimi-K2-Tiny.gguf]": "passed", "test_assets[Kimi-K2-Tiny.gguf]": "passed",
        "test_findings[Kimi-K2-Tiny.gguf]": "passed", "test_render": "passed"}
    reprec = pytester.inline_run("test_mine.py", "-p", "no:cacheprovider")  # no files given: skipped, and why
    skipped = [r for r in reprec.getreports("pytest_runtest_logreport") if r.skipped]
    assert len(skipped) == 3 and "no --kimi-gguf given" in str(skipped[0].longrepr)


@pytest.mark.parametrize("args,fragment", [
    (["--kimi-gguf", "missing.gguf"], "--kimi-gguf missing.gguf: no such file or folder"),
    (["--kimi-engines", "regex"], "--kimi-engines: give at least two engines"),
    (["--kimi-engines", "regex,nope"], "--kimi-engines: unknown name 'nope'"),
    (["--kimi-renderers", "nope"], "--kimi-renderers: unknown name 'nope'"),
    (["--kimi-fuzz", "-3"], "--kimi-fuzz"),
])
def test_bad_options_are_usage_errors(pytester, args, fragment):
    result = pytester.runpytest(*args)
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, 2)  # pytest's own argparse errors exit 2
    assert fragment in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_a_real_size_split_set_by_any_member_reads_headers_only(pytester, tmp_path):
    """An old 377 GB-shaped set of 8 files whose tensor data is a sparse hole: named by its third member."""
    from workbench.models.sparse import allocated_bytes, write_kimi_shaped

    files = write_kimi_shaped(tmp_path / "Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8, old=True)
    assert sum(f.stat().st_size for f in files) > 300e9 and sum(allocated_bytes(f) for f in files) < 200e6
    reprec = pytester.inline_run("--kimi-gguf", str(files[2]), "-k", "reads or eos or keys or special_token_ids",
                                 *FAST)
    s = "Kimi-K2-Instruct-UD-Q2_K_XL"
    assert outcomes(reprec) == {f"{s}::test_gguf_reads[{s}]": "passed", f"{s}::test_eos[{s}]": "failed",
                                f"{s}::test_gguf_tokenizer_keys[{s}]": "passed",
                                f"{s}::test_special_token_ids[tiktoken|hf]": "passed",
                                # old conversions typed <think> and the tool markers CONTROL (the tokenizer fix)
                                f"{s}::test_special_token_ids[tiktoken|llama.cpp]": "failed"}
    assert f"kimi-wb gguf fix-kimi {files[0]}" in failure(reprec, f"{s}::test_eos[{s}]")  # the fix goes to split 1
    message = failure(reprec, f"{s}::test_special_token_ids[tiktoken|llama.cpp]")
    assert "<think> (id 163606) decodes to '' with llama.cpp when special tokens are skipped" in message
    assert message.splitlines()[-1].startswith(f"Fix, in place: kimi-wb gguf fix-kimi {files[0]}")
