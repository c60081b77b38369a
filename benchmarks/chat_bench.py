"""Chat throughput and planner time.

1. Generation tokens/s of the workbench's streaming chat (``LocalChat.stream``: template,
   special-token detokenization, the incremental reply parser) against raw llama-cpp-python
   (``Llama.create_completion(stream=True)``) on the same generated Kimi-architecture model,
   same sampling (instant preset), same number of tokens (``<|im_end|>`` biased away so both
   run to ``--tokens``). Best of ``--repeat``; the ratio should be >= 0.95.
2. ``plan_memory`` on a Kimi K2-shaped 1T header (UD-Q2_K_XL, sparse): one plan, and one plan
   with the least-CPU-offload recommendation search.

Run from the repository root::

    .venv/bin/python benchmarks/chat_bench.py [--tokens 256] [--repeat 3] [--width 512]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from timing import best_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="artifacts/bench/chat")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--experts", type=int, default=16)
    args = ap.parse_args()

    from workbench.ggufio.inspect import inspect
    from workbench.models.sparse import write_kimi_shaped
    from workbench.models.tiny import make_tiny_model
    from workbench.run.chat import PRESETS, LocalChat
    from workbench.run.loader import load_model
    from workbench.run.offload import preset
    from workbench.run.planner import plan_memory

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (path,) = make_tiny_model(root / "Kimi-K2-Bench.gguf", layers=args.layers, experts=args.experts, experts_used=4,
                              width=args.width)
    print(f"model: {path.stat().st_size / 2**20:.1f} MiB ({args.layers} blocks, {args.experts} experts, width {args.width})")
    loaded = load_model(path, preset("cpu-only"), n_ctx=args.tokens + 128)
    chat = LocalChat(loaded)
    llm = loaded.llm
    im_end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]
    messages = [{"role": "user", "content": "Write a long story."}]
    s = PRESETS["instant"]

    def ours():
        reply = chat.reply(messages, mode="instant", max_tokens=args.tokens, seed=1, logit_bias={im_end: -100.0})
        assert reply.n_generated_tokens == args.tokens, reply.n_generated_tokens

    prompt = chat.render(messages, mode="instant")

    def raw():
        n = 0
        for _ in llm.create_completion(prompt, max_tokens=args.tokens, stream=True, temperature=s.temperature,
                                       top_p=s.top_p, min_p=s.min_p, top_k=s.top_k, seed=1,
                                       logit_bias={im_end: -100.0}):
            n += 1
        assert n >= args.tokens - 1, n

    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)

    def bias(_ids, scores):
        scores[im_end] -= 100.0
        return scores

    def raw_generate():  # the lowest-level loop: sample, detokenize, nothing else
        import itertools

        import llama_cpp

        llm.set_seed(1)
        gen = llm.generate(tokens, temp=s.temperature, top_p=s.top_p, min_p=s.min_p, top_k=s.top_k,
                           logits_processor=llama_cpp.LogitsProcessorList([bias]))
        for tok in itertools.islice(gen, args.tokens):
            llm.detokenize([tok], special=True)

    for fn in (ours, raw, raw_generate):  # warm-up
        fn()
    times: dict = {ours: [], raw: [], raw_generate: []}
    for _ in range(args.repeat):  # interleaved, so drift in the machine's speed hits all three alike
        for fn, seen in times.items():
            t = time.perf_counter()
            fn()
            seen.append(time.perf_counter() - t)
    t_ours, t_raw, t_gen = (min(v) for v in times.values())
    print(f"workbench LocalChat.stream: {args.tokens / t_ours:,.1f} tok/s")
    print(f"raw Llama.create_completion(stream=True): {args.tokens / t_raw:,.1f} tok/s · ratio {t_raw / t_ours:.3f}")
    print(f"raw Llama.generate + detokenize: {args.tokens / t_gen:,.1f} tok/s · ratio {t_gen / t_ours:.3f}")
    loaded.close()

    (big,) = write_kimi_shaped(root / "Kimi-K2-UD-Q2_K_XL.gguf")
    info_t = best_of(lambda: inspect(big), args.repeat)
    info = inspect(big)
    one = best_of(lambda: plan_memory(info, "experts-cpu", n_ctx=98304, vram="24GiB", ram="256GiB", disk="1TB",
                                   recommend=False), args.repeat)
    full = best_of(lambda: plan_memory(big, "experts-cpu", n_ctx=98304, vram="24GiB", ram="256GiB", disk="1TB"),
                args.repeat)
    print(f"planner on the 1T header: headers {info_t * 1e3:.0f} ms, one plan {one * 1e3:.0f} ms, "
          f"headers + plan + recommendation {full * 1e3:.0f} ms")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
