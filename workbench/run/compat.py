"""Will the installed llama.cpp load this quant? Answered in about a second, before a multi-minute load fails.

Checks, in order (each a :class:`Check` with a one-line message):

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
    >>> report.ok, [str(c) for c in report.checks]                                    # doctest: +SKIP
    (True, ['ok split-set: 8 files, all present', 'ok experts: 384 routed, 8 used (llama.cpp allows 1024)', …])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gguf import Keys

from workbench.errors import InputError
from workbench.ggufio.inspect import GGUFInfo, inspect

#: ``LLAMA_MAX_EXPERTS`` of the llama.cpp bundled with llama-cpp-python 0.3.36 (src/llama-hparams.h)
LLAMA_MAX_EXPERTS = 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'} {self.name}: {self.message}"


@dataclass
class CompatReport:
    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def raise_for_problems(self) -> None:
        """An :class:`InputError` naming the first failed check, if any."""
        for c in self.checks:
            if not c.ok:
                raise InputError(f"{self.path}: llama.cpp would not load it: {c.name}: {c.message}")

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks]}


def check_compat(path: str | os.PathLike[str] | GGUFInfo) -> CompatReport:
    """Check ``path`` (any member of a split set, or its :class:`GGUFInfo`) against the installed llama.cpp."""
    try:
        info = path if isinstance(path, GGUFInfo) else inspect(path)
    except InputError as e:
        report = CompatReport(str(path))
        report.checks.append(Check("split-set", False, str(e)))
        return report
    report = CompatReport(str(info.path))
    n = len(info.files)
    report.checks.append(Check("split-set", True, f"{n} file{'s' * (n != 1)}, all present" if n > 1 else "one file"))

    arch = info.value(Keys.General.ARCHITECTURE)
    experts = info.value(Keys.LLM.EXPERT_COUNT.format(arch=arch))
    used = info.value(Keys.LLM.EXPERT_USED_COUNT.format(arch=arch))
    odd = [k for k, v in (("expert_count", experts), ("expert_used_count", used))
           if v is not None and (isinstance(v, bool) or not isinstance(v, int))]
    if odd:
        report.checks.append(Check("experts", False, f"{arch}.{odd[0]} is {experts if odd[0] == 'expert_count' else used!r}, "
                                   "not an integer"))
        return report
    if experts is None:
        report.checks.append(Check("experts", True, "not a mixture of experts"))
    elif experts > LLAMA_MAX_EXPERTS:
        report.checks.append(Check("experts", False, f"{experts} routed experts; this llama.cpp allows at most "
                                   f"{LLAMA_MAX_EXPERTS} and would abort the process while loading"))
        return report
    elif used is not None and not 0 < used <= experts:
        report.checks.append(Check("experts", False, f"{used} experts used per token of {experts}"))
        return report
    else:
        report.checks.append(Check("experts", True, f"{experts} routed, {used} used (llama.cpp allows {LLAMA_MAX_EXPERTS})"))

    reason = _llama_cpp_refusal(Path(info.path))
    pre = info.value(Keys.Tokenizer.PRE)
    report.checks.append(Check("llama.cpp", reason is None, reason or (
        f"reads the metadata: architecture {arch}" + (f", pre-tokenizer {pre}" if pre else ""))))
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
