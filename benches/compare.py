#!/usr/bin/env python3
"""neardup beside the Python near-duplicate peers. Standard library only; driven by
benches/compare.sh (read that first).

  compare.py run    --bin B --corpus C --out DIR --threads T --summary-out RES [--limit S]
      runs `B dedup C --out DIR --threads T --quiet`, times it (wall seconds, peak RSS of
      the child), scores DIR/docs.jsonl with peers.py's evaluate and appends one summary
      line to RES in the shape peers.py writes (peer "neardup").
  compare.py table  RES                 markdown table of RES on stdout
  compare.py readme --readme R --table T --results RES --command CMD
      replaces the <!-- compare:begin --> ... <!-- compare:end --> section of R.

peers.py is imported from $SHARED (default ../shared/bench beside the project root).
"""
import argparse
import json
import os
import re
import shutil
import statistics as st
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.abspath(os.environ.get("SHARED") or os.path.join(ROOT, "..", "shared", "bench"))
ORDER = {"xxhash-ref": 0, "datasketch": 1, "rensa": 2, "gaoya": 3, "datatrove": 4, "simhash": 5,
         "neardup": 6}
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"


def dig(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


# ----------------------------------------------------------------- run
def cmd_run(a):
    sys.path.insert(0, SHARED)
    from peers import evaluate

    ids, nbytes = [], 0
    with open(a.corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(d["id"])
            nbytes += len(d["text"].encode("utf-8"))
    index = {x: i for i, x in enumerate(ids)}
    try:
        out = subprocess.run([a.bin, "--version"], capture_output=True, text=True, check=True).stdout
        version = out.split()[-1] if out.split() else "?"
    except (OSError, subprocess.CalledProcessError):
        version = "?"

    shutil.rmtree(a.out, ignore_errors=True)  # never score a previous run's output
    os.makedirs(a.out)
    docs_path = os.path.join(a.out, "docs.jsonl")
    cmd = [a.bin, "dedup", a.corpus, "--out", a.out, "--threads", str(a.threads), "--quiet"] + a.extra.split()
    print("+ " + " ".join(cmd), file=sys.stderr)
    t = time.perf_counter()
    p = subprocess.Popen(["timeout", "-k", "10", str(a.limit)] + cmd, stdout=sys.stderr)
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all children)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        print(f"neardup exited with {rc} after {wall:.1f}s", file=sys.stderr)
        return rc

    groups = {}
    with open(docs_path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("cluster") is not None:
                groups.setdefault(d["cluster"], []).append(index[d["id"]])
    clusters = sorted((sorted(c) for c in groups.values() if len(c) > 1), key=lambda c: c[0])
    try:
        with open(os.path.join(a.out, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):
        summary = {}
    mb = nbytes / 1e6
    summ = {"peer": ("neardup " + a.extra).strip(), "version": version, "corpus": os.path.basename(a.corpus),
            "docs": len(ids), "text_mb": round(mb, 2),
            "ngram": dig(summary, "params", "shingle", "size"),
            "num_perm": dig(summary, "params", "minhash", "num_perm"),
            "threshold": dig(summary, "params", "lsh", "threshold"),
            "bands": dig(summary, "params", "lsh", "bands"),
            "rows": dig(summary, "params", "lsh", "rows"),
            "threads": a.threads, "total_s": round(wall, 2), "wall_s": round(wall, 2),
            "docs_per_s": round(len(ids) / wall, 1), "mb_per_s": round(mb / wall, 2),
            "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
            "stage_s": summary.get("seconds"),
            "clusters": len(clusters), "docs_in_clusters": sum(map(len, clusters)),
            "largest_cluster": max(map(len, clusters), default=0),
            "notes": "whole process: parse, sketch, LSH, verify, write outputs (total_s = wall_s)"}
    summ.update(evaluate(ids, clusters, a.corpus + ".truth.jsonl", a.corpus + ".pairs.jsonl",
                         a.threshold))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from syndication_quality import score
    q = score(a.corpus, a.out)
    summ["copies_with_original"] = {"edit_rate": q["copy_joined_original_by_edit_rate"],
                                    "trim": q["copy_joined_original_by_trim"],
                                    "representatives": q["representatives"]}
    line = json.dumps(summ)
    print(line, file=sys.stderr)
    with open(a.summary_out, "a") as f:
        f.write(line + "\n")
    return 0


# ----------------------------------------------------------------- table
def num(x, nd=1):
    if x is None:
        return "-"
    return f"{x:,}" if isinstance(x, int) else f"{x:,.{nd}f}"


def med(rows, k):
    v = [r[k] for r in rows if r.get(k) is not None]
    return st.median(v) if v else None


def table(results):
    groups, probes, failed = {}, [], []
    for line in open(results):
        if not line.strip():
            continue
        d = json.loads(line)
        if d["peer"] == "cpu-probe":
            probes.append(d)
        elif "status" in d:
            failed.append(d)
        else:
            groups.setdefault((d["docs"], d["corpus"], d["peer"], d.get("threads", 1)), []).append(d)
    # MB/s of neardup per corpus at 2 threads (else its highest thread count): the reference
    ref, nd = {}, {}
    for key in groups:
        if key[2] == "neardup":
            nd.setdefault(key[1], []).append(key)
    for corpus, keys in nd.items():
        key = max(keys, key=lambda k: (k[3] == 2, k[3]))
        ref[corpus] = (key[3], groups[key][-1]["text_mb"] / med(groups[key], "total_s"))
    out = ["| corpus | peer | version | threads | total s median [min-max] (n) | wall s | MB/s "
           "| docs/s | speed vs neardup | peak RSS MB | b x r | clusters | P | R | F1 | R@J>=0.8 |",
           "|---|---|---|--:|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|"]
    for key in sorted(groups, key=lambda k: (k[0], k[1], ORDER.get(k[2], 9), k[2], -k[3])):
        rows = groups[key]
        d = rows[-1]
        if d["peer"] == "xxhash-ref":
            tk, name, t = "xxh3_64_s", "xxh3_64, 1 pass (ref)", 1
        else:
            tk, name, t = "total_s", d["peer"], d.get("threads", 1)
        v = [r[tk] for r in rows]
        tm = st.median(v)
        mbs = d["text_mb"] / tm
        vs = f"{mbs / ref[d['corpus']][1]:.3g}x" if d["corpus"] in ref else "-"
        nd = 4 if tm < 0.1 else 1
        span = f"{tm:.{nd}f} [{min(v):.{nd}f}-{max(v):.{nd}f}] ({len(v)})"
        if d["peer"] == "xxhash-ref":
            out.append(f"| {d['corpus']} | {name} | {d['version']} | 1 | {span} | - | {num(mbs, 0)} "
                       f"| {num(d['docs'] / tm, 0)} | {vs} | - | - | - | - | - | - | - |")
            continue
        peak = max(max(r.get("peak_rss_mb") or 0, r.get("children_peak_rss_mb") or 0) for r in rows)
        if d.get("rows"):
            br = f"{d['bands']}x{d['rows']}"
        else:
            br = f"k={d['bands'] - 1}" if d["peer"] == "simhash" and d.get("bands") else "-"
        q = {k: med(rows, k) for k in ("clusters", "precision", "recall", "f1", "r_at_t")}
        out.append(f"| {d['corpus']} | {name} | {d['version']} | {t} | {span} | {num(med(rows, 'wall_s'))} "
                   f"| {num(mbs, 2)} | {num(d['docs'] / tm, 0)} | {vs} | {num(peak, 0)} | {br} "
                   f"| {num(int(q['clusters']))} | {num(q['precision'], 3)} | {num(q['recall'], 3)} "
                   f"| {num(q['f1'], 3)} | {num(q['r_at_t'], 3)} |")
    for d in failed:
        out.append(f"| {d['corpus']} | {d['peer']} | - | {d.get('threads', '-')} | {d['status']} "
                   "| | | | | | | | | | | |")
    out.append("\nMB/s = input text MB / total s. Peers' total s is their sketch + index + cluster time "
               "(imports, JSONL load and output excluded); neardup's is the wall time of the whole "
               "process. speed vs neardup = MB/s / neardup's MB/s on the same corpus at "
               + (", ".join(f"{t} threads ({c})" for c, (t, _) in sorted(ref.items())) or "2 threads (no neardup runs)")
               + ".")
    breakdown = [(key, groups[key][-1]["copies_with_original"]) for key in sorted(groups)
                 if groups[key][-1].get("copies_with_original")]
    if breakdown:
        out.append("\nCopies in their original's cluster (neardup runs; last pass), by the copy's word "
                   "edit rate and by trimming (share of copies; n in parentheses):\n")
        bands = sorted({b for _, c in breakdown for b in c["edit_rate"]})
        out.append("| corpus | run | threads | " + " | ".join(f"edit {b}" for b in bands)
                   + " | trimmed | whole | original is representative |")
        out.append("|---|---|--:|" + "--:|" * (len(bands) + 3))
        for key, c in breakdown:
            cell = lambda v: f"{v[2]:.4f} ({v[1]:,})" if v else "-"
            reps = c["representatives"]
            orig = reps.get("original is representative", 0)
            total = orig + reps.get("a copy is representative", 0)
            rep = f"{orig / total:.4f} ({total:,})" if total else "-"
            out.append(f"| {key[1]} | {key[2]} | {key[3]} | "
                       + " | ".join(cell(c["edit_rate"].get(b)) for b in bands)
                       + f" | {cell(c['trim'].get('trimmed'))} | {cell(c['trim'].get('whole'))} | {rep} |")
    if probes:
        ec = [p["effective_cores"] for p in probes]
        out.append(f"\ncpu_probe effective cores (of {probes[0]['cpus']}): "
                   + ", ".join(f"{p['tag']}={p['effective_cores']}" for p in probes)
                   + f" (median {st.median(ec)})")
    return "\n".join(out) + "\n", probes


def cmd_table(a):
    sys.stdout.write(table(a.results)[0])
    return 0


# ----------------------------------------------------------------- readme
def cmd_readme(a):
    md = open(a.table, encoding="utf-8").read().strip()
    _, probes = table(a.results)
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ec = [p["effective_cores"] for p in probes]
    cores = f"{st.median(ec)} (median of {len(ec)} probes, min {min(ec)}, max {max(ec)})" if ec else "not probed"
    section = (f"{BEGIN}\nMeasured {time.strftime('%Y-%m-%d %H:%M %Z')}; `nproc` = {len(os.sched_getaffinity(0))}, "
               f"CPU: {cpu}; effective cores (cpu_probe.py): {cores}.\n\n"
               f"From the project root:\n```\n{a.command}\n```\n\n{md}\n{END}")
    text = open(a.readme, encoding="utf-8").read() if os.path.exists(a.readme) else "# Benchmarks\n"
    pat = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if pat.search(text):
        text = pat.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(a.readme, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"updated {a.readme}", file=sys.stderr)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", default="target/release/neardup")
    r.add_argument("--corpus", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--summary-out", required=True)
    r.add_argument("--limit", type=int, default=600, help="seconds before the child is killed")
    r.add_argument("--threshold", type=float, default=0.8, help="for recall over pairs with J >= t")
    r.add_argument("--extra", default="", help="more neardup flags; the row is labelled with them")
    t = sub.add_parser("table")
    t.add_argument("results")
    m = sub.add_parser("readme")
    m.add_argument("--readme", default="benches/README.md")
    m.add_argument("--table", required=True)
    m.add_argument("--results", required=True)
    m.add_argument("--command", required=True)
    a = ap.parse_args()
    return {"run": cmd_run, "table": cmd_table, "readme": cmd_readme}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
