"""kimi-wb through its entry point: output modes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CORPUS
from workbench.cli import main
from workbench.pretok.show import show_pieces

BIN = Path(sys.executable).parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_split_json_is_an_array_of_strings(capsys):
    code, out, _ = run(capsys, "split", "--json", "ChatGPT 中文English")
    assert code == 0 and json.loads(out) == ["Chat", "GPT", " ", "中文", "English"]


def test_split_json_with_branches(capsys):
    code, out, _ = run(capsys, "split", "--json", "--branches", "--scheme", "o200k", "a 1")
    assert json.loads(out) == [
        {"text": "a", "start": 0, "end": 1, "branch": "word"},
        {"text": " ", "start": 1, "end": 2, "branch": "space_rest"},
        {"text": "1", "start": 2, "end": 3, "branch": "digits"},
    ]


def test_split_human_output_delimits_pieces(capsys):
    code, out, err = run(capsys, "split", "--engine", "tokenizers", "a\tb\n")
    assert code == 0 and out.strip() == "│a│\\tb│\\n│"
    assert "3 pieces" in err


def test_split_reads_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"12345")))
    code, out, _ = run(capsys, "split", "--json", "-")
    assert json.loads(out) == ["123", "45"]


def test_split_empty_input(capsys):
    code, out, _ = run(capsys, "split", "--json", "")
    assert code == 0 and json.loads(out) == []


def test_diff_json(capsys):
    code, out, _ = run(capsys, "diff", "--json", "--a", "kimi-k2", "--b", "o200k", "x 中y")
    doc = json.loads(out)
    assert code == 0 and doc["a"] == "kimi-k2" and doc["b"] == "o200k"
    assert [(d["text"], d["a"], d["b"], d["cause"]) for d in doc["divergences"]] == [
        (" 中y", [" ", "中", "y"], [" 中y"], "han")
    ]


def test_diff_human(capsys):
    code, out, _ = run(capsys, "diff", "--a", "kimi-k2", "--b", "o200k", "*/\n/x")
    assert code == 0 and "slash-tail" in out and "│*/\\n│/x│" in out


def test_scan_json_and_human(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("我用Python写代码 12345\nplain line\n", encoding="utf-8")
    code, out, _ = run(capsys, "scan", "--json", "--a", "kimi-k2", "--b", "o200k", str(f))
    doc = json.loads(out)
    assert code == 0 and doc["lines"] == 2 and doc["diverging_lines"] == 1
    assert doc["a"]["digit_groups"] == {"3": 1, "2": 1} and doc["causes"] == {"han": 1}
    code, out, _ = run(capsys, "scan", str(f))
    assert code == 0 and "lines split differently: 1 (50.0%)" in out


def test_fuzz_json_is_deterministic(capsys):
    _, first, _ = run(capsys, "fuzz", "--json", "--budget", "200", "--seed", "4")
    _, second, _ = run(capsys, "fuzz", "--json", "--budget", "200", "--seed", "4")
    doc = json.loads(first)
    assert first == second and doc["tried"] == 200 and "han" in doc["groups"]


def test_schemes_lists_patterns(capsys):
    code, out, _ = run(capsys, "schemes", "--json")
    doc = json.loads(out)
    assert set(doc["schemes"]) == {"kimi-k2", "o200k", "cl100k"}
    assert set(doc["engines"]) == {"regex", "tokenizers", "llama.cpp", "gigatoken", "tiktoken"}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["split", "--scheme", "gpt5", "x"], "kimi-wb: error: unknown scheme 'gpt5'; valid: kimi-k2, o200k, cl100k"),
        (["split", "--engine", "pcre", "x"],
         "kimi-wb: error: unknown engine 'pcre'; valid: regex, tokenizers, llama.cpp, gigatoken, tiktoken"),
        (["diff", "--b", "nope", "x"], "kimi-wb: error: unknown scheme 'nope'; valid: kimi-k2, o200k, cl100k"),
        (["scan", "/no/such/file.txt"], "kimi-wb: error: /no/such/file.txt: no such file"),
        (["fuzz", "--engine-a", "x"],
         "kimi-wb: error: unknown engine 'x'; valid: regex, tokenizers, llama.cpp, gigatoken, tiktoken"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err == message + "\n"


def test_undecodable_file_names_byte_offset_and_replace_works(tmp_path, capsys):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"caf\xc3\xa9 ok \xff tail\n")
    code, _, err = run(capsys, "scan", str(f))
    assert code == 2 and f"{f}: not valid UTF-8 at byte 9" in err and "--errors replace" in err
    code, out, _ = run(capsys, "scan", "--json", "--errors", "replace", str(f))
    assert code == 0 and json.loads(out)["chars"] == len("café ok \ufffd tail\n")


def test_directory_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "scan", str(tmp_path))
    assert code == 2 and "not a regular file" in err


def test_console_script_no_traceback():
    """The installed `kimi-wb` entry point: exit 2, one line, no traceback."""
    exe = BIN / "kimi-wb"
    assert exe.exists(), "kimi-wb console script not installed in this environment"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    ok = subprocess.run([exe, "split", "--json", "中文abc"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout) == ["中文", "abc"]
    bad = subprocess.run([exe, "split", "--scheme", "x", "y"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_show_pieces_colour_mode():
    s = show_pieces(["a", "b"], colour=True)
    assert "\x1b[" in s and s.count("\x1b[0m") == 2


def test_build_vocab_and_tokens(tmp_path, capsys):
    out = tmp_path / "v"
    code, stdout, _ = run(capsys, "build-vocab", "--json", "--vocab-size", "1000", str(out))
    doc = json.loads(stdout)
    assert code == 0 and doc["n_ranks"] == 1000 and doc["vocab_size"] == 1256 and doc["eos"] == "<|im_end|>"
    code, stdout, _ = run(capsys, "tokens", "--json", str(out / "tokenizer_config.json"))
    doc = json.loads(stdout)
    assert doc["eos"] == {"content": "<|im_end|>", "id": 1002} and doc["bos"] == {"content": "[BOS]", "id": 1000}
    assert {"id": 1023, "content": "</think>", "special": False} in doc["tokens"] and len(doc["tokens"]) == 23
    code, stdout, _ = run(capsys, "tokens", str(out))
    assert code == 0 and "<|im_end|>" in stdout and "eos" in stdout


def test_tokens_and_verify_on_a_gguf(tiny_vocab, tmp_path, capsys):
    from workbench.tokenizer import load
    from workbench.tokenizer.gguf_vocab import write_vocab_gguf

    assets = load(tiny_vocab)
    path = write_vocab_gguf(assets, tmp_path / "old.gguf", eos="[EOS]", control_all=True)
    code, stdout, _ = run(capsys, "tokens", "--json", str(path))
    doc = json.loads(stdout)
    n = assets.n_ranks
    assert code == 0 and doc["source"] == "gguf" and doc["eos"] == {"content": "[EOS]", "id": n + 1}
    assert {"id": n + 23, "content": "</think>", "special": True, "type": "CONTROL"} in doc["tokens"]
    code, stdout, _ = run(capsys, "verify", str(path))
    assert code == 1 and f"eos_token_id to {n + 2}" in stdout


def test_tokens_on_a_bad_folder(tmp_path, capsys):
    code, out, err = run(capsys, "tokens", str(tmp_path))
    assert code == 2 and err == f"kimi-wb: error: {tmp_path}: missing tiktoken.model (the BPE ranks)\n"


GOOD_TEMPLATE = Path(__file__).parents[1] / "workbench" / "chat" / "templates" / "kimi-k2.jinja"


def test_verify_exit_codes(tmp_path, capsys):
    code, out, _ = run(capsys, "verify", str(GOOD_TEMPLATE))
    assert code == 0 and "ok" in out.splitlines()[0]
    bad = tmp_path / "bad.jinja"
    bad.write_text(GOOD_TEMPLATE.read_text().replace("<|media_begin|>", "<|media_start|>"))
    code, out, _ = run(capsys, "verify", "--json", str(bad))
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert {"check": "template-unknown-token", "severity": "error"}.items() <= next(
        f for f in doc["findings"] if f["check"] == "template-unknown-token").items()


def test_render_cli(tmp_path, capsys):
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps([{"role": "user", "content": "Hi"}]))
    code, out, _ = run(capsys, "render", "--template", str(GOOD_TEMPLATE), "--messages", str(msgs), "--instant")
    assert code == 0 and out.endswith("<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|>\n")
    code, out, _ = run(capsys, "render", "--json", "--renderer", "llama.cpp", "--template", str(GOOD_TEMPLATE),
                       "--messages", str(msgs))
    assert code == 0
    assert json.loads(out)["text"] == "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|>"


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda d: (d / "m.json").write_text("[{"), "malformed JSON at line 1"),
        (lambda d: (d / "m.json").write_text('{"role": "user"}'), "expected a JSON array of message objects"),
    ],
)
def test_render_bad_messages(tmp_path, capsys, setup, message):
    setup(tmp_path)
    code, _, err = run(capsys, "render", "--template", str(GOOD_TEMPLATE), "--messages", str(tmp_path / "m.json"))
    assert code == 2 and message in err and err.count("\n") == 1


def test_render_limitation_is_a_user_error(tmp_path, capsys):
    msgs = tmp_path / "m.json"
    msgs.write_text(json.dumps([{"role": "user", "content": "Hi"}]))
    tools = tmp_path / "t.json"
    tools.write_text(json.dumps([{"type": "function", "function": {"name": "f"}}]))
    code, _, err = run(capsys, "render", "--renderer", "llama.cpp", "--template", str(GOOD_TEMPLATE),
                       "--messages", str(msgs), "--tools", str(tools))
    assert code == 2 and "take no tools" in err


def test_render_parity_cli(tiny_vocab, tmp_path, capsys):
    from workbench.tokenizer import load
    from workbench.tokenizer.gguf_vocab import write_vocab_gguf

    path = write_vocab_gguf(load(tiny_vocab), tmp_path / "v.gguf", chat_template=GOOD_TEMPLATE.read_text())
    code, out, _ = run(capsys, "render-parity", "--json", str(path))
    doc = json.loads(out)
    single = {c["renderer"]: c for c in doc["cells"] if c["case"] == "single-turn"}
    assert code == 0 and single["llama-cpp-python"]["status"] == "equal" and single["llama.cpp"]["status"] == "differs"
    assert "<|im_system|>" in single["llama.cpp"]["id_diff"]
    code, out, _ = run(capsys, "render-parity", str(GOOD_TEMPLATE), "--renderers", "llama.cpp")
    assert code == 0 and "single-turn / llama.cpp differs from hf" in out and "unsupported" in out
    code, _, err = run(capsys, "render-parity", str(GOOD_TEMPLATE), "--renderers", "vllm")
    assert code == 2 and "unknown renderer 'vllm'" in err


def test_parity_json_and_text(capsys):
    code, out, _ = run(capsys, "parity", "--engines", "regex,llama.cpp", "--fuzz", "60", "--seed", "2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["engines"] == ["regex", "llama.cpp"] and doc["texts"] == {"corpus": 0, "fuzz": 60}
    pair = doc["pairs"]["regex|llama.cpp"]
    assert pair["differing"] > 0 and sum(pair["causes"].values()) >= pair["differing"]
    assert all(set(x) >= {"text", "a", "b", "cause"} for xs in pair["examples"].values() for x in xs)
    code, out, _ = run(capsys, "parity", "--engines", "regex,tokenizers", "--corpus", str(CORPUS / "en.txt"))
    assert code == 0 and "share of texts cut differently" in out and "0.00%" in out


def test_parity_and_token_parity_errors(capsys, tmp_path):
    code, _, err = run(capsys, "parity", "--engines", "regex")
    assert code == 2 and err.count("\n") == 1 and "at least two engines" in err
    code, _, err = run(capsys, "token-parity", str(tmp_path / "missing"))
    assert code == 2 and err.count("\n") == 1


def test_token_parity_json(capsys, tiny_vocab):
    code, out, _ = run(capsys, "token-parity", str(tiny_vocab), "--corpus", str(CORPUS / "rtl.txt"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["reference"] == "tiktoken" and doc["impls"] == ["tiktoken", "hf", "llama.cpp"]
    pairs = {(p["a"], p["b"]): p for p in doc["pairs"]}
    assert pairs["tiktoken", "hf"]["differ"] == 0
    assert pairs["tiktoken", "llama.cpp"]["differ"] > 0 and set(pairs["tiktoken", "llama.cpp"]["causes"]) == {"pre-tokenization"}


def test_build_llama_server_finds_the_cached_binary(capsys, llama_server_binary, monkeypatch):
    from workbench.run import llama_server

    monkeypatch.setattr(llama_server, "cached_binary", lambda name="llama-server": llama_server_binary)  # every target
    code, out, _ = run(capsys, "build-llama-server", "--json")
    assert code == 0 and json.loads(out)["path"] == str(llama_server_binary)


def test_version_and_the_subcommands_own_usage(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("kimi-wb 0.1.0 (llama-cpp-python ")
    code, _, err = run(capsys, "split", "--bogus", "x")
    assert code == 2 and err.startswith("usage: kimi-wb split ") and "unrecognized arguments: --bogus" in err


@pytest.mark.parametrize("argv,message", [
    (["chat", "m.gguf", "--max-tokens", "-3"], "argument --max-tokens: must be at least 1, got -3"),
    (["plan", "m.gguf", "--ctx", "0"], "argument --ctx: must be at least 1, got 0"),
    (["plan", "m.gguf", "--ngl", "-1"], "argument --ngl: must be at least 0, got -1"),
    (["plan", "m.gguf", "--ram", "12XB"], "argument --ram: cannot read size '12XB'"),
    (["fuzz", "--budget", "zero"], "argument --budget: expected an integer, got 'zero'"),
    (["gguf", "patch", "m.gguf", "--wait", "-1"], "argument --wait: must be 0 or more, got -1"),
])
def test_ranges_are_checked_before_anything_runs(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.startswith(f"usage: kimi-wb {argv[0]}")


def test_split_without_text_on_a_terminal_prints_usage(capsys, monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    code, _, err = run(capsys, "split")
    assert code == 2 and "usage: kimi-wb split" in err and "give TEXT, or '-'" in err
