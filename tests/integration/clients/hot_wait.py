# Hot waits and parking as the admin API counts them: idle clients with and without their coroutine.
# Usage: hot_wait.py PORT ADMIN_PORT. Prints key=value lines.
import json
import sys
import time
import urllib.request

import psycopg2

port, admin = int(sys.argv[1]), int(sys.argv[2])
dsn = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port
QUIET = 3.5  # a hot wait ends within two maintenance ticks of 1 s: this leaves room on a loaded machine


def hot():
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/clients" % admin, timeout=10) as r:
        return json.load(r)["total"]["idle_hot"]


def query(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchone()[0]


conn = psycopg2.connect(dsn)
conn.autocommit = True
time.sleep(QUIET)
print("hot_after_login_and_quiet=%d" % hot())
query(conn, "SELECT 1")
print("hot_after_query=%d" % hot())
time.sleep(QUIET)
print("hot_after_quiet=%d" % hot())
print("answer_after_park=%d" % query(conn, "SELECT 42"))
print("hot_after_second_query=%d" % hot())
# Requests longer than what a hot wait reads at first (256 bytes), or than one read of a parked
# session (70,000 bytes arrive in several): the session waits for the whole message.
print("long_answers=%s" % ",".join(str(query(conn, "SELECT length('%s')" % ("x" * n))) for n in (200, 300, 70000)))
fresh = psycopg2.connect(dsn)
fresh.autocommit = True
print("long_first_query=%d" % query(fresh, "SELECT length('%s')" % ("y" * 70000)))
fresh.close()

others = [psycopg2.connect(dsn) for _ in range(10)]
for i, o in enumerate(others):
    o.autocommit = True
    query(o, "SELECT %d" % i)
# The first client may still be hot too; count the ten only.
now_hot = hot()
print("hot_with_ten=%d" % (now_hot - 1 if now_hot > 10 else now_hot))
time.sleep(QUIET)
print("hot_with_ten_after_quiet=%d" % hot())
print("ten_answers_after_park=%d" % sum(query(o, "SELECT %d" % i) for i, o in enumerate(others)))
for o in others:
    o.close()
conn.close()
