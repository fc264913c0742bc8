# index-compare.py FULL_DOCS INDEX_RECORDS: how many records are in another cluster, or have
# another original (representative), in `neardup index records` than in a full run's docs.jsonl.
import json, sys
def answer(path):
    rows = [json.loads(l) for l in open(path)]
    members, rep = {}, {}
    for r in rows:
        c = r.get('cluster')
        if c is None: continue
        members.setdefault(c, []).append(r['id'])
        if r.get('keep'): rep[c] = r['id']
    out = {}
    for r in rows:
        c = r.get('cluster')
        out[r['id']] = (frozenset(members[c]), rep.get(c)) if c is not None else (None, None)
    return out
a, b = answer(sys.argv[1]), answer(sys.argv[2])
assert a.keys() == b.keys(), (len(a), len(b))
cl = sum(1 for k in a if a[k][0] != b[k][0])
orig = sum(1 for k in a if a[k][1] != b[k][1])
print(f'{len(a)} records: {cl} in another cluster, {orig} with another original')
