# psycopg2 through baton: commit/rollback visibility, errors in transactions, COPY both ways, 100k-row results.
# Usage: psycopg_basics.py PORT. Prints key=value lines; exits non-zero on the first failed check.
import io
import sys

import psycopg2

port = int(sys.argv[1])
dsn = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


conn = psycopg2.connect(dsn)
other = psycopg2.connect(dsn)
other.autocommit = True
cur = conn.cursor()
ocur = other.cursor()
cur.execute("DROP TABLE IF EXISTS itest_tx")
cur.execute("CREATE TABLE itest_tx (id int PRIMARY KEY, note text)")
conn.commit()

# A committed row is visible to another connection; a rolled-back one is not.
cur.execute("INSERT INTO itest_tx VALUES (1, 'committed')")
ocur.execute("SELECT count(*) FROM itest_tx")
check(ocur.fetchone()[0] == 0, "uncommitted row invisible to the other connection")
conn.commit()
cur.execute("INSERT INTO itest_tx VALUES (2, 'rolled back')")
conn.rollback()
ocur.execute("SELECT string_agg(id::text || ':' || note, ',' ORDER BY id) FROM itest_tx")
print("after_commit_rollback=%s" % ocur.fetchone()[0])

# An error inside a transaction aborts it; after rollback the session goes on.
cur.execute("INSERT INTO itest_tx VALUES (3, 'lost with the error')")
try:
    cur.execute("INSERT INTO itest_tx VALUES (1, 'duplicate')")
    check(False, "duplicate key must fail")
except psycopg2.errors.UniqueViolation as e:
    print("error_sqlstate=%s" % e.pgcode)
try:
    cur.execute("SELECT 1")
    check(False, "a statement in an aborted transaction must fail")
except psycopg2.errors.InFailedSqlTransaction as e:
    print("aborted_sqlstate=%s" % e.pgcode)
conn.rollback()
cur.execute("INSERT INTO itest_tx VALUES (4, 'after rollback')")
conn.commit()
ocur.execute("SELECT string_agg(id::text, ',' ORDER BY id) FROM itest_tx")
print("ids_after_error=%s" % ocur.fetchone()[0])

# COPY FROM STDIN and COPY TO STDOUT.
cur.execute("DROP TABLE IF EXISTS itest_copy_py")
cur.execute("CREATE TABLE itest_copy_py (id int, label text)")
data = "".join("%d\tlabel %d\n" % (i, i) for i in range(1, 5001))
cur.copy_expert("COPY itest_copy_py FROM STDIN", io.StringIO(data))
conn.commit()
ocur.execute("SELECT count(*), sum(id) FROM itest_copy_py")
print("copy_in=%d,%d" % ocur.fetchone())
out = io.StringIO()
cur.copy_expert("COPY (SELECT id, label FROM itest_copy_py ORDER BY id) TO STDOUT", out)
conn.commit()
print("copy_out_equal=%s" % (out.getvalue() == data))
print("copy_out_lines=%d" % out.getvalue().count("\n"))

# 100,000 rows through a named (server-side) cursor, in batches.
named = conn.cursor(name="big_cursor")
named.itersize = 2000
named.execute("SELECT g, repeat('x', 50) FROM generate_series(1, 100000) g")
total, count = 0, 0
for row in named:
    total += row[0]
    count += 1
    if count == 1:
        check(len(row[1]) == 50, "row payload")
named.close()
conn.commit()
print("named_cursor=%d,%d" % (count, total))

# The same 100,000 rows at once.
cur.execute("SELECT g, repeat('y', 50) FROM generate_series(1, 100000) g")
rows = cur.fetchall()
conn.commit()
print("fetchall=%d,%d" % (len(rows), sum(r[0] for r in rows)))
check(all(r[1] == "y" * 50 for r in rows), "fetchall payloads")

cur.execute("DROP TABLE itest_tx")
cur.execute("DROP TABLE itest_copy_py")
conn.commit()
conn.close()
other.close()
print("done")
