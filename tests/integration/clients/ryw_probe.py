#!/usr/bin/env python3
# Read-your-writes through baton: insert a row, read it back at once, count the misses.
#
# Usage: ryw_probe.py PORT TABLE ROUNDS
# One autocommit connection; each round inserts a new id and immediately selects it (a read that a
# split listener may send to a standby), noting which server answered. Then, after 6 s without
# writes, one more read. Prints one JSON object: {"misses": n, "read_ports": {port: n},
# "later_read_port": port}.
import json
import sys
import time

import psycopg2

port, table, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app-secret", dbname="app",
                        sslmode="disable", connect_timeout=10)
conn.autocommit = True
cur = conn.cursor()
misses = 0
ports = {}
base = int(time.time() * 1000) % 1000000000
for k in range(rounds):
    cur.execute("INSERT INTO " + table + " VALUES (%s)", (base + k,))
    cur.execute("SELECT count(*), inet_server_port() FROM " + table + " WHERE id = %s", (base + k,))
    n, p = cur.fetchone()
    if n != 1:
        misses += 1
    ports[str(p)] = ports.get(str(p), 0) + 1
time.sleep(6)
cur.execute("SELECT inet_server_port()")
later = cur.fetchone()[0]
print(json.dumps({"misses": misses, "read_ports": ports, "later_read_port": later}))
