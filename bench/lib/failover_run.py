#!/usr/bin/python3
"""failover_run.py: one failover measurement: kill -9 of the primary under write load through baton, as a JSON line.

Usage: failover_run.py --cluster DIR --listen-port P --mode async|sync --repeat R --jsonl FILE
                       [--writers 4] [--warmup-acks 200] [--after-s 2] [--resume-timeout-s 60]
                       [--work DIR]

DIR is a running three-node cluster made by tests/fixtures/pg_cluster.sh (node0 the primary) and
baton listens on P in front of it with automatic failover. The script starts
tests/integration/clients/write_load.py through baton, waits for --warmup-acks acknowledged
writes, kills node0's postmaster (`pg_cluster.sh signal DIR 0 KILL`), waits until a write is
acknowledged by another node (at most --resume-timeout-s), lets the load run --after-s more
seconds, stops it, finds the node that is primary now and compares the acknowledged ids with
the rows it holds. Appends one JSON object to FILE:
  resume_ms   kill -> first write acknowledged by another node
  window_ms   last write acknowledged before the kill -> that first write elsewhere
  max_gap_ms  the longest time without any acknowledged write during the run
  errors_total, errors_by_sqlstate, reconnects (client connections that were closed),
  acked, lost (acknowledged but missing on the new primary), idle_ok (an idle connection's
  query after the failover worked on the same connection), status ("ok" or "failed") and why.
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "pg_cluster.sh")
WRITE_LOAD = os.path.join(REPO, "tests", "integration", "clients", "write_load.py")
PY = "/usr/bin/python3"


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def fixture(*args, timeout=120):
    return subprocess.run(["bash", FIXTURE] + list(args), capture_output=True, text=True, timeout=timeout)


def ports_of(cluster):
    with open(os.path.join(cluster, "cluster.env")) as f:
        for line in f:
            if line.startswith("PORTS="):
                return [int(p) for p in line.split("=", 1)[1].strip().strip('"').split()]
    raise RuntimeError("no PORTS in cluster.env")


def wait_for(timeout, check, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def measure(a, record):
    work = a.work
    os.makedirs(work, exist_ok=True)
    status, stop, fault, summary_path = (os.path.join(work, n) for n in ("status.json", "stop", "fault", "summary.json"))
    for path in (status, stop, fault, summary_path):
        if os.path.exists(path):
            os.remove(path)
    ports = ports_of(a.cluster)
    table = "failover_bench"
    cmd = [PY, "-B", WRITE_LOAD, "run", "--port", str(a.listen_port), "--table", table, "--writers", str(a.writers),
           "--status", status, "--stop-file", stop, "--fault-file", fault, "--out", summary_path,
           "--max-seconds", str(a.resume_timeout_s + a.after_s + 120)]
    with open(os.path.join(work, "write_load.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for(60, lambda: read_json(status).get("acked", 0) >= a.warmup_acks, proc):
            record["why"] = "the load did not reach %d acknowledged writes" % a.warmup_acks
            return
        kill = fixture("signal", a.cluster, "0", "KILL", timeout=30)
        kill_epoch = time.time()
        with open(fault, "w") as f:
            f.write("%.6f\n" % kill_epoch)
        if kill.returncode != 0:
            record["why"] = "kill failed: " + kill.stderr.strip()
            return
        record["kill_epoch"] = kill_epoch
        moved = wait_for(a.resume_timeout_s,
                         lambda: read_json(status).get("last_ack_port") not in (None, ports[0]), proc)
        if not moved:
            record["why"] = "no write acknowledged by another node within %d s of the kill" % a.resume_timeout_s
        time.sleep(a.after_s)
    finally:
        with open(stop, "w") as f:
            f.write("stop\n")
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            record["why"] = record.get("why") or "write_load.py did not stop"

    summary = read_json(summary_path)
    if not summary:
        record["why"] = record.get("why") or "write_load.py wrote no summary"
        return
    around = summary.get("fault") or {}
    record.update({
        "acked": summary.get("acked"),
        "errors_total": summary.get("errors_total"),
        "errors_by_sqlstate": summary.get("errors_by_sqlstate"),
        "first_errors": [e.get("sqlstate", "") + " " + e.get("message", "")[:160] for e in summary.get("errors", [])[:3]],
        "reconnects": summary.get("reconnects"),
        "max_gap_ms": summary.get("max_gap_ms"),
        "resume_ms": around.get("resume_ms"),
        "window_ms": around.get("window_ms"),
        "acks_on_old_primary_after_kill": around.get("acks_on_old_port_after_fault"),
        "idle_ok": bool((summary.get("idle") or {}).get("ok")),
    })
    # Errors of transactions begun 100 ms or more after both the kill and the old primary's last
    # acknowledged write: those reached no live backend, so they should have waited for the new
    # primary (the rest were in flight when the backends died). None when write_load.py did not
    # report the old primary's last ack.
    last_old = around.get("last_ack_on_old_port_epoch")
    kill_epoch = record.get("kill_epoch")
    if last_old is not None and kill_epoch is not None:
        cutoff = max(kill_epoch, last_old) + 0.1
        record["late_errors"] = sum(1 for e in summary.get("errors", []) if (e.get("started_epoch") or 0) > cutoff)

    # The node that is primary now, and the acknowledged ids it holds.
    new_primary = None
    for node in range(1, len(ports)):
        r = fixture("role", a.cluster, str(node), timeout=30)
        if r.stdout.strip() == "primary":
            new_primary = node
            break
    record["new_primary"] = "node%d" % new_primary if new_primary is not None else None
    if new_primary is None:
        record["why"] = record.get("why") or "no standby is primary after the kill"
        return
    v = subprocess.run([PY, "-B", WRITE_LOAD, "verify", "--summary", summary_path, "--port", str(ports[new_primary])],
                       capture_output=True, text=True, timeout=120)
    checked = {}
    try:
        checked = json.loads(v.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        record["why"] = record.get("why") or "verify failed: " + (v.stderr or v.stdout).strip()[:300]
        return
    record["lost"] = checked.get("lost")
    record["lost_ids"] = checked.get("lost_ids", [])[:10]
    record["present_not_acked"] = checked.get("present_not_acked")
    if "why" not in record and record.get("resume_ms") is not None:
        record["status"] = "ok"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--mode", choices=("async", "sync"), required=True)
    ap.add_argument("--repeat", type=int, required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--warmup-acks", type=int, default=200)
    ap.add_argument("--after-s", type=float, default=2.0)
    ap.add_argument("--resume-timeout-s", type=int, default=60)
    ap.add_argument("--work")
    a = ap.parse_args()
    a.work = a.work or os.path.join(a.cluster, "load")

    record = {"mode": a.mode, "repeat": a.repeat, "writers": a.writers, "status": "failed"}
    try:
        measure(a, record)
    except Exception as e:  # the record says what went wrong; the benchmark goes on
        record["why"] = record.get("why") or "%s: %s" % (type(e).__name__, e)
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(record) + "\n")

    def ms(v):
        return "-" if v is None else "%.0f ms" % v

    note = "" if record["status"] == "ok" else "  FAILED: " + record.get("why", "?")
    print("  %-5s repeat %d: resume %s, window %s, errors %s, lost %s, new primary %s%s" % (
        a.mode, a.repeat, ms(record.get("resume_ms")), ms(record.get("window_ms")), record.get("errors_total", "-"),
        record.get("lost", "-"), record.get("new_primary") or "-", note), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
