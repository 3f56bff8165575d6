# Two psycopg2 clients sharing one server connection (pool_size 1) must each keep their own session settings.
# Usage: settings_isolation.py PORT. Prints key=value lines; exits non-zero on the first failed check.
import os
import sys

import psycopg2

port = int(sys.argv[1])
base = "host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port
QUERY = ("SELECT current_setting('application_name'), current_setting('search_path'), "
         "current_setting('TimeZone'), current_setting('statement_timeout'), pg_backend_pid()")


def check(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


os.environ.pop("PGOPTIONS", None)
a = psycopg2.connect(base)
a.autocommit = True
b = psycopg2.connect(base + " application_name=b options='-c statement_timeout=1234'")
b.autocommit = True
ac, bc = a.cursor(), b.cursor()

bc.execute(QUERY)
b_first = bc.fetchone()
print("b_initial=%s|%s|%s|%s" % b_first[:4])
ac.execute("SET application_name = 'a'")
ac.execute("SET search_path = itest_a, public")
ac.execute("SET TimeZone = 'Asia/Tokyo'")

pids = set()
a_seen, b_seen = set(), set()
for i in range(20):
    ac.execute(QUERY)
    ra = ac.fetchone()
    bc.execute(QUERY)
    rb = bc.fetchone()
    a_seen.add(ra[:4])
    b_seen.add(rb[:4])
    pids.update([ra[4], rb[4]])
    if i == 10:
        # B changes a setting of its own half way; A must not see it.
        bc.execute("SET TimeZone = 'America/Lima'")
        b_seen.clear()
print("a_values=%s" % ";".join("|".join(v) for v in sorted(a_seen)))
print("b_values=%s" % ";".join("|".join(v) for v in sorted(b_seen)))
print("server_pids=%d" % len(pids))
print("a_reported=%s,%s" % (a.get_parameter_status("application_name"), a.get_parameter_status("TimeZone")))
print("b_reported=%s,%s" % (b.get_parameter_status("application_name"), b.get_parameter_status("TimeZone")))

# A transaction of A in between does not leak either.
a.autocommit = False
ac.execute("SELECT current_setting('TimeZone')")
print("a_in_tx=%s" % ac.fetchone()[0])
a.commit()
bc.execute("SELECT current_setting('TimeZone'), current_setting('statement_timeout')")
print("b_after_a_tx=%s|%s" % bc.fetchone())
a.close()
b.close()
print("done")
