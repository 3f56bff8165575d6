#!/usr/bin/env python3
# Transactions through baton while it shuts down: which ones committed, and where errors struck.
#
# Usage: drain_load.py PORT TABLE THREADS SECONDS
# Each thread loops: INSERT (id, 'a'), pg_sleep(0.05), INSERT (id, 'b'), COMMIT, in one transaction on
# its own connection. An error at the transaction's first statement (its BEGIN, sent by psycopg2 with
# it) counts as "at_start": the client was turned away between transactions. An error after the
# transaction began counts as "mid_flight": that is what a graceful drain must never do. A thread
# stops at its first error or when SECONDS have passed; it tries no new connection after an error.
# Prints one JSON object: committed transaction ids, errors by kind and SQLSTATE (with the last notice
# the connection received, where the server's FATAL lands when it arrives between queries).
import json
import sys
import threading
import time

import psycopg2

port, table, threads, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
lock = threading.Lock()
committed = []
errors = {"at_start": {}, "mid_flight": {}, "connect": {}}


def note(kind, e, conn=None):
    code = getattr(e, "pgcode", None) or "none"
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # A FATAL that reaches an idle libpq connection arrives as a notice, then the query finds the
    # connection closed (as with PostgreSQL's own shutdown): keep what the notice said.
    notices = [n.strip() for n in (conn.notices if conn is not None else [])]
    if notices:
        text += " | notice: " + notices[-1]
    with lock:
        errors[kind].setdefault(code, []).append(text)


def worker(k):
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app-secret", dbname="app",
                                sslmode="disable", connect_timeout=10)
    except Exception as e:  # noqa: BLE001
        note("connect", e)
        return
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        tx = k * 1000000 + n
        n += 1
        cur = conn.cursor()
        began = False
        try:
            cur.execute("INSERT INTO " + table + " VALUES (%s, 'a')", (tx,))
            began = True
            cur.execute("SELECT pg_sleep(0.05)")
            cur.execute("INSERT INTO " + table + " VALUES (%s, 'b')", (tx,))
            conn.commit()
            with lock:
                committed.append(tx)
        except Exception as e:  # noqa: BLE001
            note("mid_flight" if began else "at_start", e, conn)
            break
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join(seconds + 60)
print(json.dumps({"committed": committed, "errors": errors}))
