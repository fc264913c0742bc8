"""The Rust work of the Spark job's two passes over the text, outside Spark: the boilerplate
counts (`ParagraphCounts.add` on every batch, then `entries`) and the sketch pass
(`sketch_records_batch`), on the first N lines of a JSONL corpus in 1,000-row batches (the
job's batch size), the default parameters (paragraph stage on), each three times; CPU
seconds of this process, with whichever neardup wheel is installed.

    python benches/spark_rust_passes.py CORPUS.jsonl N
"""

import resource
import sys

import pyarrow as pa

import neardup
from neardup import _core


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(path: str, n: int) -> None:
    lines = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            lines.append(line.rstrip(b"\n"))
    params = neardup.Params.from_cli(["--paragraphs", "on"])
    batches = [
        pa.RecordBatch.from_arrays(
            [pa.array(lines[s : s + 1000], pa.binary()), pa.array([s + j == 0 for j in range(len(lines[s : s + 1000]))])],
            names=["value", "first"],
        )
        for s in range(0, len(lines), 1000)
    ]
    for _ in range(3):
        t0 = cpu()
        counts = _core.ParagraphCounts()
        for b in batches:
            counts.add(b, params)
        entries = counts.entries(30)
        t1 = cpu()
        for b in batches:
            _core.sketch_records_batch(b, params)
        t2 = cpu()
        nbytes = sum(len(e) for e in entries.column("entries").to_pylist())
        print(f"counts {t1 - t0:.3f} CPU s ({nbytes} bytes of entries); sketch {t2 - t1:.3f} CPU s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
