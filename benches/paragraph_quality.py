#!/usr/bin/env python3
"""Paragraph-stage quality on a corpus from ../shared/bench/gen_corpus.py.

  python3 benches/paragraph_quality.py CORPUS.jsonl OUT_DIR

OUT_DIR holds a neardup run on CORPUS (docs.jsonl). Scores, against CORPUS.truth.jsonl:
- repeats: (document, paragraph, copy_of) triples, precision and recall;
- boilerplate: the generator appends each outlet's boilerplate paragraphs, built from five
  templates ("Comments on <outlet> are moderated...", "Subscribe to <outlet>...",
  "(c) 2024 <outlet>...", "Sign up for the <outlet> newsletter...", "Have a news tip?
  Contact the <outlet>..."); a paragraph starting with one of them for the document's own
  outlet is planted boilerplate. Reports the share of planted occurrences flagged, and the
  share of body paragraphs flagged (body = not planted boilerplate, not the copy's header
  line, not its syndication footer).
Standard library only.
"""
import json
import sys

TEMPLATES = ["Comments on {o} are moderated", "Subscribe to {o} for unlimited access",
             "\u00a9 2024 {o}. All rights reserved.", "Sign up for the {o} newsletter",
             "Have a news tip? Contact the {o} newsroom."]
# the three syndication footer templates, by a phrase each contains
FOOTERS = ["originally appeared in", "syndication service; reuse requires permission",
           "republishes stories from partner newsrooms"]


def main():
    corpus, out = sys.argv[1], sys.argv[2]
    truth = {}
    with open(corpus + ".truth.jsonl") as f:
        for line in f:
            t = json.loads(line)
            truth[t["id"]] = t
    tp = fp = fn = 0
    planted = planted_hit = body = body_flagged = 0
    with open(corpus, encoding="utf-8") as fc, open(out + "/docs.jsonl", encoding="utf-8") as fd:
        for cl, dl in zip(fc, fd):
            c, d = json.loads(cl), json.loads(dl)
            assert c["id"] == d["id"], "docs.jsonl must follow the corpus order"
            t = truth[c["id"]]
            want = set(zip(t["repeated_paragraphs"], t["repeat_of"]))
            got = {(r["paragraph"], r["copy_of"]) for r in d.get("repeats", [])}
            tp += len(want & got)
            fp += len(got - want)
            fn += len(want - got)
            paras = c["text"].split("\n\n")
            flagged = set(d.get("boilerplate", []))
            starts = [x.format(o=c["outlet"]) for x in TEMPLATES]
            for i, p in enumerate(paras):
                if any(p.startswith(s) for s in starts):
                    planted += 1
                    planted_hit += i in flagged
                    continue
                if (t["header"] and i == 0) or (t["footer"] and any(s in p for s in FOOTERS)):
                    continue
                body += 1
                body_flagged += i in flagged
    res = {"corpus": corpus, "repeat_tp": tp, "repeat_fp": fp, "repeat_fn": fn,
           "repeat_precision": round(tp / (tp + fp), 4) if tp + fp else None,
           "repeat_recall": round(tp / (tp + fn), 4) if tp + fn else None,
           "boilerplate_planted": planted, "boilerplate_flagged_share": round(planted_hit / planted, 4),
           "body_paragraphs": body, "body_flagged_share": round(body_flagged / body, 5)}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
