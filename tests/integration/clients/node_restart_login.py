# A client whose next statement needs a new server login while the primary shuts down and starts
# again: the login is refused (FATAL 57P03, "the database system is shutting down"); the client's
# statement waits for the node and is answered on the same connection to baton.
# Usage: node_restart_login.py BATON_PORT PRIMARY_PORT FIXTURE CLUSTER_DIR
# (FIXTURE: tests/fixtures/pg_cluster.sh; node 0 of CLUSTER_DIR is restarted with it.)
# Prints key=value lines; exits non-zero on the first failed step.
import subprocess
import sys
import threading
import time

import psycopg2

baton_port, primary_port, fixture, cluster = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
DIRECT = "host=127.0.0.1 port=%d dbname=postgres sslmode=disable connect_timeout=5" % primary_port


def fail(what):
    print("FAILED: " + what, flush=True)
    sys.exit(1)


app = psycopg2.connect("host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable"
                       % baton_port)
app.autocommit = True
ac = app.cursor()
ac.execute("SELECT pg_backend_pid()")
first_pid = ac.fetchone()[0]

# A session of its own keeps a smart shutdown waiting (new logins refused) until it leaves.
holder = psycopg2.connect(DIRECT + " user=baton_monitor password=monitor-secret")
holder.autocommit = True
hc = holder.cursor()
subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "stop", "-D", cluster + "/node0", "-m", "smart", "-W"],
               check=True, timeout=30)

refused = None
for _ in range(100):
    try:
        psycopg2.connect(DIRECT + " user=app password=app-secret").close()
    except psycopg2.OperationalError as e:
        # (libpq keeps no SQLSTATE of a failed connection attempt: the message tells.)
        if "the database system is shutting down" in str(e):
            refused = "shutting down"
            break
        refused = str(e).strip().replace("\n", " ")
    time.sleep(0.05)
print("login_refused=%s" % refused, flush=True)
if refused != "shutting down":
    fail("the primary in smart shutdown did not refuse logins")

# baton's pooled connection ends, so the client's next statement needs a new login.
hc.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'app'")
for _ in range(100):
    hc.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")
    if hc.fetchone()[0] == 0:
        break
    time.sleep(0.05)
else:
    fail("the app backends did not end")

restart = {"error": None}


def finish_shutdown_and_restart():
    try:
        time.sleep(1.0)  # the client's statement meets the refusing node meanwhile
        holder.close()
        # baton's monitor keeps its own sessions, so a smart shutdown would wait on: fast ends them.
        r = subprocess.run(["runuser", "-u", "postgres", "--", PG_CTL, "stop", "-D", cluster + "/node0", "-m", "fast",
                            "-w", "-t", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            restart["error"] = "the primary did not stop: " + r.stderr.decode(errors="replace").strip()
            return
        subprocess.run(["bash", fixture, "start-node", cluster, "0"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except Exception as e:  # reported below
        restart["error"] = str(e)


t = threading.Thread(target=finish_shutdown_and_restart)
t.start()
started = time.monotonic()
error = None
new_pid = None
try:
    ac.execute("SELECT pg_backend_pid()")
    new_pid = ac.fetchone()[0]
except psycopg2.Error as e:
    error = "%s %s" % (e.pgcode, str(e).strip().splitlines()[0] if str(e).strip() else "")
answered = time.monotonic()
t.join(timeout=90)
print("restart_error=%s" % restart["error"], flush=True)
print("error=%s" % error, flush=True)
print("closed=%d" % app.closed, flush=True)
print("waited_ms=%d" % round((answered - started) * 1000))
print("new_backend=%d" % (1 if new_pid is not None and new_pid != first_pid else 0))
# The same connection goes on.
try:
    ac.execute("SELECT 41 + 1")
    print("after=%s" % ac.fetchone()[0])
except psycopg2.Error as e:
    print("after=error %s" % e.pgcode)
print("done", flush=True)
