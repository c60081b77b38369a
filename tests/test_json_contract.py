"""The README's JSON section is the contract: every command's --json document has exactly the keys it documents.

The documented shapes are read from README.md itself (the bullets of "JSON output (stable)"
and the ``plan --json`` / ``chat -p … --json`` paragraphs): the top-level keys of each
``{…}`` are the quoted names at depth one that stand where a key stands (after ``{``, ``,``
or ``|``). Each command then runs on small fixtures and its document is compared.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import ROOT, TEMPLATE
from tests.test_cli import run

README = (ROOT / "README.md").read_text(encoding="utf-8")


def top_keys(shape: str) -> set[str]:
    """The keys at depth one of a documented shape: ``'{"a", "b": {"c"}, "x"|"y": 1}' -> {a, b, x, y}``."""
    keys, depth, last, in_value = set(), 0, "", False
    for m in re.finditer(r'"[^"]*"|[{}\[\],|:]', shape):
        tok = m.group()
        if tok in "{[":
            depth += 1
        elif tok in "}]":
            depth -= 1
        elif depth == 1 and tok in ",:":
            in_value = tok == ":"  # after a colon, up to the next comma, quoted names are values
        elif tok.startswith('"') and depth == 1 and not in_value and last in ("{", ",", "|"):
            keys.add(tok.strip('"'))
        last = tok if not tok.startswith('"') else "str"
    return keys


def documented(command: str) -> set[str]:
    """The top-level keys the README documents for ``command`` (its first ``{…}`` shape after the name)."""
    start = README.index(f"`{command} --json`" if command not in ("chat", "plan") else
                         {"chat": "`chat -p … --json`:", "plan": "`plan --json`:"}[command])
    text = README[start:start + 1500].replace("`\n", "").replace("\n", " ")
    shape = text[text.index("`{", text.index(":")) + 1:]
    depth = 0
    for i, ch in enumerate(shape):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return top_keys(shape[:i + 1])
    raise AssertionError(f"no closed shape for {command}")


def test_the_reader_reads_shapes():
    shape = '{"a", "b": {"c", "d"}, "e": [{"f"}], "x"|"y": {"z"}, "g": "v"|"w", "h"}'
    assert top_keys(shape) == {"a", "b", "e", "x", "y", "g", "h"}


@pytest.fixture
def files(tmp_path, tiny_vocab):
    corpus = tmp_path / "few.txt"
    corpus.write_text("ChatGPT 中文English\nit's 12345 apples\n", encoding="utf-8")
    messages = tmp_path / "m.json"
    messages.write_text(json.dumps([{"role": "user", "content": "Hi"}]), encoding="utf-8")
    template = tmp_path / "t.jinja"
    template.write_text(TEMPLATE, encoding="utf-8")
    return {"corpus": str(corpus), "messages": str(messages), "template": str(template), "vocab": str(tiny_vocab)}


def _doc(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code in (0, 1), err
    return json.loads(out)


CASES = {
    "diff": lambda f, m: ["diff", "ChatGPT 中文English"],
    "scan": lambda f, m: ["scan", f["corpus"]],
    "verify": lambda f, m: ["verify", f["vocab"]],
    "render": lambda f, m: ["render", "--template", f["template"], "--messages", f["messages"]],
    "tokens": lambda f, m: ["tokens", f["vocab"]],
    "render-parity": lambda f, m: ["render-parity", f["template"], "--renderers", "hf,llama.cpp"],
    "gguf inspect": lambda f, m: ["gguf", "inspect", m],
    "fuzz": lambda f, m: ["fuzz", "--budget", "50"],
    "parity": lambda f, m: ["parity", "--engines", "regex,tokenizers", "--corpus", f["corpus"]],
    "token-parity": lambda f, m: ["token-parity", f["vocab"], "--corpus", f["corpus"], "--impls", "tiktoken,hf"],
    "plan": lambda f, m: ["plan", m, "--ram", "64GiB"],
    "chat": lambda f, m: ["chat", m, "-p", "Hi", "--max-tokens", "2", "--ctx", "256", "--instant"],
}


@pytest.mark.parametrize("command", list(CASES))
def test_each_command_prints_the_documented_keys(command, files, tiny_model, capsys):
    doc = _doc(capsys, *CASES[command](files, str(tiny_model)))
    want = documented(command)
    got = set(doc)
    assert got == want if command != "plan" else want <= got, (command, sorted(got ^ want))


def test_split_and_patch_documents(files, model, capsys):
    assert all(isinstance(p, str) for p in _doc(capsys, "split", "ChatGPT"))
    spans = _doc(capsys, "split", "--branches", "ChatGPT")
    assert {tuple(sorted(s)) for s in spans} == {("branch", "end", "start", "text")}
    patched = _doc(capsys, "gguf", "patch", str(model), "--set", "general.name=x", "--dry-run")
    assert [set(r) for r in patched] == [documented("gguf patch")]
    fixed = _doc(capsys, "gguf", "fix-kimi", str(model))  # the fixture is an old file: the fixes, then nothing to do
    assert [set(r) for r in fixed] == [documented("gguf patch")]
    assert _doc(capsys, "gguf", "fix-kimi", str(model)) == {"path": str(model), "already_fixed": True}
