"""Per stage of the Spark job's timing.json: its tasks' seconds, the JVM's CPU seconds in
them, and the bytes they shuffled, from Spark's event log (a run of benches/spark.sh with
SPARK_CONF="--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://DIR").

    python3 benches/spark_eventlog.py DIR OUT/CORPUS.spark/timing.json

A task counts for the timing.json stage whose window its finish time falls in; the windows
are aligned so that the job's last task ends with the stage "write" (timing.json holds
durations, the event log clock times). Task seconds are executorRunTime: the Python
workers' time inside a task is in them, while "JVM CPU s" (executorCpuTime) is the JVM
thread's alone. Needs the `zstd` command (Spark compresses event logs with it)."""

import glob
import json
import subprocess
import sys


def main(log_dir: str, timing_path: str) -> None:
    # one application's log: a rolling log's directory of parts, or one file
    logs = sorted(glob.glob(f"{log_dir}/*/events_*")) or sorted(glob.glob(f"{log_dir}/*"))
    if not logs:
        sys.exit(f"no event log in {log_dir}")
    raw = b"".join(subprocess.run(["zstd", "-dcf", f], capture_output=True, check=True).stdout for f in logs)
    stages = json.load(open(timing_path))["stages"]
    ends, total = [], 0.0
    for s in stages:
        total += s["seconds"]
        ends.append((total, s["stage"]))
    tasks = []
    for line in raw.splitlines():
        e = json.loads(line)
        if e["Event"] != "SparkListenerTaskEnd":
            continue
        m = e.get("Task Metrics") or {}
        write = (m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
        read = m.get("Shuffle Read Metrics") or {}
        tasks.append(
            (
                e["Task Info"]["Finish Time"] / 1000,
                m.get("Executor Run Time", 0) / 1000,
                m.get("Executor CPU Time", 0) / 1e9,
                write,
                read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0),
            )
        )
    start = max(t[0] for t in tasks) - total
    sums = {name: [0.0, 0.0, 0, 0, 0] for _, name in ends}
    for finish, run, cpu, write, read in tasks:
        at = finish - start
        name = next((n for end, n in ends if at <= end + 0.5), ends[-1][1])
        for i, v in enumerate((run, cpu, write, read, 1)):
            sums[name][i] += v
    print("| stage | wall s | task s | JVM CPU s | shuffle write MB | shuffle read MB | tasks |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for s in stages:
        run, cpu, write, read, n = sums[s["stage"]]
        print(f"| {s['stage']} | {s['seconds']:.1f} | {run:.1f} | {cpu:.1f} | {write / 1e6:.0f} | {read / 1e6:.0f} | {n} |")
    run, cpu, write, read, n = (sum(v[i] for v in sums.values()) for i in range(5))
    print(f"| total | {total:.1f} | {run:.1f} | {cpu:.1f} | {write / 1e6:.0f} | {read / 1e6:.0f} | {n} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
