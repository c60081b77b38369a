"""GGUF headers over HTTP: range requests for the header bytes only, never the tensor data.

A Kimi quant is 230–600 GB in 5–13 files; to inspect or plan it before the download, only each
file's header (a few MB) is needed. :func:`read_remote_header` opens the URL through ``fsspec``'s
``HTTPFileSystem`` (``aiohttp`` underneath; no hand-written client), learns the size from the
server, and runs the same bounded walk as a local file (:mod:`workbench.gguffile.walk`) over
range reads, counting the bytes that came over the wire (:class:`Transfer`).

- Before any read, a 24-byte range request must come back as a range (206 or ``Content-Range``);
  a server that answers with the whole file is refused after its status line ("ignores HTTP Range
  requests"), never downloaded. A 404, an unreachable host or a timeout is one line too, and a
  truncated or garbled header is the walk's own one-line error, as for a local file.
- Headers are cached on disk (``KIMI_WB_CACHE``, default ``~/.cache/kimi-workbench/headers``)
  keyed by the URL and the server's ETag (or the size when it sends none): a second plan of the
  same files transfers nothing.

    >>> t = Transfer()
    >>> header = read_remote_header(Url("https://host/Kimi-K2-00001-of-00008.gguf"), transfer=t)  # doctest: +SKIP
    >>> t.bytes                                                                                   # doctest: +SKIP
    6291456
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InputError
from workbench.gguffile.header import Header

_URL = re.compile(r"^https?://[^/\s]+/\S+$")


class Url(str):
    """A remote file's URL with the few ``Path`` manners the GGUF tools use (``name``, ``with_name``, ``parent``):
    :func:`workbench.gguffile.splits.member_names` names a remote split set's members as it does a local one's."""

    @property
    def name(self) -> str:
        return self.rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def parent(self) -> Url:
        return Url(self.rsplit("/", 1)[0])

    def with_name(self, name: str) -> Url:
        return Url(f"{self.parent}/{name}")


def is_url(path) -> bool:
    return isinstance(path, str) and _URL.match(path) is not None


@dataclass
class Transfer:
    """Bytes and range requests that went over the wire (thread-safe: splits are read in parallel)."""

    bytes: int = 0
    requests: int = 0
    cached: int = 0  # headers served from the disk cache
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n
            self.requests += 1


class _Counted:
    """A file object whose reads are counted into a :class:`Transfer`."""

    def __init__(self, f, transfer: Transfer) -> None:
        self.f, self.transfer = f, transfer

    def seek(self, pos: int) -> int:
        return self.f.seek(pos)

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        self.transfer.add(len(data))
        return data


def cache_dir() -> Path:
    return Path(os.environ.get("KIMI_WB_CACHE", Path.home() / ".cache" / "kimi-workbench")) / "headers"


def _filesystem(timeout: float):
    try:
        import aiohttp
        import fsspec
    except ImportError as e:  # pragma: no cover (both are dependencies)
        raise InputError(f"remote GGUFs need fsspec and aiohttp ({e.name} is missing)") from None
    return fsspec.filesystem("http", client_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
                             skip_instance_cache=True)


def _one_line(url: str, e: BaseException) -> InputError:
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, FileNotFoundError):
        return InputError(f"{url}: not found (HTTP 404)")
    if "range" in text.lower():
        return InputError(f"{url}: the server ignores HTTP Range requests, so its header cannot be read without "
                          "downloading the whole file; the workbench reads headers only")
    if "timeout" in type(e).__name__.lower() or "timed out" in text.lower():
        return InputError(f"{url}: no answer in time ({text[:120]})")
    return InputError(f"{url}: cannot read: {text[:200]}")


def _ranges_honoured(url: str, timeout: float) -> None:
    """Ask for the first 24 bytes; a server that answers with the whole file (200, no Content-Range) is refused
    here, the connection closed after the status line, before a byte of the body is read."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Range": "bytes=0-23"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            if r.status != 206 and not r.headers.get("Content-Range"):
                raise InputError(f"{url}: the server ignores HTTP Range requests (it answered {r.status} with the "
                                 "whole file), so its header cannot be read without downloading it; the workbench "
                                 "reads headers only")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise _one_line(url, FileNotFoundError(url)) from None
        raise InputError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise _one_line(url, e) from None


def read_remote_header(url: Url, *, transfer: Transfer, timeout: float = 60.0) -> Header:
    """The header of the GGUF at ``url``, by range requests (or from the header cache); one line on any failure."""
    from workbench.gguffile.walk import _Bytes, _walk

    fs = _filesystem(timeout)
    try:
        info = fs.info(url)
    except Exception as e:  # aiohttp, asyncio and fsspec raise many kinds: each becomes one line
        raise _one_line(url, e) from None
    size = info.get("size")
    if not isinstance(size, int) or size < 24:
        raise InputError(f"{url}: the server gives no usable size ({size!r}); cannot read its header by ranges")
    _ranges_honoured(url, timeout)
    tag = str(info.get("ETag") or info.get("etag") or f"size-{size}")
    cached = cache_dir() / (hashlib.sha256(f"{url}\n{tag}".encode()).hexdigest() + ".header")
    if cached.is_file():
        transfer.cached += 1
        return _walk(url, _Bytes(io.BytesIO(cached.read_bytes()), url, size), size)
    try:
        with fs.open(url, "rb", block_size=1 << 20, cache_type="none", size=size) as f:  # each read one range
            b = _Bytes(_Counted(f, transfer), url, size)
            header = _walk(url, b, size)
    except InputError:
        raise
    except Exception as e:
        raise _one_line(url, e) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(bytes(b.buf))
    tmp.replace(cached)
    return header
