#!/usr/bin/python3
# psycopg 3 prepared statements through baton: interleaved connections, executemany, reuse after idle.
"""Usage: psycopg_prepared.py CONNINFO SCENARIO

Prints one line per checked fact; the C++ test compares the output exactly. Every query carries a
marker comment so that the server log (log_min_duration_statement = 0 on the database) can be
searched for "execute B_<n>: ..." lines, which prove the server ran a named statement.
"""
import sys
import time

import psycopg


def connect(conninfo, **kw):
    return psycopg.connect(conninfo, prepare_threshold=0, **kw)


def prepared_names(conn):
    # psycopg's own record of the statements it prepared on this connection (bytes names).
    return sorted(n.decode() for n in conn._prepared._names.values())


def interleave(conninfo):
    conns = [connect(conninfo, autocommit=True) for _ in range(8)]
    total = 0
    rows = 0
    for rnd in range(25):
        for i, conn in enumerate(conns):
            if rnd % 2 == 0:
                v = conn.execute("SELECT %s::int * 1000 + %s::int AS v /* drv-psy-a */", (i, rnd),
                                 prepare=True).fetchone()[0]
            else:
                with conn.transaction():
                    v = conn.execute("SELECT %s::int * 1000 + %s::int AS v /* drv-psy-a */", (i, rnd),
                                     prepare=True).fetchone()[0]
                    w = conn.execute("SELECT %s::text || '-' || %s::text AS w /* drv-psy-b */",
                                     (f"c{i}", f"r{rnd}"), prepare=True).fetchone()[0]
                    if w != f"c{i}-r{rnd}":
                        print(f"WRONG w conn={i} round={rnd}: {w!r}")
            if v != i * 1000 + rnd:
                print(f"WRONG v conn={i} round={rnd}: {v!r}")
            total += v
            rows += 1
    print(f"interleave rows={rows} sum={total}")
    names = {",".join(prepared_names(c)) for c in conns}
    print("psycopg names " + " | ".join(sorted(names)))
    for c in conns:
        c.close()


def executemany(conninfo):
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS drv_psy_many")
        conn.execute("CREATE TABLE drv_psy_many (id int PRIMARY KEY, note text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO drv_psy_many (id, note) VALUES (%s, %s) /* drv-psy-many */",
                            [(k, f"n{k}") for k in range(1, 101)])
        # And inside a transaction on another connection, interleaved with a third one.
        with connect(conninfo) as c2, connect(conninfo, autocommit=True) as c3:
            with c2.cursor() as cur:
                cur.executemany("UPDATE drv_psy_many SET note = note || %s WHERE id = %s /* drv-psy-upd */",
                                [("x", k) for k in range(1, 101, 2)])
            n = c3.execute("SELECT count(*) FROM drv_psy_many WHERE note LIKE %s /* drv-psy-cnt */", ("%x",),
                           prepare=True).fetchone()[0]
            print(f"uncommitted updates visible elsewhere: {n}")
            c2.commit()
            n = c3.execute("SELECT count(*) FROM drv_psy_many WHERE note LIKE %s /* drv-psy-cnt */", ("%x",),
                           prepare=True).fetchone()[0]
            print(f"committed updates: {n}")
        row = conn.execute("SELECT count(*), sum(id), min(note), max(note) FROM drv_psy_many").fetchone()
        print(f"executemany rows={row[0]} sum={row[1]} min={row[2]} max={row[3]}")


def idle(conninfo, pause):
    # One connection prepares, records its backend, goes idle long enough for baton's
    # server_idle_timeout to close that server connection, then runs the statement again.
    with connect(conninfo, autocommit=True) as conn, connect(conninfo, autocommit=True) as other:
        q = "SELECT %s::int + 7 AS v, pg_backend_pid() AS pid /* drv-psy-idle */"
        v1, pid1 = conn.execute(q, (1,), prepare=True).fetchone()
        print(f"first run v={v1}")
        time.sleep(pause)
        # Another client, meanwhile, works on whatever server connections exist now.
        print("other", other.execute("SELECT %s::int * 2 /* drv-psy-other */", (21,), prepare=True).fetchone()[0])
        v2, pid2 = conn.execute(q, (2,), prepare=True).fetchone()
        print(f"after idle v={v2} same_backend={pid1 == pid2}")
        with conn.transaction():
            v3, pid3 = conn.execute(q, (3,), prepare=True).fetchone()
        print(f"in a transaction v={v3}")
        print("psycopg names " + ",".join(prepared_names(conn)))


def evict(conninfo):
    # psycopg keeps at most prepared_max statements per connection; when it forgets one it tells
    # the server with "DEALLOCATE name" (psycopg 3.1 with libpq < 17 has no protocol Close for it).
    with connect(conninfo, autocommit=True) as conn:
        conn.prepared_max = 2
        for k in range(5):
            try:
                v = conn.execute(f"SELECT %s::int + {k} AS v /* drv-psy-evict */", (10,), prepare=True).fetchone()[0]
                print(f"evict {k}: {v}")
            except psycopg.Error as e:
                print(f"evict {k}: {e.sqlstate} {e}")
        print("psycopg names " + ",".join(prepared_names(conn)))


def main():
    conninfo, scenario = sys.argv[1], sys.argv[2]
    if scenario == "interleave":
        interleave(conninfo)
    elif scenario == "executemany":
        executemany(conninfo)
    elif scenario == "evict":
        evict(conninfo)
    elif scenario == "idle":
        idle(conninfo, float(sys.argv[3]))
    else:
        sys.exit(f"unknown scenario {scenario}")
    print("done")


if __name__ == "__main__":
    main()
