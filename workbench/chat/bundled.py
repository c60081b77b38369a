"""Chat templates that ship with the workbench, and reading a folder of templates.

``kimi-k2`` is the workbench's own Kimi K2 Instruct-style template, written from the
documented format (default system prompt, compact JSON tools and arguments, tool results
headed ``## Return of functions.NAME:IDX``, nothing between turns). It is what the tiny test
models carry and the reference point of the template tests; Moonshot's own templates come
from the user's files.

    >>> bundled_template("kimi-k2").count("<|im_end|>") > 0
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import InputError, UnknownNameError

TEMPLATES_DIR = Path(__file__).parent / "templates"


def bundled_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.jinja"))


def bundled_path(name: str = "kimi-k2") -> Path:
    path = TEMPLATES_DIR / f"{name}.jinja"
    if not path.is_file():
        raise UnknownNameError(f"unknown bundled template {name!r}; valid: {', '.join(bundled_names())}")
    return path


def bundled_template(name: str = "kimi-k2") -> str:
    return bundled_path(name).read_text(encoding="utf-8")


def load_templates(folder: str | os.PathLike[str]) -> dict[str, str]:
    """``{stem: text}`` of every ``*.jinja`` in ``folder``, sorted; ``{}`` when the folder does not exist."""
    root = Path(folder)
    if not root.exists():
        return {}
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of .jinja templates")
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(root.glob("*.jinja"))}
