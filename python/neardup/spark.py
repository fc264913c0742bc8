"""neardup on Apache Spark: the same clusters as `neardup dedup`, beyond one machine.

    from neardup.spark import dedup
    out = dedup(df, "id", "text", ["--threshold", "0.8"])   # + cluster, keep, duplicate_of, similarity

Every per-document and per-group step is the Rust core's (`neardup._core`, which wraps
`neardup::stages`); Spark only moves the data between them, as Arrow record batches
(`mapInArrow`): no Python object is made per row.

1. number (Spark): each record's position in input order, from the file scan's own
   split offsets and row numbers (one counting pass, a few rows per input split to the
   driver): no sort, no `zipWithIndex`.
2. boilerplate (paragraph stage on): each record parsed in Rust and its paragraphs
   segmented, normalized and hashed (no shingles, fingerprints or repeats); documents per (outlet group, paragraph hash) and per group,
   counted in Rust per partition, then per shard of keys after one shuffle of binary
   rows; each count tested by the core's `is_boilerplate`. The keys found
   (per group, not per document: bounded by `BROADCAST_KEYS`) go to every task with the
   next pass's function; more than that, and each record's keys are joined to it.
3. sketch (Rust, one pass): parse, normalize, segment, shingle, repeats, boilerplate
   flagged, repeats and boilerplate left out, MinHash, LSH band keys, and the record of
   the compared paragraphs that verification and placement compare: the only
   text-sized data kept (on the executors' disks).
4. candidates: each batch's band and opening keys as one binary row per shard (band
   and key decide the shard); per shard, Rust sorts them and pairs each bucket's
   documents (the CLI's cap at max_bucket); distinct.
5. verify (Rust): each pair given a group (the smallest document next to its second
   document: a bucket's pairs share one); up to `BROADCAST_PAIRS` pairs, the
   (record, group) needs broadcast to one scan of the compared records, whose join sends
   each record once to each group holding one of its pairs; sorted by group, records
   first, each partition scored in Rust (beyond, both compared records joined to each
   pair); exact Jaccard / containment, the CLI's match rule.
6. connected components of the accepted pairs: up to `ONE_TASK_EDGES` of them, in one
   task (the core's union-find, in Rust); beyond, in Spark, alternating large-star and
   small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014)
   until the edge set no longer changes; more than `max_rounds` rounds is an error.
7. place (per component, Rust): representative and star split exactly as the CLI
   (`cluster::place_component`), the component's members and pairs joined to it;
   without the members' provenance, which the job does not write.
8. cluster ids numbered in input order of each cluster's first record, as the CLI.

The driver holds nothing per document: per input split a count, per partition a count,
and the boilerplate keys (per outlet group).
"""

from __future__ import annotations

import atexit
import gc
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from . import _core
from . import params as make_params

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


# Whether this Python worker has frozen its start-up objects (`_worker`).
_FROZEN = False


def _worker(fn):
    """`fn` (batches -> batches), freezing the worker's objects at its first task. PySpark's
    reused workers run a full `gc.collect()` after every task, and each walks every object
    the worker holds (pyspark, pyarrow, pandas, numpy: some 75,000): a third of a Python
    worker's CPU in a profile of verification at news100k, some 30 ms a task beside
    tasks of about a second. Frozen objects (`gc.freeze`) are left out of those walks; they
    are freed by their reference counts as before, only cycles among them are kept."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _freeze_once()
        yield from fn(batches)

    return run


def _freeze_once() -> None:
    # module-level, so pickled by reference: its flag is the worker's module's, kept
    # across tasks (a nested function's globals are copied into each pickled task)
    global _FROZEN
    if not _FROZEN:
        gc.freeze()
        _FROZEN = True


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

    return df.select(*cols).mapInArrow(_worker(run), schema)


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
# partition. A document's compared record is about 1.4x its text, and batches and cached
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


def _inputs(records: DataFrame, kind: str) -> tuple[list[str], list[str]]:
    """The columns the Rust record parser reads, and those passed through beside its
    result (position, file, line or row)."""
    if kind == "lines":
        return ["value", "first"], ["idx", "file", "line"]
    present = [c for c in ("file", "row") if c in records.columns]
    return ["id", "text", "date", "outlet", "url"], ["idx", *present]


def _paragraph_keys(records: DataFrame, kind: str, params: _core.Params) -> DataFrame:
    """`(idx, grp, h)`: per compared record a row with `h` null (the record, for its
    group's count) and a row per distinct paragraph hash `h`. A row per key: used only
    to join the keys found to each record when they are too many to ship (the counts
    come from `_paragraph_counts`)."""
    inputs, _ = _inputs(records, kind)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            keys = _core.paragraph_keys_batch(b.select(inputs), params)
            idx = b.column("idx").take(keys.column("row"))
            yield pa.RecordBatch.from_arrays([idx, keys.column("grp"), keys.column("h")], names=["idx", "grp", "h"])

    return records.select("idx", *inputs).mapInArrow(_worker(run), "idx bigint, grp string, h bigint")


def _paragraph_counts(records: DataFrame, kind: str, params: _core.Params) -> DataFrame:
    """`(grp, h, n)`: per boilerplate group its compared records (`h` null), and per
    (group, paragraph hash) held by two records or more the records holding it. The
    counts `_paragraph_keys`' rows would give, summed in Rust: per partition first
    (`ParagraphCounts`), then per shard of keys (`paragraph_shard_counts`)."""
    # A row per key (some 16 a news document, each with its group's name) was most of
    # this pass as Spark rows: converted from Arrow, shuffled and hash-aggregated. Summed
    # per partition, a partition's keys leave as one binary row per shard, each naming
    # its groups once.
    inputs, _ = _inputs(records, kind)
    shards = int(records.sparkSession.conf.get("spark.sql.shuffle.partitions"))

    def entries(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        counts = _core.ParagraphCounts()
        for b in batches:
            counts.add(b, params)
        yield counts.entries(shards)

    def summed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        held = [b for b in batches if b.num_rows]
        if held:
            yield _core.paragraph_shard_counts(held)

    sharded = records.select(*inputs).mapInArrow(_worker(entries), "shard int, entries binary")
    return sharded.repartition(shards, "shard").mapInArrow(_worker(summed), "grp string, h bigint, n bigint")


def _frequent(counts: DataFrame, params: _core.Params) -> DataFrame:
    """`(grp, h)`: the paragraph hashes that are their group's boilerplate, from
    `_paragraph_counts`."""
    group_docs = counts.where(F.col("h").isNull()).select(F.col("grp").alias("g"), F.col("n").alias("group_docs"))
    # boilerplate_min_docs is at least 2 (validated): a pre-filter, the core decides
    held = counts.where(F.col("h").isNotNull() & (F.col("n") >= 2))
    joined = held.join(group_docs, held["grp"].eqNullSafe(group_docs["g"])).select("grp", "h", "n", "group_docs")
    return _map_arrow(
        joined,
        ["n", "group_docs"],
        ["grp", "h"],
        lambda b: _core.boilerplate_batch(b, params),
        "grp string, h bigint, frequent boolean",
    ).where("frequent").select("grp", "h")


# The boilerplate keys go to every task with the job's function when there are at most
# this many (a few dozen MB on the driver, which collects them); beyond, each record's
# keys are joined to it instead (a shuffle of the input records).
BROADCAST_KEYS = 1 << 20

# Per Python worker (Spark reuses them across tasks): the boilerplate of the running job,
# built once from the keys shipped with the function, not once per task.
_BOILERPLATE: dict[str, _core.Boilerplate] = {}


def _boilerplate_of(token: str, table: pa.Table) -> _core.Boilerplate:
    found = _BOILERPLATE.get(token)
    if found is None:
        _BOILERPLATE.clear()
        batch = (
            pa.concat_batches(table.to_batches())
            if table.num_rows
            else pa.RecordBatch.from_arrays([pa.array([], pa.string()), pa.array([], pa.int64())], names=["grp", "h"])
        )
        found = _BOILERPLATE[token] = _core.Boilerplate(batch)
    return found


def _collect_arrow(df: DataFrame, schema: pa.Schema) -> pa.Table:
    """`df` on the driver as Arrow (`schema`: its columns' Arrow types, for an empty
    result on PySpark < 4.0)."""
    if hasattr(df, "toArrow"):  # PySpark >= 4.0
        return df.toArrow()
    return pa.Table.from_batches(df._collect_as_arrow(), schema=schema)


def _sketch(records: DataFrame, kind: str, params: _core.Params, boilerplate) -> DataFrame:
    """Every record parsed, analyzed and sketched in one pass (`sketch_records_batch`):
    `idx, id, status, file, line, row, date, outlet, size, keys, opening, set`, blank
    lines left out. `boilerplate`: None, the frequent keys as a pyarrow Table (shipped
    with the function), or the name of the per-record column that lists them."""
    inputs, keep = _inputs(records, kind)
    if isinstance(boilerplate, str):
        inputs = [*inputs, boilerplate]
        table = None
    else:
        table = boilerplate
    token = uuid.uuid4().hex

    def fn(b: pa.RecordBatch) -> pa.RecordBatch:
        bp = _boilerplate_of(token, table) if table is not None else None
        return _core.sketch_records_batch(b, params, bp)

    sketched = _map_arrow(
        records,
        inputs,
        keep,
        fn,
        _field_types(records, keep)
        + ", status string, id string, date string, outlet string, size bigint, keys array<bigint>, "
        "opening array<bigint>, set binary",
    )
    if kind == "lines":
        sketched = sketched.where(F.col("status") != "blank").withColumn(
            "id", F.coalesce(F.col("id"), F.concat_ws(":", F.col("file"), F.col("line").cast("string")))
        )
        sketched = sketched.withColumn("row", F.lit(None).cast("long"))
    else:
        for c, t in (("file", "string"), ("row", "long"), ("line", "long")):
            if c not in keep:
                sketched = sketched.withColumn(c, F.lit(None).cast(t))
    return sketched


def _candidates(sketched: DataFrame, params: _core.Params) -> DataFrame:
    """Pairs sharing an article band key (in the same band), or any opening key (each
    already seeded by its band, as the CLI buckets them)."""
    # Each batch's band and opening keys leave Rust as one row per shard (a binary of
    # entries), not a row per key: some 65 keys a document, nearly all of them one
    # document's alone, were most of this stage as Spark rows (explode, a shuffle of
    # rows, a sort, lists). A shard's entries meet in one task, where Rust sorts them and
    # pairs each bucket's documents.
    shards = int(sketched.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    max_bucket = params.max_bucket

    def entries(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            yield _core.band_entries_batch(b, shards)

    def pairs(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        held = [b for b in batches if b.num_rows]
        if held:
            yield _core.shard_pairs_batch(held, max_bucket)

    sharded = sketched.select("idx", "keys", "opening").mapInArrow(_worker(entries), "shard int, entries binary")
    return sharded.repartition(shards, "shard").mapInArrow(_worker(pairs), "a bigint, b bigint").distinct()


# Candidate pairs up to this many: their (record, group) needs are broadcast to
# verification's one scan of the compared records (at most two rows of two longs a pair;
# the table of the pairs and their seconds this replaced, up to twice as many rows of
# three longs, Spark estimated at 160 MiB of the driver's heap at the bound, which its
# default 1 GB held); beyond, both compared records are joined to each pair, every side
# shuffled.
BROADCAST_PAIRS = 1 << 21


# Candidate pairs in a group beyond this many are cut into sub-groups (by their second
# document): a group is scored by one task, and one component's pairs (a bucket of
# near-copies, up to max_bucket documents) would otherwise all go to one.
VERIFY_GROUP_PAIRS = 1 << 12


def _pair_groups(pairs: DataFrame) -> DataFrame:
    """`(a, b, g)`: each candidate pair with the group it is scored in. A pair's group is
    the smallest document next to its second document (in the graph of candidate pairs,
    itself included), so a bucket's pairs (up to `max_bucket` documents, a clique: every
    one of its documents next to its smallest) share one group, as do a star's, and each
    compared record goes to a group once however many of its pairs are there; a group of
    more than `VERIFY_GROUP_PAIRS` pairs is cut by its pairs' second documents."""
    # each pair both ways, from one scan of the pairs (a union scanned them twice, twice
    # the tasks)
    ways = F.array(F.struct("a", "b"), F.struct(F.col("b").alias("a"), F.col("a").alias("b")))
    both = pairs.select(F.explode(ways).alias("e"))
    low = both.groupBy(F.col("e.a").alias("a")).agg(F.least(F.min("e.b"), F.col("a")).alias("k"))
    keyed = pairs.join(low.select(F.col("a").alias("b"), "k"), "b")
    # a group's size beside each of its pairs: one shuffle by group (a count joined back
    # took two)
    n = F.count(F.lit(1)).over(Window.partitionBy("k"))
    sub = F.when(n > VERIFY_GROUP_PAIRS, F.pmod(F.xxhash64("b"), F.ceil(n / VERIFY_GROUP_PAIRS))).otherwise(F.lit(0))
    # one long per (k, sub): two groups that hash alike are scored as one, still right
    return keyed.select("a", "b", F.xxhash64("k", sub).alias("g"))


def _verify(pairs: DataFrame, n_pairs: int, sketched: DataFrame, params: _core.Params) -> tuple[DataFrame, list[DataFrame]]:
    """The accepted pairs: both compared records brought to each candidate pair and scored
    there (the driver never holds a set; its JVM holds the pairs' groups when there are at
    most `BROADCAST_PAIRS` pairs), and what to unpersist once they are materialized."""
    if n_pairs <= BROADCAST_PAIRS:
        # One scan of the compared records (6.8 GB at news1000k) and one shuffle: each
        # pair's records are needed in its group (`_pair_groups`), and the (record, group)
        # needs are broadcast to the scan, whose join (the JVM's) sends each record once to
        # each group that holds one of its pairs; a record in no pair goes nowhere. The
        # pairs themselves follow, each to its group; sorted by group, records first,
        # each partition is scored in Rust, each record decoded once a group.
        # Sent to the pairs' second documents instead (the record of each pair's first
        # once per pair), the records of a bucket of n near-copies went n(n-1)/2 + n - 1
        # times: 10.5 GB of shuffle at news1000k, where the records themselves are 6.8 GB.
        groups = _pair_groups(pairs).persist(StorageLevel.MEMORY_AND_DISK)
        needs = groups.select(F.explode(F.array("a", "b")).alias("idx"), "g").distinct()
        records = (
            sketched.select("idx", "set")
            .join(F.broadcast(needs), "idx")
            .select("g", F.col("idx").alias("a"), F.lit(None).cast("long").alias("b"), "set")
        )
        pair_rows = groups.select("g", "a", "b", F.lit(None).cast("binary").alias("set"))

        def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            verifier = _core.GroupVerifier(params)
            for b in batches:
                if b.num_rows:
                    yield verifier.score(b)

        # ascending sorts put nulls first: a group's records before its pairs
        rows = records.unionByName(pair_rows).repartition("g").sortWithinPartitions("g", "b")
        return rows.mapInArrow(_worker(score), "a bigint, b bigint"), [groups]
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
    return scored.where("accepted").select("a", "b"), []


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


# Accepted pairs up to this many are put in connected components by one task (the
# core's union-find over them, in Rust; the pairs as Arrow, the documents, the
# union-find and the result: at most about 150 MB in that task's Python worker at the
# bound); beyond, by rounds of large-star and small-star, each a few Spark jobs over
# every edge (at news100k, 3 rounds: 149 tasks, 20-25 task seconds, against one task of
# under a second).
ONE_TASK_EDGES = 1 << 21


def connected_components(edges: DataFrame, max_rounds: int = 64, n_edges: int | None = None) -> DataFrame:
    """`(node, component)` for every node of `edges(a, b)`, the component named by its
    smallest node. With `n_edges` (the count of `edges`) at most `ONE_TASK_EDGES`, by
    one task (`_core.components_batch`); otherwise alternating large-star and small-star
    until a round changes nothing. Raises `ComponentsDidNotConverge` after `max_rounds`
    rounds (each round at least shrinks the graph's diameter; O(log n) rounds are
    expected). One checkpoint and one comparison job per round."""
    if n_edges is not None and n_edges <= ONE_TASK_EDGES:

        def union_find(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            held = [b for b in batches if b.num_rows]
            if held:
                yield _core.components_batch(held)

        # coalesce, not repartition: the one task reads the edges' partitions (persisted
        # by the caller), no shuffle
        return edges.select("a", "b").coalesce(1).mapInArrow(_worker(union_find), "node bigint, component bigint")
    return _star_components(edges, max_rounds)


def _star_components(edges: DataFrame, max_rounds: int) -> DataFrame:
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


def _place(
    comps: DataFrame, n_nodes: int, edges: DataFrame, sketched: DataFrame, params: _core.Params
) -> DataFrame:
    """`(doc, rep, similarity)` for every document of a component: its members (with
    their compared records) and its accepted pairs, one group per component, placed by
    the core. Up to `BROADCAST_PAIRS` nodes, the components are broadcast to the compared
    records (else a join would shuffle every compared record, not only the members)."""
    by_node = F.broadcast(comps) if n_nodes <= BROADCAST_PAIRS else comps
    members = by_node.join(sketched, comps["node"] == sketched["idx"]).select(
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
    return grouped.mapInArrow(_worker(place), "doc bigint, rep bigint, similarity double")


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
    # every stage is materialized as it ends, timed or not: what later stages read is
    # persisted, and must be computed once
    timing = timing if timing is not None else Timing()

    def done(name: str, df: DataFrame | None = None, nbytes_col: str | None = None) -> None:
        if df is None:
            timing.stage(name)
            return
        aggs = [F.count(F.lit(1))] + ([F.sum(F.length(nbytes_col))] if nbytes_col else [])
        r = df.agg(*aggs).first()
        timing.stage(name, r[0], (r[1] or 0) if nbytes_col else None)

    # Records are read twice where the paragraph stage is on: once for the boilerplate
    # keys (their paragraphs segmented, normalized and hashed, nothing else made or
    # kept), once with the boilerplate known, analyzed in full straight to the sketches
    # and compared records. Keeping the analyzed records between the two instead wrote
    # and read back about 2.2 bytes a byte of text.
    boilerplate = None
    if params.paragraphs:
        frequent = _frequent(_paragraph_counts(records, kind, params), params)
        table = _collect_arrow(frequent.limit(BROADCAST_KEYS + 1), pa.schema([("grp", pa.string()), ("h", pa.int64())]))
        if table.num_rows <= BROADCAST_KEYS:
            boilerplate = table
        else:
            f = frequent.select(F.col("grp").alias("fg"), F.col("h").alias("fh"))
            keys = _paragraph_keys(records, kind, params)
            held = keys.where(F.col("h").isNotNull())
            hits = held.join(f, held["grp"].eqNullSafe(f["fg"]) & (held["h"] == f["fh"]))
            per_record = hits.groupBy("idx").agg(F.collect_list("h").alias("boilerplate"))
            records = records.join(per_record, "idx", "left")
            boilerplate = "boilerplate"
        timing.stage("boilerplate", table.num_rows)
    # the compared records (text-sized) go to the executors' disks: held in memory they
    # would take the heap that joins and sorts need (in local mode the driver's), and they
    # are read several times, sequentially
    docs = _sketch(records, kind, params, boilerplate).persist(StorageLevel.DISK_ONLY)
    done("sketch", docs, "set")
    sketched = docs.where(F.col("status") == "ok")
    base = docs.select("idx", "id", "status", "file", "line", "row").persist(StorageLevel.MEMORY_AND_DISK)
    done("records", base)
    pairs = _candidates(sketched, params).persist(StorageLevel.MEMORY_AND_DISK)
    done("candidates", pairs)
    edges, held = _verify(pairs, timing.stages[-1]["rows"], sketched, params)
    edges = edges.persist(StorageLevel.MEMORY_AND_DISK)
    done("verify", edges)
    for df in [pairs, *held]:
        df.unpersist()
    comps = connected_components(edges, max_rounds, timing.stages[-1]["rows"]).persist(StorageLevel.MEMORY_AND_DISK)
    done("components", comps)
    placed = _place(comps, timing.stages[-1]["rows"], edges, sketched, params).persist(StorageLevel.MEMORY_AND_DISK)
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
