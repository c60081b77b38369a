"""The demo model ``make lab`` writes: the tiny model, a K2.5/K2.6-style hybrid template, and a script for its sampling.

:func:`make_demo_model` is :func:`~workbench.models.tiny.make_tiny_model` with two differences:

- the template is the bundled ``kimi-k2-hybrid``: it reads the ``thinking`` switch, and its
  generation prompt ends in ``<think>`` (thinking) or ``<think></think>`` (instant), so thinking
  mode streams into the reasoning panel as it does with K2.5/K2.6;
- split 1 carries ``workbench.demo.*`` keys: what the model is (:data:`ABOUT`), the words it
  may use and the capitalised words that may start a sentence. The weights are random, so left
  alone the model samples any of its tokens, reserved and control ids included;
  :mod:`workbench.run.demo` reads these keys and lets the model choose only among those words,
  placing ``</think>`` and ``<|im_end|>`` itself.

    >>> (path,) = make_demo_model("artifacts/Kimi-K2-Tiny.gguf")      # doctest: +SKIP

Only words that are one token (with their leading space) in the model's vocabulary are written.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import InputError
from workbench.tokenizer.assets import TokenizerAssets

ABOUT_KEY, WORDS_KEY, STARTERS_KEY = "workbench.demo.about", "workbench.demo.words", "workbench.demo.starters"

ABOUT = ("demo model: Kimi K2's architecture at toy size with random weights, written by kimi-workbench. Its replies "
         "are scripted: the model picks each word from a short list of real ones, and the workbench places </think> "
         "and <|im_end|>, so a reply shows the structure (reasoning, then an answer), not meaning. Ask for a length, "
         "e.g. 'in 300 words', for a long answer.")

#: common English words; those that are one token in the vocabulary become the demo's words
WORDS = """the of and to a in is it you that he was for on are as with they at be this have from or one by but not what
all we can said there use an which she do how if up other about out many then them so some like time has look two more
write go see no way could people my than first been who now long down day did made part new test code text line file
run read same right well three four next last old just back kind only here because again""".split()
STARTERS = "The It We She Some If And This There What How So But Now Then".split()


def _single_tokens(words: list[str], assets: TokenizerAssets) -> list[str]:
    pieces = set()
    for token in assets.ranks:
        try:
            pieces.add(token.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return [w for w in words if f" {w}" in pieces]


def demo_metadata(assets: TokenizerAssets) -> dict[str, str]:
    """The ``workbench.demo.*`` keys for a model with this vocabulary."""
    words, starters = _single_tokens(WORDS, assets), _single_tokens(STARTERS, assets)
    if len(words) < 10 or not starters:
        raise InputError(f"the vocabulary has only {len(words)} of the demo's words as single tokens; "
                         "the demo needs at least 10 and one capitalised starter")
    return {ABOUT_KEY: ABOUT, WORDS_KEY: " ".join(words), STARTERS_KEY: " ".join(starters)}


def make_demo_model(out: str | os.PathLike[str], *, vocab: TokenizerAssets | str | os.PathLike[str] | None = None,
                    **shape) -> list[Path]:
    """Write the demo model (see the module docstring); returns its files.

    ``shape``: :func:`~workbench.models.tiny.make_tiny_model`'s ``layers``, ``experts``, ``experts_used``,
    ``width``, ``seed`` and ``split``.
    """
    from workbench.chat.bundled import bundled_template
    from workbench.models.tiny import make_tiny_model, vocab_assets

    assets = vocab_assets(vocab)
    return make_tiny_model(out, vocab=assets, chat_template=bundled_template("kimi-k2-hybrid"),
                           metadata=demo_metadata(assets), **shape)
