"""`spark-submit` entry point: `neardup dedup` on Spark, with the CLI's flags.

    spark-submit --master spark://host:7077 "$(python -c 'import neardup.cli as c; print(c.__file__)')" \\
        INPUT.jsonl... --out OUT [neardup dedup flags] [--output-format jsonl|parquet]
        [--input-format jsonl|parquet] [--max-rounds N]

Writes `OUT/docs/` (Spark part files, one line or row per input record in input order:
`id, cluster, keep, duplicate_of, similarity, status, file`, and `line` for JSONL or
`row` for Parquet, as the CLI's `docs.jsonl`) and `OUT/timing.json` (seconds, and per
stage seconds, rows and bytes). Flags the distributed job cannot honour
(`--method simhash|both`, `--verify estimate`) are errors; `--threads`, `--spill-dir`,
`--quiet` and `--emit-clean` are about one machine and are accepted and ignored
(`--emit-clean` needs the paragraph stage, as in the CLI).
"""

from __future__ import annotations

import json
import os
import sys
import time

OWN = {"--output-format": "jsonl", "--input-format": "jsonl", "--max-rounds": "64"}
# bytes of input per shuffle partition when `spark.sql.shuffle.partitions` is not set:
# the per-document data of the later stages is about 2-3x the text, and a task's share of
# a 1 GB executor is a few hundred MB
BYTES_PER_PARTITION = 16 * 2**20


def split_args(argv: list[str]) -> tuple[dict, list[str]]:
    """This job's own options, and the rest (the CLI's `dedup` arguments)."""
    own, rest = dict(OWN), []
    i = 0
    while i < len(argv):
        a = argv[i]
        key, eq, value = a.partition("=")
        if key in OWN:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise SystemExit(f"{key} needs a value")
                value = argv[i]
            own[key] = value
        else:
            rest.append(a)
        i += 1
    return own, rest


def input_bytes(paths: list[str]) -> int:
    """Bytes of the local inputs (0 for object-store paths, which Spark lists itself)."""
    total = 0
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        elif os.path.exists(p):
            total += os.path.getsize(p)
    return total


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "dedup":
        argv = argv[1:]
    own, rest = split_args(argv)
    from pyspark.sql import SparkSession

    from neardup import _core
    from neardup.spark import Timing, cluster_records, read_jsonl, read_parquet

    try:
        inputs, out, params = _core.Params.parse_dedup_args(rest)
        params.check_distributed()
        if own["--input-format"] not in ("jsonl", "parquet") or own["--output-format"] not in ("jsonl", "parquet"):
            raise ValueError("--input-format and --output-format take jsonl or parquet")
    except ValueError as e:
        print(f"neardup-spark: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.appName("neardup dedup")
        # checkpoint files of the component rounds are removed once unreferenced
        .config("spark.cleaner.referenceTracking.cleanCheckpoints", "true")
        .getOrCreate()
    )
    try:
        conf = spark.sparkContext.getConf()
        nbytes = input_bytes(inputs)
        if not conf.contains("spark.sql.shuffle.partitions"):
            parts = max(spark.sparkContext.defaultParallelism, -(-nbytes // BYTES_PER_PARTITION))
            spark.conf.set("spark.sql.shuffle.partitions", str(parts))
        timing = Timing()
        if own["--input-format"] == "parquet":
            records = read_parquet(spark, inputs, params)
            kind = "docs"
        else:
            records = read_jsonl(spark, inputs)
            kind = "lines"
        # the counting pass that numbers the input
        timing.stage("positions")
        result = cluster_records(records, kind, params, int(own["--max-rounds"]), timing).orderBy("idx").drop("idx")
        if kind == "lines":
            result = result.drop("row")
        else:
            result = result.drop("line")
        writer = result.write.mode("overwrite")
        path = os.path.join(out, "docs")
        if own["--output-format"] == "parquet":
            writer.parquet(path)
        else:
            writer.option("ignoreNullFields", "false").json(path)
        timing.stage("write")
        seconds = time.perf_counter() - t0
        if "://" not in out:
            with open(os.path.join(out, "timing.json"), "w") as f:
                json.dump(
                    {
                        "seconds": round(seconds, 3),
                        "master": spark.sparkContext.master,
                        "input_bytes": nbytes,
                        "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
                        "stages": timing.stages,
                    },
                    f,
                    indent=1,
                )
        print(f"neardup-spark: {out}: {seconds:.1f} s", file=sys.stderr)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
