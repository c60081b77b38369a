"""Render a chat template the way each runtime does, through that runtime's own code.

- ``hf``: transformers' ``render_jinja_template`` (sandboxed jinja2, ``trim_blocks`` /
  ``lstrip_blocks``, its own ``tojson`` and ``raise_exception``) — HF semantics, not ours;
  like ``apply_chat_template`` it passes the special-tokens map (``bos_token`` … ``pad_token``);
- ``llama.cpp``: llama.cpp's *built-in* formatter, chosen by ``llama_chat_apply_template``
  from the template text (or a built-in name such as ``"kimi-k2"``). It formats plain
  role/content messages only: tools, template kwargs, tool calls, reasoning fields and
  list-of-parts content are refused with :class:`RendererLimitation`, never dropped;
- ``llama-cpp-python``: its ``Jinja2ChatFormatter`` (jinja2, its own environment);
- ``llama-server``: the real ``llama-server --jinja`` (llama.cpp's C++ Jinja engine and chat
  handling) through its ``/apply-template`` endpoint; one server per template on loopback,
  serving a tiny model, kept for the next call and stopped at exit. Available where a
  binary is (:mod:`workbench.run.llama_server`; ``make test`` builds one).

    >>> render("{{ messages[0].content }}", [{"role": "user", "content": "hi"}])
    'hi'

Errors are one line: :class:`TemplateError` for templates that do not parse or raise,
:class:`RendererLimitation` for features a renderer cannot express.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import tempfile
import threading
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

    def available(self) -> bool:
        """Whether this renderer can run here (a default renderer list leaves the others out)."""
        return True

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


class LlamaServerRenderer(Renderer):
    name = "llama-server"
    description = "llama-server --jinja /apply-template (llama.cpp's C++ Jinja engine)"
    #: servers kept alive, one per template text (oldest stopped first)
    keep = 2

    def __init__(self) -> None:
        self._servers: dict[str, object] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    def available(self) -> bool:
        from workbench.run import llama_server

        try:
            return llama_server.find() is not None
        except InputError:
            return False

    def render(self, template, messages, *, add_generation_prompt, tools, **kwargs):
        from workbench.run.llama_server import ServerError

        body = {"messages": messages, "add_generation_prompt": add_generation_prompt}
        if tools:
            body["tools"] = tools
        if kwargs:
            body["chat_template_kwargs"] = kwargs
        with self._lock:
            server = self._server(template)
        try:
            return server.post("/apply-template", body)["prompt"]
        except ServerError as e:
            message = str(e).replace("llama-server /apply-template: ", "llama-server: ")
            if "HTTP 400" in message and "unsupported" in message:  # e.g. image parts without a vision projector
                raise RendererLimitation(message) from None
            raise TemplateError(message) from None

    def _server(self, template: str):
        from workbench.run.llama_server import LlamaServer, ServerError, cache_dir

        if template in self._servers:
            self._servers[template] = self._servers.pop(template)  # most recently used last
            return self._servers[template]
        while len(self._servers) >= self.keep:
            self._servers.pop(next(iter(self._servers))).__exit__(None, None, None)
        folder = cache_dir() / "renderer"
        folder.mkdir(parents=True, exist_ok=True)
        model = _renderer_model(folder)
        with tempfile.NamedTemporaryFile("w", suffix=".jinja", dir=folder, delete=False, encoding="utf-8") as f:
            f.write(template)
        server = LlamaServer(["-m", str(model), "--jinja", "--chat-template-file", f.name, "-c", "256",
                              "--threads", "1", "--no-warmup", "-np", "1"], ready_timeout=60)
        try:
            server.start()
        except ServerError:
            cause = _cause(server.log_tail(1000))
            server.__exit__(None, None, None)
            raise TemplateError(f"llama-server refused the template: {cause}") from None
        finally:
            os.unlink(f.name)
        self._servers[template] = server
        return server

    def close(self) -> None:
        """Stop every server this renderer started."""
        while self._servers:
            self._servers.popitem()[1].__exit__(None, None, None)


def _cause(log: str) -> str:
    """The most telling line of a server's start-up failure (a Jinja exception beats a generic refusal)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for key in ("jinja exception", "error:", "failed"):
        found = [ln for ln in lines if key in ln.lower()]
        if found:
            return found[-1]
    return lines[-1] if lines else "no output"


def _renderer_model(folder: Path) -> Path:
    """The tiny Kimi-architecture model the renderer's servers load (written once)."""
    model = folder / "Kimi-K2-Tiny.gguf"
    if not model.exists():
        from workbench.ggufio.tiny import make_tiny_model

        make_tiny_model(model)
    return model


RENDERERS: Registry[Renderer] = Registry("renderer")
for _r in (HFRenderer(), LlamaCppBuiltinRenderer(), LlamaCppPythonRenderer(), LlamaServerRenderer()):
    RENDERERS.register(_r.name, _r)


def available_renderers() -> list[str]:
    """The registered renderers that can run here (``llama-server`` needs a binary)."""
    return [n for n, r in RENDERERS.items() if r.available()]


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
