"""After a write: the new values re-read from the header, the tensor layout, and llama.cpp's own reading.

Each returns the list of what it confirmed, or raises :class:`~workbench.errors.WorkbenchError`
naming what the file holds instead (the caller then rolls the write back).

Not here: the writes (:mod:`.patch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import gguf
from gguf import Keys

from workbench.errors import WorkbenchError
from workbench.gguffile import read_header
from workbench.ggufio.plan import layout
from workbench.ggufio.values import TEMPLATE_KEY, is_padded


def confirm_values(path: Path, values: Mapping[str, object], remove: Sequence[str]) -> list[str]:
    h = read_header(path)
    done = []
    try:
        for key, want in values.items():
            f = h.fields.get(key)
            got = None if f is None else h.array(key) if f.count is not None else f.value
            if isinstance(got, float) and isinstance(want, (int, float)):
                ok = abs(got - want) <= 1e-6 * max(1.0, abs(want))
            elif key == TEMPLATE_KEY:
                ok = is_padded(got, want)
            else:
                ok = got == want
            if not ok:
                shown = f"{len(got)} items" if isinstance(got, list) else repr(got)
                raise WorkbenchError(f"{path}: after patching, {key} reads {shown}, not the value written")
            done.append(f"{key} re-read")
        for key in remove:
            if key in h.fields:
                raise WorkbenchError(f"{path}: {key} is still present after removal")
            done.append(f"{key} absent")
    finally:
        h.close()
    return done


def confirm_llama(first: Path, values: Mapping[str, object]) -> list[str]:
    """llama.cpp loads the file (vocab only) and sees the new EOS and template."""
    from workbench.llamacpp import LlamaRefusal, vocab

    try:
        llm = vocab(first)
    except LlamaRefusal as e:
        raise WorkbenchError(f"{first}: llama.cpp cannot load the patched file: {e.reason}") from e
    done = ["llama.cpp loads it (vocab_only)"]
    eos = values.get(Keys.Tokenizer.EOS_ID)
    if eos is not None:
        if llm.token_eos() != eos:
            raise WorkbenchError(f"{first}: llama.cpp reports EOS {llm.token_eos()}, expected {eos}")
        done.append(f"llama.cpp EOS = {eos}")
    types = values.get(Keys.Tokenizer.TOKEN_TYPE)
    if types is not None:
        user = [i for i, t in enumerate(types) if t == gguf.TokenType.USER_DEFINED]  # survives plain detokenization
        lost = [i for i in user if not llm.detokenize([i], special=False)]
        if lost:
            raise WorkbenchError(f"{first}: llama.cpp still drops token(s) {lost[:5]} from plain text")
        done.append(f"llama.cpp keeps {len(user)} USER_DEFINED token(s) in plain text")
    template = values.get(TEMPLATE_KEY)
    if template is not None:
        seen = llm.meta(TEMPLATE_KEY) or ""
        if not seen.startswith(template):
            raise WorkbenchError(f"{first}: llama.cpp reads a different chat template")
        done.append("llama.cpp reads the new template")
    llm.close()
    return done


def tensor_layout(path: Path) -> list[tuple[str, int, int]]:
    """(name, absolute offset, bytes) of every tensor, read again from the file's header."""
    return layout(read_header(path))
