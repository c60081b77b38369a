"""Notebooks run headless, top to bottom, and are committed without outputs."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


#: what each notebook's outputs must show: the story it tells actually happened
EXPECTED = {
    # the corpus scan ran and found the Han divergences the notebook talks about
    "01_pretokenizer": ["split differently", "han", "slash-tail"],
    # the engine matrix with llama.cpp apart, its minimal examples, and the token-id cost by cause
    "03_parity": ["share of texts cut differently", "regex vs llama.cpp", "Unicode (measured)",
                  "tiktoken / llama.cpp", "pre-tokenization"],
    # the EOS error with its fix, </think> lost by llama.cpp's plain decode, a parity table, the playground
    "02_tokens_and_templates": ["Fix: set", "eos_token_id to 4098", "</think> plain: ''",
                                "llama.cpp stops on:", "differs", "unsupported", "TemplatePlayground"],
    # the old split set was fixed in place, llama.cpp stopped on <|im_end|>, restore undid it, the big file stayed sparse
    "04_gguf_patch": ["[in-place]", "llama.cpp EOS = 4098", "finish_reason: stop", "'content': '[EOS]'",
                      "routed-experts", "still"],
    # the planner table and chart, a recommendation with its command, the app loaded the tiny model and replied
    "05_offload_and_chat": ["cannot-run", "fits", "--n-cpu-moe", "llama-server -m", "ready", "generation_tokens_per_s"],
}


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = json.dumps([c.outputs for c in nb.cells if c.cell_type == "code"], ensure_ascii=False)
    missing = [s for s in EXPECTED[path.stem] if s not in text]
    assert not missing, missing
