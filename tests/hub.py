"""A loopback stand-in for the Hugging Face Hub's listing and resolve endpoints, for tests.

``serve_hub(root)`` answers the requests ``huggingface_hub.HfFileSystem`` makes to list a model repo and to
read byte ranges of its files, so the real client runs against a local folder with no network:
``HfFileSystem(endpoint=hub, token=False)``. Repos are the folders ``root/OWNER/NAME``; every revision is
a folder's current contents. Files may be huge sparse files, so ids hash (path, size, mtime), never
contents, and a ranged read sends only the bytes asked for. The yielded :class:`Hub` counts what was served.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.run.llama_server import free_port

SHA = "c0ffee" + "0" * 34  # the commit every revision resolves to


class _Revision(StringConvertor):
    """A path segment, or a special ref the client leaves unquoted (``refs/pr/1``, ``refs/convert/parquet``)."""

    regex = r"refs/(?:pr|convert)/[^/]+|[^/]+"


register_url_convertor("hub_revision", _Revision())


class Hub(str):
    """The Hub's base URL, ``http://127.0.0.1:PORT``, with what it served: ``bytes_served`` (body bytes of
    resolve responses) and ``requests`` (``(method, path[?query], Range header or None)``, in order)."""

    bytes_served: int
    requests: list[tuple[str, str, str | None]]

    def __new__(cls, url: str) -> Hub:
        hub = super().__new__(cls, url)
        hub.bytes_served, hub.requests, hub._lock = 0, [], threading.Lock()
        return hub

    def _counting(self, app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            query = scope["query_string"].decode()
            ranges = dict(scope["headers"]).get(b"range")
            with self._lock:
                self.requests.append((scope["method"], scope["path"] + (f"?{query}" if query else ""),
                                      ranges.decode() if ranges else None))
            resolve = "/resolve/" in scope["path"]

            async def send_counted(message: Message) -> None:
                if resolve and message["type"] == "http.response.body":
                    with self._lock:
                        self.bytes_served += len(message.get("body", b""))
                await send(message)

            await app(scope, receive, send_counted)

        return counted


def _missing(code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=404, headers={"X-Error-Code": code, "X-Error-Message": message})


def _locate(repo: Path, rel: str) -> Path | None:
    parts = PurePosixPath(rel.strip("/")).parts
    target = repo.joinpath(*parts)
    return target if ".." not in parts and target.exists() else None


def _entry(repo: Path, path: Path) -> dict[str, Any]:
    rel = path.relative_to(repo).as_posix()
    if path.is_dir():
        return {"type": "directory", "path": rel, "size": 0, "oid": hashlib.sha1(f"tree\0{rel}".encode()).hexdigest()}
    st = path.stat()
    key = f"{rel}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    return {"type": "file", "path": rel, "size": st.st_size, "oid": hashlib.sha1(key).hexdigest(),
            "lfs": {"oid": hashlib.sha256(key).hexdigest(), "size": st.st_size, "pointerSize": 134}}


def _app(root: Path) -> Starlette:
    def repo_of(request: Request) -> Path | None:
        repo = root / request.path_params["owner"] / request.path_params["name"]
        return repo if repo.is_dir() and ".." not in (repo.parent.name, repo.name) else None

    def no_repo() -> JSONResponse:
        return _missing("RepoNotFound", "Repository not found")

    def info(request: Request) -> Response:
        if (repo := repo_of(request)) is None:
            return no_repo()
        files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
        return JSONResponse({"id": f"{repo.parent.name}/{repo.name}", "sha": SHA, "private": False,
                             "siblings": [{"rfilename": f} for f in files]})

    def tree(request: Request) -> Response:
        if (repo := repo_of(request)) is None:
            return no_repo()
        if (target := _locate(repo, request.path_params.get("path", ""))) is None:
            return _missing("EntryNotFound", "Entry not found")
        if target.is_file():
            return JSONResponse([_entry(repo, target)])
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        return JSONResponse([_entry(repo, p) for p in sorted(target.rglob("*") if recursive else target.iterdir())])

    async def paths_info(request: Request) -> Response:
        if (repo := repo_of(request)) is None:
            return no_repo()
        body = (await request.body()).decode()
        if request.headers.get("content-type", "").startswith("application/json"):
            paths = json.loads(body).get("paths", [])
        else:
            paths = parse_qs(body).get("paths", [])
        found = [t for p in ([paths] if isinstance(paths, str) else paths) if (t := _locate(repo, p)) not in (None, repo)]
        return JSONResponse([_entry(repo, t) for t in found])

    def resolve(request: Request) -> Response:
        if (repo := repo_of(request)) is None:
            return no_repo()
        target = _locate(repo, request.path_params["path"])
        if target is None or not target.is_file():
            return _missing("EntryNotFound", "Entry not found")
        entry = _entry(repo, target)
        etag = f'"{entry["lfs"]["oid"]}"'
        return FileResponse(target, headers={"ETag": etag, "X-Repo-Commit": SHA, "X-Linked-Etag": etag,
                                             "X-Linked-Size": str(entry["size"])})

    api = "/api/models/{owner}/{name}"
    return Starlette(routes=[
        Route(api, info), Route(api + "/revision/{revision:hub_revision}", info),
        Route(api + "/tree/{revision:hub_revision}", tree), Route(api + "/tree/{revision:hub_revision}/{path:path}", tree),
        Route(api + "/paths-info/{revision:hub_revision}", paths_info, methods=["POST"]),
        Route("/{owner}/{name}/resolve/{revision:hub_revision}/{path:path}", resolve, methods=["GET", "HEAD"]),
    ])


@contextmanager
def running(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``127.0.0.1`` (``port``, default a free one) in a daemon thread; yield its base
    URL until the block exits."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # a readiness poll, not a sleep that decides an outcome
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_hub(root: Path) -> Iterator[Hub]:
    """Yield ``"http://127.0.0.1:PORT"`` (a :class:`Hub`): a Hub for the model repos under ``root``, each repo
    the folder ``root/OWNER/NAME``, served by uvicorn in a daemon thread until the block exits."""
    port = free_port()
    hub = Hub(f"http://127.0.0.1:{port}")
    with running(hub._counting(_app(Path(root))), port):
        yield hub


#: the repo :func:`write_kimi_repo` writes
KIMI_REPO = "acme/Kimi-K2-Instruct-GGUF"


def write_kimi_repo(root: Path) -> Path:
    """``root/acme/Kimi-K2-Instruct-GGUF``: a folder per quant, real-scale sparse Kimi sets: UD-Q2_K_XL (8 files,
    377 GB, the fixed EOS) and UD-TQ1_0 (5 files, the old EOS and template); a projector and a README."""
    from workbench.models.sparse import write_kimi_shaped

    repo = root / KIMI_REPO
    for name in ("UD-Q2_K_XL", "UD-TQ1_0"):
        (repo / name).mkdir(parents=True)
    write_kimi_shaped(repo / "UD-Q2_K_XL" / "Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8)
    write_kimi_shaped(repo / "UD-TQ1_0" / "Kimi-K2-Instruct-UD-TQ1_0.gguf", recipe="UD-TQ1_0", split=5, old=True)
    with open(repo / "mmproj-F16.gguf", "wb") as f:
        f.truncate(900 << 20)
    (repo / "README.md").write_text("# Kimi K2 Instruct GGUF\n")
    return repo
