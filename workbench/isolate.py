"""A wall around untrusted work: run a function in a child process with bounded time, memory and result.

Two kinds of work in the workbench can take the whole process down: rendering a chat template
that came from a file (a loop that never ends, a string of 100 GB, a macro that calls itself)
and handing a user's GGUF to llama.cpp (which aborts or crashes on headers it does not like:
``GGML_ASSERT`` is ``abort()``, a dead Jupyter kernel). :func:`call` runs such work in a
worker process and turns every way it can go wrong into a one-line :class:`IsolationError`:

- ``timeout``: the call ran past ``Limits.seconds`` (the worker is killed and replaced);
- ``memory``: it tried to grow the worker by more than ``Limits.memory`` (``RLIMIT_AS``, so the
  allocation fails inside the worker instead of the kernel's OOM killer picking a victim);
- ``output``: its result is larger than ``Limits.output`` bytes;
- ``recursion``: it recursed past Python's limit;
- ``crash``: the worker died (a signal such as SIGABRT or SIGSEGV); the message quotes the last
  line the worker wrote to stderr, which for llama.cpp is its own ``GGML_ASSERT(...)`` line.

A :class:`~workbench.errors.WorkbenchError` raised by the function reaches the caller as
itself; any other exception becomes an ``error`` with its type and message.

Workers are started once and reused (``python -m workbench.isolate``, one per ``pool``
name), so the second call costs a round trip, not an interpreter start; one that timed out,
crashed or ran out of memory is replaced on the next call. The clock starts after the
function's module is imported, so a first call is not charged for imports. Calls are
serialised per pool (a lock); a worker exits when its parent process is gone.

    >>> call("math:factorial", 5, limits=Limits(seconds=2))
    120

Not here: what to isolate and with which limits (the template renderers and the llama.cpp
door decide), and any sandboxing of file or network access (jinja2's sandbox does that for
templates; llama.cpp only ever reads the one file).
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection

from workbench.errors import WorkbenchError

#: how long a fresh worker may take to start, and a call to import its function's module
STARTUP_SECONDS = 120.0


@dataclass(frozen=True)
class Limits:
    """Bounds on one call: wall-clock seconds, bytes the worker may grow by, bytes of pickled result."""

    seconds: float = 5.0
    memory: int = 1 << 30
    output: int = 64 << 20


class IsolationError(WorkbenchError):
    """Isolated work ran out of a bound or died; ``kind`` says which, the message says it in one line."""

    def __init__(self, kind: str, message: str, *, how: str = "", last: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        #: crash only: how the worker died ("aborted", "crashed (segmentation fault)", …) and its last words
        self.how, self.last = how, last

    def __reduce__(self):
        return _rebuild, (type(self), self.kind, str(self), self.how, self.last)


def _rebuild(cls, kind, message, how, last):
    return cls(kind, message, how=how, last=last)


# ---------------------------------------------------------------------------- the parent side


class _Worker:
    def __init__(self) -> None:
        parent, child = socket.socketpair()
        self.log = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workbench.isolate", str(child.fileno())], pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True,
                env={**os.environ, "GGML_NO_BACKTRACE": "1"})  # ggml's abort would run gdb for a backtrace
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        if not self.conn.poll(STARTUP_SECONDS) or self._receive() != "ready":
            last = self.last_line(0)
            self.kill()
            raise IsolationError("crash", f"the isolation worker did not start within {STARTUP_SECONDS:g} s"
                                 + (f": {last}" if last else ""), last=last)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.conn.close()
        self.log.close()

    def last_line(self, since: int) -> str:
        """The last non-empty line the worker wrote to stderr/stdout after byte ``since``."""
        self.log.seek(since)
        lines = [ln.strip() for ln in self.log.read()[-16384:].decode("utf-8", "replace").splitlines()]
        return next((ln for ln in reversed(lines) if ln), "")

    def _receive(self):
        """The next message, or None when the worker is gone."""
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None


_POOLS: dict[str, _Worker] = {}
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def _lock(pool: str) -> threading.Lock:
    with _GUARD:
        return _LOCKS.setdefault(pool, threading.Lock())


def describe_exit(code: int) -> str:
    """How a process ended, from its return code: ``-6 -> 'aborted'``, ``-11 -> 'crashed (SIGSEGV)'``."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return {"SIGABRT": "aborted", "SIGKILL": "was killed"}.get(name, f"crashed ({name})")


def _died(worker: _Worker, since: int, what: str) -> IsolationError:
    code = worker.proc.wait()
    last = worker.last_line(since)
    worker.kill()
    how = describe_exit(code)
    return IsolationError("crash", f"{what}: the process {how}" + (f": {last}" if last else ""), how=how, last=last)


def call(func: str, *args, limits: Limits = Limits(), pool: str = "default", what: str = "isolated work", **kwargs):
    """``module:function(*args, **kwargs)`` in a worker process under ``limits``; its result, or an error.

    ``what`` names the work in error messages ("rendering the template", "llama.cpp reading X").
    """
    with _lock(pool):
        worker = _POOLS.get(pool)
        if worker is None or not worker.alive():
            if worker is not None:
                worker.kill()
            worker = _POOLS[pool] = _Worker()
        since = worker.log.seek(0, os.SEEK_END)
        try:
            worker.conn.send((func, args, kwargs, limits))
        except OSError:
            del _POOLS[pool]
            raise _died(worker, since, what) from None
        # the clock starts once the worker has imported the function and says so
        if not worker.conn.poll(STARTUP_SECONDS) or worker._receive() != "started":
            del _POOLS[pool]
            if worker.alive():
                worker.kill()
                raise IsolationError("timeout", f"{what}: the worker did not start the call within "
                                                f"{STARTUP_SECONDS:g} s")
            raise _died(worker, since, what)
        if not worker.conn.poll(limits.seconds):
            del _POOLS[pool]
            worker.kill()
            raise IsolationError("timeout", f"{what} took longer than {limits.seconds:g} s and was stopped")
        try:
            data = worker.conn.recv_bytes(limits.output + 4096)
        except (EOFError, OSError):
            del _POOLS[pool]
            raise _died(worker, since, what) from None
        status, value = pickle.loads(data)
        if status == "ok":
            return value
        if status == "memory":  # the worker leaves after running out of memory; start afresh next time
            del _POOLS[pool]
            worker.kill()
        if status == "raise":
            raise value
        messages = {
            "memory": f"{what} needed more than {limits.memory / 2**30:g} GiB and was stopped",
            "recursion": f"{what} recursed too deeply and was stopped",
            "output": f"{what} produced {value} bytes, more than the {limits.output:,}-byte limit",
        }
        raise IsolationError(status, messages.get(status, f"{what}: {value}"))


@atexit.register
def shutdown() -> None:
    """Stop every worker (also run at exit)."""
    with _GUARD:
        workers = list(_POOLS.values())  # a background call may be replacing one as we go
        _POOLS.clear()
    for worker in workers:
        try:
            worker.kill()
        except (OSError, ValueError):
            pass


# ---------------------------------------------------------------------------- the worker side


def _die_with_parent() -> None:
    """Exit when the parent process is gone, even in the middle of a runaway call.

    (Not ``PR_SET_PDEATHSIG``: it fires when the *thread* that started the worker ends, and a
    worker is often started from a short-lived thread, such as the chat app's.)
    """
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux), what ``RLIMIT_AS`` measures."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _resolve(func: str):
    module, _, name = func.partition(":")
    return getattr(importlib.import_module(module), name)


def _run(fn, args, kwargs, limits: Limits) -> tuple[str, object]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = _address_space()
    if size is not None:
        cap = size + limits.memory
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        return "ok", fn(*args, **kwargs)
    except MemoryError:
        return "memory", None
    except RecursionError:
        return "recursion", None
    except WorkbenchError as e:
        return "raise", e
    except Exception as e:  # anything else is reported as one line, not a traceback
        return "error", f"{type(e).__name__}: {e}"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _serve(fd: int) -> None:
    _die_with_parent()
    conn = Connection(fd)
    conn.send("ready")
    while True:
        try:
            func, args, kwargs, limits = conn.recv()
        except EOFError:
            return
        try:
            fn = _resolve(func)
        except Exception as e:
            conn.send("started")
            conn.send_bytes(pickle.dumps(("error", f"cannot import {func}: {e}")))
            continue
        conn.send("started")
        status, value = _run(fn, args, kwargs, limits)
        try:
            data = pickle.dumps((status, value))
        except Exception as e:  # an unpicklable result or exception
            data = pickle.dumps(("error", f"{type(e).__name__}: {e}"))
        if len(data) > limits.output:
            data = pickle.dumps(("output", len(data)))
        conn.send_bytes(data)
        if status == "memory":
            sys.stderr.flush()
            os._exit(0)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
