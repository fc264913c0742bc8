"""neardup on Apache Spark: the same clusters as `neardup dedup`, beyond one machine.

    from neardup.spark import dedup
    out = dedup(df, "id", "text", ["--threshold", "0.8"])   # + cluster, keep, duplicate_of, similarity

Every per-document and per-group step is the Rust core's (`neardup._core`, which wraps
`neardup::stages`); Spark only moves the data between them:

1. analyze (mapPartitions, Rust): parse, normalize, segment, shingle, repeats.
2. boilerplate (paragraph stage on): documents per (outlet group, paragraph hash) and per
   group, counted by Spark; each count tested by the core's `is_boilerplate`.
3. sketch (mapPartitions, Rust): boilerplate flagged, repeats and boilerplate left out,
   MinHash, LSH band keys, the sorted set exact verification compares.
4. candidates: group by (band, key) in Spark; each bucket's pairs by the core
   (`bucket_pairs`, the CLI's cap at max_bucket); distinct.
5. verify (mapPartitions, Rust): exact Jaccard / containment, the CLI's match rule.
6. connected components of the accepted pairs in Spark: alternating large-star and
   small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014)
   until the edge set no longer changes; more than `max_rounds` rounds is an error.
7. place (per component, Rust): representative and star split exactly as the CLI
   (`cluster::place_component`).
8. cluster ids numbered in input order of each cluster's first record, as the CLI.

Input order is the DataFrame's order (`zipWithIndex`), or for files the order of the
files as given and of lines within them: it breaks ties exactly where the CLI's does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import _core
from . import params as make_params

BATCH = 256

_ANALYZED = T.StructType(
    [
        T.StructField("idx", T.LongType(), False),
        T.StructField("id", T.StringType(), True),
        T.StructField("date", T.StringType(), True),
        T.StructField("outlet", T.StringType(), True),
        T.StructField("status", T.StringType(), False),
        T.StructField("grp", T.StringType(), True),
        T.StructField("record", T.BinaryType(), True),
        T.StructField("hashes", T.ArrayType(T.LongType(), False), False),
        T.StructField("repeated", T.ArrayType(T.IntegerType(), False), False),
        T.StructField("file", T.StringType(), True),
        T.StructField("line", T.LongType(), True),
    ]
)

_SKETCHED = T.StructType(
    [
        T.StructField("idx", T.LongType(), False),
        T.StructField("removed", T.ArrayType(T.IntegerType(), False), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("keys", T.ArrayType(T.LongType(), False), False),
        T.StructField("set", T.BinaryType(), False),
        T.StructField("opening", T.ArrayType(T.LongType(), False), False),
    ]
)

_EDGE = T.StructType([T.StructField("a", T.LongType(), False), T.StructField("b", T.LongType(), False)])


class ComponentsDidNotConverge(RuntimeError):
    """Large-star/small-star did not reach a fixed point within `max_rounds` rounds."""


def _batches(it, n=BATCH):
    batch = []
    for x in it:
        batch.append(x)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _analyze_lines(params: _core.Params):
    """(idx, (file, line_no, bytes)) -> analyzed rows; blank lines dropped."""

    def run(it: Iterator) -> Iterator[tuple]:
        for batch in _batches(it):
            lines = []
            for _, (_, line_no, raw) in batch:
                raw = bytes(raw)
                if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                lines.append(raw)
            for (idx, (file, line_no, _)), r in zip(batch, _core.analyze_lines(lines, params), strict=True):
                if r is None:
                    continue
                doc_id, date, outlet, status, grp, record, hashes, repeated = r
                if doc_id is None:
                    doc_id = f"{file}:{line_no}"
                yield (idx, doc_id, date, outlet, status, grp, record, hashes, repeated, file, line_no)

    return run


def _analyze_docs(params: _core.Params):
    """(idx, (id, text, date, outlet, url)) -> analyzed rows."""

    def run(it: Iterator) -> Iterator[tuple]:
        for batch in _batches(it):
            docs = [
                (
                    f"<row {idx}>" if d[0] is None else str(d[0]),
                    d[1],
                    None if d[2] is None else str(d[2]),
                    None if d[3] is None else str(d[3]),
                    None if d[4] is None else str(d[4]),
                )
                for idx, d in batch
            ]
            for (idx, _), r in zip(batch, _core.analyze_docs(docs, params), strict=True):
                doc_id, date, outlet, status, grp, record, hashes, repeated = r
                yield (idx, doc_id, date, outlet, status, grp, record, hashes, repeated, None, None)

    return run


def _boilerplate_keys(spark: SparkSession, ok: DataFrame, params: _core.Params) -> list:
    """The (group, paragraph hash) keys that are boilerplate: counted in Spark, each
    count tested by the core."""
    group_docs = ok.groupBy("grp").agg(F.count(F.lit(1)).alias("group_docs"))
    counts = (
        ok.select("grp", F.explode("hashes").alias("h"))
        .groupBy("grp", "h")
        .agg(F.count(F.lit(1)).alias("n"))
        # boilerplate_min_docs is at least 2 (validated): a pre-filter, the core decides
        .where(F.col("n") >= 2)
    )
    joined = counts.join(group_docs, counts["grp"].eqNullSafe(group_docs["grp"])).select(
        counts["grp"], "h", "n", "group_docs"
    )

    def test(it):
        for g, h, n, gd in it:
            if _core.boilerplate_test(n, gd, params):
                yield (g, h)

    return joined.rdd.map(tuple).mapPartitions(test).collect()


def _sketch(params: _core.Params, frequent_bc):
    def run(it):
        boiler = _core.Boilerplate(frequent_bc.value) if frequent_bc is not None else None
        for batch in _batches(it):
            docs = [(bytes(rec), grp, list(rep)) for _, rec, grp, rep in batch]
            for (idx, *_), (removed, _flagged, size, keys, compared, opening) in zip(
                batch, _core.sketch_docs(docs, boiler, params), strict=True
            ):
                yield (idx, removed, size, keys, compared, opening)

    return run


def _candidates(sketched: DataFrame, params: _core.Params) -> DataFrame:
    """Pairs sharing an article band key (in the same band), or any opening key (each
    already seeded by its band, as the CLI buckets them)."""
    bands = sketched.select("idx", F.posexplode("keys").alias("band", "key"))
    openings = sketched.select("idx", F.lit(-1).alias("band"), F.explode("opening").alias("key"))
    buckets = (
        bands.union(openings)
        .distinct()
        .groupBy("band", "key")
        .agg(F.collect_list("idx").alias("docs"))
        .where(F.size("docs") > 1)
        .select("docs")
    )
    max_bucket = params.max_bucket

    def pairs(it):
        for batch in _batches((list(r[0]) for r in it), 1024):
            yield from _core.bucket_candidates(batch, max_bucket)

    spark = sketched.sparkSession
    return spark.createDataFrame(buckets.rdd.mapPartitions(pairs), _EDGE).distinct()


def _verify(pairs: DataFrame, sketched: DataFrame, params: _core.Params, broadcast_mb: float) -> DataFrame:
    """The accepted pairs. When all sets together are at most `broadcast_mb` MB they are
    broadcast and each pair is scored where it is; otherwise both sets of every pair are
    joined to it (scales with the cluster, costs a shuffle of two sets per pair)."""
    spark = pairs.sparkSession

    def score(batch, sets_of):
        res = _core.verify_pairs([sets_of(a, b) for a, b in batch], params)
        for (a, b), (ok, _j, _c) in zip(batch, res, strict=True):
            if ok:
                yield (a, b)

    total = sketched.select(F.sum(F.length("set"))).first()[0] or 0
    if total <= broadcast_mb * 2**20:
        bc = spark.sparkContext.broadcast(dict(sketched.select("idx", "set").rdd.map(lambda r: (r[0], bytes(r[1]))).collect()))

        def run_broadcast(it):
            s = bc.value
            for batch in _batches(it, 1024):
                yield from score(batch, lambda a, b: (s[a], s[b]))

        return spark.createDataFrame(pairs.rdd.map(tuple).mapPartitions(run_broadcast), _EDGE)
    sets = sketched.select("idx", "set")
    a = sets.withColumnRenamed("idx", "a").withColumnRenamed("set", "sa")
    b = sets.withColumnRenamed("idx", "b").withColumnRenamed("set", "sb")
    joined = pairs.join(a, "a").join(b, "b").select("a", "b", "sa", "sb")

    def run_joined(it):
        for batch in _batches(it, 512):
            sets_of = {(r[0], r[1]): (bytes(r[2]), bytes(r[3])) for r in batch}
            yield from score([(r[0], r[1]) for r in batch], lambda x, y: sets_of[(x, y)])

    return spark.createDataFrame(joined.rdd.mapPartitions(run_joined), _EDGE)


def _canonical(e: DataFrame) -> DataFrame:
    """Edges as (larger, smaller), without self loops or repeats."""
    return (
        e.select(F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b"))
        .where(F.col("a") != F.col("b"))
        .distinct()
    )


def _large_star(e: DataFrame) -> DataFrame:
    # every node u links each larger neighbour to the smallest of u's neighbourhood (u included)
    both = e.union(e.select(F.col("b").alias("a"), F.col("a").alias("b")))
    mins = both.groupBy("a").agg(F.least(F.min("b"), F.col("a")).alias("m"))
    out = both.join(mins, "a").where(F.col("b") > F.col("a")).select(F.col("b").alias("a"), F.col("m").alias("b"))
    return _canonical(out)


def _small_star(e: DataFrame) -> DataFrame:
    # every node u links itself and each smaller neighbour to the smallest of them
    mins = e.groupBy("a").agg(F.min("b").alias("m"))  # canonical: b < a
    out = e.join(mins, "a").select(F.col("b").alias("a"), F.col("m").alias("b"))
    out = out.union(mins.select("a", F.col("m").alias("b")))
    return _canonical(out)


def _checkpoint(df: DataFrame) -> DataFrame:
    # A reliable checkpoint, not localCheckpoint(): a local checkpoint lives on the
    # executors and is gone with a lost executor ("checkpointed partition no longer
    # available", seen once on a loaded standalone run), and without any checkpoint the
    # plan doubles every round. On a cluster, set a shared checkpoint directory
    # (SparkContext.setCheckpointDir("hdfs://..." or "s3a://...")) before calling; the
    # fallback is a local temporary directory, right for local[*] and one-host clusters.
    sc = df.sparkSession.sparkContext
    if sc.getCheckpointDir() is None:
        sc.setCheckpointDir(tempfile.mkdtemp(prefix="neardup-checkpoints-"))
    return df.checkpoint(eager=True)


def connected_components(edges: DataFrame, max_rounds: int = 64) -> DataFrame:
    """`(node, component)` for every node of `edges(a, b)`, the component named by its
    smallest node: alternating large-star and small-star until a round changes nothing.
    Raises `ComponentsDidNotConverge` after `max_rounds` rounds (each round at least
    shrinks the graph's diameter; O(log n) rounds are expected)."""
    e = _checkpoint(_canonical(edges))
    for _ in range(max_rounds):
        nxt = _checkpoint(_small_star(_large_star(e)))
        changed = nxt.exceptAll(e).limit(1).count() + e.exceptAll(nxt).limit(1).count()
        e = nxt
        if changed == 0:
            # a star per component: (member, smallest member)
            centres = e.select(F.col("b").alias("node"), F.col("b").alias("component")).distinct()
            return e.select(F.col("a").alias("node"), F.col("b").alias("component")).union(centres)
    raise ComponentsDidNotConverge(f"connected components: no fixed point after {max_rounds} rounds")


def _place(params: _core.Params):
    def run(it):
        for _, (members, links) in it:
            members = [(m[0], m[1], m[2], m[3], bytes(m[4]), list(m[5]), m[6]) for m in members]
            yield from _core.place_component(members, list(links), params)

    return run


def cluster_records(
    spark: SparkSession,
    records,
    kind: str,
    flags: _core.Params | Sequence[str] | None = None,
    max_rounds: int = 64,
    broadcast_mb: float = 256,
) -> DataFrame:
    """The core of the job on an RDD of `(idx, payload)`, `idx` the position in input
    order: `kind` "lines" (payload `(file, line_no, bytes)`) or "docs" (payload `(id,
    text, date, outlet, url)`). Returns one row per record: `idx, id, status, cluster,
    keep, duplicate_of, similarity, file, line`."""
    params = make_params(flags)
    params.check_distributed()
    analyze = _analyze_lines(params) if kind == "lines" else _analyze_docs(params)
    analyzed = spark.createDataFrame(records.mapPartitions(analyze), _ANALYZED).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    ok = analyzed.where(F.col("status") == "ok")
    frequent_bc = None
    if params.paragraphs:
        frequent_bc = spark.sparkContext.broadcast(_boilerplate_keys(spark, ok, params))
    sketched = spark.createDataFrame(
        ok.select("idx", "record", "grp", "repeated").rdd.map(tuple).mapPartitions(_sketch(params, frequent_bc)),
        _SKETCHED,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    pairs = _candidates(sketched, params)
    edges = _verify(pairs, sketched, params, broadcast_mb).persist(StorageLevel.MEMORY_AND_DISK)
    comps = connected_components(edges, max_rounds)
    members = (
        comps.join(analyzed, comps["node"] == analyzed["idx"])
        .join(sketched.select(F.col("idx").alias("sidx"), "removed", "size"), F.col("node") == F.col("sidx"))
        .select("component", "idx", "id", "date", "outlet", "record", "removed", "size")
    )
    links = edges.join(comps, edges["a"] == comps["node"]).select("component", "a", "b")
    grouped = members.rdd.map(lambda r: (r[0], tuple(r[1:]))).cogroup(links.rdd.map(lambda r: (r[0], (r[1], r[2]))))
    placed_schema = T.StructType(
        [
            T.StructField("doc", T.LongType(), False),
            T.StructField("rep", T.LongType(), False),
            T.StructField("similarity", T.DoubleType(), True),
        ]
    )
    placed = spark.createDataFrame(grouped.mapPartitions(_place(params)), placed_schema)
    base = analyzed.select("idx", "id", "status", "file", "line")
    with_rep = base.join(placed, base["idx"] == placed["doc"], "left").select(
        "idx",
        "id",
        "status",
        "file",
        "line",
        F.when(F.col("rep").isNotNull(), F.col("rep"))
        .when(F.col("status").isin("ok", "empty"), F.col("idx"))
        .alias("rep"),
        "similarity",
    ).persist(StorageLevel.MEMORY_AND_DISK)
    # cluster ids: in input order of each cluster's first record
    firsts = with_rep.where(F.col("rep").isNotNull()).groupBy("rep").agg(F.min("idx").alias("first"))
    numbered = spark.createDataFrame(
        firsts.rdd.map(lambda r: (r[1], r[0])).sortByKey().zipWithIndex().map(lambda t: (t[0][1], t[1])),
        T.StructType([T.StructField("crep", T.LongType(), False), T.StructField("cluster", T.LongType(), False)]),
    )
    rep_ids = base.select(F.col("idx").alias("ridx"), F.col("id").alias("rep_id"))
    out = (
        with_rep.join(numbered, with_rep["rep"] == numbered["crep"], "left")
        .join(rep_ids, with_rep["rep"] == rep_ids["ridx"], "left")
        .select(
            "idx",
            "id",
            "cluster",
            F.coalesce(F.col("rep") == F.col("idx"), F.lit(False)).alias("keep"),
            F.when(F.col("rep") != F.col("idx"), F.col("rep_id")).alias("duplicate_of"),
            "similarity",
            "status",
            "file",
            "line",
        )
    )
    return out


def dedup(
    df: DataFrame,
    id_col: str = "id",
    text_col: str = "text",
    params: _core.Params | Sequence[str] | None = None,
    *,
    date_col: str | None = None,
    outlet_col: str | None = None,
    url_col: str | None = None,
    max_rounds: int = 64,
    broadcast_mb: float = 256,
) -> DataFrame:
    """`df` with `cluster`, `keep`, `duplicate_of` and `similarity` added, the same as
    `neardup dedup` gives for the same documents in the same order. `params`: a
    `neardup.Params` or the CLI's flags (`["--paragraphs", "off"]`). The date, outlet
    and URL columns default to the parameters' field names when `df` has them.
    Exact verification broadcasts the article sets when they total at most
    `broadcast_mb` MB (about 1.6 x the text), else joins them to the pairs."""
    p = make_params(params)
    cols = set(df.columns)

    def pick(given, default):
        return given if given is not None else (default if default in cols else None)

    date_col, outlet_col, url_col = (
        pick(date_col, p.date_field),
        pick(outlet_col, p.outlet_field),
        pick(url_col, p.url_field),
    )
    spark = df.sparkSession
    names = [id_col, text_col, date_col, outlet_col, url_col]
    cast = [F.col(n).cast("string") if n is not None else F.lit(None).cast("string") for n in names]
    payload = df.select(*cast).rdd.map(tuple).zipWithIndex().map(lambda t: (t[1], t[0]))
    result = cluster_records(spark, payload, "docs", p, max_rounds, broadcast_mb).select(
        F.col("idx").alias("__neardup_idx"), "cluster", "keep", "duplicate_of", "similarity"
    )
    indexed_schema = T.StructType(df.schema.fields + [T.StructField("__neardup_idx", T.LongType(), False)])
    indexed = spark.createDataFrame(
        df.rdd.zipWithIndex().map(lambda t: tuple(t[0]) + (t[1],)), indexed_schema
    )
    return indexed.join(result, "__neardup_idx").orderBy("__neardup_idx").drop("__neardup_idx")


def read_lines(spark: SparkSession, paths: Sequence[str]):
    """`(idx, (file, line_no, bytes))` for every line of the JSONL files, in order."""
    sc = spark.sparkContext
    parts = []
    for path in paths:
        rdd = sc.textFile(path, use_unicode=False).zipWithIndex()
        parts.append(rdd.map(lambda t, p=path: (p, t[1] + 1, t[0])))
    lines = parts[0] if len(parts) == 1 else sc.union(parts)
    return lines.zipWithIndex().map(lambda t: (t[1], t[0]))
