#!/usr/bin/env python3
# Which server answers each kind of statement sent through baton: counts of inet_server_port().
#
# Usage: route_probe.py PORT READS [reads-only]
# One autocommit connection (transaction pooling: each statement is its own transaction) runs
# READS plain reads, then each case below a few times; prints one JSON object mapping each case to
# {port: count}. Every statement reports the port of the server that ran it.
import json
import sys

import psycopg2

port, reads = int(sys.argv[1]), int(sys.argv[2])
reads_only = len(sys.argv) > 3 and sys.argv[3] == "reads-only"
conn = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app-secret", dbname="app",
                        sslmode="disable", connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()
out = {}


def count(case, sql, times, params=None):
    seen = out.setdefault(case, {})
    for _ in range(times):
        cur.execute(sql, params)
        p = str(cur.fetchone()[0])
        seen[p] = seen.get(p, 0) + 1


count("read", "SELECT inet_server_port()", reads)
if reads_only:
    print(json.dumps(out, sort_keys=True))
    sys.exit(0)
count("read_with_parameter", "SELECT inet_server_port() WHERE %s = 1", 20, (1,))
count("write", "INSERT INTO route_rows (port) VALUES (inet_server_port()) RETURNING port", 20)
count("volatile", "SELECT inet_server_port() FROM (SELECT nextval('route_seq')) s", 10)
count("for_update", "SELECT inet_server_port() FROM route_rows LIMIT 1 FOR UPDATE", 10)
count("hint_primary", "/* baton:primary */ SELECT inet_server_port()", 10)
count("cte_insert",
      "WITH w AS (INSERT INTO route_rows (port) VALUES (0) RETURNING 1) SELECT inet_server_port() FROM w", 10)
# An explicit transaction: every statement in it on the primary, including its reads.
seen = out.setdefault("in_transaction", {})
for _ in range(5):
    cur.execute("BEGIN")
    cur.execute("SELECT inet_server_port()")
    p = str(cur.fetchone()[0])
    seen[p] = seen.get(p, 0) + 1
    cur.execute("COMMIT")
# BEGIN READ ONLY: the whole transaction may run on a standby.
seen = out.setdefault("read_only_transaction", {})
for _ in range(10):
    cur.execute("BEGIN READ ONLY")
    cur.execute("SELECT inet_server_port()")
    p = str(cur.fetchone()[0])
    cur.execute("SELECT inet_server_port()")
    q = str(cur.fetchone()[0])
    cur.execute("COMMIT")
    key = p if p == q else "split:" + p + "/" + q
    seen[key] = seen.get(key, 0) + 1
print(json.dumps(out, sort_keys=True))
