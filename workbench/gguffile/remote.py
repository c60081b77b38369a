"""GGUF headers over HTTP and from the Hugging Face Hub: range requests for the header bytes only.

A Kimi quant is 230–600 GB in 5–13 files; to inspect, plan or verify it before the download, only
each file's header (a few MB) is needed. Two kinds of address are remote (:func:`is_url`):

- ``https://host/…/X-00001-of-00008.gguf`` (any member of a set), read through ``fsspec``'s
  ``HTTPFileSystem`` (``aiohttp`` underneath);
- ``hf://OWNER/REPO/PATH`` (``hf://OWNER/REPO@REVISION/PATH`` for a branch or commit), read
  through ``huggingface_hub``'s ``HfFileSystem``, which honours ``HF_ENDPOINT`` and ``HF_TOKEN``
  (gated repos). PATH may be a file or a quant folder such as ``UD-Q2_K_XL/``
  (:func:`resolve` picks the set inside it); :func:`list_ggufs` lists a whole repo.

:func:`read_remote_header` learns the size, then runs the same bounded walk as a local file
(:mod:`workbench.gguffile.walk`) over range reads, counting the bytes that came over the wire
(:class:`Transfer`). No hand-written HTTP client.

- Before reading an ``http(s)`` file, a 24-byte range request must come back as a range (206 or
  ``Content-Range``); a server that answers with the whole file is refused after its status line
  ("ignores HTTP Range requests"), never downloaded. The Hub always answers ranges.
- A 404, an unreachable host, a gated repo without a token or a timeout (``timeout`` seconds per
  request, default ``$KIMI_WB_REMOTE_TIMEOUT`` or 60) is one line; a truncated or garbled header is
  the walk's own one-line error, as for a local file.
- Headers are cached on disk (``$KIMI_WB_HEADER_CACHE``, default ``~/.cache/kimi-workbench/headers``)
  keyed by the address and the server's ETag (the Hub's content hash; the size when a server sends
  neither): a second plan of the same files transfers nothing. The least recently used headers go
  when the cache passes ``$KIMI_WB_HEADER_CACHE_MB`` (default 2048 MB); a damaged entry is read again.

    >>> t = Transfer()
    >>> header = read_remote_header(Url("hf://unsloth/Kimi-K2-Instruct-GGUF/UD-Q2_K_XL/"
    ...                                 "Kimi-K2-Instruct-UD-Q2_K_XL-00001-of-00008.gguf"), transfer=t)  # doctest: +SKIP
    >>> t.bytes, t.requests                                                                     # doctest: +SKIP
    (1179648, 2)
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
from workbench.gguffile.splits import SPLIT_NAME

_URL = re.compile(r"^(https?://[^/\s]+/\S+|hf://[^/\s@]+/[^/\s]+(/\S*)?)$")
HUB = "hf://"
#: files in a repo that are not models: vision projectors (``--mmproj``) and imatrix data
NOT_A_MODEL = re.compile(r"^(mmproj|imatrix)", re.IGNORECASE)


class Url(str):
    """A remote file's address with the few ``Path`` manners the GGUF tools use (``name``, ``with_name``, ``parent``):
    :func:`workbench.gguffile.splits.member_names` names a remote split set's members as it does a local one's."""

    @property
    def name(self) -> str:
        return self.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def parent(self) -> Url:
        return Url(self.rstrip("/").rsplit("/", 1)[0])

    def with_name(self, name: str) -> Url:
        return Url(f"{self.parent}/{name}")

    @property
    def hub(self) -> bool:
        """An ``hf://`` address (read through ``HfFileSystem``)."""
        return self.startswith(HUB)

    @property
    def hub_path(self) -> str:
        """``OWNER/REPO[@REV]/PATH`` for ``HfFileSystem``."""
        return self[len(HUB):].rstrip("/")

    @property
    def repo(self) -> str:
        """``OWNER/REPO`` of an ``hf://`` address."""
        owner, name = self.hub_path.split("/")[:2]
        return f"{owner}/{name.split('@', 1)[0]}"

    @property
    def local_name(self) -> str:
        """Where the file lands when downloaded: its path in the repo (``hf download`` keeps folders), or its name."""
        return self.hub_path.split("/", 2)[2] if self.hub and self.hub_path.count("/") >= 2 else self.name


def is_url(path) -> bool:
    """``http(s)://host/…`` or ``hf://OWNER/REPO[/PATH]``."""
    return isinstance(path, str) and _URL.match(path) is not None


def default_timeout() -> float:
    try:
        return float(os.environ.get("KIMI_WB_REMOTE_TIMEOUT", "60"))
    except ValueError:
        raise InputError(f"KIMI_WB_REMOTE_TIMEOUT is {os.environ['KIMI_WB_REMOTE_TIMEOUT']!r}, "
                         "expected a number of seconds") from None


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

    def hit(self) -> None:
        with self._lock:
            self.cached += 1

    def summary(self, files: int) -> str:
        """``read 8 remote header(s): 10.2 MB in 13 range request(s), 0 from the cache``."""
        return (f"read {files} remote header(s): {self.bytes / 1e6:.1f} MB in {self.requests} range request(s), "
                f"{self.cached} from the cache")


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
    """Where headers are cached: ``$KIMI_WB_HEADER_CACHE``, else ``headers/`` in the workbench's cache folder."""
    if os.environ.get("KIMI_WB_HEADER_CACHE"):
        return Path(os.environ["KIMI_WB_HEADER_CACHE"])
    return Path(os.environ.get("KIMI_WB_CACHE") or Path.home() / ".cache" / "kimi-workbench") / "headers"


def _http_filesystem(timeout: float):
    try:
        import aiohttp
        import fsspec
    except ImportError as e:  # pragma: no cover (both are dependencies)
        raise InputError(f"remote GGUFs need fsspec and aiohttp ({e.name} is missing)") from None
    return fsspec.filesystem("http", client_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
                             skip_instance_cache=True)


def hub_filesystem():
    """An ``HfFileSystem`` for ``$HF_ENDPOINT`` (read now, so a mirror set after import counts), token from the
    environment; one per operation, so a listing is never stale."""
    from huggingface_hub import HfFileSystem

    return HfFileSystem(endpoint=os.environ.get("HF_ENDPOINT") or None, skip_instance_cache=True)


def _one_line(url: str, e: BaseException) -> InputError:
    text = " ".join(str(e).split()) or type(e).__name__
    kind = type(e).__name__
    if isinstance(e, FileNotFoundError) or kind in ("RepositoryNotFoundError", "EntryNotFoundError",
                                                    "RevisionNotFoundError"):
        return InputError(f"{url}: not found (HTTP 404)")
    status = getattr(getattr(e, "response", None), "status_code", None)
    if kind == "GatedRepoError" or status in (401, 403):
        return InputError(f"{url}: the repo is gated or private; accept its terms on the Hub and set HF_TOKEN")
    if kind == "OfflineModeIsEnabled":
        return InputError(f"{url}: HF_HUB_OFFLINE is set, so the Hub is not asked; unset it to read remote headers")
    if "range" in text.lower():
        return InputError(f"{url}: the server ignores HTTP Range requests, so its header cannot be read without "
                          "downloading the whole file; the workbench reads headers only")
    if "timeout" in kind.lower() or "timed out" in text.lower():
        return InputError(f"{url}: no answer in time ({text[:120]})")
    return InputError(f"{url}: cannot read: {text[:200]}")


def _ranges_honoured(url: str, timeout: float) -> tuple[int | None, str | None]:
    """Ask for the first 24 bytes: (the file's size, its ETag) from the answer's ``Content-Range`` and headers.
    A server that answers with the whole file (200, no ``Content-Range``) is refused here, the connection closed
    after the status line, before a byte of the body is read."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Range": "bytes=0-23"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            ranged = r.headers.get("Content-Range")
            if r.status != 206 and not ranged:
                raise InputError(f"{url}: the server ignores HTTP Range requests (it answered {r.status} with the "
                                 "whole file), so its header cannot be read without downloading it; the workbench "
                                 "reads headers only")
            total = (ranged or "").rsplit("/", 1)[-1]
            return (int(total) if total.isdigit() else None), r.headers.get("ETag")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise _one_line(url, FileNotFoundError(url)) from None
        raise InputError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise _one_line(url, getattr(e, "reason", None) if isinstance(getattr(e, "reason", None), OSError) else e) \
            from None


def _hub_tag(entry: dict) -> str | None:
    lfs = entry.get("lfs")
    sha = getattr(lfs, "sha256", None) or (lfs.get("sha256") or lfs.get("oid") if isinstance(lfs, dict) else None)
    return sha or entry.get("xet_hash") or entry.get("blob_id")


def _open_remote(url: Url, timeout: float, fs=None):
    """(opener, size, tag) for ``url``: ``opener()`` gives a file object whose reads are range requests."""
    if url.hub:
        fs = fs or hub_filesystem()
        entry = fs.info(url.hub_path)
        if entry.get("type") != "file":
            raise InputError(f"{url}: a folder; name a .gguf file in it, or let inspect pick the set in it")
        if not _hub_tag(entry):  # info() keeps name, size and type; the listing has the content hash
            entry = next((e for e in fs.ls(url.parent.hub_path, detail=True) if e["name"] == entry["name"]), entry)
        size = entry.get("size")
        return (lambda: fs.open(url.hub_path, "rb", block_size=1 << 20, cache_type="none", size=size),
                size, _hub_tag(entry))
    size, tag = _ranges_honoured(url, timeout)  # before anything else: a silent server or a 404 is named as such
    fs = _http_filesystem(timeout)
    if size is None:
        info = fs.info(url)
        size, tag = info.get("size"), info.get("ETag") or info.get("etag")
    return (lambda: fs.open(url, "rb", block_size=1 << 20, cache_type="none", size=size),  # each read one range
            size, tag)


def read_remote_header(url: Url, *, transfer: Transfer, timeout: float | None = None, fs=None) -> Header:
    """The header of the GGUF at ``url``, by range requests (or from the header cache); one line on any failure."""
    from workbench.gguffile.walk import _Bytes, _walk

    url = Url(url)
    timeout = default_timeout() if timeout is None else timeout
    try:
        opener, size, tag = _open_remote(url, timeout, fs)
    except InputError:
        raise
    except Exception as e:  # aiohttp, asyncio, httpx, fsspec and huggingface_hub raise many kinds: each is one line
        raise _one_line(url, e) from None
    if not isinstance(size, int) or size < 24:
        raise InputError(f"{url}: the server gives no usable size ({size!r}); cannot read its header by ranges")
    cached = cache_dir() / (hashlib.sha256(f"{url}\n{tag or f'size-{size}'}".encode()).hexdigest() + ".header")
    if cached.is_file():
        try:
            header = _walk(url, _Bytes(io.BytesIO(cached.read_bytes()), url, size), size)
            os.utime(cached)  # recently used: pruned last
            transfer.hit()
            return header
        except (InputError, OSError):  # a damaged or vanished cache entry is read again, not trusted
            cached.unlink(missing_ok=True)
    try:
        with opener() as f:
            b = _Bytes(_Counted(f, transfer), url, size)
            header = _walk(url, b, size)
    except InputError:
        raise
    except Exception as e:
        raise _one_line(url, e) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(bytes(b.buf))
    tmp.replace(cached)
    _prune(cached)
    return header


def cache_limit() -> int:
    """Bytes the header cache may hold: ``$KIMI_WB_HEADER_CACHE_MB`` (default 2048) MB."""
    try:
        return int(float(os.environ.get("KIMI_WB_HEADER_CACHE_MB", "2048")) * 1e6)
    except ValueError:
        raise InputError(f"KIMI_WB_HEADER_CACHE_MB is {os.environ['KIMI_WB_HEADER_CACHE_MB']!r}, expected a number "
                         "of megabytes") from None


def _prune(keep: Path) -> None:
    """Drop the least recently used headers until the cache fits :func:`cache_limit` (``keep``, just written, stays)."""
    entries = []
    for f in keep.parent.glob("*.header"):
        try:
            st = f.stat()
        except FileNotFoundError:  # pruned by a parallel reader
            continue
        entries.append((st.st_mtime_ns, f, st.st_size))
    total = sum(size for _, _, size in entries)
    for _, f, size in sorted(entries):
        if total <= cache_limit():
            break
        if f != keep:
            f.unlink(missing_ok=True)
            total -= size


def list_ggufs(url: str, *, fs=None) -> list[tuple[Url, int]]:
    """Every ``.gguf`` under an ``hf://OWNER/REPO[/FOLDER]`` address with its size, from the Hub's listing."""
    url = Url(url)
    if not url.hub:
        raise InputError(f"{url}: an HTTP server cannot list a folder; name a .gguf file (any member of a set)")
    fs = fs or hub_filesystem()
    try:
        found = fs.find(url.hub_path, detail=True)
        if not found and not fs.exists(url.hub_path):  # find() lists a missing folder as empty
            raise FileNotFoundError(url.hub_path)
    except Exception as e:
        raise _one_line(url, e) from None
    base = url.hub_path.split("/", 2)
    root = f"{HUB}{base[0]}/{base[1]}"
    repo = root[len(HUB):].split("@", 1)[0]
    out = []
    for name, entry in sorted(found.items()):
        if entry.get("type") == "file" and name.endswith(".gguf"):
            # HfFileSystem names entries OWNER/REPO[@REV]/PATH; keep the revision the caller asked for
            out.append((Url(root + name[len(repo):] if name.startswith(repo + "/") else f"{HUB}{name}"),
                        int(entry.get("size") or 0)))
    return out


def resolve(url: str, *, fs=None) -> Url:
    """The file to read for ``url``: itself when it names a ``.gguf``; for a Hub folder, split 1 of the one set
    (or the one file) in it, projectors aside. Anything else is one line that says what is there."""
    url = Url(url)
    if url.name.endswith(".gguf") and not url.endswith("/"):
        return url
    models = [(u, n) for u, n in list_ggufs(url, fs=fs) if not NOT_A_MODEL.match(u.name)]
    if not models:
        raise InputError(f"{url}: no .gguf model files there")
    sets = {}
    for u, _ in models:
        m = SPLIT_NAME.match(u.name)
        sets.setdefault(str(u.parent) + "/" + (m["stem"] if m else u.name), []).append(u)
    if len(sets) > 1:
        names = ", ".join(sorted(k.rsplit("/", 1)[-1] for k in sets)[:6])
        raise InputError(f"{url}: {len(sets)} models there ({names}{', …' if len(sets) > 6 else ''}); name one, "
                         "or list them all with `kimi-wb quants`")
    return sorted(next(iter(sets.values())))[0]


def read_first_header(url: str, *, transfer: Transfer | None = None) -> tuple[Url, Header]:
    """Split 1 of the set ``url`` names (or the file itself) and its header: where the tokenizer metadata lives."""
    from workbench.gguffile.splits import first_split

    fs = hub_filesystem() if Url(url).hub else None
    first = resolve(url, fs=fs)
    first = first_split(first) or first
    return first, read_remote_header(first, transfer=transfer or Transfer(), fs=fs)
