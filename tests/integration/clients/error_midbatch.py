#!/usr/bin/env python3
# An extended-protocol batch that fails before the client has sent all of it: Parse and Bind, the
# server's error (10 / $1 with $1 = 0 fails at Bind: PostgreSQL folds the constant when it plans
# the portal), and only then Describe, Execute and Sync. PostgreSQL skips everything up to the
# Sync, so the client gets one ReadyForQuery for them and nothing else; the session and its
# server connection go on. node-postgres sends its messages this way.
#
# Usage: error_midbatch.py PORT ROUNDS
# Prints "first_error=SQLSTATE", "after_sync=TYPES" (message types after the late messages, first
# round), "query_skipped=TYPES" (the same with a simple Query among the late messages),
# "values=..." (the answers of the statements after each batch, then a second client's on the
# same pooled server connection, comma-separated), "errors=N"
# (errors other than the expected ones), then "done".
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402


def msg(kind, payload=b""):
    return kind.encode() + struct.pack("!I", len(payload) + 4) + payload


def parse(name, sql):
    return msg("P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))


def bind(statement, value):
    v = value.encode()
    return msg("B", b"\0" + statement.encode() + b"\0" + struct.pack("!HH", 0, 1) + struct.pack("!i", len(v)) + v +
               struct.pack("!H", 0))


DESCRIBE_PORTAL = msg("D", b"P\0")
EXECUTE = msg("E", b"\0" + struct.pack("!i", 0))
SYNC = msg("S")


def read_until_ready(c):
    """Message types up to and including ReadyForQuery, the error's SQLSTATE (or None), DataRow values."""
    types, sqlstate, values = [], None, []
    for _ in range(1000):
        m = c.read_msg()
        if m is None:
            raise SystemExit("connection closed")
        kind, body = m
        types.append(kind)
        if kind == "E":
            sqlstate = pgwire.error_fields(body).get("C")
        elif kind == "D":
            (ln,) = struct.unpack("!i", body[2:6])
            values.append(body[6:6 + ln].decode())
        elif kind == "Z":
            return types, sqlstate, values
    raise SystemExit("no ReadyForQuery")


port, rounds = int(sys.argv[1]), int(sys.argv[2])
c = pgwire.Conn(port)
c.login("app", "app", "app-secret")
errors, values = 0, []
for i in range(rounds):
    name = "div%d" % i
    c.send(parse(name, "SELECT 10 / $1::int AS q") + bind(name, "0"))
    # ParseComplete, then the Bind's error; nothing more until the Sync.
    first = c.read_msg()
    second = c.read_msg()
    if first is None or second is None or first[0] != "1" or second[0] != "E":
        raise SystemExit("expected ParseComplete and an error, got %r %r" % (first, second))
    sqlstate = pgwire.error_fields(second[1]).get("C")
    if i == 0:
        print("first_error=%s" % sqlstate)
    if sqlstate != "22012":
        errors += 1
    c.send(DESCRIBE_PORTAL + EXECUTE + SYNC)
    types, late_error, _ = read_until_ready(c)
    if i == 0:
        print("after_sync=%s" % "".join(types))
    if late_error is not None:
        errors += 1
    # The statement the failed batch created is there: run it with a divisor that works.
    c.send(bind(name, "5") + EXECUTE + SYNC)
    types, late_error, got = read_until_ready(c)
    if late_error is not None:
        errors += 1
    values += got
# A simple Query among the skipped messages is skipped too: one ReadyForQuery, for the Sync.
c.send(parse("", "SELECT 10 / $1::int AS q") + bind("", "0"))
first, second = c.read_msg(), c.read_msg()
if first is None or second is None or first[0] != "1" or second[0] != "E":
    raise SystemExit("expected ParseComplete and an error, got %r %r" % (first, second))
c.send(EXECUTE + msg("Q", b"SELECT 1\0") + SYNC)
types, late_error, _ = read_until_ready(c)
print("query_skipped=%s" % "".join(types))
c.send(msg("Q", b"SELECT 7\0"))
types, late_error, got = read_until_ready(c)
if late_error is not None:
    errors += 1
values += got
# The server connection went back to the pool (baton expects nothing more from it): a second
# client gets it (one server connection in the test's pool).
other = pgwire.Conn(port, timeout=5.0)
other.login("app", "app", "app-secret")
try:
    other.send(msg("Q", b"SELECT 8\0"))
    types, late_error, got = read_until_ready(other)
except OSError as e:  # socket.timeout: the connection is still held
    raise SystemExit("second client got no answer: %s" % e)
if late_error is not None:
    errors += 1
values += got
other.close()
print("values=%s" % ",".join(values))
print("errors=%d" % errors)
c.close()
print("done")
