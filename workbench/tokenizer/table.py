"""The special-token table of tokenizer assets (``kimi-wb tokens``): ids, texts, flags or GGUF types, roles.

    >>> SpecialTable(load("artifacts/kimi-tiny-vocab")).to_dict()["eos"]    # doctest: +SKIP
    {'content': '<|im_end|>', 'id': 4098}

Follows the report protocol: ``format()`` for a terminal, ``to_dict()`` for the documented JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.tokenizer.assets import TokenizerAssets

ROLES = ("bos", "eos", "pad", "unk")


@dataclass(frozen=True)
class SpecialTable:
    assets: TokenizerAssets
    reserved: bool = False  # include the unnamed ``<|reserved_token_N|>`` slots

    def _roles(self) -> dict[str, str | None]:
        return {k: self.assets.role(k) for k in ROLES}

    def to_dict(self) -> dict:
        a = self.assets
        return {"path": str(a.path), "source": a.source, "n_ranks": a.n_ranks, "vocab_size": a.vocab_size,
                **{k: {"content": v, "id": a.special_id(v) if v else None} for k, v in self._roles().items()},
                "tokens": [{k: v for k, v in r.items() if k != "roles"} for r in a.special_rows(reserved=self.reserved)]}

    def format(self) -> str:
        a = self.assets
        lines = [f"{a.path}: {a.n_ranks:,} ranks + {len(a.specials)} special ids = {a.vocab_size:,}",
                 "  " + ", ".join(f"{k}={v} ({a.special_id(v) if v else '-'})" for k, v in self._roles().items())]
        for r in a.special_rows(reserved=self.reserved):
            kind = r.get("type") or ("special" if r["special"] else "not special")
            lines.append(f"  {r['id']:>8}  {r['content']:<32} {kind:<12} {' '.join(r['roles'])}")
        return "\n".join(lines)
