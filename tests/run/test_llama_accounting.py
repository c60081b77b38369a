"""The planner against llama.cpp's own accounting, on the 377 GB Kimi-shaped set (real header, sparse data).

``llama-fit-params --fit-print`` loads the set with ``no_alloc``, makes a ``no_alloc`` context and reserves
the compute graph: the buffers ``llama-server`` would allocate. On this CPU-only machine it shows the host
side; weights and KV must agree to the MiB it prints (the issue asks for 1%), compute must never be planned
under llama.cpp's reservation and at most 10% over it. The GPU side needs a GPU (see the README).
"""

from __future__ import annotations

import pytest

from workbench.ggufio.inspect import inspect
from workbench.models.sparse import write_kimi_shaped
from workbench.run.accounting import MIB, find_fit_params, llama_accounting
from workbench.run.planner import plan_memory

pytestmark = pytest.mark.skipif(find_fit_params() is None, reason="no llama-fit-params: `make test` (or "
                                "`kimi-wb build-llama-server`) builds it beside llama-server")

#: (context, micro-batch): short and long contexts, small and large micro-batches
GRID = [(4096, 128), (4096, 512), (32768, 512), (98304, 128), (98304, 512), (98304, 2048)]


@pytest.fixture(scope="module")
def kimi_set(tmp_path_factory):
    return write_kimi_shaped(tmp_path_factory.mktemp("set") / "Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8)


@pytest.mark.parametrize(("n_ctx", "n_ubatch"), GRID)
def test_planned_bytes_match_llama_cpp_on_the_cpu(kimi_set, n_ctx, n_ubatch):
    llama = llama_accounting(kimi_set[0], n_ctx=n_ctx, n_ubatch=n_ubatch)["Host"]
    plan = plan_memory(inspect(kimi_set[0]), "cpu-only", n_ctx=n_ctx, n_ubatch=n_ubatch, vram=0, ram="2TiB",
                       disk="1TB", recommend=False)
    weights, kv, compute = plan.weights_bytes["CPU"], plan.kv_by_device["CPU"], plan.compute_bytes["CPU"]
    assert 0 <= weights - llama.model < MIB, (weights / MIB, llama.model / MIB)  # llama.cpp truncates to whole MiB
    assert 0 <= kv - llama.context < MIB, (kv / MIB, llama.context / MIB)
    assert llama.compute <= compute <= 1.10 * llama.compute + MIB, (compute / MIB, llama.compute / MIB)


def test_the_no_alloc_model_size_is_the_planned_weight_total(kimi_set):
    """llama-cpp-python's ``llama_model_params.no_alloc`` load: the same bytes from the bindings' side."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_default_params()
    params.no_alloc = True
    params.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE  # llama.cpp asserts on no_alloc with mmap'ed buffers
    params.n_gpu_layers = 0
    with suppress_stdout_stderr(disable=False):
        model = llama_cpp.llama_model_load_from_file(str(kimi_set[0]).encode(), params)
    assert model
    try:
        size = llama_cpp.llama_model_size(model)
    finally:
        llama_cpp.llama_model_free(model)
    plan = plan_memory(inspect(kimi_set[0]), "cpu-only", vram=0, ram="2TiB", disk="1TB", recommend=False)
    assert size == plan.weights_bytes["CPU"]


def test_a_missing_file_is_one_line(tmp_path):
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError) as e:
        llama_accounting(tmp_path / "nope.gguf", n_ctx=512)
    assert "llama-fit-params failed" in str(e.value) and "\n" not in str(e.value)
