#!/usr/bin/env bash
# neardup beside the Python near-duplicate peers (../shared/bench), in one run.
# usage: bash benches/compare.sh [--update-readme]   (relative paths below are from the project root)
# env:  DATA=target/bench-data   corpora, logs, results.jsonl, results-table.md
#       VENV=target/peers-venv   created from requirements-peers.txt if missing
#       SHARED=../shared/bench   gen_corpus.py, peers.py, cpu_probe.py, hash_ref.py
#       SIZES="20000 100000"  PEERS="datasketch rensa gaoya simhash datatrove" (PEERS="": none)
#       the 1M corpus of issue 14: SIZES="1000000" PEERS="gaoya" THREADS="2" REPEAT=1 LIMIT=900
#       (generating it takes about 10 minutes and 13.5 GB of RAM; gaoya needs 17 GB; the
#       other peers do not finish within LIMIT)
#       THREADS="2 1"   for neardup and the peers that can use more than one (rensa gaoya datatrove)
#       REPEAT=3        passes over everything (the table shows medians)
#       LIMIT=600       seconds per run; a run past it is killed and recorded as failed
#       NEARDUP_SKIP=1  skip building and running neardup
#       NEARDUP_BIN=... run that binary instead of building target/release/neardup
# DATA/results.jsonl holds this run only (a previous one is renamed results-<time>.jsonl).
# --update-readme replaces the <!-- compare:begin/end --> section of benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE=0
for arg in "$@"; do
  case $arg in --update-readme) UPDATE=1 ;; *) echo "usage: bash benches/compare.sh [--update-readme]" >&2; exit 2 ;; esac
done
DATA=${DATA:-target/bench-data}
VENV=${VENV:-target/peers-venv}
export SHARED=${SHARED:-../shared/bench}
SIZES=${SIZES:-"20000 100000"}
PEERS=${PEERS-"datasketch rensa gaoya simhash datatrove"}
THREADS=${THREADS:-"2 1"}
REPEAT=${REPEAT:-3}
LIMIT=${LIMIT:-600}
NEARDUP_SKIP=${NEARDUP_SKIP:-0}
BIN=${NEARDUP_BIN:-target/release/neardup}
CMD="DATA=$DATA VENV=$VENV SIZES=\"$SIZES\" PEERS=\"$PEERS\" THREADS=\"$THREADS\" REPEAT=$REPEAT LIMIT=$LIMIT"
if [ "$NEARDUP_SKIP" = 1 ]; then CMD="$CMD NEARDUP_SKIP=1"; fi
CMD="$CMD bash benches/compare.sh${*:+ $*}"
PY=$VENV/bin/python
RES=$DATA/results.jsonl

if [ "$NEARDUP_SKIP" != 1 ] && [ -z "${NEARDUP_BIN:-}" ]; then
  cargo build --release
fi
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q -r "$SHARED/requirements-peers.txt"
fi
mkdir -p "$DATA/runs"
if [ -s "$RES" ]; then mv "$RES" "$DATA/results-$(date +%Y%m%d-%H%M%S).jsonl"; fi
"$PY" -m pip freeze > "$DATA/venv-freeze.txt"
for n in $SIZES; do
  name=news$((n / 1000))k
  if [ ! -f "$DATA/$name.jsonl.meta.json" ]; then
    echo "== generating $name" >&2
    python3 "$SHARED/gen_corpus.py" --docs "$n" --seed $((n / 1000)) --wordlist synthetic \
      --out "$DATA/$name.jsonl" 2> "$DATA/$name.gen.log" || { echo "generation failed for $name" >&2; exit 1; }
  fi
done

# run TOOL THREADS CORPUS-NAME TIMEOUT COMMAND...: one run, stderr to its log, failure recorded
run() {
  local tool=$1 t=$2 name=$3 limit=$4 rc=0
  shift 4
  local log=$DATA/runs/$tool-t$t-$name.log
  echo "== rep $rep: $tool threads=$t on $name" >&2
  timeout -k 10 "$limit" "$@" 2> "$log" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "{\"peer\": \"$tool\", \"threads\": $t, \"corpus\": \"$name.jsonl\", \"status\": \"failed rc=$rc (124 = over ${LIMIT}s)\"}" >> "$RES"
  fi
  tail -1 "$log" | cut -c1-200 >&2
}

for rep in $(seq 1 "$REPEAT"); do
  for n in $SIZES; do
    name=news$((n / 1000))k
    c=$DATA/$name.jsonl
    "$PY" "$SHARED/cpu_probe.py" --tag "rep$rep-$name" --summary-out "$RES"
    "$PY" "$SHARED/hash_ref.py" --corpus "$c" --summary-out "$RES" 2> "$DATA/runs/xxhash-$name.log"
    for p in $PEERS; do
      case $p in rensa|gaoya|datatrove) tl=$THREADS ;; *) tl=1 ;; esac
      for t in $tl; do
        run "$p" "$t" "$name" "$LIMIT" "$PY" "$SHARED/peers.py" --peer "$p" --threads "$t" --corpus "$c" \
          --out "$DATA/runs/$p-t$t-$name.clusters.jsonl" --summary-out "$RES"
      done
    done
    if [ "$NEARDUP_SKIP" != 1 ]; then
      for t in $THREADS; do  # compare.py kills neardup itself at LIMIT; the slack is for scoring
        run neardup "$t" "$name" $((LIMIT + 300)) python3 benches/compare.py run --bin "$BIN" --corpus "$c" \
          --out "$DATA/runs/neardup-t$t-$name" --threads "$t" --limit "$LIMIT" --summary-out "$RES"
        # near-duplicates only: Jaccard, no containment (what the peers do)
        run neardup-jaccard "$t" "$name" $((LIMIT + 300)) python3 benches/compare.py run --bin "$BIN" --corpus "$c" \
          --out "$DATA/runs/neardup-jaccard-t$t-$name" --threads "$t" --limit "$LIMIT" --summary-out "$RES" \
          --extra "--containment off"
        # and without the paragraph stage (repeats, boilerplate) either
        run neardup-raw "$t" "$name" $((LIMIT + 300)) python3 benches/compare.py run --bin "$BIN" --corpus "$c" \
          --out "$DATA/runs/neardup-raw-t$t-$name" --threads "$t" --limit "$LIMIT" --summary-out "$RES" \
          --extra "--paragraphs off --containment off"
        # SimHash candidates (exact Hamming index, k = 6) instead of MinHash LSH
        run neardup-simhash "$t" "$name" $((LIMIT + 300)) python3 benches/compare.py run --bin "$BIN" --corpus "$c" \
          --out "$DATA/runs/neardup-simhash-t$t-$name" --threads "$t" --limit "$LIMIT" --summary-out "$RES" \
          --extra "--method simhash"
      done
    fi
  done
done
python3 benches/compare.py table "$RES" > "$DATA/results-table.md"
echo "table: $DATA/results-table.md" >&2
if [ "$UPDATE" = 1 ]; then
  python3 benches/compare.py readme --readme benches/README.md --table "$DATA/results-table.md" \
    --results "$RES" --command "$CMD"
fi
