#!/usr/bin/python3
# A raw PostgreSQL v3 protocol client (SCRAM-SHA-256 login) that checks tricky extended-protocol cases message by message.
"""Usage: rawpg.py PORT DATABASE IDLE_SECONDS [CASE...]

Connects to 127.0.0.1:PORT as app/app-secret, runs each case (all when none is named) and prints
"ok CASE" or "MISMATCH CASE" followed by the transcript received and the one expected. The
expected transcripts are what PostgreSQL 15 itself answers (the same script run against the
primary's port must print "ok" for every case); message formats are those of the protocol
documentation, "Frontend/Backend Protocol: Message Formats" and "Extended Query" (PostgreSQL 15).
IDLE_SECONDS is how long a case waits for baton's server_idle_timeout to close the server
connection it used, so that what follows runs on a fresh one.
"""
import base64
import hashlib
import hmac
import os
import select
import socket
import struct
import sys
import time

USER = "app"
PASSWORD = "app-secret"


# ---- encoding frontend messages ----------------------------------------------------------------

def msg(kind, body=b""):
    return kind + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def parse(name, query, oids=()):
    return msg(b"P", cstr(name) + cstr(query) + struct.pack("!H", len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def bind(portal, stmt, params=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            b = p.encode()
            body += struct.pack("!i", len(b)) + b
    return msg(b"B", body + struct.pack("!H", 0))


def execute(portal="", max_rows=0):
    return msg(b"E", cstr(portal) + struct.pack("!I", max_rows))


def describe(kind, name):
    return msg(b"D", kind.encode() + cstr(name))


def close(kind, name):
    return msg(b"C", kind.encode() + cstr(name))


def query(sql):
    return msg(b"Q", cstr(sql))


SYNC = msg(b"S")
FLUSH = msg(b"H")


# ---- the connection --------------------------------------------------------------------------

class Conn:
    def __init__(self, port, database):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        params = cstr("user") + cstr(USER) + cstr("database") + cstr(database) + b"\0"
        body = struct.pack("!I", 196608) + params
        self.sock.sendall(struct.pack("!I", len(body) + 4) + body)
        self.login()

    def send(self, *messages):
        self.sock.sendall(b"".join(messages))

    def read_msg(self, timeout=20.0):
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack("!I", self.buf[1:5])[0]
                if len(self.buf) >= n + 1:
                    kind, body = self.buf[0:1], self.buf[5:n + 1]
                    self.buf = self.buf[n + 1:]
                    return kind, body
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def login(self):
        kind, body = self.read_msg()
        code = struct.unpack("!I", body[:4])[0] if kind == b"R" else None
        if (kind, code) != (b"R", 10) or b"SCRAM-SHA-256\0" not in body[4:]:
            raise RuntimeError(f"expected AuthenticationSASL with SCRAM-SHA-256, got {kind} {body!r}")
        # RFC 5802 / RFC 7677 client side; PostgreSQL ignores the SCRAM user name (n=).
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = ("n,," + first_bare).encode()
        self.send(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
        kind, body = self.read_msg()
        if kind != b"R" or struct.unpack("!I", body[:4])[0] != 11:
            raise RuntimeError(f"expected AuthenticationSASLContinue, got {kind} {body!r}")
        server_first = body[4:].decode()
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        if not attrs["r"].startswith(nonce):
            raise RuntimeError("server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = f"c=biws,r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.send(msg(b"p", f"{final_bare},p={base64.b64encode(proof).decode()}".encode()))
        kind, body = self.read_msg()
        if kind != b"R" or struct.unpack("!I", body[:4])[0] != 12:
            raise RuntimeError(f"expected AuthenticationSASLFinal, got {kind} {body!r}")
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        want = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
        if body[4:].decode() != f"v={want}":
            raise RuntimeError("wrong server signature")
        while True:
            kind, body = self.read_msg()
            if kind == b"E":
                raise RuntimeError(f"login failed: {describe_msg(kind, body)}")
            if kind == b"Z":
                return

    def until_ready(self, count=1):
        """The messages received up to and including the count-th ReadyForQuery."""
        out = []
        while count > 0:
            m = self.read_msg()
            if m is None:
                out.append("(timeout)")
                return out
            if m[0] in (b"S", b"N"):
                continue  # ParameterStatus and notices are not part of these transcripts
            out.append(describe_msg(*m))
            if m[0] == b"Z":
                count -= 1
        return out

    def exactly(self, n, quiet=0.3):
        """n messages, then nothing more for `quiet` seconds (for Flush without Sync)."""
        out = []
        while len(out) < n:
            m = self.read_msg()
            if m is None:
                out.append("(timeout)")
                return out
            if m[0] in (b"S", b"N"):
                continue
            out.append(describe_msg(*m))
        extra = self.read_msg(timeout=quiet)
        if extra is not None:
            out.append("(unexpected) " + describe_msg(*extra))
        return out

    def scalar(self, sql):
        self.send(query(sql))
        rows = [m for m in self.until_ready() if m.startswith("DataRow")]
        return rows[0][len("DataRow("):-1]

    def close(self):
        self.send(msg(b"X"))
        self.sock.close()


# ---- decoding backend messages into one comparable line each -----------------------------------

def fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def describe_msg(kind, body):
    k = kind.decode()
    if k == "1":
        return "ParseComplete"
    if k == "2":
        return "BindComplete"
    if k == "3":
        return "CloseComplete"
    if k == "n":
        return "NoData"
    if k == "I":
        return "EmptyQueryResponse"
    if k == "s":
        return "PortalSuspended"
    if k == "Z":
        return f"ReadyForQuery({body.decode()})"
    if k == "C":
        return f"CommandComplete({body[:-1].decode()})"
    if k == "E":
        f = fields(body)
        return f"ErrorResponse({f.get('C')})"
    if k == "t":
        n = struct.unpack("!H", body[:2])[0]
        oids = struct.unpack(f"!{n}I", body[2:2 + 4 * n])
        return "ParameterDescription(" + ",".join(map(str, oids)) + ")"
    if k == "T":
        n = struct.unpack("!H", body[:2])[0]
        pos, cols = 2, []
        for _ in range(n):
            end = body.index(b"\0", pos)
            name = body[pos:end].decode()
            _table, _attr, oid = struct.unpack("!IHI", body[end + 1:end + 11])
            cols.append(f"{name}:{oid}")
            pos = end + 1 + 18
        return "RowDescription(" + ",".join(cols) + ")"
    if k == "D":
        n = struct.unpack("!H", body[:2])[0]
        pos, vals = 2, []
        for _ in range(n):
            ln = struct.unpack("!i", body[pos:pos + 4])[0]
            pos += 4
            if ln < 0:
                vals.append("NULL")
            else:
                vals.append(body[pos:pos + ln].decode())
                pos += ln
        return "DataRow(" + ",".join(vals) + ")"
    return f"{k}:{body!r}"


# ---- the cases ---------------------------------------------------------------------------------
# Each returns a list of (transcript received, transcript expected) pairs.

INT4, TEXT = 23, 25


def case_unnamed_batch(c, idle):
    # Three unnamed Parse/Bind/Execute groups in one Sync; each Parse replaces the unnamed statement.
    c.send(parse("", "SELECT $1::int * 2 AS d", [INT4]), bind("", "", ["21"]), execute(),
           parse("", "SELECT $1::text || 'x' AS s"), bind("", "", ["a"]), execute(),
           parse("", "SELECT 3 AS three"), bind("", ""), describe("P", ""), execute(),
           describe("S", ""),
           SYNC)
    return [(c.until_ready(), [
        "ParseComplete", "BindComplete", "DataRow(42)", "CommandComplete(SELECT 1)",
        "ParseComplete", "BindComplete", "DataRow(ax)", "CommandComplete(SELECT 1)",
        "ParseComplete", "BindComplete", "RowDescription(three:23)", "DataRow(3)", "CommandComplete(SELECT 1)",
        "ParameterDescription()", "RowDescription(three:23)",
        "ReadyForQuery(I)"])]


def case_close_and_reparse(c, idle):
    got = []
    c.send(parse("s1", "SELECT 1 AS a"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ReadyForQuery(I)"]))
    c.send(bind("", "s1"), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(1)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    c.send(close("S", "s1"), SYNC)
    got.append((c.until_ready(), ["CloseComplete", "ReadyForQuery(I)"]))
    # Closed: the name is gone (26000 invalid_sql_statement_name).
    c.send(bind("", "s1"), execute(), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(26000)", "ReadyForQuery(I)"]))
    # The same name, another text and result type.
    c.send(parse("s1", "SELECT 'two'::text AS b"), bind("", "s1"), describe("P", ""), execute(), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "BindComplete", "RowDescription(b:25)", "DataRow(two)",
                                  "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    # Closing a name that does not exist is not an error.
    c.send(close("S", "never-prepared"), close("P", "no-portal"), SYNC)
    got.append((c.until_ready(), ["CloseComplete", "CloseComplete", "ReadyForQuery(I)"]))
    return got


def case_duplicate_name(c, idle):
    # Parse of a name that exists and was not closed: 42P05 duplicate_prepared_statement.
    got = []
    c.send(parse("dup", "SELECT 1 AS one"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ReadyForQuery(I)"]))
    c.send(parse("dup", "SELECT 2 AS two"), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(42P05)", "ReadyForQuery(I)"]))
    c.send(bind("", "dup"), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(1)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    return got


def case_describe_on_fresh_server(c, idle):
    got = []
    c.send(parse("d1", "SELECT $1::int AS n, 'x'::text AS t /* rawpg-d1 */"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ReadyForQuery(I)"]))
    pid1 = c.scalar("SELECT pg_backend_pid()")
    time.sleep(idle)  # baton closes the idle server connection
    pid2 = c.scalar("SELECT pg_backend_pid()")
    print(f"note describe_on_fresh_server backend_changed={pid1 != pid2}")
    c.send(describe("S", "d1"), SYNC)
    got.append((c.until_ready(), ["ParameterDescription(23)", "RowDescription(n:23,t:25)", "ReadyForQuery(I)"]))
    c.send(describe("S", "d1"), bind("p1", "d1", ["9"]), describe("P", "p1"), execute("p1"), SYNC)
    got.append((c.until_ready(), ["ParameterDescription(23)", "RowDescription(n:23,t:25)", "BindComplete",
                                  "RowDescription(n:23,t:25)", "DataRow(9,x)", "CommandComplete(SELECT 1)",
                                  "ReadyForQuery(I)"]))
    return got


def case_error_mid_batch(c, idle):
    got = []
    c.send(parse("e1", "SELECT $1::int AS v"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ReadyForQuery(I)"]))
    # 22P02 invalid_text_representation at the second Bind; the server skips to Sync.
    c.send(parse("", "SELECT 1 AS one"), bind("", ""), execute(),
           bind("", "e1", ["not-a-number"]), execute(),
           parse("", "SELECT 2"), bind("", ""), execute(),
           SYNC)
    got.append((c.until_ready(), ["ParseComplete", "BindComplete", "DataRow(1)", "CommandComplete(SELECT 1)",
                                  "ErrorResponse(22P02)", "ReadyForQuery(I)"]))
    c.send(bind("", "e1", ["7"]), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(7)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    # An error inside a transaction block: skipped to Sync, then the block is aborted (25P02) until ROLLBACK.
    c.send(query("BEGIN"))
    got.append((c.until_ready(), ["CommandComplete(BEGIN)", "ReadyForQuery(T)"]))
    c.send(bind("", "e1", ["x"]), execute(), bind("", "e1", ["8"]), execute(), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(22P02)", "ReadyForQuery(E)"]))
    c.send(bind("", "e1", ["8"]), execute(), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(25P02)", "ReadyForQuery(E)"]))
    c.send(query("ROLLBACK"))
    got.append((c.until_ready(), ["CommandComplete(ROLLBACK)", "ReadyForQuery(I)"]))
    c.send(bind("", "e1", ["8"]), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(8)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    return got


def case_parse_skipped_by_error(c, idle):
    # A named Parse after an error in the same batch is skipped: the statement never exists (26000).
    # (1/0 is folded when the unnamed statement is planned, so the error comes at Bind.)
    got = []
    c.send(parse("", "SELECT 1/0"), bind("", ""), execute(), parse("k1", "SELECT 'k' AS k"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ErrorResponse(22012)", "ReadyForQuery(I)"]))
    c.send(bind("", "k1"), execute(), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(26000)", "ReadyForQuery(I)"]))
    return got


def case_failed_parse(c, idle):
    # A named Parse that fails (42601 syntax_error) creates nothing: binding the name gives 26000.
    got = []
    c.send(parse("bad", "SELEC 1"), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(42601)", "ReadyForQuery(I)"]))
    c.send(bind("", "bad"), execute(), SYNC)
    got.append((c.until_ready(), ["ErrorResponse(26000)", "ReadyForQuery(I)"]))
    c.send(parse("bad", "SELECT 'fixed' AS f"), bind("", "bad"), execute(), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "BindComplete", "DataRow(fixed)", "CommandComplete(SELECT 1)",
                                  "ReadyForQuery(I)"]))
    return got


def case_reprepare_skipped_by_error(c, idle):
    # A statement prepared, the server connection closed while idle, then on the fresh server its
    # first use comes after an error in the batch (baton's re-Parse is skipped with it); the next
    # batch must still find it.
    got = []
    c.send(parse("r1", "SELECT $1::int * 3 AS r /* rawpg-r1 */"), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ReadyForQuery(I)"]))
    time.sleep(idle)
    c.send(parse("", "SELECT 1/0"), bind("", ""), execute(), bind("", "r1", ["2"]), execute(), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "ErrorResponse(22012)", "ReadyForQuery(I)"]))
    c.send(bind("", "r1", ["5"]), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(15)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    return got


def case_flush_without_sync(c, idle):
    got = []
    c.send(parse("f1", "SELECT 5 AS five /* rawpg-f1 */"), FLUSH)
    got.append((c.exactly(1), ["ParseComplete"]))
    c.send(bind("", "f1"), execute(), FLUSH)
    got.append((c.exactly(3), ["BindComplete", "DataRow(5)", "CommandComplete(SELECT 1)"]))
    # The same text under another name (baton already has it on this server connection).
    c.send(parse("f2", "SELECT 5 AS five /* rawpg-f1 */"), describe("S", "f2"), FLUSH)
    got.append((c.exactly(3), ["ParseComplete", "ParameterDescription()", "RowDescription(five:23)"]))
    c.send(close("S", "f1"), FLUSH)
    got.append((c.exactly(1), ["CloseComplete"]))
    c.send(SYNC)
    got.append((c.until_ready(), ["ReadyForQuery(I)"]))
    c.send(bind("", "f2"), execute(), SYNC)
    got.append((c.until_ready(), ["BindComplete", "DataRow(5)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)"]))
    return got


def case_pipelined_simple(c, idle):
    c.send(query("SELECT 1 AS a"), query("BEGIN"), query("SELECT 2 AS b"), query("COMMIT"),
           query("SELECT 1/0"), query("SELECT 3 AS c; SELECT 4 AS d"), query(""),
           query("SET application_name = 'rawpg'"), query("SHOW application_name"))
    return [(c.until_ready(9), [
        "RowDescription(a:23)", "DataRow(1)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)",
        "CommandComplete(BEGIN)", "ReadyForQuery(T)",
        "RowDescription(b:23)", "DataRow(2)", "CommandComplete(SELECT 1)", "ReadyForQuery(T)",
        "CommandComplete(COMMIT)", "ReadyForQuery(I)",
        "ErrorResponse(22012)", "ReadyForQuery(I)",
        "RowDescription(c:23)", "DataRow(3)", "CommandComplete(SELECT 1)",
        "RowDescription(d:23)", "DataRow(4)", "CommandComplete(SELECT 1)", "ReadyForQuery(I)",
        "EmptyQueryResponse", "ReadyForQuery(I)",
        "CommandComplete(SET)", "ReadyForQuery(I)",
        "RowDescription(application_name:25)", "DataRow(rawpg)", "CommandComplete(SHOW)", "ReadyForQuery(I)"])]


def case_portal_suspended(c, idle):
    # Execute with a row limit inside a transaction: PortalSuspended, then the rest.
    c.send(query("BEGIN"))
    got = [(c.until_ready(), ["CommandComplete(BEGIN)", "ReadyForQuery(T)"])]
    c.send(parse("g", "SELECT generate_series(1, 3) AS g"), bind("cur", "g"), execute("cur", 2), SYNC)
    got.append((c.until_ready(), ["ParseComplete", "BindComplete", "DataRow(1)", "DataRow(2)", "PortalSuspended",
                                  "ReadyForQuery(T)"]))
    c.send(execute("cur", 2), close("P", "cur"), SYNC)
    got.append((c.until_ready(), ["DataRow(3)", "CommandComplete(SELECT 1)", "CloseComplete", "ReadyForQuery(T)"]))
    c.send(query("COMMIT"))
    got.append((c.until_ready(), ["CommandComplete(COMMIT)", "ReadyForQuery(I)"]))
    return got


CASES = {
    "unnamed_batch": case_unnamed_batch,
    "close_and_reparse": case_close_and_reparse,
    "duplicate_name": case_duplicate_name,
    "describe_on_fresh_server": case_describe_on_fresh_server,
    "error_mid_batch": case_error_mid_batch,
    "parse_skipped_by_error": case_parse_skipped_by_error,
    "failed_parse": case_failed_parse,
    "reprepare_skipped_by_error": case_reprepare_skipped_by_error,
    "flush_without_sync": case_flush_without_sync,
    "pipelined_simple": case_pipelined_simple,
    "portal_suspended": case_portal_suspended,
}


def main():
    port, database, idle = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    names = sys.argv[4:] or list(CASES)
    for name in names:
        c = Conn(port, database)
        try:
            pairs = CASES[name](c, idle)
        except Exception as e:  # a dead connection or a protocol surprise is a mismatch too
            print(f"MISMATCH {name}: {type(e).__name__}: {e}")
            continue
        finally:
            try:
                c.close()
            except OSError:
                pass
        bad = [(i, got, want) for i, (got, want) in enumerate(pairs) if got != want]
        if not bad:
            print(f"ok {name}")
            continue
        print(f"MISMATCH {name}")
        for i, got, want in bad:
            print(f"  step {i}: got  {' '.join(got)}")
            print(f"  step {i}: want {' '.join(want)}")
    print("done")


if __name__ == "__main__":
    main()
