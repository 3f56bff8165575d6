# Pinning: a client that runs LISTEN, pg_advisory_lock or CREATE TEMP TABLE keeps its server connection
# while others are served; once it leaves, the next user of that connection sees nothing of it.
# Usage: pinning.py BATON_PORT SERVER_PORT KIND (listen | advisory | temp); pool_size must be 2.
import sys
import threading

import psycopg2

port, server_port, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
dsn = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port
monitor_dsn = "host=127.0.0.1 port=%d user=baton_monitor password=monitor-secret dbname=app sslmode=disable" % server_port


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


def one(sql, fetch=True):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    cur = c.cursor()
    cur.execute(sql)
    r = cur.fetchone() if fetch else None
    c.close()
    return r


monitor = psycopg2.connect(monitor_dsn)
monitor.autocommit = True
mcur = monitor.cursor()

pinned = psycopg2.connect(dsn)
pcur = pinned.cursor()
pcur.execute("SELECT pg_backend_pid()")
pid = pcur.fetchone()[0]
if kind == "listen":
    pcur.execute("LISTEN itest_channel")
elif kind == "advisory":
    pcur.execute("SELECT pg_advisory_lock(424242)")
else:
    pcur.execute("CREATE TEMP TABLE itest_pinned_tmp (v int)")
    pcur.execute("INSERT INTO itest_pinned_tmp VALUES (7)")
pinned.commit()

# Other clients are served meanwhile, by the other server connection, while the pinned one goes on
# across transactions on its own.
others = []
errors = []


def other_client():
    try:
        for _ in range(5):
            others.append(one("SELECT pg_backend_pid()")[0])
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append(repr(e))


threads = [threading.Thread(target=other_client) for _ in range(4)]
for t in threads:
    t.start()
pinned_pids = set()
for i in range(5):
    pcur.execute("SELECT pg_backend_pid()")
    pinned_pids.add(pcur.fetchone()[0])
    if kind == "temp":
        pcur.execute("SELECT sum(v) FROM itest_pinned_tmp")
        check(pcur.fetchone()[0] == 7 * (i + 1), "temp table rows across transactions")
        pcur.execute("INSERT INTO itest_pinned_tmp VALUES (7)")
    pinned.commit()
for t in threads:
    t.join(60)
check(not errors, "other clients failed: %s" % errors)
print("pinned_pids=%d" % len(pinned_pids))
print("pinned_kept_pid=%s" % (pinned_pids == {pid}))
print("others_served=%d" % len(others))
print("others_on_pinned_pid=%d" % sum(1 for p in others if p == pid))

if kind == "listen":
    one("NOTIFY itest_channel, 'hello'", fetch=False)
    pcur.execute("SELECT 1")
    pinned.commit()
    pinned.poll()
    print("notifies=%s" % ",".join("%s:%s" % (n.channel, n.payload) for n in pinned.notifies))
elif kind == "advisory":
    mcur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242 AND pid = %s", (pid,))
    print("server_advisory_locks_held=%d" % mcur.fetchone()[0])
else:
    mcur.execute("SELECT count(*) FROM pg_class WHERE relname = 'itest_pinned_tmp' AND relpersistence = 't'")
    print("server_temp_tables=%d" % mcur.fetchone()[0])

pinned.close()

# The next users of the pinned backend: hold two transactions open so both server connections are in use.
import time  # noqa: E402

deadline = time.monotonic() + 10
found = False
while time.monotonic() < deadline and not found:
    c1, c2 = psycopg2.connect(dsn), psycopg2.connect(dsn)
    for c in (c1, c2):
        cur = c.cursor()
        cur.execute("SELECT pg_backend_pid()")
        if cur.fetchone()[0] == pid:
            found = True
            if kind == "listen":
                cur.execute("SELECT count(*) FROM pg_listening_channels()")
                print("next_user_listening=%d" % cur.fetchone()[0])
            elif kind == "advisory":
                cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
                print("next_user_advisory=%d" % cur.fetchone()[0])
            else:
                cur.execute("SELECT to_regclass('pg_temp.itest_pinned_tmp') IS NULL")
                print("next_user_temp_gone=%s" % cur.fetchone()[0])
    c1.close()
    c2.close()
print("reached_pinned_backend=%s" % found)
if kind == "advisory":
    mcur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242")
    print("server_advisory_after=%d" % mcur.fetchone()[0])
elif kind == "temp":
    mcur.execute("SELECT count(*) FROM pg_class WHERE relname = 'itest_pinned_tmp' AND relpersistence = 't'")
    print("server_temp_after=%d" % mcur.fetchone()[0])
monitor.close()
print("done")
