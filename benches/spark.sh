#!/usr/bin/env bash
# The Spark job beside the CLI on the same corpora: wall time, CPU seconds (user + sys of
# the whole process tree that `time` can see), peak RSS of the largest process, and the
# Spark job's stage seconds from timing.json. Prints a Markdown table.
#
#   PY=/path/to/venv/bin/python ND=target/release/neardup bash benches/spark.sh CORPUS.jsonl...
#
# PY: a venv with the neardup wheel and pyspark[sql] installed (python/README.md);
# ND: the CLI; MASTER (default local[2]); OUT (default a temporary directory);
# SPARK_CONF: extra spark-submit arguments (e.g. "--driver-memory 2g"); LOCAL (default
# OUT/local): Spark's local directory (`spark.local.dir`), emptied after each run;
# JVM_OPTS (default none): the driver's and executors' JVM options (python/README.md
# "Run it" on -XX:TieredStopAtLevel=1 for small inputs); CLI_RUNS
# (default 3): runs of the CLI per corpus, each a row, then their median, the
# denominator a ratio to the CLI should use (one run of the CLI moved by 20% between
# two runs on an idle machine).
set -euo pipefail
PY=${PY:?set PY to the venv python with neardup and pyspark}
ND=${ND:-target/release/neardup}
MASTER=${MASTER:-local[2]}
OUT=${OUT:-$(mktemp -d)}
JVM_OPTS=${JVM_OPTS:-}
CLI_RUNS=${CLI_RUNS:-3}
mkdir -p "$OUT"
LOCAL=${LOCAL:-$OUT/local}
SPARK_HOME=$("$PY" -c 'import pyspark, os; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1
CLIPY=$("$PY" -c 'import neardup.cli as c; print(c.__file__)')
SUBMIT=$(dirname "$PY")/spark-submit
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); nproc: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| corpus | MB | run | wall s | CPU s | peak RSS MB | CPU s vs CLI | local dir peak MB | stages (s) |"
echo "|---|--:|---|--:|--:|--:|--:|--:|---|"
for corpus in "$@"; do
  name=$(basename "$corpus")
  mb=$(( $(stat -c %s "$corpus") / 1000000 ))
  walls=()
  cpus=()
  for run in $(seq "$CLI_RUNS"); do
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.cli.time" "$ND" dedup "$corpus" --out "$OUT/$name.cli" --quiet >/dev/null
    read -r cw cu cs cm <"$OUT/$name.cli.time"
    walls+=("$cw")
    cpus+=("$(echo "$cu + $cs" | bc)")
    echo "| $name | $mb | CLI (run $run) | $cw | ${cpus[-1]} | $((cm / 1024)) | | | |"
  done
  # the median run's wall and CPU seconds (each sorted on its own)
  cw=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (CLI_RUNS + 1) / 2 ))p")
  ccpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (CLI_RUNS + 1) / 2 ))p")
  echo "| $name | $mb | CLI (median of $CLI_RUNS) | $cw | $ccpu | | 1 | | |"
  rm -rf "$LOCAL" && mkdir -p "$LOCAL"
  # the local directory's size every 2 s, its peak kept in a file (the sampler is this
  # script's own background job, stopped by its pid)
  (peak=0; while :; do
     # du fails on files Spark deletes while it walks; with pipefail and -e that ended
     # the sampler mid-run
     kb=$(du -sk "$LOCAL" 2>/dev/null | cut -f1 || true); [ "${kb:-0}" -gt "$peak" ] && peak=$kb && echo "$peak" >"$OUT/$name.local.kb"
     sleep 2
   done) &
  sampler=$!
  trap 'kill "$sampler" 2>/dev/null || true' EXIT
  echo 0 >"$OUT/$name.local.kb"
  # shellcheck disable=SC2086
  # TMPDIR: the job's checkpoint directory goes there too
  TMPDIR=$LOCAL /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.spark.time" "$SUBMIT" --master "$MASTER" \
    --conf spark.ui.enabled=false --conf spark.driver.host=127.0.0.1 \
    --conf spark.driver.bindAddress=127.0.0.1 --conf spark.pyspark.python="$PY" \
    --conf spark.local.dir="$LOCAL" \
    ${JVM_OPTS:+--driver-java-options "$JVM_OPTS" --conf "spark.executor.extraJavaOptions=$JVM_OPTS"} ${SPARK_CONF:-} \
    "$CLIPY" "$corpus" --out "$OUT/$name.spark" 2>"$OUT/$name.spark.log"
  kill "$sampler" && wait "$sampler" 2>/dev/null || true
  rm -rf "$LOCAL"
  read -r sw su ss sm <"$OUT/$name.spark.time"
  scpu=$(echo "$su + $ss" | bc)
  stages=$("$PY" - "$OUT/$name.spark/timing.json" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
print(", ".join("%s %.1f" % (s["stage"], s["seconds"]) for s in t["stages"]))
PYEOF
)
  echo "| $name | $mb | Spark $MASTER | $sw | $scpu | $((sm / 1024)) | $(echo "scale=1; $scpu / $ccpu" | bc) | $(( $(cat "$OUT/$name.local.kb") / 1024 )) | $stages |"
  "$PY" "$(dirname "$0")/../python/tests/spark_equals_cli.py" "$OUT/$name.cli/docs.jsonl" "$OUT/$name.spark/docs" >&2
done
