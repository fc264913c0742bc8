"""`spark-submit` entry point: `neardup dedup` on Spark, with the CLI's flags.

    spark-submit --master spark://host:7077 "$(python -c 'import neardup.cli as c; print(c.__file__)')" \\
        INPUT.jsonl... --out OUT [neardup dedup flags] [--output-format jsonl|parquet]
        [--input-format jsonl|parquet] [--max-rounds N] [--broadcast-mb MB]

Writes `OUT/docs/` (Spark part files, one line or row per input record in input order:
`id, cluster, keep, duplicate_of, similarity, status, file, line`, as the CLI's
`docs.jsonl`) and `OUT/timing.json` (seconds). Flags the distributed job cannot honour
(`--method simhash|both`, `--verify estimate`) are errors; `--threads`, `--spill-dir`,
`--quiet` and `--emit-clean` are about one machine and are accepted and ignored
(`--emit-clean` needs the paragraph stage, as in the CLI).
"""

from __future__ import annotations

import json
import os
import sys
import time

OWN = {"--output-format": "jsonl", "--input-format": "jsonl", "--max-rounds": "64", "--broadcast-mb": "256"}


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "dedup":
        argv = argv[1:]
    own, rest = split_args(argv)
    from pyspark.sql import SparkSession

    from neardup import _core
    from neardup.spark import cluster_records, read_lines

    try:
        inputs, out, params = _core.Params.parse_dedup_args(rest)
        params.check_distributed()
    except ValueError as e:
        print(f"neardup-spark: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    spark = SparkSession.builder.appName("neardup dedup").getOrCreate()
    try:
        if own["--input-format"] == "parquet":
            df = spark.read.parquet(*inputs)
            from neardup.spark import dedup

            result = dedup(
                df,
                params.id_field,
                params.text_field,
                params,
                max_rounds=int(own["--max-rounds"]),
                broadcast_mb=float(own["--broadcast-mb"]),
            )
        else:
            records = read_lines(spark, inputs)
            result = (
                cluster_records(
                    spark, records, "lines", params, int(own["--max-rounds"]), float(own["--broadcast-mb"])
                )
                .orderBy("idx")
                .drop("idx")
            )
        writer = result.write.mode("overwrite")
        path = os.path.join(out, "docs")
        if own["--output-format"] == "parquet":
            writer.parquet(path)
        else:
            writer.option("ignoreNullFields", "false").json(path)
        seconds = time.perf_counter() - t0
        if "://" not in out:
            with open(os.path.join(out, "timing.json"), "w") as f:
                json.dump({"seconds": round(seconds, 3), "master": spark.sparkContext.master}, f)
        print(f"neardup-spark: {out}: {seconds:.1f} s", file=sys.stderr)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
