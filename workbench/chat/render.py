"""Render a chat template the way each runtime does, through that runtime's own code.

- ``hf``: transformers' ``render_jinja_template`` (sandboxed jinja2, ``trim_blocks`` /
  ``lstrip_blocks``, its own ``tojson`` and ``raise_exception``) — HF semantics, not ours;
  like ``apply_chat_template`` it passes the special-tokens map (``bos_token`` … ``pad_token``);
- ``llama.cpp``: llama.cpp's *built-in* formatter, chosen by ``llama_chat_apply_template``
  from the template text (or a built-in name such as ``"kimi-k2"``). It formats plain
  role/content messages only: tools, template kwargs, tool calls, reasoning fields and
  list-of-parts content are refused with :class:`RendererLimitation`, never dropped;
- ``llama-cpp-python``: its ``Jinja2ChatFormatter`` (jinja2, its own environment);
- ``moonshot``: HF semantics plus what Moonshot's K2.5/K2.6 tokenizer adds (tools sorted by
  key, ``tools_ts_str``, ``thinking`` on by default; :mod:`workbench.chat.tools_ts`). Not in
  the default list unless a template reads ``tools_ts_str``;
- ``llama-server``: the real ``llama-server --jinja`` (llama.cpp's C++ Jinja engine and chat
  handling) through its ``/apply-template`` endpoint. It runs a server, so it lives in
  :mod:`workbench.run.server_renderer` and joins :data:`RENDERERS` as a plugin.

    >>> render("{{ messages[0].content }}", [{"role": "user", "content": "hi"}])
    'hi'

Errors are one line: :class:`TemplateError` for templates that do not parse or raise,
:class:`RendererLimitation` for features a renderer cannot express.

Templates from files are untrusted. Every render by a Python renderer (``hf``,
``llama-cpp-python``) of a template that did not ship inside the workbench runs in an
isolated worker (:mod:`workbench.isolate`) under :func:`template_limits`: 5 s, 1 GiB of
growth and 16 MiB of output by default (``KIMI_WB_TEMPLATE_SECONDS``,
``KIMI_WB_TEMPLATE_MEMORY``, ``KIMI_WB_TEMPLATE_OUTPUT``; or ``limits=`` per call). A
runaway loop, a huge string, a macro that calls itself or a sandbox escape ends in a
one-line :class:`TemplateError`; a template that ran out of time or memory once fails at
once after that (its text is remembered for the process, :data:`STOPPED`). The bundled
templates render in this process. ``llama-server`` renders in its own process, under the
same time limit.
"""

from __future__ import annotations

import ctypes
import os
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path

from workbench.errors import InputError, WorkbenchError
from workbench.files import read_text
from workbench.isolate import IsolationError, Limits, call
from workbench.registry import Registry

Message = dict

#: what HF's apply_chat_template passes to a Kimi template besides messages (its special_tokens_map)
KIMI_SPECIAL_TOKENS_MAP = {"bos_token": "[BOS]", "eos_token": "<|im_end|>", "unk_token": "[UNK]", "pad_token": "[PAD]"}


class TemplateError(WorkbenchError):
    """The template does not parse, raises, or tries to escape the sandbox."""


class RendererLimitation(WorkbenchError):
    """The renderer cannot express what was asked (tools, kwargs, message fields)."""


#: the largest template accepted (Kimi's are about 5 KB)
MAX_TEMPLATE_BYTES = 4 << 20


def template_limits() -> Limits:
    """The bounds on rendering an untrusted template: from ``KIMI_WB_TEMPLATE_*`` or the defaults."""
    from workbench.units import parse_size

    def env(name: str, default: str) -> str:
        return os.environ.get(f"KIMI_WB_TEMPLATE_{name}", default)

    try:
        return Limits(seconds=float(env("SECONDS", "5")), memory=parse_size(env("MEMORY", "1GiB")),
                      output=parse_size(env("OUTPUT", "16MiB")))
    except (ValueError, InputError) as e:
        raise InputError(f"bad KIMI_WB_TEMPLATE_* setting: {e}") from e


def read_template(template: str | os.PathLike[str]) -> str:
    """Template text from text or a path (a ``str`` naming an existing file counts as a path)."""
    if isinstance(template, os.PathLike) or ("\n" not in template and "{" not in template and Path(template).is_file()):
        return read_text(template, "template", max_bytes=MAX_TEMPLATE_BYTES)
    return template


def read_messages(path: str | os.PathLike[str], what: str = "messages") -> list[dict]:
    """A conversation from a JSON file: an array of message objects, else a one-line :class:`InputError`."""
    from workbench.files import read_json

    messages = read_json(path, what)
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InputError(f"{path}: expected a JSON array of {'message' if what == 'messages' else 'tool'} objects")
    return messages


@lru_cache(maxsize=1)
def _trusted() -> frozenset[str]:
    """The texts of the templates that ship inside the workbench (rendered in process)."""
    from workbench.chat.bundled import TEMPLATES_DIR

    return frozenset(p.read_text(encoding="utf-8") for p in TEMPLATES_DIR.glob("*.jinja"))


#: template text (or a renderer's key for it) -> why it was stopped: a template that ran out of
#: time or memory is not run again in this process
STOPPED: dict[str, str] = {}


def _bounded(renderer: str, template: str, messages, add_generation_prompt, tools, kwargs, limits: Limits | None):
    """Render through ``renderer``'s in-process code, in the isolated worker unless the template is ours."""
    if template in _trusted():
        return RENDERERS[renderer].render_here(template, messages, add_generation_prompt=add_generation_prompt,
                                               tools=tools, **kwargs)
    if len(template.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"the template has {len(template):,} characters, more than a chat template "
                            f"({MAX_TEMPLATE_BYTES:,} bytes)")
    if template in STOPPED:
        raise TemplateError(STOPPED[template])
    try:
        return call("workbench.chat.render:_render_in_worker", renderer, template, messages, add_generation_prompt,
                    tools, kwargs, limits=limits or template_limits(), pool="templates",
                    what="rendering the template")
    except IsolationError as e:
        if e.kind in ("timeout", "memory"):
            STOPPED[template] = f"{e} (earlier; not run again)"
        raise TemplateError(str(e)) from None


def _render_in_worker(renderer, template, messages, add_generation_prompt, tools, kwargs):
    """Runs in the worker: the renderer's own code, nothing else."""
    return RENDERERS[renderer].render_here(template, messages, add_generation_prompt=add_generation_prompt,
                                           tools=tools, **kwargs)


def _jinja_error(e: Exception) -> TemplateError:
    import jinja2

    if isinstance(e, jinja2.TemplateSyntaxError):
        return TemplateError(f"template syntax error at line {e.lineno}: {one_line(e.message or '')}")
    if isinstance(e, jinja2.exceptions.SecurityError):
        return TemplateError(f"template blocked by the sandbox: {one_line(str(e))}")
    if isinstance(e, (jinja2.TemplateError, ValueError, TypeError, KeyError, AttributeError, IndexError,
                      ZeroDivisionError, OverflowError, LookupError, ArithmeticError)):
        return TemplateError(f"template raised {type(e).__name__}: {one_line(str(e))}")
    raise e


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


class Renderer(ABC):
    name: str = ""
    description: str = ""
    #: in the default renderer list (``moonshot`` joins only where a template reads ``tools_ts_str``)
    default: bool = True

    def available(self) -> bool:
        """Whether this renderer can run here (a default renderer list leaves the others out)."""
        return True

    @abstractmethod
    def render(self, template: str, messages: list[Message], *, add_generation_prompt: bool,
               tools: list[dict] | None, limits: Limits | None = None, **kwargs) -> str:
        """The prompt text; ``limits`` bound an untrusted template's render (default :func:`template_limits`)."""


class HFRenderer(Renderer):
    name = "hf"
    description = "transformers render_jinja_template (HF semantics)"

    def render(self, template, messages, *, add_generation_prompt, tools, limits=None, **kwargs):
        return _bounded(self.name, template, messages, add_generation_prompt, tools, kwargs, limits)

    def render_here(self, template, messages, *, add_generation_prompt, tools, **kwargs):
        from transformers.utils.chat_template_utils import render_jinja_template

        # apply_chat_template passes the tokenizer's special-tokens map; these are Kimi's (overridable)
        kwargs = {**KIMI_SPECIAL_TOKENS_MAP, **kwargs}
        try:
            out = render_jinja_template([messages], tools=tools, chat_template=template,
                                        add_generation_prompt=add_generation_prompt, **kwargs)
        except Exception as e:
            raise _jinja_error(e) from e
        rendered = out[0] if isinstance(out, tuple) else out  # (rendered, indices) in some versions
        return rendered[0] if isinstance(rendered, list) else rendered


class MoonshotRenderer(Renderer):
    name = "moonshot"
    description = ("HF semantics plus Moonshot's K2.5/K2.6 apply_chat_template: tools sorted by key, "
                   "tools_ts_str, thinking on and preserve_thinking off by default")
    default = False

    def render(self, template, messages, *, add_generation_prompt, tools, limits=None, **kwargs):
        from workbench.chat.tools_ts import moonshot_inputs

        tools, kwargs = moonshot_inputs(tools, kwargs)
        return _bounded("hf", template, messages, add_generation_prompt, tools, kwargs, limits)


class LlamaCppPythonRenderer(Renderer):
    name = "llama-cpp-python"
    description = "llama-cpp-python Jinja2ChatFormatter"

    def render(self, template, messages, *, add_generation_prompt, tools, limits=None, **kwargs):
        return _bounded(self.name, template, messages, add_generation_prompt, tools, kwargs, limits)

    def render_here(self, template, messages, *, add_generation_prompt, tools, bos_token="[BOS]",
                    eos_token="<|im_end|>", **kwargs):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        try:
            fmt = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token,
                                      add_generation_prompt=add_generation_prompt)
            return fmt(messages=messages, tools=tools, **kwargs).prompt
        except Exception as e:
            raise _jinja_error(e) from e


class LlamaCppBuiltinRenderer(Renderer):
    name = "llama.cpp"
    description = "llama.cpp built-in formatter (llama_chat_apply_template), picked from the template text"

    def render(self, template, messages, *, add_generation_prompt, tools, limits=None, **kwargs):
        # llama.cpp's built-in formatters never run the template: they pick a format from its text
        if tools:
            raise RendererLimitation("llama.cpp's built-in formatters take no tools "
                                     "(llama-server's Jinja engine, its default, does)")
        if kwargs:
            raise RendererLimitation(f"llama.cpp's built-in formatters take no template kwargs ({', '.join(kwargs)})")
        for m in messages:
            extra = set(m) - {"role", "content"}
            if extra:
                raise RendererLimitation(f"llama.cpp's built-in formatters keep only role and content; "
                                         f"message has {', '.join(sorted(extra))}")
            if not isinstance(m.get("content"), str):
                raise RendererLimitation("llama.cpp's built-in formatters take string content only")
        import llama_cpp

        keep = [(m["role"].encode(), m["content"].encode()) for m in messages]  # alive during the call
        chat = (llama_cpp.llama_chat_message * max(1, len(keep)))(*[llama_cpp.llama_chat_message(r, c) for r, c in keep])
        size = 4096 + 2 * sum(len(c) for _, c in keep)
        for _ in range(2):
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_chat_apply_template(template.encode(), chat, len(keep), add_generation_prompt, buf, size)
            if n < 0:
                raise TemplateError("llama.cpp recognises no built-in chat format in this template")
            if n <= size:
                return buf.raw[:n].decode("utf-8")
            size = n + 1
        raise TemplateError("llama.cpp kept asking for a larger buffer")  # pragma: no cover


#: hf, llama.cpp, llama-cpp-python here; llama-server joins from :mod:`workbench.plugins.llama_server_renderer`
RENDERERS: Registry[Renderer] = Registry("renderer", plugins="RENDERERS")
for _r in (HFRenderer(), LlamaCppBuiltinRenderer(), LlamaCppPythonRenderer(), MoonshotRenderer()):
    RENDERERS.register(_r.name, _r)


def available_renderers() -> list[str]:
    """The default renderers that can run here (``llama-server`` needs a binary; ``moonshot`` is not a default:
    :func:`workbench.chat.parity.parity` adds it for templates that read ``tools_ts_str``)."""
    return [n for n, r in RENDERERS.items() if r.available() and r.default]


def render(
    template: str | os.PathLike[str],
    messages: list[Message],
    *,
    add_generation_prompt: bool = True,
    tools: list[dict] | None = None,
    renderer: str = "hf",
    limits: Limits | None = None,
    **template_kwargs,
) -> str:
    """Render ``messages`` (and ``tools``) with ``template`` through ``renderer``.

    ``template_kwargs`` reach the template as variables (e.g. ``thinking=False``); ``limits``
    bound the render of an untrusted template (default: :func:`template_limits`).
    """
    r = RENDERERS[renderer]
    return r.render(read_template(template), messages, add_generation_prompt=add_generation_prompt,
                    tools=tools, limits=limits, **template_kwargs)
