#!/bin/bash
# The input-format benchmark (benches/README.md, "Input formats"): the same 100k-article
# corpus as JSONL, Parquet and a gzipped WARC of HTML pages, `neardup dedup` timed on each.
#
#   cargo build --release --example bench_formats
#   benches/formats.sh [DIR] [REPEATS]        # DIR defaults to /work/bench15, REPEATS to 3
#
# Writes DIR/corpus.jsonl (`neardup generate --docs 100000 --seed 100`), DIR/corpus.parquet
# and DIR/corpus.warc.gz (examples/bench_formats.rs), then DIR/runs.tsv: one line per run
# with the load average before it, /usr/bin/time's wall, user and system seconds and peak
# RSS, and the run's own stage seconds from summary.json. The corpus files are made once;
# delete them to make them again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/work/bench15}
repeats=${2:-3}
bin=$root/target/release/neardup
conv=$root/target/release/examples/bench_formats
mkdir -p "$dir"
cd "$dir"
[ -f corpus.jsonl ] || "$bin" generate --docs 100000 --seed 100 --out corpus.jsonl
if [ ! -f corpus.parquet ] || [ ! -f corpus.warc.gz ]; then
  "$conv" corpus.jsonl . | tee sizes.txt
fi
out=runs.tsv
: > "$out"
for rep in $(seq "$repeats"); do
  for case in jsonl:corpus.jsonl:2 parquet:corpus.parquet:2 warc:corpus.warc.gz:1 warc:corpus.warc.gz:2; do
    IFS=: read -r label input threads <<< "$case"
    load=$(cut -d' ' -f1 /proc/loadavg)
    o=out-$label-t$threads
    rm -rf "$o"
    /usr/bin/time -f "%e %U %S %M" -o time.txt \
      "$bin" dedup "$input" --out "$o" --threads "$threads" --quiet > /dev/null
    secs=$(python3 -c "import json;d=json.load(open('$o/summary.json'))['seconds'];print(' '.join(f'{k}={v:.2f}' for k,v in sorted(d.items())))")
    printf '%s\t%s\tt%s\tload=%s\t%s\t%s\n' "$rep" "$label" "$threads" "$load" "$(cat time.txt)" "$secs" | tee -a "$out"
  done
done
