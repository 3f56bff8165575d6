# Bad client input against baton while a psycopg2 "keeper" session on the same baton keeps working.
# Usage: bad_input.py many PORT DEAD_PORT   (pool: app pool_size 1, query_wait_timeout 1s,
#                                            client_login_timeout 1s; DEAD_PORT: a listener whose node is down)
#        bad_input.py toomany PORT          (max_client_conn 2)
# The keeper logs in as md5user. Prints key=value lines.
import os
import socket
import struct
import sys
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402

mode, port = sys.argv[1], int(sys.argv[2])
keeper = psycopg2.connect("host=127.0.0.1 port=%d user=md5user password=md5-secret dbname=app sslmode=disable" % port)
keeper.autocommit = True
kcur = keeper.cursor()
keeper_ok = [0]


def keep(step):
    kcur.execute("SELECT count(*) FROM generate_series(1, 1000)")
    if kcur.fetchone()[0] == 1000:
        keeper_ok[0] += 1
    else:
        print("keeper wrong after " + step)


def show(name, fields):
    if fields is None:
        print("%s=none" % name)
    else:
        print("%s=%s|%s|%s" % (name, fields.get("S", ""), fields.get("C", ""), fields.get("M", "")))


def login_error(name, user, db, password, p=None):
    c = pgwire.Conn(p or port)
    start = time.monotonic()
    status, fields = c.login(user, db, password)
    if status == "ok":
        print("%s=logged in" % name)
    else:
        show(name, fields)
        err, closed = c.read_error_then_eof(5)
        print("%s_closed=%s" % (name, closed))
    print("%s_fast=%s" % (name, time.monotonic() - start < 8))
    c.close()
    keep(name)


def raw_bytes(name, data):
    c = pgwire.Conn(port)
    c.send(data)
    err, closed = c.read_error_then_eof(5)
    show(name, err)
    print("%s_closed=%s" % (name, closed))
    c.close()
    keep(name)


def after_login(name, data):
    c = pgwire.Conn(port)
    status, _ = c.login("app", "app", "app-secret")
    print("%s_login=%s" % (name, status))
    rows, err, closed = c.query("SELECT 41 + 1")
    print("%s_first_query=%s" % (name, rows[0][0] if rows else None))
    c.send(data)
    err, closed = c.read_error_then_eof(5)
    show(name, err)
    print("%s_closed=%s" % (name, closed))
    c.close()
    keep(name)


keep("start")
if mode == "many":
    dead_port = int(sys.argv[3])
    login_error("unknown_user", "no_such_user", "app", "whatever")
    login_error("wrong_password", "app", "app", "not-the-password")
    login_error("unknown_database", "app", "no_such_db", "app-secret")
    login_error("unreachable", "app", "app", "app-secret", dead_port)

    # A startup packet longer than PostgreSQL's 10000-byte limit; a typed message (Query with a huge
    # length) where the startup packet belongs.
    raw_bytes("startup_oversized", struct.pack("!II", 20000, 196608) + b"user\0app\0" + b"x" * 100)
    raw_bytes("typed_before_login", b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"SELECT 1\0")
    # After a real SCRAM login: a Query whose length (3) is below the minimum of 4, and one far over
    # max_message_size.
    after_login("query_length_3", b"Q" + struct.pack("!I", 3))
    after_login("query_oversized", b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"SELECT 1\0")

    # A client that connects and sends nothing is closed after client_login_timeout (1s).
    c = pgwire.Conn(port)
    start = time.monotonic()
    err, closed = c.read_error_then_eof(10)
    took = time.monotonic() - start
    show("silent", err)
    print("silent_closed=%s" % closed)
    print("silent_after_timeout=%s" % (0.8 <= took <= 5.0))
    c.close()
    keep("silent")

    # Pool wait timeout: app's single server connection is held by an open transaction.
    waiter = pgwire.Conn(port)
    print("waiter_login=%s" % waiter.login("app", "app", "app-secret")[0])
    holder = psycopg2.connect("host=127.0.0.1 port=%d user=app password=app-secret dbname=app sslmode=disable" % port)
    hcur = holder.cursor()
    hcur.execute("SELECT 1")  # psycopg2 opened a transaction: the server connection stays with holder
    start = time.monotonic()
    rows, err, closed = waiter.query("SELECT 1")
    took = time.monotonic() - start
    show("pool_wait", err)
    print("pool_wait_after_timeout=%s" % (0.8 <= took <= 6.0))
    print("pool_wait_closed=%s" % closed)
    waiter.close()
    keep("pool_wait")
    # The holder's session is unaffected.
    hcur.execute("SELECT 2")
    print("holder_continues=%d" % hcur.fetchone()[0])
    holder.commit()
    holder.close()
elif mode == "toomany":
    second = pgwire.Conn(port)
    print("second_login=%s" % second.login("app", "app", "app-secret")[0])
    third = pgwire.Conn(port)
    status, fields = third.login("app", "app", "app-secret")
    if status == "ok":
        print("third=logged in")
    else:
        show("third", fields)
    err, closed = third.read_error_then_eof(5)
    print("third_closed=%s" % closed)
    third.close()
    keep("third")
    second.close()
    # Once a client has left, a new one is admitted.
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        fourth = pgwire.Conn(port)
        status, _ = fourth.login("app", "app", "app-secret")
        if status == "ok":
            rows, err, closed = fourth.query("SELECT 'fourth'")
            print("fourth_query=%s" % rows[0][0])
            fourth.close()
            break
        fourth.close()
        time.sleep(0.1)
    print("fourth_login=%s" % status)
print("keeper_ok=%d" % keeper_ok[0])
keeper.close()
