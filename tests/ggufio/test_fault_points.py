"""Every write, fsync, rename and unlink of patch, rewrite, restore and fix-kimi is a place to be killed.

A child process runs one operation with every write-class call counted: ``os.pwrite``,
``os.write``, ``os.fsync``, ``os.replace``, ``os.rename``, ``os.link``, ``os.unlink``,
``os.ftruncate``, opening a file for writing, and each chunk a rewrite copies. A first run
counts them (N); then for every k in 1..N a child is killed with SIGKILL just before the
k-th. Afterwards, once ``recover`` has run (as every patch, fix and restore does first), the
file must hold exactly the bytes from before the operation or from after it, read as a
GGUF, and nothing may be left beside it (a backup the operation was asked to keep aside).
Calls on other files (the isolation worker's pipes, the tests' own) are not counted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import gguf
import pytest

from tests.helpers import TEMPLATE
from workbench.ggufio import patch, recover

COUNTING = """
import builtins, io, os, signal, sys
FOLDER = os.path.realpath(sys.argv[1]) + os.sep
KILL_AT = int(sys.argv[2])
calls = [0]

def _mine(target):
    try:
        if isinstance(target, int):
            target = os.readlink(f"/proc/self/fd/{target}")
        return os.path.realpath(os.fspath(target)).startswith(FOLDER)
    except (OSError, TypeError):
        return False

def _point():
    calls[0] += 1
    if calls[0] == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)

def counted(real, where=0):
    def wrapper(*a, **k):
        if len(a) > where and _mine(a[where]):
            _point()
        return real(*a, **k)
    return wrapper

for name in ("pwrite", "write", "fsync", "ftruncate", "unlink", "link", "rename", "replace"):
    setattr(os, name, counted(getattr(os, name)))
os.remove = os.unlink
_os_open = os.open
def os_open(path, flags, *a, **k):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and _mine(path):
        _point()
    return _os_open(path, flags, *a, **k)
os.open = os_open
_open = builtins.open
def open_(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+") and _mine(file):
        _point()
    return _open(file, mode, *a, **k)
builtins.open = io.open = open_

from workbench.ggufio import patch, restore, rewrite
_copy = rewrite.copy_chunk
def copy_chunk(src, out, n):
    _point()
    return _copy(src, out, n)
rewrite.copy_chunk = copy_chunk
rewrite.CHUNK = 4096  # several chunks even for a small file
"""


def _run(folder, kill_at: int, body: str) -> subprocess.CompletedProcess:
    script = COUNTING + textwrap.dedent(body) + "\nprint('calls', calls[0])\n"
    return subprocess.run([sys.executable, "-c", script, str(folder), str(kill_at)], capture_output=True, text=True,
                          timeout=300)


def _scenarios(model, assets):
    eos = assets.n_ranks + 2
    longer = "a longer name than the fixture had, so the header grows"
    return {
        "in-place-patch": (None, f"patch({str(model)!r}, {{'tokenizer.ggml.eos_token_id': {eos}, "
                                 f"'tokenizer.ggml.add_bos_token': True}}, progress=False, llama_check=False, "
                                 f"backup=True)"),
        "rewrite": (None, f"patch({str(model)!r}, {{'general.name': {longer!r}}}, progress=False, "
                          f"llama_check=False, backup=True)"),
        "restore-in-place": (lambda: patch(model, {"tokenizer.ggml.eos_token_id": eos}, progress=False,
                                           llama_check=False, backup=True),
                             f"restore({str(model)!r}, progress=False)"),
        "restore-by-rewrite": (lambda: patch(model, {"general.name": longer}, progress=False, llama_check=False,
                                             backup=True),
                               f"restore({str(model)!r}, progress=False)"),
        "fix-kimi": (None, "from workbench.ggufio.fixes import fix_kimi\n"
                           f"fix_kimi({str(model)!r}, template={TEMPLATE + '{# fixed #}'!r}, progress=False)"),
    }


def _after(model, body, tmp_path):
    """The bytes the operation leaves when nothing stops it (on a copy of the starting state)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    twin = probe / model.name
    shutil.copy(model, twin)
    for extra in model.parent.glob(f"{model.name}.wb-backup"):
        shutil.copy(extra, probe / extra.name)
    done = _run(probe, 0, body.replace(str(model), str(twin)))
    assert done.returncode == 0, done.stderr[-2000:]
    data = twin.read_bytes()
    shutil.rmtree(probe)
    return data, int(done.stdout.split()[-1])


SCENARIOS = ["in-place-patch", "rewrite", "restore-in-place", "restore-by-rewrite", "fix-kimi"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_killed_at_every_write_class_call(model, assets, tmp_path, scenario):
    setup, body = _scenarios(model, assets)[scenario]
    if setup is not None:
        setup()
    keep = {f"{model.name}.wb-backup"} if "backup=True" in body or scenario.startswith("restore") else set()
    start = {p.name: p.read_bytes() for p in model.parent.iterdir()}
    before = model.read_bytes()
    after, n = _after(model, body, tmp_path)
    assert after != before and n >= 4, (scenario, n)
    for k in range(1, n + 1):
        proc = _run(model.parent, k, body)
        assert proc.returncode == -9, (scenario, k, proc.returncode, proc.stderr[-2000:])
        recover(model)
        final = model.read_bytes()
        assert final in (before, after), (scenario, k)
        gguf.GGUFReader(model)  # a valid GGUF
        litter = sorted(p.name for p in model.parent.iterdir())
        assert set(litter) <= {model.name} | keep, (scenario, k, litter)
        for p in model.parent.iterdir():  # back to the start for the next point
            if p.name not in start:
                p.unlink()
        for name, data in start.items():
            (model.parent / name).write_bytes(data)
    print(f"{scenario}: {n} kill points")


def test_at_least_twenty_points_in_all(model, assets, tmp_path):
    total = 0
    for scenario in SCENARIOS:
        work = tmp_path / scenario
        work.mkdir()
        twin = work / model.name
        shutil.copy(model, twin)
        setup, body = _scenarios(twin, assets)[scenario]
        if setup is not None:
            setup()
        total += _after(twin, body, work)[1]
    assert total >= 20, total
