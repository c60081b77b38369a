"""Mutated GGUFs through every reader and the writer: one-line errors or results, never a traceback or a death.

300 seeded mutants of the tiny Kimi-architecture model (``workbench.ggufio.mutate``: extreme
counts and lengths, retyped values, bit flips, truncations) go through ``inspect``,
``verify.check``, ``plan_memory``, ``check_compat`` and ``patch`` in this process, so a
llama.cpp abort that escaped its wall would take the test run down with it. A refused patch
must leave the bytes identical and nothing beside the file. A sample goes through the CLI.
"""

from __future__ import annotations

import collections
import faulthandler
import hashlib
import subprocess
import sys

import pytest

from workbench.errors import WorkbenchError
from workbench.ggufio import patch
from workbench.ggufio.inspect import inspect
from workbench.ggufio.mutate import FAMILIES, mutants
from workbench.run.compat import check_compat
from workbench.run.planner import plan_memory
from workbench.verify import check

N_MUTANTS = 300
EOS_KEY = "tokenizer.ggml.eos_token_id"


@pytest.fixture(autouse=True)
def _watchdog():
    """A backstop against a hang: dump every thread's stack and exit rather than block CI forever."""
    faulthandler.dump_traceback_later(1800, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _steps(path, eos):
    return {
        "inspect": lambda: inspect(path),
        "verify": lambda: check(path),
        "plan": lambda: plan_memory(path, "cpu-only", n_ctx=512, vram=0, ram="64GiB"),
        "compat": lambda: check_compat(path),
        "patch": lambda: patch(path, {EOS_KEY: eos}, progress=False),
    }


def test_three_hundred_mutants_through_the_api(tiny_model, tmp_path):
    eos = inspect(tiny_model).tokenizer()["bos"]["id"]  # a value that differs from the file's EOS
    outcomes: collections.Counter = collections.Counter()
    families: collections.Counter = collections.Counter()
    failures = []
    folder = tmp_path / "m"
    folder.mkdir()
    for m in mutants(tiny_model, n=N_MUTANTS, seed=12):
        families[m.family] += 1
        path = m.write(folder / "mutant.gguf")
        for step, run in _steps(path, eos).items():
            before = hashlib.sha256(path.read_bytes()).digest() if step == "patch" else None
            try:
                run()
                outcomes[(step, "ok")] += 1
            except WorkbenchError as e:
                outcomes[(step, "refused")] += 1
                if "\n" in str(e) or not str(e):
                    failures.append(f"{m.name}: {step}: not one line: {str(e)[:300]!r}")
                if step == "patch" and hashlib.sha256(path.read_bytes()).digest() != before:
                    failures.append(f"{m.name}: a refused patch changed the file")
            except BaseException as e:  # anything else is what this test looks for
                failures.append(f"{m.name}: {step}: {type(e).__name__}: {str(e)[:200]}")
            if step == "patch":
                litter = sorted(p.name for p in folder.iterdir() if p.name != "mutant.gguf")
                if litter:
                    failures.append(f"{m.name}: left {litter}")
        path.unlink()
    assert not failures, "\n".join(failures[:20])
    assert set(families) == set(FAMILIES) and sum(families.values()) == N_MUTANTS
    # the mutants reach past the header checks: some are read and patched, most are refused
    for step in ("inspect", "patch"):
        assert outcomes[(step, "ok")] > 0 and outcomes[(step, "refused")] > N_MUTANTS // 2, outcomes


def test_a_sample_through_the_cli(tiny_model, tmp_path):
    eos = inspect(tiny_model).tokenizer()["bos"]["id"]
    commands = [["gguf", "inspect"], ["verify"], ["plan", "--ram", "64GiB"],
                ["gguf", "patch", "--set", f"{EOS_KEY}={eos}"]]
    seen = collections.Counter()
    for i, m in enumerate(mutants(tiny_model, n=24, seed=5)):
        path = m.write(tmp_path / f"mutant-{i}.gguf")
        for argv in commands:
            argv = [*argv[:2], str(path), *argv[2:]] if argv[0] == "gguf" else [argv[0], str(path), *argv[1:]]
            proc = subprocess.run([sys.executable, "-m", "workbench.cli", *argv], capture_output=True, text=True,
                                  timeout=600)
            seen[proc.returncode] += 1
            assert proc.returncode in (0, 1, 2), (m.name, argv, proc.returncode, proc.stderr[-1000:])
            assert "Traceback" not in proc.stderr, (m.name, argv, proc.stderr[-2000:])
            if proc.returncode == 2:
                lines = proc.stderr.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("kimi-wb: error: "), (m.name, argv, proc.stderr)
    assert seen[2] > 0 and seen[0] > 0, seen
