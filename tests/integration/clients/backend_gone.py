# A pooled server connection whose backend was terminated while idle is not reused: the client's
# next statement runs on a new backend, without an error.
# Usage: backend_gone.py BATON_PORT PRIMARY_PORT ROUNDS. Prints key=value lines; exits non-zero on
# the first failed check. Run against baton with pool_size 1 and one worker, so the client's next
# statement can only get the terminated backend's connection or a new one.
import sys
import time

import psycopg2

baton_port, primary_port, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
app = psycopg2.connect("host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable"
                       % baton_port)
app.autocommit = True
admin = psycopg2.connect("host=127.0.0.1 port=%d user=baton_monitor password=monitor-secret dbname=postgres "
                         "sslmode=disable" % primary_port)
admin.autocommit = True
ac, mc = app.cursor(), admin.cursor()


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


pids = []
errors = 0
ac.execute("SELECT pg_backend_pid()")
pid = ac.fetchone()[0]
for i in range(rounds):
    mc.execute("SELECT pg_terminate_backend(%s)", (pid,))
    check(mc.fetchone()[0] is True, "pg_terminate_backend(%d) in round %d" % (pid, i))
    # Bounded wait until the backend is gone (its connection to baton is closed by then).
    for _ in range(100):
        mc.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        if mc.fetchone()[0] == 0:
            break
        time.sleep(0.05)
    time.sleep(0.1)
    try:
        ac.execute("SELECT pg_backend_pid()")
        new_pid = ac.fetchone()[0]
    except psycopg2.Error as e:
        errors += 1
        print("error in round %d: %s" % (i, e), flush=True)
        break
    pids.append(pid)
    pid = new_pid
pids.append(pid)
print("rounds=%d" % rounds)
print("errors=%d" % errors)
print("distinct_pids=%d" % len(set(pids)))
print("done", flush=True)
