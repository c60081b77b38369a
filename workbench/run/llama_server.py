"""The real ``llama-server``: built once from the pinned llama.cpp sources, found, and run on loopback.

Users run ``llama-server --jinja``; its C++ Jinja engine and its chat handling are not
Python's, so the workbench checks templates and chats against the real thing. llama-cpp-python
ships no server binary, but its source distribution carries the exact llama.cpp it was built
from (``vendor/llama.cpp``). :func:`build` fetches that sdist from the package registry (pip's
cache makes a second fetch free), compiles the ``llama-server`` and ``llama-fit-params`` targets
for the CPU (the second is llama.cpp's own memory accounting, which the planner is checked
against), and keeps the binaries in a per-user cache::

    ~/.cache/kimi-workbench/llama-server-0.3.36-x86_64/llama-server
    ~/.cache/kimi-workbench/llama-server-0.3.36-x86_64/llama-fit-params

(``$KIMI_WB_CACHE`` or ``$XDG_CACHE_HOME`` move it). A build takes about 10 minutes on 2 cores;
every later call finds the binary at once. :func:`find` looks at ``$KIMI_WB_LLAMA_SERVER``,
then that cache, then ``PATH``.

:class:`LlamaServer` starts a binary on ``127.0.0.1`` and a free port, waits for ``/health``,
and always stops it (a context manager); its log is kept for error messages:

    >>> with LlamaServer(["-m", "tiny.gguf", "--jinja"]) as srv:            # doctest: +SKIP
    ...     srv.post("/apply-template", {"messages": [{"role": "user", "content": "hi"}]})
    {'prompt': '...'}
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from workbench.errors import InputError, WorkbenchError

ENV_BINARY = "KIMI_WB_LLAMA_SERVER"
PACKAGE = "llama-cpp-python"
#: CPU only, the server alone: no web UI (it would be fetched from a hub), no HTTPS, no tests
CMAKE_FLAGS = ("-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_CUDA=OFF", "-DLLAMA_BUILD_UI=OFF",
               "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
               "-DLLAMA_BUILD_EXAMPLES=OFF")
#: the targets :func:`build` compiles and keeps
TARGETS = ("llama-server", "llama-fit-params")


class ServerError(WorkbenchError):
    """The server would not build, start or answer."""


class ServerTimeout(ServerError):
    """The server did not answer (or become ready) in time."""


#: exec ``argv[2:]`` with its address space capped at ``argv[1]`` bytes
_CAPPED = ("import os, resource, sys; n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_AS, (n, n)); "
           "os.execv(sys.argv[2], sys.argv[2:])")


def version() -> str:
    """The installed llama-cpp-python version: the sources the server is built from."""
    return metadata.version(PACKAGE)


def cache_dir() -> Path:
    base = os.environ.get("KIMI_WB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kimi-workbench"
    return Path(base)


def cached_binary(name: str = "llama-server") -> Path:
    """Where :func:`build` puts the binary ``name`` (one of :data:`TARGETS`) for the installed version and this machine."""
    return cache_dir() / f"llama-server-{version()}-{platform.machine()}" / name


def find() -> Path | None:
    """The ``llama-server`` to use: ``$KIMI_WB_LLAMA_SERVER``, the build cache, then ``PATH``; None if none."""
    named = os.environ.get(ENV_BINARY)
    if named:
        if not os.access(named, os.X_OK):
            raise InputError(f"${ENV_BINARY} is {named!r}, which is not an executable file")
        return Path(named)
    if os.access(cached_binary(), os.X_OK):
        return cached_binary()
    found = shutil.which("llama-server")
    return Path(found) if found else None


def require() -> Path:
    """:func:`find`, or a one-line error that says how to get one."""
    found = find()
    if found is None:
        raise InputError(f"no llama-server found (set ${ENV_BINARY}, put one on PATH, or build it: "
                         f"`kimi-wb build-llama-server`, which `make test` runs)")
    return found


def build(*, jobs: int | None = None, force: bool = False, log=None) -> Path:
    """Build ``llama-server`` (and ``llama-fit-params``) from the installed llama-cpp-python's sources, once;
    return the server's path.

    Progress (pip, cmake) goes to ``log`` (default: stderr). A failed build leaves nothing in
    the cache and raises :class:`ServerError` with the tail of the build log.
    """
    out = cached_binary()
    if all(cached_binary(t).exists() for t in TARGETS) and not force:
        return out
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise ServerError(f"building llama-server needs {tool!r} on PATH (Debian: apt-get install cmake g++)")
    log = log or sys.stderr
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out.parent) as tmp:
        work = Path(tmp)
        _step(log, work, "fetch", [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                                   f"{PACKAGE}=={version()}", "-d", str(work / "sdist")])
        (archive,) = (work / "sdist").glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(work / "src", filter="data")
        (source,) = (work / "src").glob("*/vendor/llama.cpp")
        build_dir = work / "build"
        _step(log, work, "configure", ["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_FLAGS])
        _step(log, work, "compile", ["cmake", "--build", str(build_dir), "--target", *TARGETS,
                                      "-j", str(jobs or os.cpu_count() or 1)])
        binary = build_dir / "bin" / "llama-server"
        check = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            raise ServerError(f"the built llama-server does not run: {(check.stderr or check.stdout).strip()[-500:]}")
        for target in TARGETS:
            staged = cached_binary(target).with_suffix(".tmp")
            shutil.copy2(build_dir / "bin" / target, staged)
            os.replace(staged, cached_binary(target))
        info = {"llama-cpp-python": version(), "targets": list(TARGETS), "cmake_flags": list(CMAKE_FLAGS),
                "seconds": round(time.monotonic() - started),
                "version": (check.stderr or check.stdout).strip().splitlines()}
        (out.parent / "BUILD-INFO.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"llama-server built in {time.monotonic() - started:.0f} s: {out}", file=log, flush=True)
    return out


def _step(log, work: Path, name: str, argv: list[str]) -> None:
    print(f"[llama-server build] {name}: {' '.join(argv[:6])}{' …' if len(argv) > 6 else ''}", file=log, flush=True)
    record = work / f"{name}.log"
    with record.open("w") as f:
        code = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = record.read_text(errors="replace").strip().splitlines()[-15:]
        raise ServerError(f"llama-server build failed at {name} (exit {code}):\n" + "\n".join(tail))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """A ``llama-server`` process on ``127.0.0.1``: started, waited for, always stopped.

    ``args`` are the server's own flags (``-m MODEL``, ``--jinja``, …); ``--host`` and
    ``--port`` are added. ``binary`` defaults to :func:`require`. ``memory`` caps the
    process's address space in bytes (``RLIMIT_AS``, set before it runs a single line), so
    a runaway allocation fails inside the server instead of taking the machine's memory.
    """

    #: how errors name the server
    name = "llama-server"
    #: environment of the process (None: this one's)
    env: dict | None = None

    def __init__(self, args: Sequence[str], *, binary: str | os.PathLike[str] | None = None,
                 ready_timeout: float = 120.0, memory: int | None = None) -> None:
        self.binary = Path(binary) if binary is not None else require()
        self.args = list(args)
        self.memory = memory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(mode="w+b")

    @property
    def argv(self) -> list[str]:
        argv = [str(self.binary), *self.args, "--host", "127.0.0.1", "--port", str(self.port)]
        if self.memory is None:
            return argv
        # a trampoline rather than preexec_fn, which is unsafe in a process with threads (a Jupyter kernel)
        return [sys.executable, "-I", "-c", _CAPPED, str(self.memory), *argv]

    def log_tail(self, lines: int = 12) -> str:
        self._log.flush()
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").strip().splitlines()[-lines:])

    def start(self) -> LlamaServer:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise ServerError(f"{self.name} exited with {self.proc.returncode} before it was ready:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise ServerTimeout(f"{self.name} not ready after {self.ready_timeout:.0f} s:\n{tail}")
            time.sleep(0.1)

    def post(self, path: str, body: dict, *, timeout: float = 60.0) -> dict:
        """POST JSON, return JSON; a server-side error is a :class:`ServerError` with its message,
        no answer within ``timeout`` seconds a :class:`ServerTimeout`."""
        req = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise ServerError(f"llama-server {path}: HTTP {e.code}: {' '.join(str(detail).split())}") from None
        except (TimeoutError, urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise ServerTimeout(f"llama-server {path}: no answer within {timeout:g} s") from None
            gone = self.proc is not None and self.proc.poll() is not None
            raise ServerError(f"llama-server {path}: " + (f"the server exited ({self.proc.returncode})" if gone
                                                          else f"no valid answer: {reason}")) from None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._log.close()
