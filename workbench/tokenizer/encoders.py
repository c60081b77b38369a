"""The three tokenizer implementations behind one small interface: encode, decode, pre-tokenize.

Token-id parity (:mod:`workbench.tokenizer.parity`) runs each of these on the same text:

- :class:`TiktokenEncoder` — ``tiktoken.Encoding`` on the assets' ranks and pattern (the
  reference, what Moonshot's ``tokenization_kimi.py`` runs); its pre-tokens are the ``regex``
  split of that pattern (:func:`workbench.pretok.pieces.split`);
- :class:`HFEncoder` — a private copy of the assets' HF ``tokenizers.Tokenizer``; its
  pre-tokens come from its own ``pre_tokenizer``;
- :class:`LlamaEncoder` — llama.cpp ``vocab_only``; its pre-tokens are read through probe
  vocabularies by the pretok ``llama.cpp`` engine (:mod:`workbench.pretok.probed`), on whole
  texts, with the file's own ``tokenizer.ggml.pre``; None where a cut stays unproven.

``special=False`` asks each for plain text: tiktoken allows no special token, HF sets
``encode_special_tokens`` (transformers' ``split_special_tokens``), llama.cpp tokenizes with
``special=False``. HF still matches added tokens not flagged special and llama.cpp its
``USER_DEFINED`` tokens (``<think>``, tool-call markers): that is what they do, and what the
comparison reports. ``special=True`` parses special tokens in all three.

    >>> with ExitStack() as stack:                                            # doctest: +SKIP
    ...     encoders, what = open_encoders(assets, IMPLS, special=False, stack=stack)
    ...     encoders["llama.cpp"].encode("شكراً")

Not here: comparing them (``parity``), deciding why they differ (``causes``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from functools import lru_cache
from pathlib import Path

from gguf import Keys

from workbench.tokenizer.assets import IMPLS, TokenizerAssets


class Encoder:
    """Encode, decode and pre-tokenize with one implementation."""

    name = ""

    def __init__(self) -> None:
        #: ``text -> ids`` (a tuple), cached: causes and shrinking ask for the same texts again
        self.encode = lru_cache(maxsize=1 << 16)(self._encode)

    def _encode(self, text: str) -> tuple[int, ...]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def split(self, texts: list[str]) -> list[Sequence[str] | None]:
        """Its own pre-tokens of each text (None: unknown)."""
        raise NotImplementedError


class TiktokenEncoder(Encoder):
    name = "tiktoken"

    def __init__(self, assets: TokenizerAssets, scheme, *, special: bool) -> None:
        super().__init__()
        self.enc, self.scheme, self.special = assets.tiktoken, scheme, special

    def _encode(self, text):
        return tuple(self.enc.encode(text, allowed_special="all" if self.special else set(), disallowed_special=()))

    def decode(self, ids):
        return self.enc.decode(list(ids))

    def split(self, texts):
        from workbench.pretok.pieces import split

        return [split(t, self.scheme) for t in texts]


class HFEncoder(Encoder):
    name = "hf"

    def __init__(self, assets: TokenizerAssets, *, special: bool) -> None:
        super().__init__()
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_str(assets.hf.to_str())  # a copy: the flag below must not leak into the assets
        self.tok.encode_special_tokens = not special

    def _encode(self, text):
        return tuple(self.tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids):
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def split(self, texts):
        pre = self.tok.pre_tokenizer
        if self.tok.normalizer is not None:  # offsets would refer to the normalised text
            return [None for _ in texts]
        return [[t[s:e] for _, (s, e) in pre.pre_tokenize_str(t)] if pre is not None else [t] for t in texts]


class LlamaEncoder(Encoder):
    name = "llama.cpp"

    def __init__(self, llama, pre: str, scheme, *, special: bool) -> None:
        super().__init__()
        from workbench.pretok.probed import LlamaCppEngine

        self.llama, self.pre, self.scheme, self.special = llama, pre, scheme, special
        #: whole texts, not segments: a join across a safe boundary is seen too
        self.probes = LlamaCppEngine(segment_chars=None)
        self._split: dict[str, tuple[str, ...] | None] = {}

    def _encode(self, text):
        return tuple(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=self.special))

    def decode(self, ids):
        return self.llama.detokenize(list(ids), special=True).decode("utf-8", errors="replace")

    def split(self, texts):
        """llama.cpp's pre-tokens, probed in one batch for the texts not seen before; None: a cut unproven."""
        new = [t for t in dict.fromkeys(texts) if t and t not in self._split]
        if new:
            self._split.update(zip(new, self.probes.exact_pieces(new, self.scheme, native=self.pre)))
        return [self._split[t] if t else () for t in texts]


def scheme_for(pattern: str):
    """The registered scheme with this exact pattern, else a one-branch scheme around it."""
    from workbench.pretok.schemes import SCHEMES, Branch, Scheme

    found = next((s for s in SCHEMES.values() if s.pattern == pattern), None)
    return found or Scheme("assets", "the assets' own pattern", "tokenizer assets", (Branch("pattern", pattern),))


def open_encoders(assets: TokenizerAssets, names: Sequence[str], *, special: bool,
                  stack: ExitStack) -> tuple[dict[str, Encoder], dict[str, str]]:
    """The encoders by name, and one line per name saying exactly what runs.

    llama.cpp runs on a GGUF's own file; for folder assets on a vocab-only GGUF written
    into a temporary folder that ``stack`` removes.
    """
    encoders: dict[str, Encoder] = {}
    what: dict[str, str] = {}
    for name in names:
        if name == "tiktoken":
            scheme = scheme_for(assets.pattern)
            encoders[name] = TiktokenEncoder(assets, scheme, special=special)
            what[name] = f"tiktoken.Encoding on the {assets.n_ranks:,} ranks, pattern {scheme.name}"
        elif name == "hf":
            encoders[name] = HFEncoder(assets, special=special)
            what[name] = "the assets' tokenizers.Tokenizer (transformers' TikTokenConverter on the ranks)"
        else:
            encoders[name], what[name] = _llama_encoder(assets, special, stack)
    return encoders, what


def _llama_encoder(assets: TokenizerAssets, special: bool, stack: ExitStack) -> tuple[LlamaEncoder, str]:
    from workbench.llamacpp import vocab
    from workbench.tokenizer.gguf_vocab import write_vocab_gguf

    if assets.source == "gguf":
        llama, pre = assets.llama, assets.metadata.get(Keys.Tokenizer.PRE, "kimi-k2")
        what = f"llama.cpp (vocab_only) on {assets.path.name} itself, pre = {pre}"
    else:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kimi-wb-parity-")))
        llama, pre = vocab(write_vocab_gguf(assets, folder / "vocab.gguf")), "kimi-k2"
        stack.callback(llama.close)
        what = ("llama.cpp (vocab_only) on a vocab-only GGUF written from the folder by write_vocab_gguf "
                "(pre = kimi-k2, one merge per rank)")
    return LlamaEncoder(llama, pre, scheme_for(assets.pattern), special=special), what


def versions(names: Iterable[str] = IMPLS) -> dict[str, str]:
    """Versions of the libraries behind the implementations (and of ``regex``, the reference split)."""
    from importlib import metadata

    out = {}
    for dist in ("tiktoken", "tokenizers", "transformers", "regex", "llama-cpp-python"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    if "llama.cpp" in names:
        out["llama.cpp"] = _llama_build()
    return out


def _llama_build() -> str:
    """llama.cpp's own version string, with ggml's version and commit when the library exports them."""
    import ctypes

    import llama_cpp

    parts = []
    try:
        parts.append(llama_cpp.llama_version().decode())
    except Exception:  # older bindings lack llama_version
        pass
    lib = llama_cpp.llama_cpp._lib
    for sym, label in (("ggml_version", "ggml "), ("ggml_commit", "commit ")):
        if hasattr(lib, sym):
            f = lib[sym]  # a fresh function object: the restype stays ours
            f.restype = ctypes.c_char_p
            parts.append(label + f().decode())
    return ", ".join(parts) or "unknown"
