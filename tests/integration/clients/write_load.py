#!/usr/bin/python3
"""write_load.py: a write load through baton that records which writes were acknowledged and when, for failover tests.

  write_load.py run --port P --table T [--writers 4] [--interval-ms 5] [--status FILE]
                    [--stop-file FILE] [--fault-file FILE] [--max-seconds 120] [--out FILE]
                    [--host 127.0.0.1] [--user app] [--password app-secret] [--dbname app]
  write_load.py verify --summary FILE --port P [--host ...] [--user ...] [--password ...] [--dbname ...]
                       [--out FILE]

run: (re)creates table T (id bigint primary key, writer, port DEFAULT inet_server_port(), at),
opens one idle connection (one query, then nothing until the end), then N writers, each on its
own connection in autocommit, insert sequential ids (a shared counter), one INSERT per
transaction, as fast as the server answers with a pause of --interval-ms between a writer's
inserts. Every acknowledged id is recorded with its time (CLOCK_MONOTONIC and wall clock) and the
port of the server that took it (RETURNING port). An error is recorded with its SQLSTATE and
message, and the writer goes on; it opens a new connection only when its connection is closed.
Every 100 ms the status file gets {acked, errors, reconnects, last_ack_port, ...}. The run ends
when the stop file exists or after --max-seconds; then the idle connection runs one query on the
same connection. The controller may write the wall-clock time (seconds since the epoch, a float)
of a fault it caused into the fault file; the summary then also reports the acks around it.
The summary (JSON, to --out and stdout) holds: acked, errors_by_sqlstate, errors (the first 200),
reconnects, max_gap_ms with its start and end (the longest time without any ack: the
write-unavailability window), the fault-relative figures, acks_by_port, idle (the idle client's
result) and acked_ranges (the acknowledged ids as [first, last] ranges).

verify: reads the ids table T holds on the node at --port (connect directly, not through baton)
and compares them with the summary's acknowledged ids: lost = acknowledged but missing.
Prints {acked, present, lost, lost_ids (first 50), present_not_acked} as JSON.

Exit status: 0 when the run or the check could be done (the figures say how it went), 1 when it
could not start (no connection to create the table), 2 on bad arguments.
"""
import argparse
import json
import os
import sys
import threading
import time

import psycopg2

MAX_ERRORS_KEPT = 200


def dsn(a):
    return "host=%s port=%d user=%s password=%s dbname=%s sslmode=disable connect_timeout=10" % (
        a.host, a.port, a.user, a.password, a.dbname)


def sqlstate_of(exc):
    return getattr(exc, "pgcode", None) or "none"


def write_json_atomic(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


class Shared:
    """What the writers share: the id counter, the error list, counters; one lock for all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_id = 1
        self.errors = []
        self.errors_total = 0
        self.errors_by_sqlstate = {}
        self.reconnects = 0
        self.acked = 0
        self.last_ack_mono = None
        self.last_ack_port = None
        self.stop = threading.Event()

    def take_id(self):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            return i

    def record_error(self, writer, ident, exc, closed, phase, started_epoch=None):
        now_m, now_e = time.monotonic(), time.time()
        state = sqlstate_of(exc)
        with self.lock:
            self.errors_total += 1
            self.errors_by_sqlstate[state] = self.errors_by_sqlstate.get(state, 0) + 1
            if len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append({
                    "writer": writer, "id": ident, "phase": phase, "sqlstate": state,
                    "message": str(exc).strip(), "connection_closed": bool(closed),
                    "mono": now_m, "epoch": now_e,
                    "started_epoch": started_epoch if started_epoch is not None else now_e,
                })


class Writer(threading.Thread):
    def __init__(self, number, args, shared):
        super().__init__(daemon=True)
        self.number = number
        self.args = args
        self.shared = shared
        self.acks = []  # (mono, epoch, id, port)
        self.conn = None
        self.done = False

    def connect(self, phase):
        """Opens the connection, retrying every 100 ms until it works or the run stops."""
        while not self.shared.stop.is_set():
            try:
                conn = psycopg2.connect(dsn(self.args))
                conn.autocommit = True
                self.conn = conn
                return True
            except psycopg2.Error as e:
                self.shared.record_error(self.number, None, e, True, phase)
                time.sleep(0.1)
        return False

    def run(self):
        a, sh = self.args, self.shared
        sql = "INSERT INTO %s (id, writer) VALUES (%%s, %%s) RETURNING port" % a.table
        if not self.connect("connect"):
            self.done = True
            return
        while not sh.stop.is_set():
            ident = sh.take_id()
            started = time.time()
            try:
                with self.conn.cursor() as cur:
                    cur.execute(sql, (ident, self.number))
                    port = cur.fetchone()[0]
                m, e = time.monotonic(), time.time()
                self.acks.append((m, e, ident, port))
                with sh.lock:
                    sh.acked += 1
                    if sh.last_ack_mono is None or m > sh.last_ack_mono:
                        sh.last_ack_mono, sh.last_ack_port = m, port
            except psycopg2.Error as e:
                closed = self.conn.closed != 0
                sh.record_error(self.number, ident, e, closed, "insert", started)
                if closed:
                    with sh.lock:
                        sh.reconnects += 1
                    if not self.connect("reconnect"):
                        break
            if a.interval_ms > 0:
                time.sleep(a.interval_ms / 1000.0)
        self.done = True


def idle_check(conn, timeout):
    """The idle connection's query after the run, on the same connection, bounded by `timeout`."""
    result = {"ok": False, "port": None, "sqlstate": None, "error": None, "connection_closed": None}

    def query():
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT inet_server_port(), pg_is_in_recovery()")
                port, recovery = cur.fetchone()
            result.update(ok=True, port=port, in_recovery=recovery)
        except psycopg2.Error as e:
            result.update(sqlstate=sqlstate_of(e), error=str(e).strip())
        result["connection_closed"] = conn.closed != 0

    t = threading.Thread(target=query, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        result["error"] = "no answer within %.0f s" % timeout
    return result


def ranges_of(ids):
    out = []
    for i in sorted(ids):
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def ids_of(ranges):
    for first, last in ranges:
        for i in range(first, last + 1):
            yield i


def gap_record(before, after):
    return {
        "ms": round((after[0] - before[0]) * 1000.0, 1),
        "start_mono": before[0], "start_epoch": before[1], "port_before": before[3],
        "end_mono": after[0], "end_epoch": after[1], "port_after": after[3],
    }


def fault_figures(acks, fault_epoch):
    """Acks around a fault at wall-clock time fault_epoch; acks sorted by time."""
    before = [x for x in acks if x[1] < fault_epoch]
    after = [x for x in acks if x[1] >= fault_epoch]
    out = {"fault_epoch": fault_epoch, "acks_after_fault": len(after)}
    if not before:
        return out
    old_port = before[-1][3]
    out["port_before_fault"] = old_port
    out["last_ack_before_fault_epoch"] = before[-1][1]
    out["acks_on_old_port_after_fault"] = sum(1 for x in after if x[3] == old_port)
    # The old node's last acknowledged write: a killed primary's backends serve on until they
    # notice their postmaster is gone (a busy machine delays that by hundreds of milliseconds).
    out["last_ack_on_old_port_epoch"] = max(x[1] for x in acks if x[3] == old_port)
    moved = next((x for x in after if x[3] != old_port), None)
    if moved is not None:
        out["first_ack_elsewhere_epoch"] = moved[1]
        out["first_ack_elsewhere_port"] = moved[3]
        # From the fault to the first write acknowledged by another node.
        out["resume_ms"] = round((moved[1] - fault_epoch) * 1000.0, 1)
        # From the last write acknowledged before the fault to that first write elsewhere.
        out["window_ms"] = round((moved[1] - before[-1][1]) * 1000.0, 1)
    return out


def cmd_run(a):
    setup = None
    deadline = time.monotonic() + 20
    while setup is None:
        try:
            setup = psycopg2.connect(dsn(a))
        except psycopg2.Error as e:
            if time.monotonic() > deadline:
                print("write_load: cannot connect to create the table: %s" % str(e).strip(), file=sys.stderr)
                return 1
            time.sleep(0.2)
    setup.autocommit = True
    with setup.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % a.table)
        cur.execute("CREATE TABLE %s (id bigint PRIMARY KEY, writer int NOT NULL, "
                    "port int NOT NULL DEFAULT inet_server_port(), at timestamptz NOT NULL DEFAULT clock_timestamp())"
                    % a.table)
    setup.close()

    idle = None
    idle_before = None
    if not a.no_idle:
        idle = psycopg2.connect(dsn(a))
        idle.autocommit = True
        with idle.cursor() as cur:
            cur.execute("SELECT inet_server_port()")
            idle_before = cur.fetchone()[0]

    shared = Shared()
    writers = [Writer(n, a, shared) for n in range(a.writers)]
    started_m, started_e = time.monotonic(), time.time()

    def status(final=False):
        if not a.status:
            return
        with shared.lock:
            s = {"acked": shared.acked, "errors": shared.errors_total, "reconnects": shared.reconnects,
                 "last_ack_mono": shared.last_ack_mono, "last_ack_port": shared.last_ack_port,
                 "errors_by_sqlstate": dict(shared.errors_by_sqlstate),
                 "elapsed_s": round(time.monotonic() - started_m, 3), "finished": final}
        write_json_atomic(a.status, s)

    status()
    for w in writers:
        w.start()
    while True:
        if a.stop_file and os.path.exists(a.stop_file):
            break
        if time.monotonic() - started_m > a.max_seconds:
            break
        status()
        time.sleep(0.1)
    shared.stop.set()
    join_deadline = time.monotonic() + a.join_seconds
    for w in writers:
        w.join(max(0.0, join_deadline - time.monotonic()))
    stuck = sum(1 for w in writers if w.is_alive())
    ended_m = time.monotonic()

    idle_result = None
    if idle is not None:
        idle_result = idle_check(idle, a.join_seconds)
        idle_result["port_before"] = idle_before

    acks = sorted((x for w in writers for x in w.acks), key=lambda x: x[0])
    gaps = [gap_record(acks[i - 1], acks[i]) for i in range(1, len(acks))]
    gaps.sort(key=lambda g: g["ms"], reverse=True)
    by_port = {}
    for x in acks:
        by_port[str(x[3])] = by_port.get(str(x[3]), 0) + 1

    summary = {
        "table": a.table,
        "writers": a.writers,
        "interval_ms": a.interval_ms,
        "started_epoch": started_e,
        "duration_s": round(ended_m - started_m, 3),
        "acked": len(acks),
        "attempted": shared.next_id - 1,
        "errors_total": shared.errors_total,
        "errors_by_sqlstate": shared.errors_by_sqlstate,
        "errors": shared.errors,
        "reconnects": shared.reconnects,
        "stuck_writers": stuck,
        "max_gap_ms": gaps[0]["ms"] if gaps else None,
        "max_gap": gaps[0] if gaps else None,
        "longest_gaps": gaps[:3],
        "first_ack_epoch": acks[0][1] if acks else None,
        "last_ack_epoch": acks[-1][1] if acks else None,
        "last_ack_port": acks[-1][3] if acks else None,
        "acks_by_port": by_port,
        "idle": idle_result,
        "fault": None,
        "acked_ranges": ranges_of(x[2] for x in acks),
    }
    if a.fault_file and os.path.exists(a.fault_file):
        with open(a.fault_file) as f:
            text = f.read().strip()
        if text:
            summary["fault"] = fault_figures(acks, float(text.split()[0]))
    status(final=True)
    text = json.dumps(summary)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    brief = {k: v for k, v in summary.items() if k not in ("acked_ranges", "errors", "longest_gaps")}
    print(json.dumps(brief), flush=True)
    if stuck:
        os._exit(0)  # a writer blocked in the driver would keep the process alive
    return 0


def cmd_verify(a):
    with open(a.summary) as f:
        summary = json.load(f)
    acked = set(ids_of(summary["acked_ranges"]))
    conn = psycopg2.connect(dsn(a))
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM %s" % summary["table"])
        present = {row[0] for row in cur.fetchall()}
    conn.close()
    lost = sorted(acked - present)
    result = {
        "port": a.port,
        "acked": len(acked),
        "present": len(present),
        "lost": len(lost),
        "lost_ids": lost[:50],
        "present_not_acked": len(present - acked),
    }
    text = json.dumps(result)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text, flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description="write load for failover tests")
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("run", "verify"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--user", default="app")
        p.add_argument("--password", default="app-secret")
        p.add_argument("--dbname", default="app")
        p.add_argument("--out")
    r = sub.choices["run"]
    r.add_argument("--table", required=True)
    r.add_argument("--writers", type=int, default=4)
    r.add_argument("--interval-ms", type=float, default=5.0)
    r.add_argument("--status")
    r.add_argument("--stop-file")
    r.add_argument("--fault-file")
    r.add_argument("--max-seconds", type=float, default=120.0)
    r.add_argument("--join-seconds", type=float, default=15.0)
    r.add_argument("--no-idle", action="store_true")
    v = sub.choices["verify"]
    v.add_argument("--summary", required=True)
    a = ap.parse_args()
    if a.command == "run":
        if not a.table.replace("_", "").isalnum():
            print("write_load: --table must be a plain identifier", file=sys.stderr)
            return 2
        return cmd_run(a)
    return cmd_verify(a)


if __name__ == "__main__":
    sys.exit(main())
