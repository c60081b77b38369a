"""Every check passes on a good template / vocabulary and is shown able to fail on a broken one."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import REFERENCE, ROOT
from workbench.errors import InputError
from workbench.verify import check


def _builtin_formatter(f) -> bool:
    """llama.cpp's built-in Kimi formatter inserts no default system prompt: a finding on llama.cpp, not the template."""
    return f.check == "renderer-parity" and f.message.startswith("llama.cpp renders 2 case(s) differently")


GOOD = ROOT / "workbench" / "chat" / "templates" / "kimi-k2.jinja"
TEMPLATES = REFERENCE / "templates"
needs_reference = pytest.mark.skipif(not TEMPLATES.is_dir(), reason=f"reference templates not found at {TEMPLATES}")


def severities(report, check_id):
    return [f.severity for f in report.by_check(check_id)]


def test_good_template_is_clean():
    r = check(GOOD)
    assert r.ok and r.kind == "template"
    assert not [f for f in r.findings if f.severity != "info" and not _builtin_formatter(f)], r.to_dict()


BROKEN = [
    # (what, replace this, with that, check id, severity, message fragment)
    ("no default system prompt", "You are Kimi, an AI assistant created by Moonshot AI.", "", "default-system-prompt",
     "warning", "unexpected default system prompt ''"),
    ("earliest system prompt", "You are Kimi, an AI assistant created by Moonshot AI.", "You are a helpful assistant",
     "default-system-prompt", "warning", "earliest K2 template"),
    ("unknown marker", "<|media_begin|>", "<|media_start|>", "template-unknown-token", "error", "<|media_start|>"),
    ("stray newline", "<|im_middle|>{{ content(m) }}<|im_end|>", "<|im_middle|>{{ content(m) }}<|im_end|>{{ '\\n' }}",
     "template-whitespace", "warning", "'\\n' between turns"),
    ("spaced JSON", "tools | tojson(separators=(',', ':'))", "tools | tojson", "tool-call-json", "warning", "spaced JSON"),
    ("raising template", "{%- for m in messages -%}", "{{ raise_exception('boom') }}{%- for m in messages -%}",
     "template-renders", "error", "boom"),
    ("syntax error", "{%- endfor -%}", "", "template-renders", "error", "syntax error"),
    ("tool result header", "## Return of {{ m.tool_call_id }}\n", "Result {{ m.tool_call_id }}: ",
     "tool-result-format", "error", "expected '## Return of"),
    ("generation prompt", "{%- if add_generation_prompt -%}<|im_assistant|>", "{%- if add_generation_prompt -%}<|im_user|>",
     "generation-prompt", "error", "expected it to start with"),
]


@pytest.mark.parametrize("what,old,new,check_id,severity,fragment", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_check_can_fail(tmp_path, what, old, new, check_id, severity, fragment):
    text = GOOD.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.jinja"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    r = check(bad)
    found = [f for f in r.by_check(check_id) if f.severity == severity]
    assert found and any(fragment in f.message for f in found), r.to_dict()
    assert r.ok is not any(f.severity == "error" for f in r.findings)


def test_thinking_switch_findings(tmp_path):
    t = (GOOD.read_text(encoding="utf-8")
         .replace("{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>{%- endif -%}",
                  "{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>"
                  "{%- if thinking is defined and thinking is false -%}<think></think>{%- else -%}<think>{%- endif -%}"
                  "{%- endif -%}"))
    f = tmp_path / "k26.jinja"
    f.write_text(t, encoding="utf-8")
    msgs = [x.message for x in check(f).by_check("generation-prompt")]
    assert any("thinking: prompt ends in '<think>'" in m for m in msgs)
    assert any("instant: appends '<|im_assistant|>assistant<|im_middle|><think></think>'" in m for m in msgs)
    assert any(m.startswith("enable_thinking= is ignored by this template, which switches on thinking=") for m in msgs)


@needs_reference
def test_reference_templates_findings():
    instruct = check(TEMPLATES / "Kimi-K2-Instruct.jinja")
    assert "unsafe" in " ".join(f.message for f in instruct.by_check("template-renders"))  # list.append in HF's sandbox
    assert any("<|media_start|>" in f.message for f in instruct.by_check("template-unknown-token"))
    assert any("'\\n' between turns" in f.message for f in instruct.by_check("template-whitespace"))
    assert "Kimi" in instruct.by_check("default-system-prompt")[0].message
    early = check(TEMPLATES / "moonshotai-Kimi-K2.jinja")
    assert severities(early, "default-system-prompt") == ["warning"]
    assert any("literal backslash-n" in f.message for f in early.by_check("tool-result-format"))
    assert severities(early, "tool-call-json") == ["warning"]
    thinking = check(TEMPLATES / "Kimi-K2-Thinking.jinja")
    assert not thinking.ok and not thinking.by_check("tool-result-format")


def test_vocabulary_folder_checks(tiny_vocab, tmp_path):
    r = check(tiny_vocab)
    assert severities(r, "eos-token") == ["info"]
    assert severities(r, "special-token-layout") == ["info"] and severities(r, "special-token-ids") == ["info"]
    assert r.ok  # no template: a warning, not an error


def _copy_with_config(src, dst, edit):
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    edit(cfg)
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return dst


def test_old_eos_is_an_error_with_the_fix(tiny_vocab, tmp_path):
    d = _copy_with_config(tiny_vocab, tmp_path / "old", lambda c: c.update(eos_token="[EOS]"))
    r = check(d / "tokenizer_config.json")
    assert not r.ok
    (f,) = r.by_check("eos-token")
    assert f.severity == "error" and "[EOS]" in f.message and '"eos_token": "<|im_end|>"' in f.message


def test_shifted_special_token_is_an_error(tiny_vocab, tmp_path):
    def shift(c):
        n = str(4096 + 23)
        c["added_tokens_decoder"][str(4096 + 24)] = c["added_tokens_decoder"].pop(n)  # </think> one slot off
    r = check(_copy_with_config(tiny_vocab, tmp_path / "shift", shift))
    msgs = [f.message for f in r.by_check("special-token-layout") if f.severity == "error"]
    assert any("'</think>', expected" in m or "</think>" in m for m in msgs)
    ids = [f.message for f in r.by_check("special-token-ids") if f.severity == "error"]
    assert any("</think> encodes to [4120]" in m for m in ids)


def test_template_inside_the_folder_is_checked(tiny_vocab, tmp_path):
    d = tmp_path / "with-template"
    shutil.copytree(tiny_vocab, d)
    (d / "chat_template.jinja").write_text(GOOD.read_text(encoding="utf-8").replace("<|media_begin|>", "<|media_start|>"))
    r = check(d)
    assert not r.ok and severities(r, "template-unknown-token") == ["error"]


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        check(tmp_path / "missing.jinja")
    (tmp_path / "x.gguf").write_bytes(b"GGUF")
    with pytest.raises(InputError, match="too short for a GGUF header"):
        check(tmp_path / "x.gguf")


def _config_only(tiny_vocab, dst, edit=lambda c: None):
    d = _copy_with_config(tiny_vocab, dst, edit)
    (d / "tiktoken.model").unlink()  # a user who fetched only the small files
    return d


def test_config_only_runs_every_check_that_needs_no_ranks(tiny_vocab, tmp_path):
    d = _config_only(tiny_vocab, tmp_path / "config-only")
    (d / "chat_template.jinja").write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    r = check(d / "tokenizer_config.json")
    assert r.ok and r.kind == "hf-snapshot"
    assert severities(r, "eos-token") == ["info"] and severities(r, "special-token-layout") == ["info"]
    (skipped,) = r.by_check("special-token-ids")
    assert skipped.severity == "info" and skipped.message.startswith("skipped: ") and "tiktoken.model" in skipped.message
    assert r.by_check("template-renders") and r.by_check("default-system-prompt")  # the template checks ran


@pytest.mark.parametrize("edit,check_id,fragment", [
    (lambda c: c.update(eos_token="[EOS]"), "eos-token", "[EOS]"),
    (lambda c: c["added_tokens_decoder"][str(4096 + 22)].update(special=True), "special-token-layout",
     "<think> special=True, expected False"),
    (lambda c: c["added_tokens_decoder"].__setitem__(str(4096 + 24), c["added_tokens_decoder"].pop(str(4096 + 23))),
     "special-token-layout", "</think>"),
], ids=["old-eos", "flag", "shifted"])
def test_config_only_checks_can_fail(tiny_vocab, tmp_path, edit, check_id, fragment):
    r = check(_config_only(tiny_vocab, tmp_path / "c", edit))
    assert not r.ok and any(fragment in f.message for f in r.by_check(check_id) if f.severity == "error"), r.to_dict()


def test_a_folder_with_neither_file_is_still_refused(tmp_path):
    with pytest.raises(InputError, match="missing tiktoken.model"):
        check(tmp_path)
