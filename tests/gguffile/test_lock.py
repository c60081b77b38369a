"""One writer at a time: a second patch is refused at once (or waits), and readers never see half a patch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest

from tests.helpers import TEMPLATE, sha
from workbench.gguffile.lock import Busy, lock_path, writing
from workbench.ggufio import patch
from workbench.ggufio.inspect import inspect

EOS, BOS = "tokenizer.ggml.eos_token_id", "tokenizer.ggml.bos_token_id"
HOLD = """
import sys
from workbench.gguffile import writing
with writing([sys.argv[1]]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(model):
    """Another process holding the write lock on the model until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(model)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def test_a_second_writer_is_refused_at_once(model, assets, holder):
    before = sha(model)
    with pytest.raises(Busy, match=rf"^{model.name} is being patched by process {holder.pid}; nothing was changed$"):
        patch(model, {EOS: assets.n_ranks + 2}, progress=False)
    assert sha(model) == before
    holder.stdin.close()
    holder.wait(timeout=60)
    patch(model, {EOS: assets.n_ranks + 2}, progress=False)
    assert inspect(model).value(EOS) == assets.n_ranks + 2
    assert sorted(p.name for p in model.parent.iterdir()) == [model.name]  # the lock file went with the lock


def test_a_writer_that_is_asked_to_wait_goes_next(model, assets, holder):
    done: list = []
    writer = threading.Thread(target=lambda: done.append(patch(model, {EOS: assets.n_ranks + 2}, progress=False,
                                                                   wait=120)))
    writer.start()
    holder.stdin.close()  # release: the waiting writer takes the lock
    writer.join(timeout=180)
    assert done and done[0][0].applied and inspect(model).value(EOS) == assets.n_ranks + 2


def test_locks_are_reentrant_in_a_thread_and_refused_to_another(model, assets):
    with writing([model]):
        with writing([model]):  # fix_kimi holds the lock and calls patch
            assert lock_path(model).exists()
        assert _patch_from_another_thread(model, assets) == [
            f"{model.name} is being patched by another thread of this process"]
    assert not lock_path(model).exists()


def _cli_patch(model, *args):
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", "gguf", "patch", "--json", str(model), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("wait", [False, True], ids=["refuse", "wait"])
def test_two_cli_writers_never_mix(model, assets, tmp_path_factory, wait):
    """Two rewrites at once (EOS + one template, BOS + another): each is applied whole or refused whole,
    and what each reports is what the file holds."""
    n = assets.n_ranks
    folder = tmp_path_factory.mktemp("templates")
    a_template, b_template = folder / "a.jinja", folder / "b.jinja"
    a_template.write_text(TEMPLATE + "{# writer A: a longer template #}", encoding="utf-8")
    b_template.write_text(TEMPLATE + "{# writer B: another, longer still #}", encoding="utf-8")
    for _ in range(4):
        extra = ["--wait", "300"] if wait else []
        a = _cli_patch(model, "--set", f"{EOS}={n + 2}", "--template-file", str(a_template), *extra)
        b = _cli_patch(model, "--set", f"{BOS}={n + 3}", "--template-file", str(b_template), *extra)
        results = {}
        for name, proc in (("a", a), ("b", b)):
            out, err = proc.communicate(timeout=600)
            assert "Traceback" not in err, err
            if proc.returncode == 0:
                results[name] = json.loads(out)[0]
            else:
                assert proc.returncode == 2 and not wait, err
                assert err.strip().startswith("kimi-wb: error: ") and "is being patched by" in err and \
                    len(err.strip().splitlines()) == 1, err
        assert results, "both writers refused"
        info = inspect(model)
        template = re.sub(r"\{# *#\}$", "", info.value("tokenizer.chat_template"))  # a shorter one is padded in place
        assert template in (a_template.read_text(), b_template.read_text())
        if "a" in results:
            assert info.value(EOS) == n + 2 and results["a"]["applied"]
        if "b" in results:
            assert info.value(BOS) == n + 3 and results["b"]["applied"]
        if len(results) == 1:
            (only,) = results
            assert template == (a_template if only == "a" else b_template).read_text()
        # the next round starts from the original values again
        patch(model, {EOS: n + 1, BOS: n, "tokenizer.chat_template": TEMPLATE}, progress=False)
        assert sorted(p.name for p in model.parent.iterdir()) == [model.name]


WRITER = """
import sys
from workbench.ggufio import patch
path, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(rounds):
    k = i % 2
    # in place: EOS and BOS move together, two ranges of one patch
    values = {"tokenizer.ggml.eos_token_id": n + 1 + k, "tokenizer.ggml.bos_token_id": n + k}
    patch(path, values, progress=False, llama_check=False, wait=600)
print("done", flush=True)
"""


def test_readers_see_the_old_file_or_the_new_one(model, assets):
    n = assets.n_ranks
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(model), str(n), "30"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    seen = set()
    while writer.poll() is None:
        info = inspect(model)
        seen.add((info.value(EOS), info.value(BOS)))
    out, err = writer.communicate()
    assert writer.returncode == 0 and out.strip() == "done", err
    assert seen <= {(n + 1, n), (n + 2, n + 1)}, seen  # never an EOS from one patch and a BOS from another


def _patch_from_another_thread(model, assets) -> list[str]:
    """What a patch on another thread of this process says (its Busy message), or ``[]`` if it went through."""
    errors: list[str] = []

    def other():
        try:
            patch(model, {EOS: assets.n_ranks + 2}, progress=False)
        except Busy as e:
            errors.append(str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    return errors


def test_a_link_to_the_file_shares_its_lock(model, assets, tmp_path_factory):
    link = tmp_path_factory.mktemp("links") / "alias.gguf"
    link.symlink_to(model)
    with writing([link]):
        assert lock_path(link) == lock_path(model) and lock_path(model).exists()
        errors = _patch_from_another_thread(model, assets)
    assert errors == [f"{model.name} is being patched by another thread of this process"]
