#!/usr/bin/python3
"""failover_report.py: turns a failover benchmark directory's runs into results.json and results.md, and prints the table.

Usage: failover_report.py DIR
DIR holds meta.json (settings of the run) and runs.jsonl (one line per kill, written by
failover_run.py), as bench/failover.sh writes them. Every run is kept in results.json; the table
shows medians per replication mode over the runs that succeeded, and the worst case.
"""
import json
import os
import statistics
import sys

GOAL_RESUME_MS = 2000  # issue 6: writes resume within 2 s of a kill -9 of the primary


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def max_of(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def summarize(meta, runs):
    rows = []
    for mode in meta["modes"]:
        group = [r for r in runs if r["mode"] == mode]
        if not group:
            continue
        ok = [r for r in group if r["status"] == "ok"]
        errors = {}
        for r in ok:
            for state, n in (r.get("errors_by_sqlstate") or {}).items():
                errors[state] = errors.get(state, 0) + n
        resume = median_of(r.get("resume_ms") for r in ok)
        rows.append({
            "mode": mode,
            "runs": len(group),
            "runs_ok": len(ok),
            "status": "ok" if len(ok) == len(group) else ("failed" if not ok else "partly failed"),
            "why": [r.get("why") for r in group if r["status"] != "ok"][:3],
            "resume_ms": resume,
            "resume_ms_max": max_of(r.get("resume_ms") for r in ok),
            "window_ms": median_of(r.get("window_ms") for r in ok),
            "max_gap_ms": median_of(r.get("max_gap_ms") for r in ok),
            "errors": median_of(r.get("errors_total") for r in ok),
            "errors_by_sqlstate": errors,
            # Begun after the old primary stopped answering (failover_run.py): should have waited.
            "late_errors": sum(r["late_errors"] for r in ok if r.get("late_errors") is not None)
            if any(r.get("late_errors") is not None for r in ok) else None,
            "reconnects": median_of(r.get("reconnects") for r in ok),
            "lost": median_of(r.get("lost") for r in ok),
            "lost_max": max_of(r.get("lost") for r in ok),
            "idle_ok": sum(1 for r in ok if r.get("idle_ok")),
            "goal_resume_met": None if resume is None else resume <= GOAL_RESUME_MS,
        })
    return rows


def fmt(value, digits=0):
    if value is None:
        return "-"
    return ("%." + str(digits) + "f") % value


def markdown(meta, rows, runs):
    lines = [
        "# baton failover benchmark, %s" % meta["started"],
        "",
        "kill -9 of the primary's postmaster under write load through baton (%d writers, one INSERT per "
        "transaction, %s ms pause); three-node PostgreSQL 15 cluster, %d repeat(s) per mode; baton's "
        "failover settings: %s. Host: %s, %d CPUs. Medians over the runs that succeeded."
        % (meta["writers"], meta["interval_ms"], meta["repeats"], meta["failover_settings"], meta["host"],
           meta["cpus"]),
        "",
        "| replication | runs ok | resume (median / max) | window | longest gap | client errors | reconnects "
        "| lost writes (median / max) | idle client ok | resume <= 2 s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        errors = fmt(r["errors"])
        if r["errors_by_sqlstate"]:
            errors += " (" + ", ".join("%s: %d" % kv for kv in sorted(r["errors_by_sqlstate"].items())) + ")"
        if r.get("late_errors") is not None:
            errors += "; %d begun late" % r["late_errors"]
        goal = "-" if r["goal_resume_met"] is None else ("met" if r["goal_resume_met"] else "MISSED")
        lines.append("| %s | %d/%d | %s / %s ms | %s ms | %s ms | %s | %s | %s / %s | %d/%d | %s |" % (
            r["mode"], r["runs_ok"], r["runs"], fmt(r["resume_ms"]), fmt(r["resume_ms_max"]), fmt(r["window_ms"]),
            fmt(r["max_gap_ms"]), errors, fmt(r["reconnects"]), fmt(r["lost"]), fmt(r["lost_max"]), r["idle_ok"],
            r["runs_ok"], goal))
    lines += ["", "Every run:", "",
              "| replication | repeat | status | new primary | resume ms | window ms | errors | lost |",
              "|---|---:|---|---|---:|---:|---:|---:|"]
    for r in runs:
        status = r["status"] if r["status"] == "ok" else "FAILED: " + (r.get("why") or "?")
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["mode"], r["repeat"], status, r.get("new_primary") or "-", fmt(r.get("resume_ms")),
            fmt(r.get("window_ms")),
            "%s (%s late)" % (r.get("errors_total", "-"), r["late_errors"]) if r.get("late_errors") is not None
            else r.get("errors_total", "-"),
            r.get("lost", "-")))
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        print("usage: failover_report.py DIR", file=sys.stderr)
        return 2
    d = sys.argv[1]
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    runs = read_jsonl(os.path.join(d, "runs.jsonl"))
    rows = summarize(meta, runs)
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": rows, "runs": runs}, f, indent=1)
    md = markdown(meta, rows, runs)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
