"""What the walls around untrusted input cost, and how fast hostile input is stopped.

1. llama.cpp reading a Kimi K2-shaped 1T header (UD-Q2_K_XL, 163,840 tokens and merges,
   sparse tensor data): in this process (what the workbench did before) against the
   isolated read (``workbench.llamacpp.check``) with a fresh worker and with a warm one;
   then ``kimi-wb plan`` on that file as a whole command (the isolated read included).
2. One render of a template that did not ship with the workbench: in process against the
   isolated worker (warm), per render.
3. The hostile template corpus (``tests/hostile/templates.py``): how long each takes to be
   stopped, through ``hf`` and through ``llama-server`` (default limits).
4. Mutated GGUFs (``workbench.ggufio.mutate``): mutants per second through inspect, verify,
   plan, compat and patch.

Run from the repository root::

    .venv/bin/python benchmarks/isolation_bench.py [--repeat 3] [--mutants 100]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from timing import best_of

ROOT = Path(__file__).resolve().parents[1]


def fresh_checks(path: Path) -> None:
    """Forget what the door remembers about ``path`` and stop its worker: the next check is cold."""
    from workbench import isolate, llamacpp

    llamacpp._SEEN.clear()
    isolate.shutdown()


def header_reads(root: Path, repeat: int) -> None:
    from workbench import llamacpp
    from workbench.models.sparse import write_kimi_shaped

    (big,) = write_kimi_shaped(root / "Kimi-K2-UD-Q2_K_XL.gguf")
    print(f"1T header: {big.stat().st_size / 1e9:,.0f} GB apparent")

    def in_process():
        llamacpp._load_vocab(str(big)).close()

    def cold():
        fresh_checks(big)
        llamacpp.check(big)

    def warm():
        llamacpp._SEEN.clear()
        llamacpp.check(big)

    here, c, w = best_of(in_process, repeat), best_of(cold, repeat), best_of(warm, repeat)
    print(f"  llama.cpp vocab_only read in process: {here * 1e3:,.0f} ms")
    print(f"  isolated, fresh worker: {c * 1e3:,.0f} ms (+{(c - here) * 1e3:,.0f} ms); "
          f"warm worker: {w * 1e3:,.0f} ms (+{(w - here) * 1e3:,.0f} ms)")
    command = [sys.executable, "-m", "workbench.cli", "plan", str(big), "--preset", "experts-cpu", "--ctx", "98304",
               "--vram", "24GiB", "--ram", "256GiB", "--disk", "1TB", "--json"]

    def cli():
        subprocess.run(command, check=True, capture_output=True)

    print(f"  kimi-wb plan (whole command, isolated read included): {best_of(cli, repeat):,.2f} s")

    from workbench.ggufio.inspect import inspect
    from workbench.run.compat import check_compat
    from workbench.run.planner import plan_memory

    def api():
        fresh_checks(big)
        info = inspect(big)
        plan_memory(info, "experts-cpu", n_ctx=98304, vram="24GiB", ram="256GiB", disk="1TB")
        check_compat(info)

    print(f"  API inspect + plan_memory + check_compat, cold worker: {best_of(api, repeat):,.2f} s")


def template_renders(repeat: int) -> None:
    from workbench.chat.bundled import bundled_template
    from workbench.chat.render import RENDERERS, render
    from workbench.chat.suite import SUITE

    template = bundled_template("kimi-k2") + "{# a user's copy #}"  # not the bundled text: untrusted
    case = SUITE[2]
    hf = RENDERERS["hf"]
    render(template, case.messages)  # start the worker, compile the template there

    def here():
        hf.render_here(template, case.messages, add_generation_prompt=True, tools=None)

    def bounded():
        render(template, case.messages)

    n = 50
    a = best_of(lambda: [here() for _ in range(n)], repeat) / n
    b = best_of(lambda: [bounded() for _ in range(n)], repeat) / n
    print(f"template render ({case.name}): in process {a * 1e3:.2f} ms, isolated worker {b * 1e3:.2f} ms "
          f"(+{(b - a) * 1e3:.2f} ms)")


def hostile_templates() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.hostile.templates import HOSTILE
    from workbench.chat.render import TemplateError, render

    hi = [{"role": "user", "content": "Hi"}]
    print("hostile templates, time to a one-line error (default limits):")
    for name, template, _ in HOSTILE:
        row = []
        for renderer in ("hf", "llama-server"):
            t = time.perf_counter()
            try:
                render(template + f"{{# {renderer} #}}", hi, renderer=renderer)
                outcome = "rendered"
            except TemplateError as e:
                outcome = str(e)[:60]
            row.append(f"{renderer} {time.perf_counter() - t:5.1f} s ({outcome})")
        print(f"  {name:<20} " + " | ".join(row))


def mutant_rate(root: Path, n: int) -> None:
    from workbench.errors import WorkbenchError
    from workbench.ggufio import patch
    from workbench.ggufio.inspect import inspect
    from workbench.ggufio.mutate import mutants
    from workbench.models.tiny import make_tiny_model
    from workbench.run.compat import check_compat
    from workbench.run.planner import plan_memory
    from workbench.verify import check

    (model,) = make_tiny_model(root / "tiny.gguf")
    eos = inspect(model).tokenizer()["bos"]["id"]
    work = root / "mutant.gguf"
    t = time.perf_counter()
    refused = 0
    for m in mutants(model, n=n, seed=1):
        m.write(work)
        for step in (lambda: inspect(work), lambda: check(work), lambda: check_compat(work),
                     lambda: plan_memory(work, "cpu-only", n_ctx=512, vram=0, ram="64GiB"),
                     lambda: patch(work, {"tokenizer.ggml.eos_token_id": eos}, progress=False)):
            try:
                step()
            except WorkbenchError:
                refused += 1
    took = time.perf_counter() - t
    print(f"mutants: {n} through 5 steps in {took:.1f} s ({n / took:.1f} mutants/s; {refused} of {5 * n} steps refused)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="artifacts/bench/isolation")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mutants", type=int, default=100)
    args = ap.parse_args()
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    header_reads(root, args.repeat)
    template_renders(args.repeat)
    hostile_templates()
    mutant_rate(root, args.mutants)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
