"""neardup on Apache Spark: the same clusters as `neardup dedup`, beyond one machine.

    from neardup.spark import dedup
    out = dedup(df, "id", "text", ["--threshold", "0.8"])   # + cluster, keep, duplicate_of, similarity

Every per-document and per-group step is the Rust core's (`neardup._core`, which wraps
`neardup::stages`); Spark only moves the data between them, as Arrow record batches
(`mapInArrow`): no Python object is made per row.

1. number (Spark): each record's position in input order, from the file scan's own
   split offsets and row numbers (one counting pass, a few rows per input split to the
   driver): no sort, no `zipWithIndex`.
2. analyze (Rust): parse, normalize, segment, shingle, repeats.
3. boilerplate (paragraph stage on): documents per (outlet group, paragraph hash) and
   per group, counted by Spark; each count tested by the core's `is_boilerplate`; the
   keys found are joined back to the documents holding them (nothing is collected).
4. sketch (Rust): boilerplate flagged, repeats and boilerplate left out, MinHash, LSH
   band keys, the record of the compared paragraphs that verification compares.
5. candidates: group by (band, key) in Spark; each bucket's pairs by the core (the CLI's
   cap at max_bucket); distinct.
6. verify (Rust): both compared records joined to each pair; exact Jaccard /
   containment, the CLI's match rule.
7. connected components of the accepted pairs in Spark: alternating large-star and
   small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014)
   until the edge set no longer changes; more than `max_rounds` rounds is an error.
8. place (per component, Rust): representative and star split exactly as the CLI
   (`cluster::place_component`), the component's members and pairs joined to it.
9. cluster ids numbered in input order of each cluster's first record, as the CLI.

The driver holds nothing per document: per input split a count, per partition a count.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import _core
from . import params as make_params

_ANALYZED = (
    "status string, id string, date string, outlet string, grp string, record binary, "
    "hashes array<bigint>, repeated array<int>"
)
_SKETCHED = "removed array<int>, size bigint, keys array<bigint>, set binary, opening array<bigint>"


class ComponentsDidNotConverge(RuntimeError):
    """Large-star/small-star did not reach a fixed point within `max_rounds` rounds."""


class Timing:
    """Seconds, rows and bytes per stage, for `timing.json`. A stage is timed by the action
    that materializes it (Spark is lazy: without one, a stage's time would show up in
    whichever later stage first needs its rows)."""

    def __init__(self) -> None:
        self.stages: list[dict] = []
        self._t = time.perf_counter()

    def stage(self, name: str, rows: int | None = None, nbytes: int | None = None) -> None:
        now = time.perf_counter()
        entry = {"stage": name, "seconds": round(now - self._t, 3)}
        if rows is not None:
            entry["rows"] = int(rows)
        if nbytes is not None:
            entry["bytes"] = int(nbytes)
        self.stages.append(entry)
        self._t = now


def _with_columns(batch: pa.RecordBatch, keep: Sequence[str], result: pa.RecordBatch) -> pa.RecordBatch:
    """`keep` columns of `batch` (zero-copy) beside `result`'s."""
    arrays = [batch.column(n) for n in keep] + list(result.columns)
    names = list(keep) + list(result.schema.names)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _map_arrow(df: DataFrame, inputs: Sequence[str], keep: Sequence[str], fn, schema: str) -> DataFrame:
    """`fn` (a batch of the `inputs` columns -> a batch of `schema`'s non-kept columns) over
    every Arrow batch of `df`; the `keep` columns pass through beside the result."""
    cols = list(dict.fromkeys(list(keep) + list(inputs)))

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            yield _with_columns(b, keep, fn(b.select(list(inputs))))

    return df.select(*cols).mapInArrow(run, schema)


def _field_types(df: DataFrame, names: Sequence[str]) -> str:
    """`names`' types in `df`, in the order of `names`, as a DDL schema."""
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    return ", ".join(f"`{n}` {types[n]}" for n in names)


# ----------------------------------------------------------------------------------------
# input order


def _checkpoint_dir(spark: SparkSession) -> None:
    # A reliable checkpoint, not localCheckpoint(): a local checkpoint lives on the
    # executors and is gone with a lost executor ("checkpointed partition no longer
    # available", seen once on a loaded standalone run), and without any checkpoint the
    # plan doubles every component round. On a cluster, set a shared checkpoint directory
    # (SparkContext.setCheckpointDir("hdfs://..." or "s3a://...")) before calling; the
    # fallback is a local temporary directory (right for local[*] and one-host clusters),
    # removed when the Python process ends.
    sc = spark.sparkContext
    if sc.getCheckpointDir() is None:
        d = tempfile.mkdtemp(prefix="neardup-checkpoints-")
        atexit.register(shutil.rmtree, d, True)
        sc.setCheckpointDir(d)


# Rows per Arrow batch and per cached columnar batch, and bytes of input per file-scan
# partition. A document's analyzed record is about 2-3x its text, and batches and cached
# partitions are held whole in the JVM: Spark's defaults (10,000 rows; 128 MB of input a
# partition) make blocks of 100s of MB, which a 1 GB driver (the executor too, in local
# mode) cannot deserialize. These keep each batch near 10 MB and each cached partition
# near 50 MB; the cost per batch (one Python call, one Rust call) stays negligible.
BOUNDED = {
    "spark.sql.execution.arrow.maxRecordsPerBatch": "1000",
    "spark.sql.inMemoryColumnarStorage.batchSize": "1000",
    "spark.sql.files.maxPartitionBytes": str(16 * 2**20),
}


def _bounded_batches(spark: SparkSession) -> None:
    """`BOUNDED`, where the user set nothing else (in the session or with `--conf`)."""
    for key, value in BOUNDED.items():
        if spark.conf.get(key, None) is None:
            spark.conf.set(key, value)


def _checkpoint(df: DataFrame) -> DataFrame:
    _checkpoint_dir(df.sparkSession)
    return df.checkpoint(eager=True)


def _positions(df: DataFrame, group_cols: Sequence[str], order, file_col: str | None = None) -> DataFrame:
    """`df` (with `_mono`, a `monotonically_increasing_id` taken in the same projection
    as `group_cols`) with `idx`, each row's position in input order, and with `file_col`
    also `line`, its 1-based line in its file. Rows of one group (an input split, or a
    partition) are consecutive in `_mono` and in input order; `order` sorts the groups'
    key tuples into input order. One counting pass; the driver sees one row per group."""
    counts = df.groupBy(*group_cols).agg(F.count(F.lit(1)).alias("_n"), F.min("_mono").alias("_m0")).collect()
    counts.sort(key=lambda r: order(tuple(r[c] for c in group_cols)))
    rows, base, file_base, current = [], 0, 0, object()
    for r in counts:
        if file_col is not None and r[file_col] != current:
            current, file_base = r[file_col], base
        rows.append(tuple(r[c] for c in group_cols) + (r["_m0"], base, base - file_base))
        base += r["_n"]
    schema = T.StructType(
        [f for f in df.schema.fields if f.name in group_cols]
        + [T.StructField(n, T.LongType(), False) for n in ("_m0", "_base", "_line0")]
    )
    spark = df.sparkSession
    offsets = spark.createDataFrame(rows, schema)
    out = df.join(F.broadcast(offsets), list(group_cols)).withColumn(
        "idx", F.col("_base") + F.col("_mono") - F.col("_m0")
    )
    if file_col is not None:
        out = out.withColumn("line", F.col("_line0") + F.col("_mono") - F.col("_m0") + 1)
    return out.drop("_m0", "_base", "_line0", "_mono")


def _norm_uri(uri: str) -> str:
    """A local file's URI in one spelling: `inputFiles()` writes `file:///x`, the scan's
    `_metadata.file_path` `file:/x`."""
    return re.sub(r"^file:/+", "file:/", uri)


def _uri_col() -> F.Column:
    return F.regexp_replace(F.col("_metadata.file_path"), r"^file:/+", "file:/")


def _expand(spark: SparkSession, paths: Sequence[str], reader) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The files that `paths` name, in the CLI's order (as given; a directory's files by
    path), and per file URI its rank and the name the CLI gives it (the path as given,
    for a directory the file's own path)."""
    files, names = [], {}
    for given in paths:
        found = sorted(_norm_uri(u) for u in reader(given).inputFiles())
        for uri in found:
            if uri in names:
                continue
            local = uri[len("file:") :] if uri.startswith("file:") else uri
            names[uri] = (len(files), given if len(found) == 1 and not os.path.isdir(given) else local)
            files.append(uri)
    return files, names


def read_jsonl(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Every line of the JSONL files (`.gz` by name, as Hadoop reads it), numbered: `idx`
    (position in input order), `file` (as the CLI names it), `line` (1-based), `first`
    (the first line of its file), `value` (the line's raw bytes, without `\\n`). Split on
    `\\n` only, as the CLI reads lines."""

    def reader(p):
        return spark.read.option("lineSep", "\n").text(p)

    _bounded_batches(spark)
    files, names = _expand(spark, paths, reader)
    if not files:
        raise FileNotFoundError(f"no input files in {list(paths)}")
    raw = reader(files).select(
        F.col("value").cast("binary").alias("value"),
        _uri_col().alias("uri"),
        F.col("_metadata.file_block_start").alias("block"),
        F.monotonically_increasing_id().alias("_mono"),
    )
    numbered = _positions(raw, ["uri", "block"], lambda k: (names[k[0]][0], k[1]), file_col="uri")
    file_name = F.create_map(*[x for uri in files for x in (F.lit(uri), F.lit(names[uri][1]))])
    return numbered.select(
        "idx",
        file_name[F.col("uri")].alias("file"),
        "line",
        (F.col("line") == 1).alias("first"),
        "value",
    )


def _arrow_type(t: T.DataType) -> pa.DataType:
    """Spark's type as Arrow's, for the column rule (only strings, and integers for the id
    and outlet, pass it, so a type Arrow cannot express is as good as any other)."""
    from pyspark.sql.pandas.types import to_arrow_type

    try:
        return to_arrow_type(t)
    except Exception:  # noqa: BLE001 (any type Arrow cannot express is refused as non-string)
        return pa.binary()


def read_parquet(spark: SparkSession, paths: Sequence[str], params: _core.Params) -> DataFrame:
    """The rows of the Parquet files, numbered in the CLI's order (files as given, rows in
    file order), as `cluster_records`' "docs": `idx`, `file`, `row` (0-based) and the
    columns the parameters' field names name, as strings; a row without an id gets
    `<file>#<row>`, as in the CLI. The text column must exist and hold strings."""

    def reader(p):
        return spark.read.parquet(p)

    _bounded_batches(spark)
    files, names = _expand(spark, paths, reader)
    if not files:
        raise FileNotFoundError(f"no input files in {list(paths)}")
    raw = spark.read.parquet(*files)
    # the CLI's rule on the columns (the Rust library's `check_schema`), on the schema
    # Spark reads: Spark's strings are Arrow strings, other types are named as Arrow
    # names them, so the message is the CLI's
    arrow = pa.schema([pa.field(f.name, _arrow_type(f.dataType)) for f in raw.schema.fields])
    text, *rest = _core.input_columns(arrow, ", ".join(paths), params)
    fields = {"id": rest[0], "text": text, "date": rest[1], "outlet": rest[2], "url": rest[3]}
    # an integer id or outlet (the rule allows them) as its decimal text, as the CLI reads it
    cols = [(F.col(c) if c is not None else F.lit(None)).cast("string").alias(n) for n, c in fields.items()]
    with_pos = raw.select(
        *cols,
        _uri_col().alias("uri"),
        F.col("_metadata.file_block_start").alias("block"),
        F.monotonically_increasing_id().alias("_mono"),
    )
    numbered = _positions(with_pos, ["uri", "block"], lambda k: (names[k[0]][0], k[1]), file_col="uri")
    file_name = F.create_map(*[x for uri in files for x in (F.lit(uri), F.lit(names[uri][1]))])
    numbered = numbered.withColumn("file", file_name[F.col("uri")]).withColumn("row", F.col("line") - 1)
    return numbered.select(
        "idx",
        F.coalesce(F.col("id"), F.concat_ws("#", F.col("file"), F.col("row").cast("string"))).alias("id"),
        "text",
        "date",
        "outlet",
        "url",
        "file",
        "row",
    )


def number_rows(df: DataFrame) -> DataFrame:
    """`df` with `idx`, each row's position in the DataFrame's order (partition by
    partition), from one counting pass: no `zipWithIndex`, nothing per row in Python."""
    with_mono = df.withColumn("_pid", F.spark_partition_id()).withColumn("_mono", F.monotonically_increasing_id())
    return _positions(with_mono, ["_pid"], lambda k: k).drop("_pid")


# ----------------------------------------------------------------------------------------
# the stages


def _analyze(records: DataFrame, kind: str, params: _core.Params) -> DataFrame:
    if kind == "lines":
        keep = ["idx", "file", "line"]
        analyzed = _map_arrow(
            records,
            ["value", "first"],
            keep,
            lambda b: _core.analyze_lines_batch(b, params),
            "idx bigint, file string, line bigint, " + _ANALYZED,
        )
        analyzed = analyzed.where(F.col("status") != "blank").withColumn(
            "id", F.coalesce(F.col("id"), F.concat_ws(":", F.col("file"), F.col("line").cast("string")))
        )
    else:
        present = [c for c in ("file", "row") if c in records.columns]
        analyzed = _map_arrow(
            records,
            ["id", "text", "date", "outlet", "url"],
            ["idx", *present],
            lambda b: _core.analyze_docs_batch(b, params),
            _field_types(records, ["idx", *present]) + ", " + _ANALYZED,
        )
        if "file" not in present:
            analyzed = analyzed.withColumn("file", F.lit(None).cast("string"))
        if "row" not in present:
            analyzed = analyzed.withColumn("row", F.lit(None).cast("long"))
    if kind == "lines":
        analyzed = analyzed.withColumn("row", F.lit(None).cast("long"))
    else:
        analyzed = analyzed.withColumn("line", F.lit(None).cast("long"))
    return analyzed


def _boilerplate(ok: DataFrame, params: _core.Params) -> DataFrame:
    """`(idx, boilerplate)`: per document holding any, its paragraph hashes that are its
    group's boilerplate."""
    held = ok.select("idx", "grp", F.explode("hashes").alias("h"))
    group_docs = ok.groupBy("grp").agg(F.count(F.lit(1)).alias("group_docs"))
    counts = (
        held.groupBy("grp", "h")
        .agg(F.count(F.lit(1)).alias("n"))
        # boilerplate_min_docs is at least 2 (validated): a pre-filter, the core decides
        .where(F.col("n") >= 2)
    )
    g = group_docs.withColumnRenamed("grp", "g")
    joined = counts.join(g, counts["grp"].eqNullSafe(g["g"])).select("grp", "h", "n", "group_docs")
    frequent = _map_arrow(
        joined,
        ["n", "group_docs"],
        ["grp", "h"],
        lambda b: _core.boilerplate_batch(b, params),
        "grp string, h bigint, frequent boolean",
    ).where("frequent")
    f = frequent.select(F.col("grp").alias("fg"), F.col("h").alias("fh"))
    hits = held.join(f, held["grp"].eqNullSafe(f["fg"]) & (held["h"] == f["fh"]))
    return hits.groupBy("idx").agg(F.collect_list("h").alias("boilerplate"))


def _sketch(ok: DataFrame, boilerplate: DataFrame | None, params: _core.Params) -> DataFrame:
    if boilerplate is None:
        docs = ok.select("*", F.lit(None).cast("array<bigint>").alias("boilerplate"))
    else:
        docs = ok.join(boilerplate, "idx", "left")
    keep = ["idx", "id", "date", "outlet"]
    return _map_arrow(
        docs,
        ["record", "repeated", "boilerplate"],
        keep,
        lambda b: _core.sketch_batch(b, params),
        _field_types(ok, keep) + ", " + _SKETCHED,
    )


def _candidates(sketched: DataFrame, params: _core.Params) -> DataFrame:
    """Pairs sharing an article band key (in the same band), or any opening key (each
    already seeded by its band, as the CLI buckets them)."""
    bands = sketched.select("idx", F.posexplode("keys").alias("band", "key"))
    openings = sketched.select("idx", F.lit(-1).alias("band"), F.explode("opening").alias("key"))
    # Nearly every key is one document's alone. Counting per key over a window (one
    # shuffle by key, then a sort) drops those before any list is built; the grouping that
    # follows needs no second shuffle (same partitioning) and builds lists for shared keys
    # only, where collecting every key first made millions of one-element sets.
    per_key = Window.partitionBy("band", "key")
    buckets = (
        bands.union(openings)
        .withColumn("n", F.count(F.lit(1)).over(per_key))
        .where(F.col("n") > 1)
        .groupBy("band", "key")
        .agg(F.collect_set("idx").alias("docs"))
        .where(F.size("docs") > 1)
    )
    max_bucket = params.max_bucket
    pairs = _map_arrow(
        buckets, ["docs"], [], lambda b: _core.bucket_pairs_batch(b, max_bucket), "a bigint, b bigint"
    )
    return pairs.distinct()


def _verify(pairs: DataFrame, sketched: DataFrame, params: _core.Params) -> DataFrame:
    """The accepted pairs: both compared records joined to each candidate pair and scored
    where the pair is (no broadcast: the driver never holds a set)."""
    sa = sketched.select(F.col("idx").alias("a"), F.col("set").alias("sa"))
    sb = sketched.select(F.col("idx").alias("b"), F.col("set").alias("sb"))
    joined = pairs.join(sa, "a").join(sb, "b")
    scored = _map_arrow(
        joined,
        ["sa", "sb"],
        ["a", "b"],
        lambda b: _core.verify_batch(b, params),
        "a bigint, b bigint, accepted boolean, jaccard double, containment double",
    )
    return scored.where("accepted").select("a", "b")


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


def connected_components(edges: DataFrame, max_rounds: int = 64) -> DataFrame:
    """`(node, component)` for every node of `edges(a, b)`, the component named by its
    smallest node: alternating large-star and small-star until a round changes nothing.
    Raises `ComponentsDidNotConverge` after `max_rounds` rounds (each round at least
    shrinks the graph's diameter; O(log n) rounds are expected). One checkpoint and one
    comparison job per round."""
    e = _checkpoint(_canonical(edges))
    for _ in range(max_rounds):
        nxt = _checkpoint(_small_star(_large_star(e)))
        changed = nxt.exceptAll(e).union(e.exceptAll(nxt)).limit(1).count()
        e = nxt
        if changed == 0:
            # a star per component: (member, smallest member)
            centres = e.select(F.col("b").alias("node"), F.col("b").alias("component")).distinct()
            return e.select(F.col("a").alias("node"), F.col("b").alias("component")).union(centres)
    raise ComponentsDidNotConverge(f"connected components: no fixed point after {max_rounds} rounds")


def _place(comps: DataFrame, edges: DataFrame, sketched: DataFrame, params: _core.Params) -> DataFrame:
    """`(doc, rep, similarity)` for every document of a component: its members (with
    their compared records) and its accepted pairs, one group per component, placed by
    the core."""
    members = comps.join(sketched, comps["node"] == sketched["idx"]).select(
        "component",
        F.lit(0).alias("kind"),
        "idx",
        "id",
        "date",
        "outlet",
        # the compared record: its paragraphs are those compared, none left out
        F.col("set").alias("record"),
        F.array().cast("array<int>").alias("removed"),
        "size",
        F.lit(None).cast("long").alias("a"),
        F.lit(None).cast("long").alias("b"),
    )
    links = edges.join(comps, edges["a"] == comps["node"]).select(
        "component",
        F.lit(1).alias("kind"),
        F.lit(None).cast("long").alias("idx"),
        F.lit(None).cast("string").alias("id"),
        F.lit(None).cast("string").alias("date"),
        F.lit(None).cast("string").alias("outlet"),
        F.lit(None).cast("binary").alias("record"),
        F.lit(None).cast("array<int>").alias("removed"),
        F.lit(None).cast("long").alias("size"),
        "a",
        "b",
    )

    def place(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # a partition's rows come sorted by component, in batches that may cut one: the
        # rows of the last component of a batch wait for the next batch
        pending = None
        for b in batches:
            if pending is not None:
                b = pa.concat_batches([pending, b])
            if b.num_rows == 0:
                continue
            comp = b.column("component")
            cut = pc.index(comp, comp[-1]).as_py()
            pending = b.slice(cut)
            if cut > 0:
                yield _core.place_batch(b.slice(0, cut), params)
        if pending is not None and pending.num_rows:
            yield _core.place_batch(pending, params)

    rows = members.unionByName(links)
    # one Rust call places all the components of a batch (one call per component, as
    # `applyInArrow` makes, costs milliseconds each in Python and Arrow conversions)
    grouped = rows.repartition("component").sortWithinPartitions("component")
    return grouped.mapInArrow(place, "doc bigint, rep bigint, similarity double")


def _number_clusters(firsts: DataFrame) -> DataFrame:
    """`(crep, cluster)`: clusters (`rep`, `first`) numbered in order of `first`."""
    ordered = _checkpoint(
        firsts.orderBy("first")
        .withColumn("_pid", F.spark_partition_id())
        .withColumn("_mono", F.monotonically_increasing_id())
    )
    numbered = _positions(ordered, ["_pid"], lambda k: k)
    return numbered.select(F.col("rep").alias("crep"), F.col("idx").alias("cluster"))


def cluster_records(
    records: DataFrame,
    kind: str,
    flags: _core.Params | Sequence[str] | None = None,
    max_rounds: int = 64,
    timing: Timing | None = None,
) -> DataFrame:
    """The core of the job on numbered records: `kind` "lines" (`read_jsonl`'s columns)
    or "docs" (`idx, id, text, date, outlet, url`, strings but `idx`). Returns one row
    per record: `idx, id, cluster, keep, duplicate_of, similarity, status, file, line, row`
    (`line` for JSONL lines, `row` for Parquet rows).
    With `timing`, each stage is materialized and timed (one action per stage)."""
    params = make_params(flags)
    params.check_distributed()
    _bounded_batches(records.sparkSession)
    # every stage is materialized as it ends, timed or not: the analyzed records are
    # unpersisted once the sketches exist, and must not be computed twice
    timing = timing if timing is not None else Timing()

    def done(name: str, df: DataFrame | None = None, nbytes_col: str | None = None) -> None:
        if df is None:
            timing.stage(name)
            return
        aggs = [F.count(F.lit(1))] + ([F.sum(F.length(nbytes_col))] if nbytes_col else [])
        r = df.agg(*aggs).first()
        timing.stage(name, r[0], (r[1] or 0) if nbytes_col else None)

    # the text-sized frames (analyzed records, compared records) go to the executors'
    # disks: held in memory they would take the heap that joins and sorts need (in local
    # mode the driver's), and are each read two or three times, sequentially
    analyzed = _analyze(records, kind, params).persist(StorageLevel.DISK_ONLY)
    done("analyze", analyzed, "record")
    ok = analyzed.where(F.col("status") == "ok")
    boilerplate = None
    if params.paragraphs:
        boilerplate = _boilerplate(ok, params).persist(StorageLevel.MEMORY_AND_DISK)
        done("boilerplate", boilerplate)
    sketched = _sketch(ok, boilerplate, params).persist(StorageLevel.DISK_ONLY)
    done("sketch", sketched, "set")
    base = analyzed.select("idx", "id", "status", "file", "line", "row").persist(StorageLevel.MEMORY_AND_DISK)
    done("records", base)
    # the analyzed records (text-sized) are needed no more: what follows reads the
    # sketches, the compared records and the light per-record columns
    analyzed.unpersist()
    if boilerplate is not None:
        boilerplate.unpersist()
    pairs = _candidates(sketched, params).persist(StorageLevel.MEMORY_AND_DISK)
    done("candidates", pairs)
    edges = _verify(pairs, sketched, params).persist(StorageLevel.MEMORY_AND_DISK)
    done("verify", edges)
    pairs.unpersist()
    comps = connected_components(edges, max_rounds).persist(StorageLevel.MEMORY_AND_DISK)
    done("components", comps)
    placed = _place(comps, edges, sketched, params).persist(StorageLevel.MEMORY_AND_DISK)
    done("place", placed)
    with_rep = (
        base.join(placed, base["idx"] == placed["doc"], "left")
        .select(
            "idx",
            "id",
            "status",
            "file",
            "line",
            "row",
            F.when(F.col("rep").isNotNull(), F.col("rep"))
            .when(F.col("status").isin("ok", "empty"), F.col("idx"))
            .alias("rep"),
            "similarity",
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # cluster ids: in input order of each cluster's first record
    firsts = with_rep.where(F.col("rep").isNotNull()).groupBy("rep").agg(F.min("idx").alias("first"))
    numbered = _number_clusters(firsts)
    done("number")
    rep_ids = base.select(F.col("idx").alias("ridx"), F.col("id").alias("rep_id"))
    return (
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
            "row",
        )
    )


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
) -> DataFrame:
    """`df` with `cluster`, `keep`, `duplicate_of` and `similarity` added, the same as
    `neardup dedup` gives for the same documents in the same order (the DataFrame's). `params`: a
    `neardup.Params` or the CLI's flags (`["--paragraphs", "off"]`). The date, outlet
    and URL columns default to the parameters' field names when `df` has them."""
    p = make_params(params)
    cols = set(df.columns)

    def pick(given, default):
        return given if given is not None else (default if default in cols else None)

    date_col, outlet_col, url_col = (
        pick(date_col, p.date_field),
        pick(outlet_col, p.outlet_field),
        pick(url_col, p.url_field),
    )
    indexed = number_rows(df).withColumnRenamed("idx", "__neardup_idx").persist(StorageLevel.MEMORY_AND_DISK)
    as_string = {
        "id": id_col,
        "text": text_col,
        "date": date_col,
        "outlet": outlet_col,
        "url": url_col,
    }
    cast = [
        (F.col(c).cast("string") if c is not None else F.lit(None).cast("string")).alias(n)
        for n, c in as_string.items()
    ]
    records = indexed.select(F.col("__neardup_idx").alias("idx"), *cast).withColumn(
        "id", F.coalesce(F.col("id"), F.concat(F.lit("<row "), F.col("idx").cast("string"), F.lit(">")))
    )
    result = cluster_records(records, "docs", p, max_rounds).select(
        F.col("idx").alias("__neardup_idx"), "cluster", "keep", "duplicate_of", "similarity"
    )
    return indexed.join(result, "__neardup_idx").orderBy("__neardup_idx").drop("__neardup_idx")
