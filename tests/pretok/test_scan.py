"""scan: corpus statistics, streamed in chunks, serial or parallel, all the same answer."""

from __future__ import annotations

from collections import Counter

import pytest

from workbench.errors import InputError
from workbench.pretok import SCHEMES, scan, spans
from workbench.pretok.sources import chunks, read_blocks


def test_small_text_by_hand():
    text = "我用Python写代码 12345\nit's x */\n/y\n"
    r = scan([text], a="kimi-k2", b="o200k")
    assert (r.sources, r.chars, r.lines, r.han_runs) == (1, len(text), 3, 2)
    # kimi: 我用|Python|写代码| |123|45|\n|it's| x| */\n|/y|\n
    assert r.a.pieces == 12 and r.a.branches["han"] == 2 and r.a.digit_groups == Counter({3: 1, 2: 1})
    assert r.a.han_glue == Counter({"Han": 2})
    # o200k: 我用Python写代码| |123|45|\n|it's| x| */\n/|y|\n
    assert r.b.pieces == 10 and r.b.han_glue == Counter({"Han+Latin": 1, "Latin+Han": 1})
    assert (r.a.slash_tails, r.b.slash_tails) == (0, 1)
    assert (r.a.contractions_attached, r.a.contractions_separate) == (1, 0)
    assert r.causes == Counter({"han": 1, "slash-tail": 1})
    assert r.diverging_lines == 3  # line 1 (Han); the " */\n/y" stretch spans lines 2 and 3
    ex = r.examples["slash-tail"][0]
    assert (ex["line"], ex["a"], ex["b"]) == (2, [" */\n", "/y"], [" */\n/", "y"])


def test_cl100k_cuts_contractions_off():
    r = scan(["They're here, it's fine, I'LL go\n"], a="o200k", b="cl100k")
    assert (r.a.contractions_attached, r.a.contractions_separate) == (3, 0)
    assert (r.b.contractions_attached, r.b.contractions_separate) == (0, 3)
    assert r.causes == Counter({"contraction": 3})


def test_han_glue_kinds():
    r = scan(["x中文y 東京の夜 a，漢字 한국漢字\n"], a="kimi-k2", b="o200k")
    assert r.b.han_glue == Counter(
        {"Latin+Han+Latin": 1, "space+Han+kana": 1, "kana+Han": 1, "punct+Han": 1, "hangul+Han": 1})
    assert r.a.han_glue == Counter({"Han": 5})


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for sources in ([], [""], [empty]):
        r = scan(sources)
        assert (r.chars, r.lines, r.a.pieces, r.b.pieces, r.diverging_lines) == (0, 0, 0, 0, 0)
        assert r.diverging_line_share == 0.0 and r.causes == Counter()


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_chunks_cut_only_where_every_scheme_cuts(scheme, corpus_text):
    whole = [(p.start, p.end, p.branch) for p in spans(corpus_text, scheme)]
    pieced, offset = [], 0
    parts = list(chunks([corpus_text], size=257))
    assert len(parts) > 100 and "".join(c.text for c in parts) == corpus_text
    for c in parts:
        pieced += [(p.start + offset, p.end + offset, p.branch) for p in spans(c.text, scheme)]
        offset += len(c.text)
    assert pieced == whole


def test_result_does_not_depend_on_chunking_or_processes(tmp_path, corpus_files):
    big = tmp_path / "big.txt"
    big.write_text("".join(f.read_text(encoding="utf-8") for f in corpus_files) * 8, encoding="utf-8")
    one = scan([big], jobs=1, chunk_chars=1 << 30).to_dict()
    serial = scan([big], jobs=1, chunk_chars=50_000, progress=False).to_dict()
    parallel = scan([big], jobs=2, chunk_chars=50_000, progress=False).to_dict()
    for d in (serial, parallel):  # examples are the first five found: the same in every mode
        assert d == one
    assert one["bytes"] > 1_000_000 and one["causes"]["han"] > 0


def test_file_lines_and_line_numbers(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("one\ntwo 中文x\nthree", encoding="utf-8")  # no final newline: still 3 lines
    r = scan([f])
    assert r.lines == 3 and r.diverging_lines == 1
    assert r.examples["han"][0]["line"] == 2 and r.examples["han"][0]["source"] == str(f)


def test_bad_utf8_offset_across_blocks(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"ab\xc3\xa9cd\xffe")  # 'é' straddles the 4-byte blocks; 0xFF is byte 6
    with pytest.raises(InputError, match=r"bad.txt: not valid UTF-8 at byte 6 .*errors='replace'"):
        list(read_blocks(f, block=4))
    assert "".join(read_blocks(f, errors="replace", block=4)) == "abécd\ufffde"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="cannot read .*nope.txt"):
        scan([tmp_path / "nope.txt"])


def test_fifty_megabyte_single_line(tmp_path, corpus_files):
    """One 50 MB line: cut at letter-space-letter boundaries, linear time, no newline needed."""
    line = " ".join(f.read_text(encoding="utf-8").replace("\n", " ") for f in corpus_files)
    f = tmp_path / "line.txt"
    data = (line * (50_000_000 // len(line.encode()) + 1)).encode()[:50_000_000]
    f.write_bytes(data.decode("utf-8", "ignore").encode())
    r = scan([f], progress=False)
    assert r.lines == 1 and r.bytes == f.stat().st_size >= 49_999_000
    assert r.a.pieces > 5_000_000 and r.diverging_lines == 1


def test_parallel_scan_from_a_script_without_main_guard(tmp_path, corpus_files):
    """Workers must not re-run the caller's __main__ (stdin programs, scripts with no guard)."""
    import subprocess
    import sys

    big = tmp_path / "big.txt"
    big.write_text("".join(f.read_text(encoding="utf-8") for f in corpus_files) * 2, encoding="utf-8")
    code = (f"from pathlib import Path\nfrom workbench.pretok import scan\n"
            f"r = scan([Path({str(big)!r})], jobs=2, chunk_chars=20_000, progress=False)\nprint(r.lines)\n")
    out = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == big.read_text(encoding="utf-8").count("\n")
