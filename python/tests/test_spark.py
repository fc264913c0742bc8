"""The Spark job on small inputs, in one local session (loopback only, no UI)."""

import os

import pytest

pyspark = pytest.importorskip("pyspark")

import neardup  # noqa: E402
from neardup.spark import ComponentsDidNotConverge, connected_components, dedup  # noqa: E402

BODY = (
    "the quick brown fox jumps over the lazy dog near the river bank today "
    "while the farmer watches from the old red barn across the valley"
)


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    s = (
        SparkSession.builder.master("local[2]")
        .appName("neardup-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield s
    s.stop()


def test_components_of_a_chain_and_a_cycle(spark):
    edges = spark.createDataFrame([(5, 4), (4, 3), (3, 2), (2, 1), (9, 8), (8, 7), (7, 9), (20, 11)], "a long, b long")
    got = {r["node"]: r["component"] for r in connected_components(edges).collect()}
    assert got == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 7: 7, 8: 7, 9: 7, 11: 11, 20: 11}
    with pytest.raises(ComponentsDidNotConverge):
        connected_components(spark.createDataFrame([(i + 1, i) for i in range(40)], "a long, b long"), max_rounds=1)


def test_components_in_one_task_equal_the_star_rounds(spark):
    """The union-find of one task (`components_batch`) against the large-star/small-star
    rounds, on random graphs of chains, cycles, stars and repeats, the edges spread over
    several partitions and Arrow batches of 3 rows."""
    import random

    from neardup.spark import _star_components

    rng = random.Random(17)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
    try:
        for _ in range(4):
            nodes = rng.sample(range(10**12, 10**12 + 5000), 60)
            edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(20, 70))]
            edges += [(nodes[0], n) for n in nodes[:8]] + [(nodes[9], nodes[9])]
            df = spark.createDataFrame(edges, "a long, b long").repartition(3)
            star = {r["node"]: r["component"] for r in _star_components(df, 64).collect()}
            one = connected_components(df, n_edges=len(edges)).collect()
            assert len(one) == len({r["node"] for r in one})
            assert {r["node"]: r["component"] for r in one} == star
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")


def test_dataframe_api_equals_the_library(spark):
    rows = [
        ("a", BODY, "2024-01-02"),
        ("b", BODY + " and more", "2024-01-01"),
        ("c", "markets and rates and banks today and tomorrow again", None),
        ("d", "", None),
        ("e", None, None),
        ("f", BODY + " and more.", None),
    ]
    df = spark.createDataFrame(rows, "id string, text string, date string")
    out = [r.asDict() for r in dedup(df, "id", "text", ["--paragraphs", "off"]).collect()]
    assert [r["id"] for r in out] == ["a", "b", "c", "d", "e", "f"]
    by = {r["id"]: r for r in out}
    # earliest date is the representative
    assert by["b"]["keep"] and by["a"]["duplicate_of"] == "b" and by["f"]["duplicate_of"] == "b"
    assert by["a"]["cluster"] == by["b"]["cluster"] == by["f"]["cluster"] == 0
    assert by["c"]["cluster"] == 1 and by["d"]["cluster"] == 2 and by["d"]["keep"]
    assert by["e"]["cluster"] is None and not by["e"]["keep"]
    local = neardup.dedup([(r[0], r[1]) for r in rows[:4]] + [("f", rows[5][1])], ["--paragraphs", "off"])
    # without dates the library picks by length then id; with them Spark follows dates,
    # so compare only the undated similarity of c (a singleton) and the cluster of a/f
    assert local[0]["cluster"] == local[4]["cluster"]


def test_inputs_are_numbered_in_the_clis_order(spark, tmp_path):
    """Files in the order given (not Spark's largest-first), lines and rows in file order,
    blank lines not records, ids of records without one as the CLI makes them."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from neardup.spark import read_jsonl, read_parquet

    # input splits of 64 KB: the big files are read in several blocks
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_text('{"id": "s1", "text": "one"}\n\n{"text": "no id"}\n')
    big.write_text("".join(json.dumps({"id": f"b{i}", "text": BODY}) + "\n" for i in range(3000)))
    rows = read_jsonl(spark, [str(small), str(big)]).orderBy("idx").collect()
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    assert [(r["file"], r["line"]) for r in rows[:4]] == [
        (str(small), 1),
        (str(small), 2),
        (str(small), 3),
        (str(big), 1),
    ]
    assert spark.read.text(str(big)).rdd.getNumPartitions() > 1
    assert rows[-1]["line"] == 3000 and rows[0]["first"] and not rows[1]["first"] and rows[3]["first"]

    p = neardup.params()
    pq.write_table(pa.table({"id": ["s1", None], "text": ["one", "two"]}), tmp_path / "small.parquet")
    pq.write_table(
        pa.table({"id": [f"b{i}" for i in range(5000)], "text": [BODY] * 5000}),
        tmp_path / "big.parquet",
        row_group_size=1000,
    )
    got = read_parquet(spark, [str(tmp_path / "small.parquet"), str(tmp_path / "big.parquet")], p)
    got = got.orderBy("idx").collect()
    assert [r["id"] for r in got[:3]] == ["s1", f"{tmp_path / 'small.parquet'}#1", "b0"]
    assert [r["row"] for r in got[:3]] == [0, 1, 0] and got[-1]["id"] == "b4999" and got[-1]["row"] == 4999
    assert [r["idx"] for r in got] == list(range(5002))
    # an integer id is read as its decimal text, as the CLI reads it
    pq.write_table(pa.table({"id": pa.array([1, None, -7], pa.int64()), "text": ["x", "y", "z"]}), tmp_path / "intid.parquet")
    got = read_parquet(spark, [str(tmp_path / "intid.parquet")], p).orderBy("idx").collect()
    assert [r["id"] for r in got] == ["1", f"{tmp_path / 'intid.parquet'}#1", "-7"]
    # the CLI's rule and message (neardup::input::columnar::check_schema)
    pq.write_table(pa.table({"date": [1], "text": ["x"]}), tmp_path / "intdate.parquet")
    with pytest.raises(ValueError, match=r"column `date` \(the date field\) is Int64, not a string column"):
        read_parquet(spark, [str(tmp_path / "intdate.parquet")], p)
    pq.write_table(pa.table({"id": ["x"], "body": ["x"]}), tmp_path / "notext.parquet")
    with pytest.raises(ValueError, match="no column `text` for the text field; the columns are: id, body"):
        read_parquet(spark, [str(tmp_path / "notext.parquet")], p)
    spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_boilerplate_shipped_or_joined_gives_the_same_answer(spark, tmp_path, monkeypatch):
    """An outlet's footer is boilerplate: left out, it no longer makes its articles
    duplicates of each other. The keys found go to the tasks with the function, or (more
    than `BROADCAST_KEYS`) are joined to each record: the same answer both ways (and with
    the candidate pairs shuffled rather than broadcast to verification)."""
    import json
    import random

    from neardup import spark as nspark
    from neardup.spark import Timing, cluster_records, read_jsonl

    rng = random.Random(7)
    vocab = [f"word{i}" for i in range(5000)]

    def words(n):
        return " ".join(rng.choice(vocab) for _ in range(n))

    footer = words(400)
    bodies = [words(20) for _ in range(8)]
    lines = [{"id": f"d{i}", "outlet": "x", "text": f"{b}\n\n{footer}"} for i, b in enumerate(bodies)]
    # d8 copies d1's article (and its footer): the one cluster
    lines.append({"id": "d8", "outlet": "x", "text": f"{bodies[1]}\n\n{footer}"})
    path = tmp_path / "outlet.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))

    def run():
        t = Timing()
        rows = cluster_records(read_jsonl(spark, [str(path)]), "lines", None, timing=t).orderBy("idx").collect()
        found = next(s for s in t.stages if s["stage"] == "boilerplate")["rows"]
        return [(r["id"], r["cluster"], r["keep"], r["duplicate_of"], r["similarity"]) for r in rows], found

    shipped, found = run()
    assert found >= 1
    clustered = {r[0] for r in shipped if r[1] is not None and any(o[1] == r[1] and o[0] != r[0] for o in shipped)}
    assert clustered == {"d1", "d8"}
    monkeypatch.setattr(nspark, "BROADCAST_KEYS", 0)
    monkeypatch.setattr(nspark, "BROADCAST_PAIRS", 0)
    joined, found_joined = run()
    assert joined == shipped and found_joined == found
    # the footer alone makes duplicates when it is not boilerplate
    off = cluster_records(
        read_jsonl(spark, [str(path)]), "lines", ["--boilerplate-min-docs", "100"]
    ).where("duplicate_of is not null").count()
    assert off > 1


def test_paragraph_counts_equal_counted_keys_over_many_partitions(spark, tmp_path):
    """The boilerplate counts summed in Rust per partition and per shard equal the key
    rows counted by Spark, on an input read as several partitions, its outlets' records
    spread over all of them."""
    import json

    from pyspark.sql import functions as F

    from neardup.spark import _paragraph_counts, _paragraph_keys, read_jsonl

    footers = {o: f"footer of outlet {o} with enough words to be a paragraph of its own" for o in "abc"}
    lines = []
    for i in range(600):
        o = "abc"[i % 3]
        text = f"story number {i} about the town and its people" + (f"\n\n{footers[o]}" if i % 4 else "")
        lines.append({"id": f"d{i}", "outlet": o if i % 5 else None, "text": text})
    path = tmp_path / "spread.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    spark.conf.set("spark.sql.files.maxPartitionBytes", "8192")
    try:
        records = read_jsonl(spark, [str(path)])
        assert records.rdd.getNumPartitions() > 4
        p = neardup.params()
        got = {(r["grp"], r["h"]): r["n"] for r in _paragraph_counts(records, "lines", p).collect()}
        counted = _paragraph_keys(records, "lines", p).groupBy("grp", "h").agg(F.count(F.lit(1)).alias("n"))
        expected = {(r["grp"], r["h"]): r["n"] for r in counted.collect() if r["h"] is None or r["n"] >= 2}
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert got == expected
    assert got[("a", None)] == sum(1 for i in range(600) if i % 3 == 0 and i % 5)
    assert max(n for (g, h), n in got.items() if g == "b" and h is not None) >= 100


def test_grouped_verification_equals_the_joins(spark, monkeypatch):
    """Verification with the pairs broadcast (one scan of the compared records joined to
    the (record, group) needs, scored by group) accepts the same pairs as the two joins
    (more than `BROADCAST_PAIRS`): for a clique of pairs (one group) and a sparser graph
    (several), with big groups cut or not, also when Arrow batches of 3 rows cut the
    groups."""
    import random

    from neardup import spark as nspark

    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(3000)]
    bases = [" ".join(rng.choice(vocab) for _ in range(60)) for _ in range(3)]
    texts = []
    for i in range(14):
        words = bases[i % 3].split()
        # a few words changed: near copies of their base, some too far
        for _ in range(i):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.append(" ".join(words))
    rows = [(i * 10, f"d{i}", t, None, None, None) for i, t in enumerate(texts)]
    records = spark.createDataFrame(rows, "idx long, id string, text string, date string, outlet string, url string")
    p = neardup.params(["--paragraphs", "off"])
    sketched = nspark._sketch(records, "docs", p, None).where("status = 'ok'").persist()
    clique = [(a * 10, b * 10) for b in range(14) for a in range(b)]
    # neighbours 1, 3 and 6 apart: a band of pairs, its groups overlapping
    sparse = [(a, b) for a, b in clique if (b - a) // 10 in (1, 3, 6)]
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    previous = spark.conf.get(key, None)
    spark.conf.set(key, "3")

    def accepted(pairs, n):
        edges, held = nspark._verify(pairs, n, sketched, p)
        got = sorted(tuple(r) for r in edges.select("a", "b").collect())
        for df in held:
            df.unpersist()
        return got

    try:
        for listed in (clique, sparse):
            pairs = spark.createDataFrame(listed, "a long, b long")
            n = len(listed)
            with monkeypatch.context() as m:
                m.setattr(nspark, "BROADCAST_PAIRS", 0)
                joined = accepted(pairs, n)
            # some accepted, some not: the test tells the paths apart from "all" and "none"
            assert 0 < len(joined) < n
            for cut in (nspark.VERIFY_GROUP_PAIRS, 4):
                with monkeypatch.context() as m:
                    m.setattr(nspark, "VERIFY_GROUP_PAIRS", cut)
                    assert accepted(pairs, n) == joined, (n, cut)
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)
        sketched.unpersist()


def test_workers_freeze_their_objects_once(spark):
    """Every task of a job through `_worker` runs in a Python worker whose start-up objects
    are frozen, the flag kept in the worker's own module (not a per-task copy)."""
    import gc

    import pyarrow as pa

    from neardup.spark import _worker

    def report(batches):
        import neardup.spark

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"frozen": [neardup.spark._FROZEN], "objects": [gc.get_freeze_count()]})

    got = spark.range(0, 40, numPartitions=8).mapInArrow(_worker(report), "frozen boolean, objects long").collect()
    assert len(got) == 8
    assert all(r["frozen"] and r["objects"] > 1000 for r in got)
