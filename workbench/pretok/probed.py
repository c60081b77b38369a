"""Engines that return tokens, not pre-tokens, read through a probe vocabulary.

- ``llama.cpp``: llama-cpp-python's vendored llama.cpp, on a vocab-only GGUF whose
  ``tokenizer.ggml.pre`` picks its pre-tokenizer: ``kimi-k2`` is a hand-written splitter
  (``src/unicode.cpp``, ``unicode_regex_split_custom_kimi_k2``), not the regex;
  ``gpt-4o`` and ``dbrx`` run llama.cpp's adaptations of o200k's and cl100k's regexes
  (``src/llama-vocab.cpp``, ``llm_tokenizer_bpe``; ``dbrx`` uses the same adapted regex as
  ``llama3``, without its ``ignore_merges`` and BOS, and the case-insensitive contraction
  group spelled out as ``'[sS]|'[tT]…``).
- ``gigatoken``: the gigatoken package on a ``.tiktoken`` rank file with its own named
  scheme (``kimi``, ``o200k``, ``gpt4``).
- ``tiktoken``: tiktoken on the scheme's own pattern string (``scheme.pattern``), the call
  Moonshot's ``tokenization_kimi.py`` makes: fancy-regex, so ground truth for the
  ``regex`` engine itself. It runs any scheme.

Each builds probes (:mod:`workbench.pretok.probe`: what they can and cannot see) for the
texts, tokenizes with them and reads piece boundaries off the tokens, probing again what
they leave unproven. A probe costs a few milliseconds, so :meth:`ProbeEngine.prepare`
builds one for many texts at once; later :meth:`~ProbeEngine.matches` on those texts are
lookups. Other texts get a probe of their own (the last few thousand results are kept).
Results are the same either way wherever they are exact (:class:`~workbench.pretok.probe.Seen`);
elsewhere (a piece over ``max_piece`` characters) the unproven token boundaries count as
cuts, and a text answers from the latest ``prepare`` for its scheme if that held it, else
from its own probe, so the same calls give the same answers. Texts over ``segment_chars``
are probed in segments cut at safe boundaries (``segment_chars=None``: whole, so a join
anywhere is seen). :meth:`ProbeEngine.exact_pieces` says None where a text is not exact:
token-id parity (:mod:`workbench.tokenizer.parity`) learns llama.cpp's pre-tokens there.

    >>> split("شكرا\u064b", engine="llama.cpp")   # doctest: +SKIP
    ['شكرا', '\u064b']

Not here: token ids as such (``workbench.tokenizer``), other llama.cpp pre-tokenizers.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from importlib import metadata
from itertools import count

from workbench.errors import InputError, UnknownNameError
from workbench.pretok.engines import Engine, Match
from workbench.pretok.probe import MAX_PIECE, PROBE_SIZE, ROUNDS, Probe, Seen, observe
from workbench.pretok.schemes import SCHEMES, Scheme
from workbench.pretok.sources import cut

_Key = tuple[str, str]

#: what the probe lets these engines see (workbench.pretok.probe), for ``Engine.description``
LIMITS = (f"seen through probe vocabularies that prove each cut (what one leaves open is probed again): exact for "
          f"pieces up to {MAX_PIECE} chars, a longer one shows as several; no cuts inside a character")


class ProbeEngine(Engine):
    """An engine seen through probe vocabularies; subclasses say how to tokenize with one."""

    #: scheme name -> the library's own name for that pre-tokenizer; None: any pattern runs
    natives: dict[str, str] | None = None
    #: whether the library needs explicit merges (else it merges any two tokens that make a token)
    needs_merges = False

    def __init__(self, *, max_piece: int = MAX_PIECE, rounds: int = ROUNDS, segment_chars: int | None = 2048,
                 probe_size: int = PROBE_SIZE, cache_size: int = 4096) -> None:
        self.max_piece, self.rounds = max_piece, rounds
        #: texts longer than this are tokenized in segments cut at safe boundaries (None: never)
        self.segment_chars = segment_chars
        #: a probe holds about this many prefixes at most; more texts get more probes
        self.probe_size = probe_size
        self.cache_size = cache_size
        self._reset()

    @property
    def runs_pattern(self) -> bool:
        return self.natives is None

    def _reset(self) -> None:
        self._batches: dict[_Key, dict[str, Seen]] = {}
        self._cache: OrderedDict[tuple[_Key, str], Seen] = OrderedDict()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._files = count()

    def __getstate__(self) -> dict:  # worker processes get the settings, not the caches or temp files
        state = self.__dict__.copy()
        for name in ("_batches", "_cache", "_tmp", "_files"):
            del state[name]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    # -- what subclasses provide ------------------------------------------------------

    def encode(self, probe: Probe, scheme: Scheme, native: str, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text with ``probe`` as the vocabulary."""
        raise NotImplementedError

    # -- the mechanism ---------------------------------------------------------------

    def native(self, scheme: Scheme) -> str:
        """The library's name for ``scheme``'s pre-tokenizer (``""``: it runs the pattern itself)."""
        if self.natives is None:
            return ""
        for name, native in self.natives.items():
            if SCHEMES[name].pattern == scheme.pattern:
                return native
        have = ", ".join(f"{n} ({v!r})" for n, v in self.natives.items())
        why = " (its pattern is not the registered one)" if scheme.name in self.natives else ""
        raise UnknownNameError(f"engine {self.name!r} has no pre-tokenizer for scheme {scheme.name!r}{why}; "
                               f"it has: {have}; use engine 'tiktoken' to run any pattern")

    def prepare(self, texts: Iterable[str], scheme: Scheme) -> None:
        """Probe all ``texts`` at once; later :meth:`matches` on them are lookups.

        Replaces the previous ``prepare`` for the same scheme.
        """
        key = (scheme.pattern, self.native(scheme))
        self._batches[key] = self._run(list(texts), scheme, key[1])

    def matches(self, text: str, scheme: Scheme) -> list[Match]:
        return self.seen(text, scheme).matches

    def seen(self, text: str, scheme: Scheme) -> Seen:
        """What the probes showed of ``text``: its matches, and the boundaries among them not proven."""
        key = (scheme.pattern, self.native(scheme))
        if not text:
            return Seen([])
        batch = self._batches.get(key)
        if batch is not None and text in batch:
            return batch[text]
        found = self._cache.get((key, text))
        if found is not None:
            self._cache.move_to_end((key, text))
            return found
        found = self._run([text], scheme, key[1])[text]
        if self.segment_chars is None or len(text) <= self.segment_chars:
            self._cache[(key, text)] = found
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return found

    def exact_pieces(self, texts: Iterable[str], scheme: str | Scheme, *,
                     native: str | None = None) -> list[tuple[str, ...] | None]:
        """Each text's pieces where every cut is proven and they make up the text, else None.

        ``native`` names the library's pre-tokenizer directly (a GGUF's ``tokenizer.ggml.pre``);
        ``scheme`` then only guides the probes. Nothing is cached:
        ``exact_pieces(["ChatGPT 中文"], "kimi-k2") -> [("ChatGPT", " ", "中文")]`` for llama.cpp.
        """
        scheme = SCHEMES[scheme] if isinstance(scheme, str) else scheme
        texts = list(texts)
        found = self._run(texts, scheme, self.native(scheme) if native is None else native)
        out: list[tuple[str, ...] | None] = []
        for t in texts:
            seen = found.get(t, Seen([]))
            pieces = tuple(t[s:e] for s, e, _ in seen.matches)
            out.append(pieces if seen.exact and "".join(pieces) == t else None)
        return out

    def _run(self, texts: Sequence[str], scheme: Scheme, native: str) -> dict[str, Seen]:
        """What probes show of every distinct non-empty text, long ones in segments."""
        size = self.segment_chars
        segments = {t: (list(cut(t, size=size)) if size is not None and len(t) > size else [t])
                    for t in dict.fromkeys(texts) if t}
        units = list(dict.fromkeys(s for parts in segments.values() for s in parts))
        found = observe(units, scheme, lambda probe, batch: self.encode(probe, scheme, native, batch),
                        merges=self.needs_merges, max_piece=self.max_piece, rounds=self.rounds,
                        probe_size=self.probe_size)
        out: dict[str, Seen] = {}
        for text, parts in segments.items():
            if len(parts) == 1:
                out[text] = found[parts[0]]
                continue
            matches, unproven, offset = [], [], 0
            for part in parts:
                moved = found[part].shifted(offset)
                matches += moved.matches
                unproven += moved.unproven
                offset += len(part)
            out[text] = Seen(matches, tuple(unproven))
        return out

    def temp_path(self, suffix: str) -> str:
        """A fresh file name in this engine's temp folder (removed with the engine or at exit)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kimi-wb-probe-")
        return os.path.join(self._tmp.name, f"probe-{next(self._files)}{suffix}")


class LlamaCppEngine(ProbeEngine):
    name = "llama.cpp"
    description = ("llama.cpp (llama-cpp-python 0.3.36), vocab-only GGUF with its own pre-tokenizer (kimi-k2: a "
                   "hand-written splitter, not the regex); " + LIMITS)
    natives = {"kimi-k2": "kimi-k2", "o200k": "gpt-4o", "cl100k": "dbrx"}
    needs_merges = True

    def encode(self, probe: Probe, scheme: Scheme, native: str, texts: Sequence[str]) -> list[list[int]]:
        from workbench.gguffile.bpe import write_bpe_gguf
        from workbench.llamacpp import LlamaRefusal, probe_vocab

        path = self.temp_path(".gguf")
        try:  # a scratch file we wrote, read once, right away: no atomic rename, no isolation
            write_bpe_gguf(path, probe.tokens, probe.merges(), pre=native, control=["<|probe|>"], atomic=False)
            vocab = probe_vocab(path)
        except LlamaRefusal:
            raise InputError(f"llama.cpp could not load a probe vocabulary with pre-tokenizer {native!r}") from None
        finally:
            if os.path.exists(path):
                os.remove(path)
        try:
            return [vocab.tokenize(text.encode("utf-8"), special=False) for text in texts]
        finally:
            vocab.close()

    @property
    def version(self) -> str:
        return f"llama-cpp-python {metadata.version('llama_cpp_python')}"


class GigatokenEngine(ProbeEngine):
    name = "gigatoken"
    description = "gigatoken, .tiktoken ranks with its own named scheme (kimi, o200k, gpt4); " + LIMITS
    natives = {"kimi-k2": "kimi", "o200k": "o200k", "cl100k": "gpt4"}

    def encode(self, probe: Probe, scheme: Scheme, native: str, texts: Sequence[str]) -> list[list[int]]:
        import gigatoken

        path = self.temp_path(".tiktoken")
        try:
            with open(path, "wb") as f:
                f.write(b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(probe.tokens)))
            tok = gigatoken.Tokenizer.from_tiktoken(path, pretokenizer=native)
        finally:
            os.remove(path)
        return [list(ids) for ids in tok.encode_batch_list(list(texts))]

    @property
    def version(self) -> str:
        return f"gigatoken {metadata.version('gigatoken')}"


class TiktokenEngine(ProbeEngine):
    name = "tiktoken"
    description = "tiktoken (fancy-regex) on the scheme's own pattern, as tokenization_kimi.py runs it; " + LIMITS

    def encode(self, probe: Probe, scheme: Scheme, native: str, texts: Sequence[str]) -> list[list[int]]:
        import tiktoken

        try:
            enc = tiktoken.Encoding(f"probe-{scheme.name}", pat_str=scheme.pattern, mergeable_ranks=probe.ranks,
                                    special_tokens={})
        except ValueError as e:
            raise InputError(f"invalid regex for tiktoken (fancy-regex) {scheme.pattern!r}: {e}") from e
        return [enc.encode_ordinary(t) for t in texts]

    @property
    def version(self) -> str:
        return f"tiktoken {metadata.version('tiktoken')}"
