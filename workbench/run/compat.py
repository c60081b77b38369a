"""Will the installed llama.cpp load this quant? Answered in about a second, before a multi-minute load fails.

:func:`check_compat` returns a :class:`workbench.verify.Report` (kind ``compat``) whose
findings are, in order (``error`` when llama.cpp would refuse, else ``info``):

- ``split-set``: every member of a split set is there (named when one is missing);
- ``experts``: ``expert_count`` is within ``LLAMA_MAX_EXPERTS`` of the bundled llama.cpp (1024,
  ``src/llama-hparams.h``) and ``expert_used_count`` within ``expert_count``. llama.cpp does
  not report these: it asserts (``GGML_ASSERT`` in ``load_hparams``), which aborts the process
  — a dead Jupyter kernel — so this is checked from the header first, and the next check is
  skipped when it fails;
- ``llama.cpp``: llama.cpp itself reads the metadata of split 1 (``vocab_only``: no tensor data),
  in an isolated worker (:func:`workbench.llamacpp.check`), so an architecture or a
  pre-tokenizer it does not know (``tokenizer.ggml.pre``) comes back as its own words
  ("unknown model architecture: 'x'", "unknown pre-tokenizer type: 'y'"), and a header it
  aborts on as its ``GGML_ASSERT`` line, with the caller alive.

    >>> report = check_compat("Kimi-K2-Instruct-UD-Q2_K_XL-00001-of-00008.gguf")   # doctest: +SKIP
    >>> report.ok, [line(f) for f in report.findings]                                 # doctest: +SKIP
    (True, ['ok split-set: 8 files, all present', 'ok experts: 384 routed, 8 used (llama.cpp allows 1024)', …])

:func:`compat_json` is the ``compat`` part of ``kimi-wb plan --json`` (``{"ok", "checks":
[{"name", "ok", "message"}]}``); :func:`raise_for_problems` turns the first refusal into an error.
"""

from __future__ import annotations

import os
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.ggufio.inspect import GGUFInfo, inspect
from workbench.verify.report import Finding, Report

#: ``LLAMA_MAX_EXPERTS`` of the llama.cpp bundled with llama-cpp-python 0.3.36 (src/llama-hparams.h)
LLAMA_MAX_EXPERTS = 1024


def _add(report: Report, check: str, ok: bool, message: str) -> None:
    report.add(check, "info" if ok else "error", message)


def line(finding: Finding) -> str:
    """A finding as the plan and the app show it: ``ok experts: 8 routed, …`` or ``FAIL llama.cpp: …``."""
    return f"{'FAIL' if finding.severity == 'error' else 'ok'} {finding.check}: {finding.message}"


def compat_json(report: Report) -> dict:
    """The ``compat`` document of ``kimi-wb plan --json``."""
    return {"ok": report.ok, "checks": [{"name": f.check, "ok": f.severity != "error", "message": f.message}
                                        for f in report.findings]}


def raise_for_problems(report: Report) -> None:
    """An :class:`InputError` naming the first refusal, if any."""
    for f in report.findings:
        if f.severity == "error":
            raise InputError(f"{report.path}: llama.cpp would not load it: {f.check}: {f.message}")


def check_compat(path: str | os.PathLike[str] | GGUFInfo) -> Report:
    """Check ``path`` (any member of a split set, or its :class:`GGUFInfo`) against the installed llama.cpp."""
    try:
        info = path if isinstance(path, GGUFInfo) else inspect(path)
    except InputError as e:
        report = Report(str(path), "compat")
        _add(report, "split-set", False, str(e))
        return report
    report = Report(str(info.path), "compat")
    n = len(info.files)
    _add(report, "split-set", True, f"{n} file{'s' * (n != 1)}, all present" if n > 1 else "one file")

    arch = info.value(Keys.General.ARCHITECTURE)
    experts = info.value(Keys.LLM.EXPERT_COUNT.format(arch=arch))
    used = info.value(Keys.LLM.EXPERT_USED_COUNT.format(arch=arch))
    odd = [k for k, v in (("expert_count", experts), ("expert_used_count", used))
           if v is not None and (isinstance(v, bool) or not isinstance(v, int))]
    if odd:
        _add(report, "experts", False, f"{arch}.{odd[0]} is {experts if odd[0] == 'expert_count' else used!r}, "
                                       "not an integer")
        return report
    if experts is None:
        _add(report, "experts", True, "not a mixture of experts")
    elif experts > LLAMA_MAX_EXPERTS:
        _add(report, "experts", False, f"{experts} routed experts; this llama.cpp allows at most "
                                       f"{LLAMA_MAX_EXPERTS} and would abort the process while loading")
        return report
    elif used is not None and not 0 < used <= experts:
        _add(report, "experts", False, f"{used} experts used per token of {experts}")
        return report
    else:
        _add(report, "experts", True, f"{experts} routed, {used} used (llama.cpp allows {LLAMA_MAX_EXPERTS})")

    pre = info.value(Keys.Tokenizer.PRE)
    if info.transfer is not None:  # a remote file: llama.cpp reads local files only
        _add(report, "llama.cpp", True, "skipped for a remote file (llama.cpp reads local files; the header checks "
                                        "above ran on the remote header)")
        return report
    reason = _llama_cpp_refusal(Path(info.path))
    _add(report, "llama.cpp", reason is None, reason or (
        f"reads the metadata: architecture {arch}" + (f", pre-tokenizer {pre}" if pre else "")))
    return report


def _llama_cpp_refusal(path: Path) -> str | None:
    """Why llama.cpp refuses to read ``path``'s metadata (``vocab_only``, in an isolated worker), in its own
    words; None if it reads it."""
    from workbench.llamacpp import LlamaRefusal, check

    try:
        check(path)
    except LlamaRefusal as e:
        return e.reason
    return None
