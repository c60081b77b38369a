"""Load Kimi tokenizer assets and encode with them through tiktoken, HF and llama.cpp.

An HF snapshot folder as Moonshot ships it holds ``tiktoken.model`` (BPE ranks),
``tokenizer_config.json`` (special tokens in ``added_tokens_decoder``, bos/eos/pad, maybe
``chat_template``) and, in newer repos, ``chat_template.jinja``. :func:`load_folder` reads such a
folder (the user's, or one built by :func:`workbench.tokenizer.train.build_vocab`) and fills
the special slots the config does not name with ``<|reserved_token_{id}|>`` exactly as
Moonshot's ``tokenization_kimi.py`` does. A GGUF file's ``tokenizer.ggml.*`` metadata becomes
the same assets in :mod:`workbench.tokenizer.gguf_vocab`; :func:`workbench.tokenizer.load`
takes either. Encoders over the same ranks:

- :meth:`TokenizerAssets.tiktoken` — ``tiktoken.Encoding`` with Kimi's pattern, what
  ``tokenization_kimi.py`` runs (the reference);
- :meth:`TokenizerAssets.hf` — an HF ``tokenizers.Tokenizer`` converted from the same ranks
  by transformers' ``TikTokenConverter``, special tokens added at their ids;
- :meth:`TokenizerAssets.llama` — llama.cpp (``vocab_only``) on the GGUF itself, for
  assets loaded from a GGUF.

    >>> assets = load("artifacts/kimi-tiny-vocab")                    # doctest: +SKIP
    >>> assets.encode("你好<|im_end|>") == assets.encode("你好<|im_end|>", impl="hf")  # doctest: +SKIP
    True

Not here: the checks (``workbench.verify``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from workbench.errors import InputError
from workbench.files import read_json, read_text
from workbench.pretok.schemes import SCHEMES
from workbench.tokenizer.special import N_SPECIAL, SpecialToken, reserved_name

IMPLS = ("tiktoken", "hf", "llama.cpp")
#: the largest tiktoken.model accepted (a rank file of a few million tokens fits)
MAX_RANK_FILE = 256 << 20


@dataclass
class TokenizerAssets:
    """Ranks, special tokens, config and template of one tokenizer, wherever they came from."""

    path: Path  # a workbench.gguffile.remote.Url for a remote GGUF
    ranks: dict[bytes, int] = field(repr=False)
    specials: dict[int, SpecialToken] = field(repr=False)
    config: dict = field(repr=False)
    chat_template: str | None = field(default=None, repr=False)
    pattern: str = field(default=SCHEMES["kimi-k2"].pattern, repr=False)
    #: ``hf-snapshot`` or ``gguf``
    source: str = "hf-snapshot"
    #: GGUF only: the scalar ``tokenizer.ggml.*`` / ``general.*`` keys and the per-id token types
    metadata: dict = field(default_factory=dict, repr=False)
    token_types: list[int] | None = field(default=None, repr=False)
    #: config-only assets (no ``tiktoken.model``): the rank count the config's special ids imply
    declared_ranks: int | None = field(default=None, repr=False)

    @property
    def has_ranks(self) -> bool:
        """False for config-only assets, which can be checked but not encoded with."""
        return bool(self.ranks) or self.declared_ranks is None

    @property
    def impls(self) -> tuple[str, ...]:
        """The implementations that can encode these assets."""
        if not self.has_ranks:
            return ()
        return IMPLS if self.source == "gguf" and not self.remote else IMPLS[:2]

    @property
    def remote(self) -> bool:
        """Read from a remote GGUF's header: llama.cpp, which needs the file on disk, cannot load it."""
        from workbench.gguffile.remote import is_url

        return is_url(self.path)

    @property
    def n_ranks(self) -> int:
        return len(self.ranks) if self.has_ranks else self.declared_ranks

    @property
    def vocab_size(self) -> int:
        return self.n_ranks + len(self.specials)

    def special_id(self, content: str) -> int | None:
        """The id of a special token by its text, or None."""
        return next((t.id for t in self.specials.values() if t.content == content), None)

    def role(self, name: str) -> str | None:
        """The text of the config's ``{name}_token`` (bos, eos, pad, unk), plain or AddedToken-shaped."""
        token = self.config.get(f"{name}_token")
        return token.get("content") if isinstance(token, dict) else token

    @property
    def eos(self) -> str | None:
        """The EOS token's text as the config declares it (``eos_token``)."""
        return self.role("eos")

    @cached_property
    def tiktoken(self):
        """A ``tiktoken.Encoding`` built the way Moonshot's ``tokenization_kimi.py`` builds it."""
        import tiktoken

        return tiktoken.Encoding(
            name=self.path.name,
            pat_str=self.pattern,
            mergeable_ranks=self.ranks,
            special_tokens={t.content: t.id for t in self.specials.values()},
        )

    @cached_property
    def hf(self):
        """An HF ``tokenizers.Tokenizer`` over the same ranks, specials at their ids."""
        from tokenizers import AddedToken
        from transformers.convert_slow_tokenizer import TikTokenConverter

        ranks = self.ranks

        class FromRanks(TikTokenConverter):  # the converter reads a file; ours are in memory
            def load_tiktoken_bpe(self, _url):
                return ranks

        tok = FromRanks(vocab_file=str(self.path), pattern=self.pattern).converted()
        for t in sorted(self.specials.values()):
            added = AddedToken(t.content, special=t.special, normalized=False)
            (tok.add_special_tokens if t.special else tok.add_tokens)([added])
            if tok.token_to_id(t.content) != t.id:
                raise InputError(f"{self.path}: special token {t.content!r} cannot take id {t.id} in the HF "
                                 f"tokenizer (got {tok.token_to_id(t.content)}): ids are not contiguous after the ranks")
        return tok

    @cached_property
    def llama(self):
        """llama.cpp's own vocabulary, loaded ``vocab_only`` from the GGUF (GGUF assets only)."""
        if self.source != "gguf":
            raise InputError(f"{self.path}: llama.cpp reads GGUF files; these assets come from a {self.source}")
        from workbench.llamacpp import vocab

        return vocab(self.path)  # read first in an isolated worker: an abort there is a one-line error

    def special_rows(self, *, reserved: bool = False) -> list[dict]:
        """The special-token table: id, content, special flag, GGUF token type (GGUF only) and roles."""
        roles = {k: self.role(k) for k in ("bos", "eos", "pad", "unk")}
        rows = []
        for t in self.specials.values():
            if not reserved and t.content.startswith("<|reserved_token_"):
                continue
            row = t._asdict()
            if self.token_types is not None:
                import gguf

                row["type"] = gguf.TokenType(self.token_types[t.id]).name
            row["roles"] = [k for k, v in roles.items() if v == t.content]
            rows.append(row)
        return rows

    def end_of_generation(self) -> list[str]:
        """The tokens llama.cpp stops generation on (its EOG set), read from llama.cpp itself (GGUF only).

        llama.cpp adds ``[EOS]``, ``[EOT]`` and ``<|im_end|>`` to that set by name, whatever the
        file's ``eos_token_id`` says; runtimes that read the id alone do not.
        """
        from workbench.llamacpp import check

        if self.source != "gguf":
            raise InputError(f"{self.path}: llama.cpp reads GGUF files; these assets come from a {self.source}")
        eog = set(check(self.path).eog)
        return [t.content for t in self.specials.values() if t.id in eog]

    def _check_impl(self, impl: str) -> None:
        if impl == "llama.cpp" and self.source != "gguf":
            raise InputError(f"{self.path}: llama.cpp reads GGUF files; these assets come from a {self.source} "
                             "(write one with workbench.tokenizer.gguf_vocab.write_vocab_gguf)")
        if impl == "llama.cpp" and self.remote:
            raise InputError(f"{self.path}: llama.cpp loads files on disk; this GGUF's header was read remotely")
        if impl not in self.impls:
            raise InputError(f"unknown implementation {impl!r} for {self.source} assets; valid: {', '.join(self.impls)}")

    def encode(self, text: str, *, impl: str = "tiktoken") -> list[int]:
        """Token ids of ``text``, special tokens recognised wherever they appear."""
        self._check_impl(impl)
        if impl == "tiktoken":
            return self.tiktoken.encode(text, allowed_special="all")
        if impl == "hf":
            return self.hf.encode(text, add_special_tokens=False).ids
        return self.llama.tokenize(text.encode(), special=True)

    def decode(self, ids: list[int], *, impl: str = "tiktoken", special: bool = True) -> str:
        """Text of ``ids``; ``special=False`` drops what the implementation treats as control tokens."""
        self._check_impl(impl)
        if impl == "tiktoken":
            if not special:
                ids = [i for i in ids if i not in self.specials or not self.specials[i].special]
            return self.tiktoken.decode(ids)
        if impl == "hf":
            return self.hf.decode(ids, skip_special_tokens=not special)
        return self.llama.detokenize(ids, special=special).decode("utf-8", errors="replace")


def named_from_config(config: dict) -> dict[int, SpecialToken]:
    """The tokens ``added_tokens_decoder`` names, by id; a malformed entry is a one-line :class:`InputError`."""
    decoder = config.get("added_tokens_decoder") or {}
    if not isinstance(decoder, dict):
        raise InputError(f"tokenizer_config.json: added_tokens_decoder is a {type(decoder).__name__}, expected an object")
    named = {}
    for key, entry in decoder.items():
        try:
            tid = int(key)
            named[tid] = SpecialToken(tid, str(entry["content"]), bool(entry.get("special", True)))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"tokenizer_config.json: bad added_tokens_decoder entry {key!r}: {e}") from e
    return named


def specials_from_config(config: dict, n_ranks: int) -> dict[int, SpecialToken]:
    """Named tokens from ``added_tokens_decoder``; every other of the 256 slots reserved."""
    named = named_from_config(config)
    out = {tid: named.get(tid, SpecialToken(tid, reserved_name(tid), True)) for tid in range(n_ranks, n_ranks + N_SPECIAL)}
    out.update(named)  # ids outside the 256 slots are kept, for the checks to report
    return dict(sorted(out.items()))


def load_folder(path: str | os.PathLike[str], *, require_ranks: bool = True) -> TokenizerAssets:
    """Tokenizer assets from an HF snapshot folder (or its ``tokenizer_config.json``).

    ``require_ranks=False`` accepts a folder without ``tiktoken.model`` (a user who fetched only
    the small config files): the assets then carry the config, its special tokens and the
    template, and ``has_ranks`` is False (see :func:`load_config`).
    """
    p = Path(path)
    folder = p.parent if p.name == "tokenizer_config.json" else p
    if not folder.exists():
        raise InputError(f"{folder}: no such file or folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: expected a tokenizer folder (tiktoken.model + tokenizer_config.json)")
    model = folder / "tiktoken.model"
    config_path = folder / "tokenizer_config.json"
    if not model.is_file():
        if not require_ranks and config_path.is_file():
            return load_config(folder)
        raise InputError(f"{folder}: missing tiktoken.model (the BPE ranks)")
    if not config_path.is_file():
        raise InputError(f"{folder}: missing tokenizer_config.json")
    from tiktoken.load import load_tiktoken_bpe

    if model.stat().st_size > MAX_RANK_FILE:
        raise InputError(f"{model}: {model.stat().st_size:,} bytes, too large for a rank file (Kimi's is about "
                         f"2.8 MB; the limit is {MAX_RANK_FILE:,})")
    try:
        ranks = load_tiktoken_bpe(str(model))
    except Exception as e:  # tiktoken raises bare ValueError/binascii errors on bad lines
        raise InputError(f"{model}: not a tiktoken rank file: {e}") from e
    config, template = _config_and_template(folder)
    return TokenizerAssets(folder, ranks, specials_from_config(config, len(ranks)), config, template)


def _config_and_template(folder: Path) -> tuple[dict, str | None]:
    """``tokenizer_config.json`` (an object) and the template (``chat_template.jinja`` first, then the config's)."""
    config_path = folder / "tokenizer_config.json"
    config = read_json(config_path, "tokenizer config")
    if not isinstance(config, dict):
        raise InputError(f"{config_path}: expected a JSON object, found {type(config).__name__}")
    template_file = folder / "chat_template.jinja"
    if template_file.is_file():
        return config, read_text(template_file, "template")
    template = config.get("chat_template")
    if template is not None and not isinstance(template, str):
        raise InputError(f"{config_path}: chat_template is a {type(template).__name__}, expected a string")
    return config, template


def load_config(folder: str | os.PathLike[str]) -> TokenizerAssets:
    """Config-only assets: ``tokenizer_config.json`` (and ``chat_template.jinja``) without the ranks.

    The rank count is what the special ids imply: the Kimi layout puts ``[BOS]`` first, right
    after the ranks (else the lowest special id counts). Enough for the EOS, layout, flags and
    template checks; nothing can be encoded.
    """
    from workbench.tokenizer.special import BOS

    folder = Path(folder)
    config, template = _config_and_template(folder)
    named = named_from_config(config)
    if not named:
        raise InputError(f"{folder / 'tokenizer_config.json'}: no added_tokens_decoder, and no tiktoken.model: "
                         "nothing to check the special tokens against")
    n = next((i for i, t in named.items() if t.content == BOS), min(named))
    return TokenizerAssets(folder, {}, specials_from_config(config, n), config, template, declared_ranks=n)
