"""Remote GGUF headers over real HTTP: uvicorn serving Starlette's StaticFiles (which honours Range) on
loopback, and a server that ignores Range; the 377 GB Kimi-shaped split set behind them."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.hub import running
from workbench.errors import InputError
from workbench.ggufio.inspect import inspect
from workbench.models.sparse import write_kimi_shaped
from workbench.run.planner import plan_memory

MACHINE = {"vram": "24GiB", "ram": "512GiB", "disk": "1TB"}


@contextmanager
def serve(folder: Path, *, ranges: bool = True):
    """``http://127.0.0.1:PORT`` serving ``folder``; ``ranges=False``: every GET answers the whole file."""
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    if ranges:
        app = Starlette(routes=[Mount("/", StaticFiles(directory=folder))])
    else:
        def whole(request):
            path = folder / request.path_params["name"]

            def chunks():
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        yield chunk

            return StreamingResponse(chunks(), headers={"Content-Length": str(path.stat().st_size)})

        app = Starlette(routes=[Route("/{name}", whole, methods=["GET", "HEAD"])])
    with running(app) as base:
        yield base


@pytest.fixture(scope="module")
def kimi_set(tmp_path_factory) -> list[Path]:
    return write_kimi_shaped(tmp_path_factory.mktemp("set") / "Kimi-K2-Instruct-UD-Q2_K_XL.gguf", split=8)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))


def _comparable(plan) -> dict:
    d = plan.to_dict()
    for key in ("path", "command"):
        d.pop(key)
    return d


def test_a_remote_plan_equals_the_local_plan_and_reads_a_few_mb(kimi_set):
    total = sum(f.stat().st_size for f in kimi_set)
    local = inspect(kimi_set[0])
    with serve(kimi_set[0].parent) as base:
        remote = inspect(f"{base}/{kimi_set[2].name}")  # any member names the set
        again = inspect(f"{base}/{kimi_set[0].name}")
    assert [f.path.name for f in remote.files] == [f.name for f in kimi_set]
    for offload in ("gpu-all", "experts-cpu", "n-cpu-moe:30"):
        assert _comparable(plan_memory(remote, offload, **MACHINE)) == _comparable(plan_memory(local, offload, **MACHINE))
    t = remote.transfer
    assert 0 < t.bytes < total * 1e-4, f"{t.bytes:,} bytes of {total:,}"  # under 0.01% of a 377 GB set
    assert again.transfer.bytes == 0 and again.transfer.cached == 8  # the header cache: nothing over the wire
    assert plan_memory(remote, "experts-cpu", **MACHINE).path.startswith("http://127.0.0.1:")


def test_the_cli_plans_a_url(kimi_set, capsys):
    import json

    from tests.test_cli import run

    code, local, _ = run(capsys, "plan", str(kimi_set[0]), "--preset", "experts-cpu", "--vram", "24GiB", "--ram",
                         "512GiB", "--disk", "1TB", "--json")
    with serve(kimi_set[0].parent) as base:
        code, out, err = run(capsys, "plan", f"{base}/{kimi_set[4].name}", "--preset", "experts-cpu", "--vram",
                             "24GiB", "--ram", "512GiB", "--disk", "1TB", "--json")
    doc, want = json.loads(out), json.loads(local)
    assert code == 0 and doc["verdict"] == want["verdict"] and doc["need"] == want["need"]
    assert "read 8 remote header(s):" in err and "range request(s)" in err
    checks = {c["name"]: c for c in doc["compat"]["checks"]}
    assert checks["llama.cpp"]["message"].startswith("skipped for a remote file")


def test_a_server_that_ignores_range_is_one_line_not_a_download(kimi_set):
    with serve(kimi_set[0].parent, ranges=False) as base:
        with pytest.raises(InputError) as e:
            inspect(f"{base}/{kimi_set[0].name}")
    assert "ignores HTTP Range requests" in str(e.value) and "\n" not in str(e.value)


def test_missing_and_broken_remote_files_are_one_line(kimi_set, tmp_path):
    broken = tmp_path / "Broken.gguf"
    broken.write_bytes(kimi_set[0].read_bytes()[:3000] if kimi_set[0].stat().st_size < 10**6 else
                       open(kimi_set[0], "rb").read(3000))
    with pytest.raises(InputError) as local:
        inspect(broken)
    with serve(tmp_path) as base:
        with pytest.raises(InputError) as missing:
            inspect(f"{base}/Nope.gguf")
        with pytest.raises(InputError) as remote:
            inspect(f"{base}/Broken.gguf")
    assert str(missing.value) == f"{base}/Nope.gguf: not found (HTTP 404)"
    assert str(remote.value) == str(local.value).replace(str(broken), f"{base}/Broken.gguf")  # the same walk


def test_the_command_names_the_file_it_will_be(kimi_set):
    with serve(kimi_set[0].parent) as base:
        plan = plan_memory(inspect(f"{base}/{kimi_set[0].name}"), "experts-cpu", **MACHINE)
    assert plan.command()[:3] == ["llama-server", "-m", kimi_set[0].name]


def test_the_header_cache_keeps_the_recent_and_rereads_the_damaged(tiny_model, tmp_path, monkeypatch):
    folder = tmp_path / "served"
    folder.mkdir()
    for name in ("A", "B", "C"):
        (folder / f"{name}.gguf").write_bytes(tiny_model.read_bytes())
    cache = tmp_path / "headers"  # the autouse fixture's folder
    with serve(folder) as base:
        first = inspect(f"{base}/A.gguf")
        (entry,) = cache.glob("*.header")
        monkeypatch.setenv("KIMI_WB_HEADER_CACHE_MB", str(2.5 * entry.stat().st_size / 1e6))  # room for two
        for name in ("B", "C"):
            inspect(f"{base}/{name}.gguf")
        assert len(list(cache.glob("*.header"))) == 2
        assert inspect(f"{base}/C.gguf").transfer.cached == 1  # the newest stayed
        assert inspect(f"{base}/A.gguf").transfer.bytes > 0  # the oldest went
        for f in cache.glob("*.header"):
            f.write_bytes(b"GGUF" + b"\xff" * 60)  # damaged on disk
        again = inspect(f"{base}/A.gguf")
    assert again.transfer.cached == 0 and again.transfer.bytes == first.transfer.bytes
    assert [t.name for t in again.tensors] == [t.name for t in first.tensors]
