"""The one door to llama.cpp for a user's GGUF: its metadata and vocabulary, read behind a wall.

llama.cpp trusts the files it reads more than the workbench can: on a header it does not
like it may ``GGML_ASSERT`` (``abort()``: the process, or the Jupyter kernel, dies with
"Aborted"), and llama-cpp-python's wrappers size buffers from the file's own numbers. So
every read of a user's file goes through here:

- :func:`check` has llama.cpp read the file's metadata and vocabulary (``vocab_only``: no
  tensor data) in an isolated worker (:mod:`workbench.isolate`). What llama.cpp says comes
  back as a :class:`LlamaView` (architecture, vocabulary size, BOS/EOS, its end-of-generation
  set, the chat template it sees), or as a one-line :class:`LlamaRefusal` in its own words:
  ``unknown model architecture: 'x'``, or, when it aborted,
  ``llama.cpp aborted reading X: …/llama-vocab.cpp:2544: GGML_ASSERT(…) failed``. A
  result is remembered per file identity (path, inode, size, modification time).
- :func:`vocab` checks first, then loads the vocabulary in this process for tokenizing
  (:class:`Vocab`: buffers sized from the text, never from the file).
- :func:`load_model` checks first, then loads the whole model here (for
  :mod:`workbench.run.loader`, which adds tensor overrides through ``params``).
- :func:`probe_vocab` loads a vocabulary the workbench wrote itself (probe vocabularies of
  :mod:`workbench.pretok.probed`): trusted, not isolated.

Every load holds :data:`LOCK` and routes llama.cpp's log into a list (:func:`captured_log`)
instead of the terminal, which is also how its words reach error messages.

    >>> check("Kimi-K2-Thinking-UD-Q2_K_XL-00001-of-00008.gguf").eos   # doctest: +SKIP
    163586

Not here: generation (``llama_cpp.Llama`` in :mod:`workbench.run`), chat formatting
(:mod:`workbench.chat.render`), anything that reads tensor data.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.isolate import IsolationError, Limits, call

#: llama.cpp's log callback is process-wide, and loading is not meant to run twice at once
LOCK = threading.RLock()
#: a metadata and vocabulary read: a real Kimi header takes about a second, a few hundred MB
READ_LIMITS = Limits(seconds=120.0, memory=2 << 30, output=64 << 20)
_SEEN: dict[tuple, LlamaView] = {}
_PENDING: dict[tuple, threading.Thread] = {}  # prefetches under way
_PENDING_GUARD = threading.Lock()
_BACKEND = []  # [True] once llama_backend_init has run in this process


class LlamaRefusal(InputError):
    """llama.cpp would not read the file; ``reason`` is what it said, without the path."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message

    def __reduce__(self):
        return type(self), (str(self), self.reason)


@dataclass(frozen=True)
class LlamaView:
    """What llama.cpp read from a GGUF's metadata and vocabulary."""

    path: str
    architecture: str
    n_vocab: int
    bos: int  # -1: none
    eos: int
    eog: tuple[int, ...]  # every id llama.cpp ends generation on
    chat_template: str | None
    pre: str | None
    #: why llama-cpp-python's jinja2 cannot compile that template (``Llama`` would raise), or None
    template_error: str | None = None


def _backend() -> None:
    import llama_cpp

    if not _BACKEND:
        with captured_log():
            llama_cpp.llama_backend_init()
        _BACKEND.append(True)


@contextmanager
def captured_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log lines (every level) instead of printing them; then llama-cpp-python's logger again.

    Lines are decoded with replacement: llama-cpp-python's own callback raises on log text
    that is not UTF-8 (token pieces can be partial characters).
    """
    import llama_cpp
    import llama_cpp._logger as logger

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def collect(level, text, _user):
        lines.append(text.decode("utf-8", errors="replace"))

    with LOCK:
        llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
        try:
            yield lines
        finally:
            llama_cpp.llama_log_set(logger.llama_log_callback, ctypes.c_void_p(0))


def said(log: list[str], fallback: str) -> str:
    """llama.cpp's own reason for a failed load: the text after its last ``error loading model:``."""
    found = [ln.split("error loading model: ", 1)[1].strip() for ln in log if "error loading model: " in ln]
    return found[-1] if found else fallback


def _params(*, vocab_only: bool):
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = vocab_only
    if vocab_only:
        params.use_mmap = False  # nothing but the header is read; no mapping of a 50 GB file
    return params


class Vocab:
    """llama.cpp's vocabulary of one file, loaded here: tokenize, detokenize, EOS, end of generation, metadata."""

    def __init__(self, model, path: str) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.model = model
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.path = path

    def n_vocab(self) -> int:
        return self._lib.llama_vocab_n_tokens(self.vocab)

    def token_eos(self) -> int:
        return self._lib.llama_vocab_eos(self.vocab)

    def token_bos(self) -> int:
        return self._lib.llama_vocab_bos(self.vocab)

    def is_eog(self, token: int) -> bool:
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: bytes, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Token ids of ``text`` (a buffer of one id per byte, plus BOS, always suffices)."""
        size = len(text) + 2
        buf = (self._lib.llama_token * size)()
        n = self._lib.llama_tokenize(self.vocab, text, len(text), buf, size, add_bos, special)
        if n < 0:
            raise InputError(f"{self.path}: llama.cpp made more tokens than bytes of {text[:40]!r}")
        return list(buf[:n])

    def piece(self, token: int, *, special: bool = True) -> bytes:
        """One token's bytes as llama.cpp renders it (``special=False`` drops control tokens)."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self.vocab, token, buf, size, 0, special)
            if n < 0:
                size = -n
                continue
            return buf.raw[:n]

    def detokenize(self, tokens: list[int], *, special: bool = True) -> bytes:
        return b"".join(self.piece(t, special=special) for t in tokens)

    def meta(self, key: str) -> str | None:
        """A metadata value as llama.cpp prints it, or None."""
        size = 1024
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_model_meta_val_str(self.model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    def chat_template(self) -> str | None:
        raw = self._lib.llama_model_chat_template(self.model, None)
        return raw.decode("utf-8", errors="replace") if raw else None

    def close(self) -> None:
        if self.model is not None:
            self._lib.llama_model_free(self.model)
            self.model = None

    def __del__(self) -> None:
        self.close()


def _load_vocab(path: str) -> Vocab:
    """llama.cpp reads ``path``'s vocabulary (no wall: see :func:`check`)."""
    import llama_cpp

    _backend()
    with captured_log() as log:
        model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), _params(vocab_only=True))
    if not model:
        reason = said(log, "llama.cpp could not read it")
        raise LlamaRefusal(f"{path}: llama.cpp cannot read it: {reason}", reason)
    return Vocab(model, path)


def _view(path: str) -> LlamaView:
    """Runs in the isolated worker: llama.cpp reads the file; what it saw, as plain data."""
    v = _load_vocab(path)
    try:
        n = v.n_vocab()
        template = v.chat_template()
        return LlamaView(path, v.meta(Keys.General.ARCHITECTURE) or "", n, v.token_bos(), v.token_eos(),
                         tuple(i for i in range(n) if v.is_eog(i)), template, v.meta(Keys.Tokenizer.PRE),
                         _compiles(template))
    finally:
        v.close()


def _compiles(template: str | None) -> str | None:
    """Why llama-cpp-python's formatter cannot compile ``template`` (as ``Llama()`` does on load), or None."""
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    try:
        Jinja2ChatFormatter(template=template, eos_token="", bos_token="")
    except RecursionError:
        return "the template nests too deeply to compile"
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def _identity(path: Path) -> tuple:
    st = os.stat(path)
    return str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def prefetch(path: str | os.PathLike[str]) -> None:
    """Start :func:`check` on ``path`` in the background (the caller's own header work overlaps it);
    a later :func:`check` of the same file waits for it. Errors surface there, not here."""
    p = Path(path)
    try:
        key = _identity(p)
    except OSError:
        return
    with _PENDING_GUARD:
        if key in _SEEN or key in _PENDING:
            return

        def run() -> None:
            try:
                check(p)
            except Exception:  # check() raises it again, to the caller that asks
                pass
            finally:
                with _PENDING_GUARD:
                    _PENDING.pop(key, None)

        _PENDING[key] = thread = threading.Thread(target=run, daemon=True, name=f"llama.cpp check {p.name}")
    thread.start()


def check(path: str | os.PathLike[str]) -> LlamaView:
    """llama.cpp reads ``path``'s metadata and vocabulary in an isolated worker (see the module docstring)."""
    p = Path(path)
    try:
        key = _identity(p)
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror}") from e
    pending = _PENDING.get(key)
    if pending is not None and pending is not threading.current_thread():
        pending.join()
    if key in _SEEN:
        return _SEEN[key]
    try:
        view = call("workbench.llamacpp:_view", str(p), limits=READ_LIMITS, pool="llama.cpp",
                    what=f"llama.cpp reading {p.name}")
    except IsolationError as e:
        if e.kind != "crash":
            raise LlamaRefusal(str(e)) from None
        last = e.last.split("/vendor/llama.cpp/", 1)[-1]  # the build folder of the wheel says nothing
        reason = f"{e.how}: {last}" if last else e.how
        raise LlamaRefusal(f"llama.cpp {e.how} reading {p}" + (f": {last}" if last else ""), reason) from None
    _SEEN[key] = view
    return view


def vocab(path: str | os.PathLike[str]) -> Vocab:
    """llama.cpp's vocabulary of ``path`` in this process, once :func:`check` has shown that reading it is safe."""
    check(path)
    return _load_vocab(str(path))


def probe_vocab(path: str | os.PathLike[str]) -> Vocab:
    """A vocabulary the workbench wrote itself, read here without the wall (probe files)."""
    return _load_vocab(str(path))


def load_model(path: str | os.PathLike[str], **llama_kwargs):
    """A ``llama_cpp.Llama`` for ``path`` after :func:`check`; the load log in ``.load_log``.

    A failed load is a one-line :class:`LlamaRefusal` with llama.cpp's last words.
    """
    import llama_cpp

    view = check(path)
    if view.template_error:
        raise LlamaRefusal(f"{path}: llama-cpp-python cannot load a model whose chat template does not compile "
                           f"({view.template_error}); replace it: kimi-wb gguf patch {path} --template-file T.jinja",
                           view.template_error)
    with captured_log() as log:
        try:
            llm = llama_cpp.Llama(str(path), verbose=False, **llama_kwargs)
        except Exception as e:  # ValueError for a failed load; whatever else its Python side raises, one line
            tail = " | ".join("".join(log).strip().splitlines()[-3:])
            raise LlamaRefusal(f"{path}: llama.cpp could not load the model ({type(e).__name__}: {e})"
                               + (f": {tail}" if tail else ""), said(log, str(e))) from e
    llm.load_log = list(log)
    return llm
