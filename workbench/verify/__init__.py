"""``check(path)``: collect findings on Kimi tokenizer assets and chat templates into a Report.

``path`` may be an HF snapshot folder, its ``tokenizer_config.json`` or a ``.jinja``
template. A bare template is checked against the Kimi special-token layout.

    >>> report = check("tokenizer_config.json")         # doctest: +SKIP
    >>> report.ok, [f.check for f in report.findings if f.severity == "error"]    # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import InputError
from workbench.tokenizer.assets import load
from workbench.tokenizer.special import NAMED
from workbench.verify.report import Finding, Report
from workbench.verify.templates import check_template
from workbench.verify.tokenizer import check_eos, check_ids, check_layout

__all__ = ["Finding", "Report", "check"]


def check(path: str | os.PathLike[str]) -> Report:
    """Every applicable check on ``path``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.suffix == ".jinja":
        try:
            template = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {p}: {e}") from e
        report = Report(str(p), "template")
        check_template(template, report, vocabulary=[c for c, _ in NAMED.values()])
        return report
    if p.suffix == ".gguf":
        raise InputError(f"{p}: GGUF files are not verified yet; check the HF snapshot folder or a .jinja template")
    assets = load(p)
    report = Report(str(assets.path), "hf-snapshot")
    check_eos(assets.eos, report, fix='set "eos_token": "<|im_end|>" in tokenizer_config.json')
    check_layout(assets, report)
    check_ids(assets, report)
    if assets.chat_template:
        check_template(assets.chat_template, report, vocabulary=[t.content for t in assets.specials.values()])
    else:
        report.add("template-renders", "warning", "no chat template (tokenizer_config.json chat_template or chat_template.jinja)")
    return report
