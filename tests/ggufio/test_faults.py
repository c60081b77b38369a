"""Fault injection: a patch killed (SIGKILL) at any point leaves the original or the new file, never a broken one.

Each case runs the patch in a child process that kills itself at one point of the sequence
(journal written, between two overwrites, after the overwrites, mid-copy of a rewrite, after
the rename). Afterwards the file must equal the original or the fully patched bytes and read
as a GGUF; ``recover`` (which every patch and restore runs first) must leave the original or
the new file and no litter.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import gguf
import pytest

from tests.helpers import TEMPLATE
from workbench.ggufio import patch, recover

EOS_KEY = "tokenizer.ggml.eos_token_id"

KILL = """
import os, signal, sys
from workbench.ggufio import journal, patching, rewrite
m = patching
calls = {"n": 0}
def wrap(name, nth):
    module = next(mod for mod in (journal, rewrite, patching) if hasattr(mod, name))  # the module whose code calls it
    real = getattr(module, name)
    def killer(*a, **k):
        calls["n"] += 1
        if calls["n"] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)
    setattr(module, name, killer)
"""

# (point, function to wrap, call number at which to die, values)
IN_PLACE = {"tokenizer.ggml.eos_token_id": "EOS", "tokenizer.ggml.add_bos_token": True}
CASES = [
    ("journal-written-before-any-overwrite", "pwrite_all", 1, IN_PLACE),
    ("between-two-overwrites", "pwrite_all", 2, IN_PLACE),
    ("after-overwrites-before-verification", "confirm_values", 1, IN_PLACE),
    ("while-writing-the-journal", "fsync_dir", 1, IN_PLACE),
    ("mid-copy-of-a-rewrite", "copy_chunk", 3, {"general.name": "a longer name than the fixture had"}),
    ("after-the-rename-before-llama-check", "confirm_llama", 1, {"general.name": "a longer name than the fixture had"}),
]


@pytest.mark.parametrize("point,func,nth,values", CASES, ids=[c[0] for c in CASES])
def test_killed_patch_leaves_original_or_new(model, assets, tmp_path, point, func, nth, values):
    values = {k: (assets.n_ranks + 2 if v == "EOS" else v) for k, v in values.items()}
    original = model.read_bytes()
    expected = tmp_path / "expected.gguf"
    shutil.copy(model, expected)
    patch(expected, values, progress=False, llama_check=False)
    new = expected.read_bytes()
    expected.unlink()

    script = KILL + textwrap.dedent(f"""
        wrap({func!r}, {nth})
        rewrite.CHUNK = 1024  # several chunks even for a small file
        m.patch({str(model)!r}, {values!r}, progress=False)
        sys.exit(3)  # not reached: the kill point must be hit
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-2000:])

    on_disk = model.read_bytes()
    assert on_disk in (original, new) or (model.parent / (model.name + ".wb-journal")).exists(), point
    recover(model)
    final = model.read_bytes()
    assert final in (original, new), point
    gguf.GGUFReader(model)  # a valid GGUF
    assert sorted(p.name for p in model.parent.iterdir()) == [model.name]  # no journal, temp or link left
    if final == original:  # and a fresh patch still works
        patch(model, values, progress=False)
        assert model.read_bytes() == new


def test_template_rewrite_killed_mid_copy(model, tmp_path):
    original = model.read_bytes()
    script = KILL + textwrap.dedent(f"""
        wrap("copy_chunk", 2)
        rewrite.CHUNK = 512
        m.patch({str(model)!r}, {{"tokenizer.chat_template": {TEMPLATE + "{# more #}" * 50!r}}}, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert model.read_bytes() == original  # a rewrite only ever renames a complete file
    assert recover(model) is False and sorted(p.name for p in model.parent.iterdir()) == [model.name]
