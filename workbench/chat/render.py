"""Render a chat template the way each runtime does, through that runtime's own code.

- ``hf``: transformers' ``render_jinja_template`` (sandboxed jinja2, ``trim_blocks`` /
  ``lstrip_blocks``, its own ``tojson`` and ``raise_exception``) — HF semantics, not ours;
  like ``apply_chat_template`` it passes the special-tokens map (``bos_token`` … ``pad_token``);
- ``llama.cpp``: llama.cpp's *built-in* formatter, chosen by ``llama_chat_apply_template``
  from the template text (or a built-in name such as ``"kimi-k2"``). It formats plain
  role/content messages only: tools, template kwargs, tool calls, reasoning fields and
  list-of-parts content are refused with :class:`RendererLimitation`, never dropped;
- ``llama-cpp-python``: its ``Jinja2ChatFormatter`` (jinja2, its own environment).

    >>> render("{{ messages[0].content }}", [{"role": "user", "content": "hi"}])
    'hi'

Errors are one line: :class:`TemplateError` for templates that do not parse or raise,
:class:`RendererLimitation` for features a renderer cannot express.
"""

from __future__ import annotations

import ctypes
import os
from abc import ABC, abstractmethod
from pathlib import Path

from workbench.errors import InputError, WorkbenchError
from workbench.registry import Registry

Message = dict

#: what HF's apply_chat_template passes to a Kimi template besides messages (its special_tokens_map)
KIMI_SPECIAL_TOKENS_MAP = {"bos_token": "[BOS]", "eos_token": "<|im_end|>", "unk_token": "[UNK]", "pad_token": "[PAD]"}


class TemplateError(WorkbenchError):
    """The template does not parse, raises, or tries to escape the sandbox."""


class RendererLimitation(WorkbenchError):
    """The renderer cannot express what was asked (tools, kwargs, message fields)."""


def read_template(template: str | os.PathLike[str]) -> str:
    """Template text from text or a path (a ``str`` naming an existing file counts as a path)."""
    if isinstance(template, os.PathLike) or ("\n" not in template and "{" not in template and Path(template).is_file()):
        path = Path(template)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read template {path}: {e}") from e
    return template


def _jinja_error(e: Exception) -> TemplateError:
    import jinja2

    if isinstance(e, jinja2.TemplateSyntaxError):
        return TemplateError(f"template syntax error at line {e.lineno}: {e.message}")
    if isinstance(e, jinja2.exceptions.SecurityError):
        return TemplateError(f"template blocked by the sandbox: {e}")
    if isinstance(e, (jinja2.TemplateError, ValueError, TypeError, KeyError, AttributeError, IndexError)):
        return TemplateError(f"template raised {type(e).__name__}: {e}")
    raise e


class Renderer(ABC):
    name: str = ""
    description: str = ""

    @abstractmethod
    def render(self, template: str, messages: list[Message], *, add_generation_prompt: bool,
               tools: list[dict] | None, **kwargs) -> str:
        """The prompt text."""


class HFRenderer(Renderer):
    name = "hf"
    description = "transformers render_jinja_template (HF semantics)"

    def render(self, template, messages, *, add_generation_prompt, tools, **kwargs):
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


class LlamaCppPythonRenderer(Renderer):
    name = "llama-cpp-python"
    description = "llama-cpp-python Jinja2ChatFormatter"

    def render(self, template, messages, *, add_generation_prompt, tools, bos_token="[BOS]",
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

    def render(self, template, messages, *, add_generation_prompt, tools, **kwargs):
        if tools:
            raise RendererLimitation("llama.cpp's built-in formatters take no tools (llama-server's Jinja engine, its default, does)")
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


RENDERERS: Registry[Renderer] = Registry("renderer")
for _r in (HFRenderer(), LlamaCppBuiltinRenderer(), LlamaCppPythonRenderer()):
    RENDERERS.register(_r.name, _r)


def render(
    template: str | os.PathLike[str],
    messages: list[Message],
    *,
    add_generation_prompt: bool = True,
    tools: list[dict] | None = None,
    renderer: str = "hf",
    **template_kwargs,
) -> str:
    """Render ``messages`` (and ``tools``) with ``template`` through ``renderer``.

    ``template_kwargs`` reach the template as variables (e.g. ``thinking=False``).
    """
    r = RENDERERS[renderer]
    return r.render(read_template(template), messages, add_generation_prompt=add_generation_prompt,
                    tools=tools, **template_kwargs)
