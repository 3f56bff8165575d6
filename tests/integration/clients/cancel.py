# Cancel through baton: a long query is cancelled by connection.cancel() from another thread; the
# session then goes on. Usage: cancel.py PORT. Prints key=value lines.
import sys
import threading
import time

import psycopg2

port = int(sys.argv[1])
dsn = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port

conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT pg_backend_pid()")
print("backend_pid=%d" % cur.fetchone()[0])
sys.stdout.flush()


def cancel_later():
    time.sleep(1.0)
    conn.cancel()


t = threading.Thread(target=cancel_later)
t.start()
start = time.monotonic()
try:
    cur.execute("SELECT pg_sleep(30)")
    print("sleep_finished=yes")
except psycopg2.Error as e:
    print("sqlstate=%s" % e.pgcode)
    print("message=%s" % str(e).strip().splitlines()[0])
print("elapsed_ok=%s" % (time.monotonic() - start < 8))
t.join()
cur.execute("SELECT 6 * 7")
print("after_cancel=%d" % cur.fetchone()[0])

# The same inside a transaction: the transaction is aborted, rollback, and the session continues.
conn.autocommit = False
cur.execute("SELECT 1")
t = threading.Thread(target=cancel_later)
t.start()
try:
    cur.execute("SELECT pg_sleep(30)")
    print("tx_sleep_finished=yes")
except psycopg2.Error as e:
    print("tx_sqlstate=%s" % e.pgcode)
t.join()
conn.rollback()
cur.execute("SELECT 'still here'")
print("after_tx_cancel=%s" % cur.fetchone()[0])
conn.commit()
conn.close()
print("done")
