#!/usr/bin/env python3
# A read and a write pipelined in two requests (psycopg 3 pipeline mode, a Sync after each) through
# a split listener: the read may run on a standby, the write must reach the primary.
#
# Usage: pipeline_route.py PORT ROUNDS
# Prints "read_ports=<sorted distinct ports>" and "write_ports=<sorted distinct ports>".
import sys

import psycopg

port, rounds = int(sys.argv[1]), int(sys.argv[2])
with psycopg.connect(host="127.0.0.1", port=port, user="app", password="app-secret", dbname="app",
                     sslmode="disable", autocommit=True, connect_timeout=10) as conn:
    reads, writes = set(), set()
    for _ in range(rounds):
        with conn.pipeline() as p:
            r = conn.execute("SELECT inet_server_port()")
            p.sync()
            w = conn.execute("INSERT INTO route_rows (port) VALUES (inet_server_port()) RETURNING port")
            p.sync()
        reads.add(r.fetchone()[0])
        writes.add(w.fetchone()[0])
print("read_ports=" + ",".join(str(x) for x in sorted(reads)))
print("write_ports=" + ",".join(str(x) for x in sorted(writes)))
