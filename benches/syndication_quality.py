#!/usr/bin/env python3
"""Scores a neardup run against the shared generator's families (issue: syndication).

usage: syndication_quality.py CORPUS.jsonl OUT_DIR [--json]

Pairwise precision / recall / F1 against the truth families (counted from contingency
tables, no pair enumeration), then, per copy, whether it landed in its original's
cluster, broken down by edit rate and by trimming, and how often the representative is
the original. Standard library only.
"""
import json
import sys
from collections import Counter, defaultdict


def c2(n):
    return n * (n - 1) // 2


def score(corpus, out):
    """The scores of the run in `out` on `corpus` (with its .truth.jsonl beside it)."""
    truth = {}
    for line in open(corpus + ".truth.jsonl", encoding="utf-8"):
        t = json.loads(line)
        truth[t["id"]] = t
    docs = {}
    for line in open(out + "/docs.jsonl", encoding="utf-8"):
        d = json.loads(line)
        docs[d["id"]] = d
    ids = [i for i in truth if i in docs and docs[i]["cluster"] is not None]
    fam = Counter(truth[i]["family"] for i in ids)
    clu = Counter(docs[i]["cluster"] for i in ids)
    cell = Counter((truth[i]["family"], docs[i]["cluster"]) for i in ids)
    tp = sum(c2(n) for n in cell.values())
    true_pairs = sum(c2(n) for n in fam.values())
    pred_pairs = sum(c2(n) for n in clu.values())
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    # per copy: joined its original?
    orig_cluster = {t["family"]: docs[t["family"]]["cluster"] for t in truth.values()
                    if t["role"] == "original" and t["id"] in docs}
    by_edit = defaultdict(lambda: [0, 0])
    by_trim = defaultdict(lambda: [0, 0])
    for i in ids:
        t = truth[i]
        if t["role"] != "copy":
            continue
        ok = docs[i]["cluster"] == orig_cluster.get(t["family"])
        b = min(int(t["edit_rate"] / 0.025), 3)
        key = "%.1f-%.1f%%" % (b * 2.5, b * 2.5 + 2.5)
        by_edit[key][0] += ok
        by_edit[key][1] += 1
        tk = "trimmed" if t["trimmed_paragraphs"] else "whole"
        by_trim[tk][0] += ok
        by_trim[tk][1] += 1
    reps = Counter()
    for i in ids:
        t = truth[i]
        if t["role"] == "original" and fam[t["family"]] > 1:
            d = docs[i]
            reps["original is representative" if d["keep"] else "a copy is representative"] += 1
    res = {
        "records": len(ids), "true_pairs": true_pairs, "predicted_pairs": pred_pairs,
        "true_positive_pairs": tp, "precision": round(p, 4), "recall": round(r, 4),
        "f1": round(f1, 4),
        "copy_joined_original_by_edit_rate": {k: [v[0], v[1], round(v[0] / v[1], 4)]
                                              for k, v in sorted(by_edit.items())},
        "copy_joined_original_by_trim": {k: [v[0], v[1], round(v[0] / v[1], 4)]
                                         for k, v in sorted(by_trim.items())},
        "representatives": dict(reps),
    }
    return res


def main():
    res = score(sys.argv[1], sys.argv[2])
    print(json.dumps(res, indent=None if "--json" in sys.argv else 1))


if __name__ == "__main__":
    main()
