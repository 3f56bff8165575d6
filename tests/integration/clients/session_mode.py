# Session pooling: a client keeps one backend for its whole session; after it leaves, the server
# connection was reset (a SET it made is gone for the next client of that backend).
# Usage: session_mode.py PORT USER PASSWORD (the user's pool_size must be 1).
import sys

import psycopg2

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dsn = "host=127.0.0.1 port=%d user=%s password=%s dbname=app sslmode=disable" % (port, user, password)

first = psycopg2.connect(dsn)
cur = first.cursor()
pids = set()
for i in range(5):
    cur.execute("SELECT pg_backend_pid()")
    pids.add(cur.fetchone()[0])
    first.commit()
cur.execute("SET work_mem = '7777kB'")
first.commit()
cur.execute("SELECT current_setting('work_mem'), pg_backend_pid()")
wm, pid = cur.fetchone()
first.commit()
pids.add(pid)
print("first_pids=%d" % len(pids))
print("first_work_mem=%s" % wm)
print("first_pid=%d" % pid)
sys.stdout.flush()
first.close()

second = psycopg2.connect(dsn)
cur = second.cursor()
cur.execute("SELECT current_setting('work_mem'), pg_backend_pid()")
wm2, pid2 = cur.fetchone()
second.commit()
print("second_same_backend=%s" % (pid2 == pid))
print("second_work_mem=%s" % wm2)
second.close()
print("done")
