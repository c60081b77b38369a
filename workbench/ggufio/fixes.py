"""The known fixes for old Kimi GGUF files, applied through :func:`workbench.ggufio.patch`.

- EOS on ``<|im_end|>``, looked up in the file's own vocabulary (never a hard-coded id);
- ``<think>``, ``</think>`` and the tool markers typed USER_DEFINED where llama.cpp's converter
  typed them CONTROL (llama.cpp drops CONTROL tokens from plain detokenization);
- the chat template, when one is given.

A second run finds nothing to do (``fix_kimi`` returns ``[]``).
"""

from __future__ import annotations

import os
from contextlib import nullcontext

from gguf import Keys

from workbench.errors import InputError
from workbench.gguffile import writing
from workbench.ggufio.inspect import inspect, split_members
from workbench.ggufio.journal import recover
from workbench.ggufio.patching import Result, patch
from workbench.ggufio.values import TEMPLATE_KEY, is_padded


def kimi_fixes(path: str | os.PathLike[str], *, template: str | None = None, types: bool = True) -> dict[str, object]:
    """The values that fix an old Kimi file; empty when it is already fixed.

    - EOS on ``<|im_end|>``, looked up in the file's own vocabulary;
    - ``types``: ``<think>``, ``</think>`` and the tool markers typed USER_DEFINED where the
      converter typed them CONTROL (llama.cpp drops CONTROL tokens from plain detokenization,
      so reasoning and tool calls vanish from llama-cpp-python's output);
    - the chat template, when given.
    """
    import gguf

    from workbench.tokenizer.special import EOS, NAMED

    info = inspect(path)
    tokens = info.keys.get(Keys.Tokenizer.LIST)
    if tokens is None:
        raise InputError(f"{info.path}: no tokenizer metadata (tokenizer.ggml.tokens); pass split 1 of the set")
    ids = {text: i for i, text in enumerate(info.strings(Keys.Tokenizer.LIST))}
    if EOS not in ids:
        raise InputError(f"{info.path}: the vocabulary has no {EOS} token; not a Kimi tokenizer")
    fixes: dict[str, object] = {}
    if info.value(Keys.Tokenizer.EOS_ID) != ids[EOS]:
        fixes[Keys.Tokenizer.EOS_ID] = ids[EOS]
    kinds = info.keys.get(Keys.Tokenizer.TOKEN_TYPE)
    if types and kinds is not None:
        current_types = info.ints(Keys.Tokenizer.TOKEN_TYPE)
        if len(current_types) != tokens.length:
            raise InputError(f"{info.path}: {len(current_types)} token types for {tokens.length} tokens")
        new = list(current_types)
        for content, special in NAMED.values():
            if not special and content in ids and new[ids[content]] == gguf.TokenType.CONTROL:
                new[ids[content]] = int(gguf.TokenType.USER_DEFINED)
        if new != current_types:
            fixes[Keys.Tokenizer.TOKEN_TYPE] = new
    if template is not None and not is_padded(info.value(TEMPLATE_KEY), template):
        fixes[TEMPLATE_KEY] = template
    return fixes


def fix_kimi(path: str | os.PathLike[str], *, template: str | None = None, types: bool = True,
             dry_run: bool = False, backup: bool = False, progress: bool = True,
             wait: float | None = None) -> list[Result]:
    """Apply :func:`kimi_fixes`; ``[]`` when the file is already fixed.

    Holds the write lock on the set from reading the values to verifying them, so what it
    reports is what the file holds.
    """
    members = split_members(path)
    with nullcontext() if dry_run else writing(members, wait=wait):
        if not dry_run:
            for member in members:
                recover(member)
        fixes = kimi_fixes(path, template=template, types=types)
        return patch(path, fixes, dry_run=dry_run, backup=backup, progress=progress) if fixes else []
