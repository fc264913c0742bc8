# index-split.py ALL NEW PARTS: stable sort of ALL (JSONL) by its `date`, then cut: the NEW
# latest records to new.jsonl, the rest to PARTS files base1..PARTS.jsonl in that order
# (benches/README.md, "Incremental runs against an index").
import json, sys
src, new, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = []
with open(src, 'rb') as f:
    off = 0
    for line in f:
        d = json.loads(line).get('date') or ''
        rows.append((d, off, len(line)))
        off += len(line)
order = sorted(range(len(rows)), key=lambda i: rows[i][0])  # stable
base, late = order[:len(order) - new], order[len(order) - new:]
with open(src, 'rb') as f:
    def write(name, idx):
        with open(name, 'wb') as out:
            for i in idx:
                f.seek(rows[i][1]); out.write(f.read(rows[i][2]))
    n = len(base)
    for p in range(parts):
        write(f'base{p + 1}.jsonl', base[p * n // parts:(p + 1) * n // parts])
    write('new.jsonl', late)
print(len(base), len(late), 'latest date', rows[late[-1]][0], 'cut at', rows[late[0]][0])
