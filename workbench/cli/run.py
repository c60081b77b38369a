"""``kimi-wb plan``, ``quants``, ``chat`` (one-shot or interactive, a local GGUF or an OpenAI-compatible server) and
``build-llama-server``: thin over :mod:`workbench.run`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.cli.output import Record, at_least, emit, hint, inspect_any, progress_line, size
from workbench.errors import InputError

DIM, RESET = "\033[2m", "\033[0m"


def cmd_plan(args: argparse.Namespace) -> int:
    from workbench.ggufio import split_members
    from workbench.llamacpp import prefetch
    from workbench.run import SAMPLING, check_compat, choose, plan_memory
    from workbench.run.planner import PlanReport

    offload = choose(args.preset, overrides=args.override_tensor or "", n_gpu_layers=args.ngl)
    from workbench.gguffile.remote import is_url

    if not is_url(args.path):
        try:
            prefetch(split_members(args.path)[0])  # llama.cpp's isolated read runs while the headers are planned
        except InputError:
            pass  # inspect says what is wrong with the path
    info = inspect_any(args.path)
    plan = plan_memory(info, offload, n_ctx=args.ctx, vram=args.vram, ram=args.ram, disk=args.disk,
                       mmproj=args.mmproj, mmproj_offload=not args.no_mmproj_offload)
    emit(PlanReport(plan, check_compat(info), SAMPLING[args.mode]), json_mode=args.json)
    return 0


def cmd_quants(args: argparse.Namespace) -> int:
    from workbench.run.quants import quants

    table = quants(args.repo, vram=args.vram, ram=args.ram, disk=args.disk, n_ctx=args.ctx,
                   check=not args.no_verify, progress=progress_line("reading quant"))
    hint(f"read the headers of {len(table.rows)} quant(s): {table.header_bytes / 1e6:.1f} MB over the wire, "
         f"{table.cached} header(s) from the cache")
    emit(table, json_mode=args.json)
    return 0


def _open_chat(args: argparse.Namespace):
    if args.server:
        from workbench.run.remote import RemoteChat

        if args.reasoning_budget is not None:
            raise InputError("--reasoning-budget is for a local model; a server takes it at start "
                             "(llama-server --reasoning-budget N)")
        return RemoteChat(args.server, model=args.model, api_key=args.api_key)
    if not args.model:
        raise InputError("give a MODEL (a GGUF file, split 1 of a set) or --server URL")
    from workbench.run.chat import LocalChat
    from workbench.run.loader import load_model
    from workbench.run.offload import preset

    template = None
    if args.template:
        from workbench.chat.render import read_template

        template = read_template(Path(args.template))
    return LocalChat(load_model(args.model, preset(args.preset), n_ctx=args.ctx, seed=args.seed or 0),
                     template=template)


def _turn(chat, messages, args, *, show: bool, tools=None) -> object:
    """Stream one reply to stdout (reasoning dimmed on a terminal); Ctrl-C stops it, keeping what came. With
    ``tools``, the tool loop: each call and its result are shown, and the run (a ToolRun) is returned."""
    import threading

    stop = threading.Event()
    colour = sys.stdout.isatty()
    state = {"reasoning": False}

    def show_event(event) -> None:
        if not show:
            return
        if isinstance(event, tuple):  # ("tool_result", message) from the tool loop
            sys.stdout.write(f"\n[tool result {event[1]['tool_call_id']}] {event[1]['content']}\n")
            sys.stdout.flush()
            return
        text = event.text
        if event.kind == "reasoning":
            if not state["reasoning"]:
                sys.stdout.write((DIM if colour else "") + "[reasoning] ")
                state["reasoning"], text = True, text.lstrip()
            sys.stdout.write(text)
        elif event.kind == "answer":
            if state["reasoning"]:
                sys.stdout.write((RESET if colour else "") + "\n[answer] ")
                state["reasoning"], text = False, text.lstrip()
            sys.stdout.write(text)
        elif event.kind == "tool_call":
            if state["reasoning"]:
                sys.stdout.write(RESET if colour else "")
                state["reasoning"] = False
            sys.stdout.write(f"\n[tool call] {json.dumps(event.call, ensure_ascii=False)}")
        sys.stdout.flush()

    extra = {"reasoning_budget": args.reasoning_budget} if args.reasoning_budget is not None else {}
    common = dict(mode=args.mode, max_tokens=args.max_tokens, seed=args.seed, stop=stop,
                  preserve_thinking=args.preserve_thinking, **extra)
    run = None
    try:
        if tools:
            run = chat.run_tools(messages, tools, max_steps=args.max_steps, on_event=show_event, **common)
        else:
            for event in chat.stream(messages, **common):
                show_event(event)
    except KeyboardInterrupt:
        stop.set()
    if show:
        reply = chat.last
        sys.stdout.write((RESET if colour and state["reasoning"] else "") +
                         f"\n({reply.n_generated_tokens} tokens, {reply.generation_tokens_per_s:.1f} tok/s, "
                         f"{reply.finish_reason})\n")
    return run if run is not None else chat.last


def cmd_chat(args: argparse.Namespace) -> int:
    tools = None
    if args.tools:  # before the model loads: a bad spec fails at once
        from workbench.run.tools import load_tools

        tools = load_tools(args.tools)
    chat = _open_chat(args)
    for note in (getattr(getattr(chat, "demo", None), "about", None),
                 chat.mode_note(args.mode) if hasattr(chat, "mode_note") else None):
        if note:
            hint(note)
    if tools:
        hint(f"tools: {', '.join(tools)} (only these run; up to {args.max_steps} replies per message)")
    messages = [{"role": "system", "content": args.system}] if args.system else []
    if args.prompt is not None:
        messages.append({"role": "user", "content": args.prompt})
        reply = _turn(chat, messages, args, show=not args.json, tools=tools)
        if args.json:
            emit(reply, json_mode=True)
        return 0
    hint(f"kimi-wb chat ({args.mode}); /exit or Ctrl-D to quit, Ctrl-C stops a reply")
    while True:
        try:
            line = input("> ")
        except EOFError:
            return 0
        if line.strip() in ("/exit", "/quit"):
            return 0
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line})
        reply = _turn(chat, messages, args, show=True, tools=tools)
        messages.extend(reply.messages if tools else [reply.as_message()])


def cmd_server_check(args: argparse.Namespace) -> int:
    from workbench.run.conformance import check_server

    emit(check_server(args.url, args.model, api_key=args.api_key, max_tokens=args.max_tokens), json_mode=args.json)
    return 0


def cmd_build_llama_server(args: argparse.Namespace) -> int:
    from workbench.run import llama_server

    path = llama_server.build(jobs=args.jobs, force=args.force)
    emit(Record(str(path), {"path": str(path), "llama_cpp_python": llama_server.version()}), json_mode=args.json)
    return 0


def register(add) -> None:
    p = add("plan", cmd_plan, "memory plan of a GGUF (or split set) under an offload, and the llama-server command")
    p.add_argument("path", metavar="PATH", help="a GGUF file, or any file of a split set; remote: https://…/X.gguf "
                                                "or hf://OWNER/REPO/PATH (a file or a quant folder); only headers are read")
    p.add_argument("--preset", default="gpu-all", help="offload preset (gpu-all, experts-cpu, n-cpu-moe:N, …)")
    p.add_argument("--override-tensor", "-ot", metavar="S", help="llama.cpp -ot string instead of a preset")
    p.add_argument("--ngl", type=at_least(0), help="n_gpu_layers (default 99 = all)")
    p.add_argument("--ctx", type=at_least(1), default=8192, help="context size (default 8192)")
    p.add_argument("--vram", type=size, default="0", help="GPU memory, e.g. 24GiB (default 0: no GPU)")
    p.add_argument("--ram", type=size, help="RAM, e.g. 256GiB (default: this machine's available RAM)")
    p.add_argument("--disk", type=size, help="free disk for mmap paging (default: free space beside the model)")
    p.add_argument("--mode", default="thinking", choices=["thinking", "instant"], help="sampling flags in the command")
    p.add_argument("--mmproj", metavar="FILE", help="a vision projector (mmproj-*.gguf, K2.6): its weights on the GPU")
    p.add_argument("--no-mmproj-offload", action="store_true", help="keep the projector's weights on the CPU")

    p = add("quants", cmd_quants, "every quant in a Hugging Face repo for this machine, before the download: size, "
                                  "verdict, least offload and its command, EOS and template")
    p.add_argument("repo", metavar="hf://OWNER/REPO", help="a Hub repo (or a folder in it); only headers are read")
    p.add_argument("--ctx", type=at_least(1), default=8192, help="context size (default 8192)")
    p.add_argument("--vram", type=size, default="0", help="GPU memory, e.g. 24GiB (default 0: no GPU)")
    p.add_argument("--ram", type=size, help="RAM, e.g. 256GiB (default: this machine's available RAM)")
    p.add_argument("--disk", type=size, help="free disk for mmap paging (default: free space here)")
    p.add_argument("--no-verify", action="store_true", help="skip the EOS and template checks")

    p = add("build-llama-server", cmd_build_llama_server,
            "build the real llama-server (CPU) once from the pinned llama-cpp-python sources; print its path")
    p.add_argument("--force", action="store_true", help="rebuild even if a cached binary exists")
    p.add_argument("-j", "--jobs", type=at_least(1), default=None, help="parallel compile jobs (default: all cores)")

    p = add("server-check", cmd_server_check, "what an OpenAI-compatible server does with thinking, tools and "
                                              "streaming: a fixed probe set and a table")
    p.add_argument("url", metavar="URL", help="the server, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("model", metavar="MODEL", nargs="?", help="the model id (default: the first the server lists)")
    p.add_argument("--api-key", metavar="KEY", help="the server's API key (default: $OPENAI_API_KEY); never printed")
    p.add_argument("--max-tokens", type=at_least(1), default=24, help="tokens per probe (default 24)")

    p = add("chat", cmd_chat, "chat with a local GGUF or a server: one-shot (-p) or interactive")
    p.add_argument("model", metavar="MODEL", nargs="?", help="GGUF file (split 1 of a set), or the model id with --server")
    p.add_argument("--server", metavar="URL", help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--preset", default="gpu-all", help="offload preset for a local model (default gpu-all)")
    p.add_argument("--ctx", type=at_least(16), default=8192, help="context size for a local model (default 8192)")
    p.add_argument("--template", metavar="F", help="chat template file instead of the model's own")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--thinking", dest="mode", action="store_const", const="thinking", help="thinking mode (default)")
    mode.add_argument("--instant", dest="mode", action="store_const", const="instant", help="instant mode")
    p.set_defaults(mode="thinking")
    p.add_argument("-p", "--prompt", help="one-shot: this user message, then exit")
    p.add_argument("--system", help="a system message")
    p.add_argument("--max-tokens", type=at_least(1), default=1024, help="longest reply (default 1024)")
    p.add_argument("--seed", type=at_least(0), help="sampling seed")
    p.add_argument("--preserve-thinking", action="store_true",
                   help="earlier turns keep their reasoning in the prompt (templates that read preserve_thinking)")
    p.add_argument("--reasoning-budget", type=at_least(0), metavar="N",
                   help="local model: end the reasoning after N tokens and answer (0: answer at once)")
    p.add_argument("--api-key", metavar="KEY", help="the server's API key (default: $OPENAI_API_KEY); never printed")
    p.add_argument("--tools", metavar="MODULE:ATTR",
                   help="your tools (a callable, a list, or a {name: callable} dict): the model may call them, "
                        "only they run, each result goes back to it")
    p.add_argument("--max-steps", type=at_least(1), default=5, help="with --tools: most replies per message (default 5)")
