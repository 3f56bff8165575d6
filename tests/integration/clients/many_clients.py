# N concurrent psycopg2 clients through baton, all connected at once, each running a short query a few times.
# Usage: many_clients.py PORT N ROUNDS. Prints key=value lines.
import sys
import threading
import time

import psycopg2

port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
dsn = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable connect_timeout=60" % port
threading.stack_size(256 * 1024)

connected = threading.Barrier(n, timeout=180)
done_queries = threading.Barrier(n, timeout=300)
lock = threading.Lock()
results = {"connected": 0, "ok": 0, "sum": 0, "errors": [], "max_open": 0}
open_now = [0]


def client(i):
    conn = None
    try:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with lock:
            results["connected"] += 1
            open_now[0] += 1
            results["max_open"] = max(results["max_open"], open_now[0])
        connected.wait()
        cur = conn.cursor()
        for _ in range(rounds):
            cur.execute("SELECT pg_sleep(0.01), %s::int", (i,))
            v = cur.fetchone()[1]
            with lock:
                results["ok"] += 1
                results["sum"] += v
        done_queries.wait()
    except Exception as e:  # noqa: BLE001 - counted and printed
        with lock:
            results["errors"].append(repr(e)[:200])
        try:
            connected.abort()
            done_queries.abort()
        except Exception:  # noqa: BLE001
            pass
    finally:
        if conn is not None:
            conn.close()


start = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("connected=%d" % results["connected"])
print("max_open_at_once=%d" % results["max_open"])
print("queries_ok=%d" % results["ok"])
print("sum=%d" % results["sum"])
print("errors=%d" % len(results["errors"]))
for e in sorted(set(results["errors"]))[:5]:
    print("error: " + e)
print("seconds=%.1f" % (time.monotonic() - start))
