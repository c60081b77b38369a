"""Planning before the download: remote header reads and the planner against llama.cpp's own accounting.

Builds the 377 GB Kimi K2-shaped UD-Q2_K_XL set (8 files; real headers, tensor data a sparse hole) in
``--dir`` (default ``artifacts/bench/remote``), serves it on loopback with uvicorn + Starlette's
``StaticFiles`` (which honours HTTP Range), and prints:

1. a remote plan, cold (empty header cache): wall time, bytes and requests over the wire, share of the set;
2. the same plan from the header cache;
3. the same plan from the local files;
4. ``llama-fit-params --fit-print`` (llama.cpp's ``no_alloc`` load + context + graph reservation) on the
   same set, against ``inspect`` + ``plan_memory``.

Each timing is the best of ``--repeat`` (the cold one empties the cache before each run). Run from the
repository root::

    .venv/bin/python benchmarks/remote_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from timing import best_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="artifacts/bench/remote")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ctx", type=int, default=98304)
    args = ap.parse_args()

    from tests.ggufio.test_remote import serve
    from workbench.ggufio import inspect
    from workbench.models.sparse import write_kimi_shaped
    from workbench.run.accounting import find_fit_params, llama_accounting
    from workbench.run.planner import plan_memory

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted(folder.glob("Kimi-K2-Instruct-UD-Q2_K_XL-*.gguf"))
    if len(files) != 8:
        for f in files:
            f.unlink()
        files = write_kimi_shaped(folder / "Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8)
    total = sum(f.stat().st_size for f in files)
    machine = {"vram": "24GiB", "ram": "512GiB", "disk": "1TB", "n_ctx": args.ctx}
    fit_params = find_fit_params()
    cache = Path(tempfile.mkdtemp(prefix="kimi-wb-bench-headers-"))
    os.environ["KIMI_WB_HEADER_CACHE"] = str(cache)
    print(f"set: {len(files)} files, {total / 1e9:.1f} GB apparent")

    with serve(folder) as base:
        url = f"{base}/{files[3].name}"
        seen = {}

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            info = inspect(url)
            plan_memory(info, "experts-cpu", **machine)
            seen["t"] = info.transfer

        t_cold = best_of(cold, args.repeat)
        t = seen["t"]
        print(f"remote plan, cold:   {t_cold * 1000:7.0f} ms  {t.bytes:,} bytes in {t.requests} range requests "
              f"({t.bytes / total:.4%} of the set)")
        t_cached = best_of(lambda: plan_memory(inspect(url), "experts-cpu", **machine), args.repeat)
        print(f"remote plan, cached: {t_cached * 1000:7.0f} ms  0 bytes over the wire")
    t_local = best_of(lambda: plan_memory(inspect(files[0]), "experts-cpu", **machine), args.repeat)
    print(f"local plan:          {t_local * 1000:7.0f} ms")

    if fit_params is None:
        print("llama-fit-params: not built (kimi-wb build-llama-server builds it); skipped")
    else:
        cpu = {"vram": 0, "ram": "2TiB", "disk": "1TB", "n_ctx": args.ctx, "recommend": False}
        t_fit = best_of(lambda: llama_accounting(files[0], n_ctx=args.ctx), args.repeat)
        t_plan = best_of(lambda: plan_memory(inspect(files[0]), "cpu-only", **cpu), args.repeat)
        host = llama_accounting(files[0], n_ctx=args.ctx)["Host"]
        plan = plan_memory(inspect(files[0]), "cpu-only", **cpu)
        print(f"llama-fit-params (no_alloc load + context): {t_fit * 1000:6.0f} ms; inspect + plan_memory: "
              f"{t_plan * 1000:5.0f} ms ({t_fit / t_plan:.1f}x)")
        mib = 1 << 20
        print(f"  MiB at context {args.ctx:,}: weights {plan.weights_bytes['CPU'] / mib:,.1f} / {host.model / mib:,.0f}, "
              f"KV {plan.kv_by_device['CPU'] / mib:,.1f} / {host.context / mib:,.0f}, compute "
              f"{plan.compute_bytes['CPU'] / mib:,.1f} / {host.compute / mib:,.0f} (planner / llama.cpp)")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
