"""The bindings call the Rust core: the same answers as the library's own tests."""

import doctest
import json
import pickle
import re
from pathlib import Path

import pytest

import neardup
from neardup import _core

BODY = (
    "the quick brown fox jumps over the lazy dog near the river bank today "
    "while the farmer watches from the old red barn across the valley"
)


def test_module_doctest():
    failures, tried = doctest.testmod(neardup, raise_on_error=False)
    assert tried > 0 and failures == 0


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})


def test_dedup_texts_matches_the_cli_rules():
    out = neardup.dedup([("a", BODY), ("b", BODY + " and more"), ("c", "markets and rates and banks today")])
    # the longer copy carries more of the story: it is the representative
    assert out[0]["duplicate_of"] == "b" and not out[0]["keep"]
    assert out[1]["keep"] and out[0]["cluster"] == out[1]["cluster"]
    assert out[2]["cluster"] != out[0]["cluster"] and out[2]["keep"]
    assert 0.8 <= out[0]["similarity"] <= 1.0


def test_params_from_cli_flags_and_pickle():
    p = neardup.Params.from_cli(["--paragraphs", "off", "--threshold", "0.9", "--max-bucket", "7"])
    assert not p.paragraphs and p.max_bucket == 7
    q = pickle.loads(pickle.dumps(p))
    assert q.to_json() == p.to_json()
    with pytest.raises(ValueError):
        neardup.Params.from_cli(["--threshold", "1.5"])
    with pytest.raises(ValueError):
        neardup.Params.from_cli(["--method", "simhash"]).check_distributed()
    inputs, out, r = neardup.Params.parse_dedup_args(["a.jsonl", "b.jsonl", "--out", "o", "--paragraphs", "off"])
    assert inputs == ["a.jsonl", "b.jsonl"] and out == "o" and not r.paragraphs


def test_from_cli_reads_the_flags_as_the_cli_does(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"lsh": {"threshold": 0.7, "bands": 64, "rows": 2}}')

    def params(flags):
        return json.loads(neardup.Params.from_cli(flags).to_json())

    p = params(["--config", str(config)])
    assert p["lsh"]["threshold"] == 0.7 and (p["lsh"]["bands"], p["lsh"]["rows"]) == (64, 2)
    # a flag the banding depends on re-derives the config's bands and rows
    q = params(["--config", str(config), "--threshold=0.9", "--containment", "off"])
    assert q["lsh"]["threshold"] == 0.9 and (q["lsh"]["bands"], q["lsh"]["rows"]) != (64, 2)
    r = params(["--representative", "id", "--representative", "date,longest", "--prefer-outlets", " wire , paper"])
    assert r["cluster"]["representative"] == ["id", "date", "longest"]
    assert r["cluster"]["prefer_outlets"] == ["wire", "paper"]
    assert params(["--simhash-k", "4", "--compare", "raw"])["simhash"]["max_hamming"] == 4
    for bad in (
        ["--no-such-flag", "2"],
        ["--threshold", "0.5", "--threshold", "0.6"],
        ["--paragraphs", "maybe"],
        ["--threshold"],
        ["--emit-clean", "--paragraphs", "off"],
        ["in.jsonl"],
    ):
        with pytest.raises(ValueError):
            neardup.Params.from_cli(bad)
    inputs, out, _ = neardup.Params.parse_dedup_args(["-o", "o", "a.jsonl", "--threads", "4", "-q", "--", "-b.jsonl"])
    assert inputs == ["a.jsonl", "-b.jsonl"] and out == "o"
    with pytest.raises(ValueError):
        neardup.Params.parse_dedup_args(["a.jsonl"])
    # one machine's flags are checked as the CLI checks them, then left out
    inputs, _, _ = neardup.Params.parse_dedup_args(["a.jsonl", "-o", "o", "--memory", "1G", "--output-format", "parquet"])
    assert inputs == ["a.jsonl"]
    for bad in (["--memory", "lots"], ["--output-format", "csv"]):
        with pytest.raises(ValueError):
            neardup.Params.parse_dedup_args(["a.jsonl", "-o", "o", *bad])


def test_stage_functions():
    assert neardup.normalize("Hello,  WORLD!") == "hello world"
    s = neardup.shingles(BODY)
    assert s == sorted(set(s)) and len(s) > 10
    sig, keys = neardup.sketch(BODY)
    p = neardup.params()
    assert len(sig) == 128 and len(keys) == p.bands
    ok, j, c = neardup.compare(BODY, BODY + "!")
    assert ok and j == 1.0 and c == 1.0


def test_distributed_stages_agree_with_the_pipeline():
    pa = pytest.importorskip("pyarrow")
    p = neardup.params()
    docs = pa.RecordBatch.from_pydict(
        {
            "id": ["a", "b", "c"],
            "text": [BODY, BODY + " and more", ""],
            "date": pa.array([None] * 3, pa.string()),
            "outlet": pa.array([None] * 3, pa.string()),
            "url": pa.array([None] * 3, pa.string()),
        }
    )
    sk = _core.sketch_records_batch(docs, p)
    assert sk.column("status").to_pylist() == ["ok", "ok", "empty"]
    assert sk.column("set")[2].as_py() is None and sk.column("keys")[2].as_py() is None
    # same band keys as the one-text API (as signed 64-bit)
    assert [k & (2**64 - 1) for k in sk.column("keys")[0].as_py()] == neardup.sketch(BODY)[1]
    sets = sk.column("set")
    v = _core.verify_batch(pa.RecordBatch.from_arrays([sets.slice(0, 1), sets.slice(1, 1)], names=["sa", "sb"]), p)
    assert v.column("accepted")[0].as_py()
    assert v.column("jaccard")[0].as_py() == pytest.approx(neardup.compare(BODY, BODY + " and more")[1])
    # pairs in groups, each group's records before its pairs: group 1 holds records 3
    # (record 0), 5 (record 1) and 4 (an unrelated text) and pairs (3, 5) (a match) and
    # (4, 5) (none), and goes on in the next batch with (3, 4) (none); group 2 holds 2
    # (record 1) and 8 (record 0) and their pair (a match)
    unrelated = _core.sketch_records_batch(
        pa.RecordBatch.from_pydict(
            {
                "id": ["z"],
                "text": ["markets and rates and banks today and tomorrow again and again"],
                "date": pa.array([None], pa.string()),
                "outlet": pa.array([None], pa.string()),
                "url": pa.array([None], pa.string()),
            }
        ),
        p,
    ).column("set")[0].as_py()

    def grouped(rows):
        return pa.RecordBatch.from_pydict(
            {
                "g": pa.array([r[0] for r in rows], pa.int64()),
                "a": pa.array([r[1] for r in rows], pa.int64()),
                "b": pa.array([r[2] for r in rows], pa.int64()),
                "set": pa.array([r[3] for r in rows], pa.binary()),
            }
        )

    s0, s1 = sets[0].as_py(), sets[1].as_py()
    v = _core.GroupVerifier(p)
    first = v.score(grouped([(1, 3, None, s0), (1, 5, None, s1), (1, 4, None, unrelated), (1, 3, 5, None), (1, 4, 5, None)]))
    second = v.score(grouped([(1, 3, 4, None), (2, 2, None, s1), (2, 8, None, s0), (2, 2, 8, None)]))
    got = [(r["a"], r["b"]) for b in (first, second) for r in b.to_pylist()]
    assert got == [(3, 5), (2, 8)]
    # a new group forgets the last one's records; a pair before its record is an error
    with pytest.raises(ValueError, match=r"pair \(3, 8\): record 3 does not come before it in group 2"):
        v.score(grouped([(2, 3, 8, None)]))
    with pytest.raises(ValueError, match=r"pair \(2, 8\): record 8 does not come before it in group 3"):
        _core.GroupVerifier(p).score(grouped([(3, 2, None, s1), (3, 2, 8, None), (3, 8, None, s0)]))
    # two components in one batch, their rows together: members 10 and 30 (positions need
    # not be dense) and their pair; members 40 and 50 and theirs
    rec, size = [sets[0].as_py(), sets[1].as_py()], [sk.column("size")[0].as_py(), sk.column("size")[1].as_py()]
    component = pa.RecordBatch.from_pydict(
        {
            "component": pa.array([7, 7, 7, 9, 9, 9], pa.int64()),
            "kind": pa.array([0, 0, 1, 1, 0, 0], pa.int32()),
            "idx": pa.array([10, 30, None, None, 40, 50], pa.int64()),
            "id": ["a", "b", None, None, "c", "d"],
            "date": pa.array([None] * 6, pa.string()),
            "outlet": pa.array([None] * 6, pa.string()),
            "record": pa.array([rec[0], rec[1], None, None, rec[1], rec[0]], pa.binary()),
            "removed": pa.array([[], [], None, None, [], []], pa.list_(pa.int32())),
            "size": pa.array([size[0], size[1], None, None, size[1], size[0]], pa.int64()),
            "a": pa.array([None, None, 10, 40, None, None], pa.int64()),
            "b": pa.array([None, None, 30, 50, None, None], pa.int64()),
        }
    )
    placed = _core.place_batch(component, p).to_pydict()
    whole = neardup.dedup([("a", BODY), ("b", BODY + " and more")])
    got = sorted(zip(placed["doc"], placed["rep"], strict=True))
    assert got == [(10, 30), (30, 30), (40, 40), (50, 40)]
    assert placed["similarity"][placed["doc"].index(10)] == whole[0]["similarity"]
    assert placed["similarity"][placed["doc"].index(50)] == whole[0]["similarity"]
    assert whole[0]["duplicate_of"] == "b"
    # four documents share key 7 in band 0 (a bucket capped at 3, in position order) and
    # two an opening key; their entries come from two batches, three shards
    halves = [
        pa.RecordBatch.from_pydict(
            {
                "idx": pa.array(idx, pa.int64()),
                "keys": pa.array([[7, 100 + i] for i in idx], pa.list_(pa.int64())),
                "opening": pa.array(opening, pa.list_(pa.int64())),
            }
        )
        for idx, opening in (([50, 0], [[99], [99, 5]]), ([20, 10], [[], [6]]))
    ]
    entries = [_core.band_entries_batch(h, 3) for h in halves]
    by_shard = {}
    for e in entries:
        for s, row in zip(e.column("shard").to_pylist(), range(e.num_rows), strict=True):
            by_shard.setdefault(s, []).append(e.slice(row, 1))
    got = []
    for rows in by_shard.values():
        pairs = _core.shard_pairs_batch(rows, 3)
        got += zip(pairs.column("a").to_pylist(), pairs.column("b").to_pylist(), strict=True)
    assert sorted(got) == [(0, 10), (0, 20), (0, 50), (10, 20), (10, 50), (20, 50)]
    # (0, 50) from the opening key only: the cap leaves it out of band 0's bucket
    assert len(got) == 6
    lines = pa.RecordBatch.from_pydict(
        {
            "value": pa.array([b'\xef\xbb\xbf{"id": 1, "text": "hello there world"}', b"  ", b"not json"], pa.binary()),
            "first": [True, False, False],
        }
    )
    got = _core.sketch_records_batch(lines, p).to_pydict()
    assert got["id"][0] == "1" and got["status"] == ["ok", "blank", "invalid_json"]
    keys = _core.paragraph_keys_batch(lines, p).to_pydict()
    # the one compared record: itself (h null) and its one paragraph
    assert keys["row"] == [0, 0] and keys["grp"] == [None, None] and keys["h"][0] is None
    bp = _core.boilerplate_batch(pa.RecordBatch.from_pydict({"n": pa.array([3, 2], pa.int64()), "group_docs": pa.array([3, 2], pa.int64())}), p)
    assert bp.column("frequent").to_pylist() == [True, False]
    with pytest.raises(ValueError, match="no column 'text'"):
        _core.sketch_records_batch(pa.RecordBatch.from_pydict({"id": ["a"]}), p)
    with pytest.raises(ValueError, match="no column 'sa'"):
        _core.verify_batch(pa.RecordBatch.from_pydict({"x": [1]}), p)
    with pytest.raises(ValueError, match="column 'sa' is"):
        _core.verify_batch(pa.RecordBatch.from_pydict({"sa": [1], "sb": [2]}), p)


def test_boilerplate_is_left_out_of_the_sketch():
    """A paragraph that is its group's boilerplate leaves the article: the sketch and the
    compared record are those of the article without it, whether the boilerplate comes as
    a `Boilerplate` (per group) or as the record's own list."""
    pa = pytest.importorskip("pyarrow")
    p = neardup.params()
    footer = "subscribe to our newsletter for the latest news and offers from the daily paper every morning"

    def docs(texts, outlet):
        n = len(texts)
        return pa.RecordBatch.from_pydict(
            {
                "id": [str(i) for i in range(n)],
                "text": texts,
                "date": pa.array([None] * n, pa.string()),
                "outlet": pa.array([outlet] * n, pa.string()),
                "url": pa.array([None] * n, pa.string()),
            }
        )

    keys = _core.paragraph_keys_batch(docs([footer], "x"), p).to_pydict()
    assert keys["grp"] == ["x", "x"] and keys["h"][0] is None
    footer_hash = keys["h"][1]
    bp = _core.Boilerplate(pa.RecordBatch.from_pydict({"grp": ["x", "y"], "h": pa.array([footer_hash, 5], pa.int64())}))
    assert len(bp) == 2
    with_footer = docs([BODY + "\n\n" + footer], "x")
    alone = _core.sketch_records_batch(docs([BODY], "x"), p).to_pydict()
    shipped = _core.sketch_records_batch(with_footer, p, bp).to_pydict()
    listed = _core.sketch_records_batch(
        pa.RecordBatch.from_arrays(
            [*with_footer.columns, pa.array([[footer_hash]], pa.list_(pa.int64()))],
            names=[*with_footer.schema.names, "boilerplate"],
        ),
        p,
    ).to_pydict()
    kept = _core.sketch_records_batch(with_footer, p).to_pydict()
    for got in (shipped, listed):
        assert (got["keys"], got["set"], got["size"]) == (alone["keys"], alone["set"], alone["size"])
    assert kept["size"][0] > alone["size"][0] and kept["keys"] != alone["keys"]
    # another outlet's boilerplate is not this one's
    other = _core.sketch_records_batch(docs([BODY + "\n\n" + footer], "z"), p, bp).to_pydict()
    assert other["keys"] == kept["keys"]


def test_paragraph_counts_summed_across_partitions_and_shards():
    """`ParagraphCounts` (per partition) and `paragraph_shard_counts` (per shard) give the
    counts that `paragraph_keys_batch`'s rows give counted one by one: a group split over
    two partitions, a paragraph held in both, records without a group, every shard's rows
    from both partitions added up wherever they land."""
    pa = pytest.importorskip("pyarrow")
    from collections import Counter

    p = neardup.params()
    footer = "subscribe to our newsletter for the latest news and offers from the daily paper every morning"
    other = "all rights reserved by the publisher of this fine newspaper and its many partner sites"

    def docs(rows):
        return pa.RecordBatch.from_pydict(
            {
                "id": [str(i) for i in range(len(rows))],
                "text": [t for t, _ in rows],
                "date": pa.array([None] * len(rows), pa.string()),
                "outlet": pa.array([o for _, o in rows], pa.string()),
                "url": pa.array([None] * len(rows), pa.string()),
            }
        )

    # partition one in two batches, partition two in one; outlet "x" in both partitions,
    # "é" (non-ASCII) and no outlet too; a text without words is not counted
    partitions = [
        [
            docs([(BODY + "\n\n" + footer, "x"), (footer, "x"), ("...", "x")]),
            docs([(BODY + "\n\n" + other, None), (other, "é")]),
        ],
        [docs([(footer + "\n\n" + other, "x"), (BODY + "\n\n" + other, None), (footer, "y")])],
    ]
    expected = Counter()
    for part in partitions:
        for b in part:
            keys = _core.paragraph_keys_batch(b, p).to_pydict()
            expected.update(zip(keys["grp"], keys["h"], strict=True))
    # the counts a Spark groupBy gave: every group's documents, keys of two or more
    expected = {k: n for k, n in expected.items() if k[1] is None or n >= 2}
    assert expected[("x", None)] == 3 and expected[(None, None)] == 2
    assert max(n for (g, h), n in expected.items() if g == "x" and h is not None) == 3
    for shards in (1, 3):
        by_shard = {}
        for part in partitions:
            counts = _core.ParagraphCounts()
            for b in part:
                counts.add(b, p)
            entries = counts.entries(shards)
            assert entries.num_rows <= shards
            for row in range(entries.num_rows):
                by_shard.setdefault(entries.column("shard")[row].as_py(), []).append(entries.slice(row, 1))
        got = {}
        for rows in by_shard.values():
            summed = _core.paragraph_shard_counts(rows).to_pydict()
            for g, h, n in zip(summed["grp"], summed["h"], summed["n"], strict=True):
                assert (g, h) not in got, "a key counted in two shards"
                got[(g, h)] = n
        assert got == expected
    # counts handed over are emptied
    counts = _core.ParagraphCounts()
    counts.add(partitions[1][0], p)
    assert counts.entries(2).num_rows > 0 and counts.entries(2).num_rows == 0
    with pytest.raises(ValueError, match="truncated"):
        _core.paragraph_shard_counts([pa.RecordBatch.from_pydict({"entries": pa.array([b"\x01\x00"], pa.binary())})])
