"""``hf://`` sources through the real ``huggingface_hub.HfFileSystem``, against a loopback Hub (:mod:`tests.hub`)
serving a repo of real-scale sparse Kimi quants: inspect, plan, verify and ``kimi-wb quants`` before any download;
and remote failures (a silent server, mutated headers) as one line."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.ggufio.test_remote import serve
from tests.hub import KIMI_REPO, serve_hub, write_kimi_repo
from tests.test_cli import run
from tests.test_json_contract import documented
from workbench.errors import InputError
from workbench.ggufio.inspect import inspect
from workbench.run.planner import plan_memory
from workbench.run.quants import TEMPLATE_CHECKS, quants
from workbench.verify import check

REPO = KIMI_REPO
MACHINE = {"vram": "24GiB", "ram": "512GiB", "disk": "1TB"}


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    write_kimi_repo(root)
    return root


@pytest.fixture
def hub(hub_root, tmp_path, monkeypatch):
    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve_hub(hub_root) as base:
        monkeypatch.setenv("HF_ENDPOINT", base)
        yield base


def _comparable(plan) -> dict:
    d = plan.to_dict()
    for key in ("path", "command"):
        d.pop(key)
    return d


def test_a_quant_folder_plans_as_the_local_set_and_reads_only_headers(hub, hub_root):
    local_files = sorted((hub_root / REPO / "UD-Q2_K_XL").glob("*.gguf"))
    total = sum(f.stat().st_size for f in local_files)
    seen = []
    remote = inspect(f"hf://{REPO}/UD-Q2_K_XL/", progress=lambda done, n, name: seen.append((done, n)))
    assert [f.path.name for f in remote.files] == [f.name for f in local_files]
    assert [n for _, n in seen] == [8] * 8 and sorted(d for d, _ in seen) == list(range(1, 9))
    local = inspect(local_files[0])
    for offload in ("gpu-all", "experts-cpu", "n-cpu-moe:30"):
        assert _comparable(plan_memory(remote, offload, **MACHINE)) == _comparable(plan_memory(local, offload, **MACHINE))
    assert 0 < remote.transfer.bytes <= hub.bytes_served < total * 1e-4  # under 0.01% of the 377 GB set
    member = inspect(f"hf://{REPO}/UD-Q2_K_XL/{local_files[5].name}")  # any member names the set; now cached
    assert len(member.files) == 8 and member.transfer.bytes == 0 and member.transfer.cached == 8
    plan = plan_memory(member, "experts-cpu", **MACHINE)
    assert plan.command()[:3] == ["llama-server", "-m", f"UD-Q2_K_XL/{local_files[0].name}"]  # where hf download puts it


def test_hub_addresses_that_name_nothing_or_too_much_are_one_line(hub):
    cases = {
        f"hf://{REPO}/Q8_0/": "not found",
        "hf://acme/No-Such-Repo/x.gguf": "not found",
        f"hf://{REPO}": "2 models there (Kimi-K2-Instruct-UD-Q2_K_XL, Kimi-K2-Instruct-UD-TQ1_0)",
        f"hf://{REPO}/UD-Q2_K_XL/Kimi-K2-Instruct-UD-Q2_K_XL-00009-of-00009.gguf": "not found",
    }
    for address, expected in cases.items():
        with pytest.raises(InputError) as e:
            inspect(address)
        assert expected in str(e.value) and "\n" not in str(e.value), (address, str(e.value))


def test_verify_reads_split_one_remotely_and_skips_llama_cpp(hub):
    fixed = check(f"hf://{REPO}/UD-Q2_K_XL/Kimi-K2-Instruct-UD-Q2_K_XL-00004-of-00008.gguf")
    old = check(f"hf://{REPO}/UD-TQ1_0/")
    by_check = {f.check: f for f in fixed.findings}
    assert fixed.kind == "gguf" and fixed.path.endswith("-00001-of-00008.gguf")
    assert by_check["eos-token"].severity == "info" and by_check["llama.cpp"].message.startswith("skipped for a remote")
    assert "same id in tiktoken, hf," in by_check["special-token-ids"].message
    assert [f.severity for f in old.findings if f.check == "eos-token"] == ["error"] and not old.ok
    template_checks = {f.check for r in (fixed, old) for f in r.findings
                       if f.check.startswith(("template", "tool", "default-system", "generation"))}
    assert template_checks <= set(TEMPLATE_CHECKS), template_checks - set(TEMPLATE_CHECKS)  # quants' column sees them


def test_quants_ranks_every_quant_for_the_machine(hub, hub_root):
    table = quants(f"hf://{REPO}", n_ctx=8192, **MACHINE)
    rows = {q.name: q for q in table.rows}
    assert set(rows) == {"UD-Q2_K_XL", "UD-TQ1_0"} and table.projectors == [("mmproj-F16.gguf", 900 << 20)]
    q2, tq1 = rows["UD-Q2_K_XL"], rows["UD-TQ1_0"]
    assert (q2.files, tq1.files) == (8, 5)
    assert q2.size == sum(f.stat().st_size for f in (hub_root / REPO / "UD-Q2_K_XL").glob("*.gguf"))
    for q in (q2, tq1):  # the row is the planner's own answer for that quant
        info = inspect(q.first)
        plan = plan_memory(info, "gpu-all", n_ctx=8192, **MACHINE)
        assert q.recommendation == plan.recommendation and q.recommendation.startswith("n-cpu-moe:")
        best = plan_memory(info, q.recommendation, n_ctx=8192, **MACHINE)
        assert (q.verdict, q.need, q.command) == (best.verdict, best.need, best.command())
    assert q2.eos.startswith("ok") and q2.template == "ok"
    assert tq1.eos.startswith("error: EOS is [EOS]") and tq1.template.startswith("warning:")
    assert q2.download == ["hf", "download", REPO, "--include", "UD-Q2_K_XL/*", "--local-dir", "."]
    assert table.best() is q2  # the larger of the two that fit
    assert 0 < table.header_bytes < 1e-4 * (q2.size + tq1.size)


def test_the_cli_lists_quants_and_refuses_to_patch_a_remote_file(hub, capsys):
    code, out, err = run(capsys, "quants", f"hf://{REPO}", "--vram", "24GiB", "--ram", "512GiB", "--disk", "1TB",
                         "--json")
    doc = json.loads(out)
    assert set(doc) == documented("quants")
    assert code == 0 and doc["best"] == "UD-Q2_K_XL" and [q["name"] for q in doc["quants"]] == ["UD-Q2_K_XL", "UD-TQ1_0"]
    assert "read the headers of 2 quant(s):" in err
    code, out, err = run(capsys, "quants", f"hf://{REPO}", "--vram", "24GiB", "--ram", "512GiB", "--disk", "1TB")
    assert code == 0 and "best that fits: UD-Q2_K_XL" in out and "hf download" in out and "0 header(s)" not in err
    code, out, err = run(capsys, "gguf", "inspect", f"hf://{REPO}/UD-TQ1_0/", "--json")
    assert code == 0 and len(json.loads(out)["files"]) == 5 and "read 5 remote header(s):" in err
    code, out, err = run(capsys, "verify", f"hf://{REPO}/UD-TQ1_0/")
    assert code == 1 and "EOS is [EOS]" in out
    code, out, err = run(capsys, "gguf", "patch", f"hf://{REPO}/UD-TQ1_0/", "--set", "general.name=x")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "a remote file" in err


def test_a_server_that_never_answers_times_out_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))
    monkeypatch.setenv("KIMI_WB_REMOTE_TIMEOUT", "1")
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/Kimi-K2-00001-of-00008.gguf"
        with pytest.raises(InputError) as e:
            inspect(url)
    assert re.fullmatch(r"http://127.0.0.1:\d+/Kimi-K2-0000\d-of-00008.gguf: no answer in time \(.*\)", str(e.value))


def test_mutated_remote_headers_fail_as_the_local_files_do(tiny_model, tmp_path, monkeypatch):
    from workbench.ggufio.mutate import mutants

    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))
    folder = tmp_path / "m"
    folder.mkdir()
    files = [m.write(folder / f"mutant-{i}.gguf") for i, m in enumerate(mutants(tiny_model, n=40, seed=5))]

    def outcome(path) -> str:
        try:
            info = inspect(path)
            return f"ok {len(info.tensors)} tensors"
        except InputError as e:
            assert "\n" not in str(e)
            return "refused: " + str(e).replace(str(path), "PATH")

    with serve(folder) as base:
        remote = [outcome(f"{base}/{f.name}") for f in files]
    local = [outcome(f) for f in files]
    assert remote == local
    assert sum(r.startswith("refused") for r in remote) >= 10 and any(r.startswith("ok") for r in remote)


def test_a_silent_hub_is_one_line(monkeypatch, tmp_path):
    """The Hub client's own timeouts apply to hf:// (HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT; set here to 1 s)."""
    from huggingface_hub import constants

    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(tmp_path / "headers"))
    monkeypatch.setattr(constants, "HF_HUB_ETAG_TIMEOUT", 1)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(InputError) as e:
            inspect(f"hf://{REPO}/UD-Q2_K_XL/")
    assert str(e.value).startswith(f"hf://{REPO}/UD-Q2_K_XL/: no answer in time") and "\n" not in str(e.value)
