#!/usr/bin/python3
"""record_run.py: turns one pgbench run (its output, per-transaction logs, proxy CPU ticks) into a JSON line.

Usage: record_run.py --jsonl FILE --output PGBENCH_OUTPUT --log-dir DIR --rc N
                     --endpoint E --scenario S --protocol M --script select|tpcb
                     --clients C --jobs J --repeat R --duration D
                     [--cpu-before TICKS --cpu-after TICKS --clk-tck HZ]

Latency percentiles come from pgbench's per-transaction log (-l): every line is
"client_id transaction_no time script_no time_epoch time_us [...]", where `time` is the
transaction's latency in microseconds (or "failed"/"skipped" for transactions that did not
complete). The log files are removed once read.
"""
import argparse
import glob
import json
import os
import re
import sys


def parse_output(text):
    """The figures pgbench prints at the end of a run (PostgreSQL 15 wording)."""
    out = {"transactions": None, "failed_transactions": None, "tps": None, "latency_avg_ms": None}
    m = re.search(r"number of transactions actually processed:\s*(\d+)", text)
    if m:
        out["transactions"] = int(m.group(1))
    m = re.search(r"number of failed transactions:\s*(\d+)", text)
    if m:
        out["failed_transactions"] = int(m.group(1))
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    if m:
        out["tps"] = float(m.group(1))
    m = re.search(r"latency average = ([0-9.]+) ms", text)
    if m:
        out["latency_avg_ms"] = float(m.group(1))
    return out


def error_lines(text, limit=5):
    """The first lines of pgbench's output that report errors or aborted clients."""
    found = []
    for line in text.splitlines():
        low = line.lower()
        if "error" in low or "abort" in low or "fatal" in low or "could not" in low:
            found.append(line.strip())
            if len(found) == limit:
                break
    return found


def latencies_us(log_dir):
    values = []
    files = glob.glob(os.path.join(log_dir, "pgbench_log.*"))
    for path in files:
        with open(path, "r", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    values.append(int(fields[2]))
        os.remove(path)
    return values


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-p * len(sorted_values) // 100)))  # ceil(p/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main():
    ap = argparse.ArgumentParser()
    for name in ("jsonl", "output", "log-dir", "endpoint", "scenario", "protocol", "script"):
        ap.add_argument("--" + name, required=True)
    for name in ("rc", "clients", "jobs", "repeat", "duration"):
        ap.add_argument("--" + name, required=True, type=int)
    ap.add_argument("--cpu-before", type=int)
    ap.add_argument("--cpu-after", type=int)
    ap.add_argument("--clk-tck", type=int, default=100)
    a = ap.parse_args()

    with open(a.output, "r", errors="replace") as f:
        text = f.read()
    figures = parse_output(text)
    lat = sorted(latencies_us(a.log_dir))
    p50 = percentile(lat, 50)
    p99 = percentile(lat, 99)

    cpu_us_per_tx = None
    cpu_seconds = None
    if a.cpu_before is not None and a.cpu_after is not None:
        cpu_seconds = (a.cpu_after - a.cpu_before) / a.clk_tck
        if figures["transactions"]:
            cpu_us_per_tx = cpu_seconds * 1e6 / figures["transactions"]

    errors = error_lines(text)
    ok = a.rc == 0 and figures["tps"] is not None and (figures["failed_transactions"] or 0) == 0
    record = {
        "endpoint": a.endpoint,
        "scenario": a.scenario,
        "protocol": a.protocol,
        "script": a.script,
        "clients": a.clients,
        "jobs": a.jobs,
        "repeat": a.repeat,
        "duration_s": a.duration,
        "status": "ok" if ok else "failed",
        "exit_code": a.rc,
        "errors": errors,
        "tps": figures["tps"],
        "transactions": figures["transactions"],
        "failed_transactions": figures["failed_transactions"],
        "latency_avg_ms": figures["latency_avg_ms"],
        "latency_samples": len(lat),
        "latency_p50_ms": p50 / 1000.0 if p50 is not None else None,
        "latency_p99_ms": p99 / 1000.0 if p99 is not None else None,
        "proxy_cpu_seconds": cpu_seconds,
        "proxy_cpu_us_per_tx": cpu_us_per_tx,
    }
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(record) + "\n")
    tps = "%.1f" % figures["tps"] if figures["tps"] is not None else "-"
    note = "" if ok else "  FAILED: " + (errors[0] if errors else "exit %d" % a.rc)
    print("  %-18s %-16s c=%-3d tps=%s%s" % (a.endpoint, a.scenario, a.clients, tps, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
