"""``check(path)``: collect findings on Kimi tokenizer assets and chat templates into a Report.

``path`` may be an HF snapshot folder, its ``tokenizer_config.json``, a GGUF file (the
first of a split set; only its metadata is read, and llama.cpp loads it ``vocab_only``), a
remote GGUF (``hf://OWNER/REPO/PATH`` or ``https://…``: split 1's header is read by range
requests; the llama.cpp-side checks are reported skipped) or a ``.jinja`` template. A bare
template is checked against the Kimi special-token layout.
A folder (or ``tokenizer_config.json``) without ``tiktoken.model`` is checked from its config
alone: every check that needs no ranks runs, the rank-dependent ones are reported skipped.

    >>> report = check("tokenizer_config.json")         # doctest: +SKIP
    >>> report.ok, [f.check for f in report.findings if f.severity == "error"]    # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.chat.render import read_template
from workbench.errors import InputError
from workbench.tokenizer import load
from workbench.tokenizer.assets import TokenizerAssets
from workbench.tokenizer.gguf_vocab import read_vocab_gguf
from workbench.tokenizer.special import EOS, NAMED
from workbench.verify.gguf import check_gguf_keys
from workbench.verify.report import Finding, Report, side_by_side
from workbench.verify.templates import check_template
from workbench.verify.tokenizer import check_eos, check_ids, check_layout

__all__ = ["Finding", "Report", "check", "check_assets", "side_by_side"]


def check(path: str | os.PathLike[str]) -> Report:
    """Every applicable check on ``path``."""
    from workbench.gguffile.remote import is_url

    if is_url(path):
        return check_assets(read_vocab_gguf(str(path)))
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.suffix == ".jinja":
        report = Report(str(p), "template")
        check_template(read_template(p), report, vocabulary=[c for c, _ in NAMED.values()])
        return report
    return check_assets(load(p, require_ranks=False))


def check_assets(assets: TokenizerAssets) -> Report:
    """Every applicable check on loaded tokenizer assets (a GGUF's, local or remote, or a folder's)."""
    report = Report(str(assets.path), assets.source)
    if assets.source == "gguf":
        im_end = assets.special_id(EOS)
        check_eos(assets.eos, report, fix=f"set tokenizer.ggml.eos_token_id to {im_end} (the id of {EOS} in this file)")
        check_gguf_keys(assets, report)
        check_layout(assets, report, flags=False)
    else:
        check_eos(assets.eos, report, fix=f'set "eos_token": "{EOS}" in tokenizer_config.json')
        check_layout(assets, report)
    if assets.remote:
        report.add("llama.cpp", "info", f"skipped for a remote file: llama.cpp loads files on disk; its vocabulary "
                   f"checks run on {assets.path.name} once it is downloaded (the special-token ids were checked "
                   "with tiktoken and HF tokenizers)")
    if assets.has_ranks:
        check_ids(assets, report)
    else:
        report.add("special-token-ids", "info", f"skipped: {assets.path} has no tiktoken.model (the BPE ranks), so "
                   "token ids cannot be encoded or decoded; the EOS, the special-token layout and flags and the "
                   "template were checked from tokenizer_config.json alone")
    if assets.chat_template:
        check_template(assets.chat_template, report, vocabulary=[t.content for t in assets.specials.values()],
                       tokenizer=assets if assets.has_ranks else None)
    else:
        where = "tokenizer.chat_template" if assets.source == "gguf" else "tokenizer_config.json or chat_template.jinja"
        report.add("template-renders", "warning", f"no chat template ({where})")
    return report
