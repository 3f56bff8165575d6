#!/usr/bin/python3
"""idle_rss.py: opens COUNT idle client connections to a proxy and measures the proxy's resident memory per client.

Usage: idle_rss.py --port P --pid PROXY_PID --count N --endpoint NAME --repeat R --jsonl FILE
                   [--threads T] [--settle S]

Reads VmRSS from /proc/PROXY_PID/status, opens N connections with psycopg2 (user app, database
app, logged in and then left idle: no query is sent), waits S seconds, reads VmRSS again, closes
them all and appends one JSON line: rss before/after in KiB and (after - before) / opened in
bytes per idle client.
"""
import argparse
import concurrent.futures
import json
import resource
import sys
import time

import psycopg2


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--repeat", type=int, default=0)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--settle", type=float, default=1.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.count + 100 and hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)

    def connect(_):
        return psycopg2.connect(host=a.host, port=a.port, user="app", password="app-secret", dbname="app",
                                sslmode="disable", connect_timeout=60)

    before = vm_rss_kib(a.pid)
    started = time.monotonic()
    conns, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.threads) as pool:
        futures = [pool.submit(connect, i) for i in range(a.count)]
        for fut in futures:
            try:
                conns.append(fut.result())
            except Exception as e:  # a refused or failed login: counted, first messages kept
                if len(errors) < 3:
                    errors.append(str(e).strip())
    open_seconds = time.monotonic() - started
    time.sleep(a.settle)
    after = vm_rss_kib(a.pid)
    for c in conns:
        c.close()

    opened = len(conns)
    record = {
        "endpoint": a.endpoint,
        "repeat": a.repeat,
        "count": a.count,
        "opened": opened,
        "failed": a.count - opened,
        "errors": errors,
        "fd_limit": soft,
        "open_seconds": round(open_seconds, 3),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "bytes_per_idle_client": (after - before) * 1024.0 / opened if opened else None,
        "status": "ok" if opened == a.count else "failed",
    }
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(record) + "\n")
    per = "%.0f B" % record["bytes_per_idle_client"] if opened else "-"
    note = "" if opened == a.count else "  FAILED %d: %s" % (a.count - opened, errors[0] if errors else "")
    print("  %-18s idle=%-6d rss %d -> %d KiB, %s per idle client%s" % (a.endpoint, a.count, before, after, per, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
