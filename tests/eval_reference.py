#!/usr/bin/env python3
"""Reference values for the unit tests of src/eval.rs (pairwise P/R/F1 and ARI).

Independent of the Rust code: it enumerates every pair of records (no contingency table)
and computes the adjusted Rand index from the four pair counts (Hubert and Arabie's pair
form, 2(ad - bc) / ((a+b)(b+d) + (a+c)(c+d))). Conventions shared with the Rust code:
precision is 1 when no pair is predicted, recall is 1 when there is no true pair, F1 is 0
when precision + recall is 0, and ARI is 1 when the pair form is 0/0 (both partitions
all singletons, or both one cluster), as scikit-learn does.

Run: python3 tests/eval_reference.py   (standard library only)
"""
from itertools import combinations


def scores(truth, pred):
    """truth, pred: dicts id -> label. Scored: the ids in both."""
    ids = sorted(set(truth) & set(pred))
    a = b = c = d = 0  # same/same, same truth only, same pred only, different/different
    for x, y in combinations(ids, 2):
        st = truth[x] == truth[y]
        sp = pred[x] == pred[y]
        if st and sp:
            a += 1
        elif st:
            b += 1
        elif sp:
            c += 1
        else:
            d += 1
    tp, fn, fp = a, b, c
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    den = (a + b) * (b + d) + (a + c) * (c + d)
    ari = 2 * (a * d - b * c) / den if den else 1.0
    return dict(scored=len(ids), true_pairs=a + b, predicted_pairs=a + c, tp=tp, fp=fp,
                fn=fn, precision=precision, recall=recall, f1=f1, ari=ari)


def labels(xs):
    return {f"d{i}": v for i, v in enumerate(xs)}


CASES = {
    "mixed": (labels([0, 0, 0, 1, 1, 2, 2, 2, 2, 3]), labels([0, 0, 1, 1, 1, 2, 2, 3, 3, 4])),
    "thirty": (
        labels([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 4, 4, 4, 5, 6, 6, 7, 7, 7, 8, 9, 9, 9, 10, 11, 11, 12, 13]),
        labels([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9, 10, 11, 11, 12, 13, 14, 14, 14, 15]),
    ),
    "all_singletons_predicted": (labels([0, 0, 1, 1, 1, 2]), labels([0, 1, 2, 3, 4, 5])),
    "one_big_cluster_predicted": (labels([0, 0, 1, 1, 1, 2]), labels([7] * 6)),
    "both_all_singletons": (labels([0, 1, 2, 3]), labels([0, 1, 2, 3])),
    # truth names d0..d5 and d9; the run has d0..d3 and d7: only d0..d3 are scored
    "ids_missing_from_predictions": (
        {"d0": 0, "d1": 0, "d2": 1, "d3": 0, "d4": 0, "d5": 1, "d9": 1},
        {"d0": 5, "d1": 5, "d2": 5, "d3": 6, "d7": 5},
    ),
}

if __name__ == "__main__":
    for name, (t, p) in CASES.items():
        s = scores(t, p)
        print(name, {k: (round(v, 6) if isinstance(v, float) else v) for k, v in s.items()})
