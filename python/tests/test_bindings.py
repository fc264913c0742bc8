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
    p = neardup.params()
    docs = [("a", BODY, None, None, None), ("b", BODY + " and more", None, None, None), ("c", "", None, None, None)]
    rows = _core.analyze_docs(docs, p)
    assert [r[3] for r in rows] == ["ok", "ok", "empty"]
    sk = _core.sketch_docs([(r[5], r[4], r[7]) for r in rows[:2]], None, p)
    # same band keys as the one-text API (as signed 64-bit)
    assert [k & (2**64 - 1) for k in sk[0][3]] == neardup.sketch(BODY)[1]
    ok, j, _ = _core.verify_pairs([(sk[0][4], sk[1][4])], p)[0]
    assert ok and j == pytest.approx(neardup.compare(BODY, BODY + " and more")[1])
    members = [(i, d[0], None, None, rows[i][5], sk[i][0], sk[i][2]) for i, d in enumerate(docs[:2])]
    placed = sorted(_core.place_component(members, [(0, 1)], p))
    whole = neardup.dedup([(d[0], d[1]) for d in docs[:2]])
    assert placed[0][:2] == (0, 1) and placed[1][:2] == (1, 1)
    assert placed[0][2] == whole[0]["similarity"] and whole[0]["duplicate_of"] == "b"
    assert sorted(_core.bucket_candidates([[5, 0, 2, 1]], 3)) == [(0, 1), (0, 2), (1, 2), (1, 5), (2, 5)]
    lines = _core.analyze_lines([b'{"id": 1, "text": "hello there world"}', b"  ", b"not json"], p)
    assert lines[0][0] == "1" and lines[0][3] == "ok" and lines[1] is None and lines[2][3] == "invalid_json"
    assert _core.boilerplate_test(3, 3, p) and not _core.boilerplate_test(2, 2, p)
