"""The ``llama-server`` renderer: the real server's C++ Jinja engine through ``/apply-template``.

One server per template on loopback, serving a tiny model that carries the template in its
metadata (not ``--chat-template-file``: a refusal then comes after start-up, where
llama-server flushes its log, so its reason is always there to quote). Servers are kept for
the next call (the two most recent) and stopped at exit. Bounded like the Python renderers:
the render limit (plus :data:`STARTUP_SECONDS` to start), an address space of
:data:`SERVER_BASE_MEMORY` plus the template's memory limit, and a crash of its engine named
(``llama-server crashed (SIGSEGV) on the template``). Available where a binary is
(:mod:`workbench.run.llama_server`; ``make test`` builds one). Registered in
:data:`workbench.chat.render.RENDERERS` by :mod:`workbench.plugins.llama_server_renderer`.

    >>> render("{{ messages[0].content }}|", [{"role": "user", "content": "hi"}], renderer="llama-server")  # doctest: +SKIP
    'hi|'
"""

from __future__ import annotations

import atexit
import re
import tempfile
import threading
from pathlib import Path

from workbench.chat.render import STOPPED, Limits, Renderer, RendererLimitation, TemplateError, one_line, template_limits
from workbench.errors import InputError
from workbench.isolate import describe_exit
from workbench.models.tiny import make_tiny_model
from workbench.run.llama_server import LlamaServer, ServerError, ServerTimeout, cache_dir, find


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
        try:
            return find() is not None
        except InputError:
            return False

    def render(self, template, messages, *, add_generation_prompt, tools, limits=None, **kwargs):
        limits = limits or template_limits()
        key = f"llama-server\0{template}"
        if key in STOPPED:
            raise TemplateError(STOPPED[key])
        body = {"messages": messages, "add_generation_prompt": add_generation_prompt}
        if tools:
            body["tools"] = tools
        if kwargs:
            body["chat_template_kwargs"] = kwargs
        with self._lock:
            server = self._server(template, limits)
        try:
            return server.post("/apply-template", body, timeout=limits.seconds)["prompt"]
        except ServerTimeout:
            with self._lock:
                self._drop(template)
            STOPPED[key] = f"llama-server took longer than {limits.seconds:g} s to render the template and was stopped"
            raise TemplateError(STOPPED[key]) from None
        except ServerError as e:
            message = str(e).replace("llama-server /apply-template: ", "llama-server: ")
            if "HTTP 400" in message and "unsupported" in message:  # e.g. image parts without a vision projector
                raise RendererLimitation(message) from None
            if server.proc.poll() is not None:  # it died on this request (a crash in its Jinja engine)
                with self._lock:
                    self._drop(template)
                message = f"llama-server {describe_exit(server.proc.returncode)} rendering the template"
            raise TemplateError(message) from None

    def _drop(self, template: str) -> None:
        server = self._servers.pop(template, None)
        if server is not None:
            server.__exit__(None, None, None)

    def _server(self, template: str, limits: Limits):
        """A running server whose model carries ``template`` (started on first use).

        The template goes into the model's metadata, not ``--chat-template-file``: a refusal
        then happens after start-up, where llama-server flushes its log before exiting, so the
        reason it gives is always there to quote (its log is asynchronous and loses lines on an
        early exit).
        """
        if template in self._servers:
            self._servers[template] = self._servers.pop(template)  # most recently used last
            return self._servers[template]
        while len(self._servers) >= self.keep:
            self._drop(next(iter(self._servers)))
        folder = cache_dir() / "renderer"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            (model,) = make_tiny_model(Path(tmp) / "renderer.gguf", chat_template=template)
            server = LlamaServer(["-m", str(model), "--jinja", "-c", "256", "--threads", "1", "--threads-http", "1",
                                  "--no-warmup", "-np", "1"], ready_timeout=STARTUP_SECONDS + limits.seconds,
                                 memory=SERVER_BASE_MEMORY + limits.memory)
            try:
                server.start()  # the model is mapped once loaded; its file can go
            except ServerTimeout:
                server.__exit__(None, None, None)
                key = f"llama-server\0{template}"
                STOPPED[key] = (f"llama-server did not start with the template within "
                                   f"{server.ready_timeout:g} s (a runaway render?) and was stopped")
                raise TemplateError(STOPPED[key]) from None
            except ServerError:
                code, log = server.proc.returncode, server.log_tail(1000)
                server.__exit__(None, None, None)
                if code is not None and code < 0:
                    raise TemplateError(f"llama-server {describe_exit(code)} on the template") from None
                raise TemplateError(f"llama-server refused the template: {_cause(log)}") from None
        self._servers[template] = server
        return server

    def close(self) -> None:
        """Stop every server this renderer started."""
        while self._servers:
            self._servers.popitem()[1].__exit__(None, None, None)


#: seconds a renderer server may take to start besides rendering; its address space besides the template's
STARTUP_SECONDS = 10.0
SERVER_BASE_MEMORY = 512 << 20


_TIMESTAMP = re.compile(r"^\d+\.\d+\.\d+\.\d+ [A-Z] ")


def _cause(log: str) -> str:
    """The most telling line of a server's start-up failure: a Jinja exception, then the template
    parser's error, then any error."""
    lines = [_TIMESTAMP.sub("", ln.strip()) for ln in log.splitlines() if ln.strip()]
    for key in ("jinja exception", "common_chat_templates_init: error", "error:", "failed"):
        found = [ln for ln in lines if key in ln.lower()]
        if found:
            return one_line(found[-1])
    return one_line(lines[-1]) if lines else "no output"
