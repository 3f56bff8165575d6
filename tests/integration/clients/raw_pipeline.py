#!/usr/bin/env python3
# A read and a write as two simple Query messages in ONE write to the socket (a pipelining client),
# through a split listener: the write must reach the primary even though the read took a standby.
#
# Usage: raw_pipeline.py PORT ROUNDS
# Prints "read_only_tx_errors=...", "read_ports=...", "write_ports=..." (sorted distinct ports) and
# "errors=N".
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402


def q(sql):
    payload = sql.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(payload) + 4) + payload


port, rounds = int(sys.argv[1]), int(sys.argv[2])
c = pgwire.Conn(port)
c.login("app", "app", "app-secret")
reads, writes, errors = set(), set(), 0
for _ in range(rounds):
    c.send(q("SELECT inet_server_port()") + q("INSERT INTO route_rows (port) VALUES (inet_server_port()) RETURNING port"))
    values, ready = [], 0
    while ready < 2:
        m = c.read_msg()
        if m is None:
            raise SystemExit("connection closed")
        kind, body = m
        if kind == "D":
            (ln,) = struct.unpack("!i", body[2:6])
            values.append(body[6:6 + ln].decode())
        elif kind == "E":
            errors += 1
        elif kind == "Z":
            ready += 1
    if len(values) == 2:
        reads.add(values[0])
        writes.add(values[1])
# A read-only transaction pipelined with a write inside it: the write belongs to that transaction and
# fails there as PostgreSQL would (25006), with no wait for a standby that cannot be given back.
c.send(q("BEGIN READ ONLY") + q("INSERT INTO route_rows (port) VALUES (-1)") + q("ROLLBACK"))
codes, ready = [], 0
while ready < 3:
    m = c.read_msg()
    if m is None:
        raise SystemExit("connection closed")
    kind, body = m
    if kind == "E":
        codes.append(pgwire.error_fields(body).get("C"))
    elif kind == "Z":
        ready += 1
print("read_only_tx_errors=%s" % ",".join(codes))
print("read_ports=%s" % ",".join(sorted(reads)))
print("write_ports=%s" % ",".join(sorted(writes)))
print("errors=%d" % errors)
