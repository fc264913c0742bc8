"""Compares a Spark run's docs with the CLI's `docs.jsonl`: the same ids, the same
clusters (as a partition of the ids), the same keep and duplicate_of for every id, and
the same cluster numbers and similarities.

    python spark_equals_cli.py CLI_OUT/docs.jsonl SPARK_OUT/docs

Exit 0 when equal; 1 with the first differences otherwise.
"""

from __future__ import annotations

import glob
import json
import os
import sys


def read_docs(path: str) -> list[dict]:
    files = sorted(glob.glob(os.path.join(path, "part-*"))) if os.path.isdir(path) else [path]
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def partition(rows: list[dict]) -> set[frozenset]:
    by_cluster: dict = {}
    for r in rows:
        if r.get("cluster") is not None:
            by_cluster.setdefault(r["cluster"], set()).add(r["id"])
    return {frozenset(m) for m in by_cluster.values()}


def compare(cli: list[dict], spark: list[dict]) -> list[str]:
    problems = []
    ids_cli = [r["id"] for r in cli]
    ids_spark = [r["id"] for r in spark]
    if len(set(ids_cli)) != len(ids_cli):
        problems.append("the CLI output has duplicate ids: compare by id is ambiguous")
    if ids_cli != ids_spark:
        problems.append(f"ids or their order differ ({len(ids_cli)} CLI, {len(ids_spark)} Spark)")
    if partition(cli) != partition(spark):
        a, b = partition(cli), partition(spark)
        problems.append(f"cluster partitions differ: {len(a - b)} CLI-only, {len(b - a)} Spark-only clusters")
        problems.extend(f"  CLI only: {sorted(c)[:6]}" for c in list(a - b)[:3])
        problems.extend(f"  Spark only: {sorted(c)[:6]}" for c in list(b - a)[:3])
    s_by_id = {r["id"]: r for r in spark}
    for field in ("keep", "duplicate_of", "status", "cluster", "similarity"):
        diff = [r["id"] for r in cli if r["id"] in s_by_id and r.get(field) != s_by_id[r["id"]].get(field)]
        if diff:
            problems.append(f"{field} differs for {len(diff)} ids, e.g. {diff[:5]}")
    return problems


def main() -> int:
    cli, spark = read_docs(sys.argv[1]), read_docs(sys.argv[2])
    problems = compare(cli, spark)
    clusters = sum(1 for c in partition(cli) if len(c) > 1)
    if problems:
        print("DIFFERENT:\n" + "\n".join(problems))
        return 1
    print(f"equal: {len(cli)} records, {clusters} clusters of two or more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
