"""GGUF metadata speed: inspect and in-place patch at real Kimi scale, in-place vs rewrite on a real file.

1. Builds a Kimi K2-shaped file (the real tensor table, ``--recipe`` quant mix, ~380 GB for
   UD-Q2_K_XL) whose tensor data is a sparse hole, in ``--dir`` (default
   ``artifacts/bench/gguf``); times ``inspect`` (headers only) and an in-place EOS patch
   (with the llama.cpp ``vocab_only`` check switched off and on), and checks the file's
   allocated bytes did not grow (it is still sparse).
2. Writes a real ``--real-gb`` GB GGUF (random F16 tensors, every byte on disk) and times an
   in-place patch against a rewrite (a longer ``general.name``), printing the ratio.

Each timing is the best of ``--repeat``. Run from the repository root::

    .venv/bin/python benchmarks/gguf_bench.py [--real-gb 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from timing import best_of


def real_file(path: Path, gb: float) -> Path:
    import gguf

    from workbench.tokenizer import build_vocab, load
    from workbench.tokenizer.gguf_vocab import add_tokenizer

    assets = load(build_vocab(path.parent / "vocab"))
    w = gguf.GGUFWriter(path, arch="deepseek2")
    w.add_name("bench")
    w.add_vocab_size(assets.vocab_size)
    add_tokenizer(w, assets, eos="[EOS]")
    rng = np.random.default_rng(0)
    per = 256 << 20  # bytes per tensor
    n = max(1, int(gb * 1e9) // per)
    for i in range(n):
        w.add_tensor_info(f"blk.{i}.ffn_up_exps.weight", (per // 2 // 4096, 4096), np.dtype(np.float16), per)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for _ in range(n):
        w.write_tensor_data(rng.standard_normal(per // 2, dtype=np.float32).astype(np.float16).reshape(-1, 4096))
    w.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="artifacts/bench/gguf")
    ap.add_argument("--recipe", default="UD-Q2_K_XL")
    ap.add_argument("--real-gb", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from workbench.ggufio import patch
    from workbench.ggufio.inspect import inspect
    from workbench.models.sparse import allocated_bytes, write_kimi_shaped

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)

    t = time.perf_counter()
    (big,) = write_kimi_shaped(root / f"Kimi-K2-{args.recipe}.gguf", recipe=args.recipe, old=True)
    built = time.perf_counter() - t
    size, alloc = big.stat().st_size, allocated_bytes(big)
    print(f"Kimi-shaped {args.recipe}: {size / 1e9:,.1f} GB apparent, {alloc / 2**20:,.1f} MiB allocated, built in {built:.1f} s")
    info = inspect(big)
    im_end = info.array("tokenizer.ggml.tokens").index("<|im_end|>")
    old_eos = info.value("tokenizer.ggml.eos_token_id")
    print(f"  inspect (headers of {len(info.tensors):,} tensors): {best_of(lambda: inspect(big), args.repeat) * 1e3:,.0f} ms")
    values = [im_end, old_eos]  # every timed call changes the value: no call is a no-op

    def flip(**kw):
        values.reverse()
        patch(big, {"tokenizer.ggml.eos_token_id": values[1]}, progress=False, **kw)

    fast = best_of(lambda: flip(llama_check=False), args.repeat)
    print(f"  in-place EOS patch, header re-read only: {fast * 1e3:,.0f} ms")
    full = best_of(flip, args.repeat)
    print(f"  in-place EOS patch with the llama.cpp vocab_only check: {full * 1e3:,.0f} ms")
    after = allocated_bytes(big)
    print(f"  allocated after patching: {after / 2**20:,.1f} MiB ({'unchanged' if after == alloc else 'CHANGED'}); "
          f"apparent size {'unchanged' if big.stat().st_size == size else 'CHANGED'}")
    big.unlink()

    real = real_file(root / "real.gguf", args.real_gb)
    print(f"real file: {real.stat().st_size / 1e9:,.2f} GB")
    names = iter(["benca", "bench"] * args.repeat)  # same length as "bench": in place
    in_place = best_of(lambda: patch(real, {"general.name": next(names)}, llama_check=False, progress=False), args.repeat)
    lengths = iter(range(6, 6 + args.repeat))
    rewrite = best_of(lambda: patch(real, {"general.name": "b" * next(lengths)}, llama_check=False, progress=False),
                   args.repeat)
    print(f"  in-place patch: {in_place * 1e3:,.1f} ms · rewrite (stream, fsync, re-hash): {rewrite:,.2f} s · "
          f"ratio {rewrite / in_place:,.0f}x")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
