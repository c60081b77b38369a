"""kimi-wb chat: one-shot JSON, the interactive loop over stdin, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_cli import run


def test_one_shot_json(tiny_model, capsys):
    code, out, err = run(capsys, "chat", str(tiny_model), "-p", "Hi", "--max-tokens", "5", "--seed", "1", "--json",
                         "--ctx", "512", "--instant")
    doc = json.loads(out)
    assert err.count("\n") == 1 and "reads no thinking switch: instant mode changes only the sampling" in err
    assert code == 0 and {"reasoning", "answer", "n_prompt_tokens", "n_generated_tokens",
                          "generation_tokens_per_s"} <= set(doc)
    assert doc["n_generated_tokens"] <= 5 and doc["n_prompt_tokens"] > 10 and doc["finish_reason"] in ("length", "stop")


def test_the_demo_model_says_what_it_is_and_thinks(demo_model, capsys):
    code, out, err = run(capsys, "chat", str(demo_model), "-p", "Hi", "--max-tokens", "100", "--seed", "3", "--ctx", "512")
    assert code == 0 and "demo model" in err and "random weights" in err and "switch" not in err
    reasoning, answer = out.split("[answer] ")
    assert reasoning.startswith("[reasoning] ") and reasoning[len("[reasoning] ")][0].isupper() and "<|" not in out
    assert answer.split("\n")[0].rstrip().endswith(".") and "stop)" in answer


def test_interactive_loop_keeps_the_conversation(tiny_model):
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "chat", str(tiny_model), "--max-tokens", "3", "--seed", "2",
                           "--ctx", "512"], input="Hi\n\nAgain\n/exit\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("tok/s") == 2 and "Ctrl-D to quit" in proc.stderr


def test_errors(capsys, tmp_path):
    code, _, err = run(capsys, "chat")
    assert code == 2 and "give a MODEL" in err
    code, _, err = run(capsys, "chat", str(tmp_path / "none.gguf"), "-p", "x")
    assert code == 2 and "no such model file" in err
    code, _, err = run(capsys, "chat", "--server", "http://127.0.0.1:9/v1", "-p", "x")
    assert code == 2 and "cannot reach" in err and err.count("\n") == 1


def test_reasoning_budget_and_preserve_thinking_flags(demo_model, capsys):
    code, out, err = run(capsys, "chat", str(demo_model), "-p", "Hi", "--max-tokens", "100", "--seed", "3", "--ctx",
                         "512", "--reasoning-budget", "0", "--json")
    reply = json.loads(out)
    assert code == 0 and reply["reasoning"] == "" and reply["answer"].strip()
    code, out, err = run(capsys, "chat", "--server", "http://127.0.0.1:9/v1", "-p", "Hi", "--reasoning-budget", "5")
    assert code == 2 and "--reasoning-budget is for a local model" in err
    code, out, err = run(capsys, "chat", str(demo_model), "-p", "Hi", "--reasoning-budget", "-1")
    assert code == 2 and "--reasoning-budget" in err
