# A tiny PostgreSQL wire-protocol client over a raw socket, for tests that need SQLSTATEs of login errors or malformed bytes.
import base64
import hashlib
import hmac
import os
import socket
import struct
import time


def error_fields(body):
    """The fields of an ErrorResponse/NoticeResponse body as {code letter: text}."""
    fields = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = chr(body[pos])
        end = body.index(b"\0", pos + 1)
        fields[code] = body[pos + 1:end].decode("utf-8", "replace")
        pos = end + 1
    return fields


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_msg(self):
        """(type char, body bytes), or None at EOF (or a connection reset)."""
        try:
            if not self._fill(5):
                return None
            mtype = chr(self.buf[0])
            (length,) = struct.unpack("!I", self.buf[1:5])
            if not self._fill(1 + length):
                return None
        except ConnectionResetError:
            return None
        body = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return mtype, body

    def send_startup(self, user, database, options=None):
        params = {"user": user, "database": database}
        params.update(options or {})
        payload = struct.pack("!I", 196608)
        for k, v in params.items():
            payload += k.encode() + b"\0" + v.encode() + b"\0"
        payload += b"\0"
        self.send(struct.pack("!I", len(payload) + 4) + payload)

    def login(self, user, database, password, options=None):
        """Runs startup and authentication. Returns ("ok", parameter dict) once ReadyForQuery
        arrives, or ("error", ErrorResponse fields), or ("eof", None)."""
        self.send_startup(user, database, options)
        params = {}
        scram = None
        while True:
            m = self.read_msg()
            if m is None:
                return "eof", None
            mtype, body = m
            if mtype == "E":
                return "error", error_fields(body)
            if mtype == "S":
                k, v, _ = body.split(b"\0", 2)
                params[k.decode()] = v.decode()
            elif mtype == "Z":
                return "ok", params
            elif mtype == "R":
                (code,) = struct.unpack("!I", body[:4])
                if code == 0:
                    continue
                if code == 3:  # cleartext
                    self._password(password.encode() + b"\0")
                elif code == 5:  # md5 with a 4-byte salt
                    inner = hashlib.md5((password + user).encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                    self._password(("md5" + outer).encode() + b"\0")
                elif code == 10:  # SASL: mechanism list
                    scram = _Scram(password)
                    first = scram.client_first()
                    self._password(b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
                elif code == 11:
                    self._password(scram.client_final(body[4:]))
                elif code == 12:
                    scram.check_server_final(body[4:])
                else:
                    raise RuntimeError("unsupported auth request %d" % code)

    def _password(self, payload):
        self.send(b"p" + struct.pack("!I", len(payload) + 4) + payload)

    def query(self, sql):
        """Simple query; returns (rows as lists of str/None, error fields or None, closed): closed is
        True when the peer closed the connection instead of sending ReadyForQuery."""
        payload = sql.encode() + b"\0"
        self.send(b"Q" + struct.pack("!I", len(payload) + 4) + payload)
        rows, err = [], None
        while True:
            m = self.read_msg()
            if m is None:
                return rows, err, True
            mtype, body = m
            if mtype == "D":
                (n,) = struct.unpack("!H", body[:2])
                pos, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", body[pos:pos + 4])
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + ln].decode())
                        pos += ln
                rows.append(row)
            elif mtype == "E":
                err = error_fields(body)
            elif mtype == "Z":
                return rows, err, False

    def read_error_then_eof(self, timeout=10.0):
        """Reads until EOF; returns (first ErrorResponse fields or None, True when EOF came in time)."""
        self.sock.settimeout(timeout)
        err = None
        try:
            while True:
                m = self.read_msg()
                if m is None:
                    return err, True
                if m[0] == "E" and err is None:
                    err = error_fields(m[1])
        except socket.timeout:
            return err, False


class _Scram:
    def __init__(self, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()

    def client_first(self):
        self.first_bare = "n=,r=" + self.nonce
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first):
        self.server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in self.server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise RuntimeError("server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_message = ",".join([self.first_bare, self.server_first, without_proof]).encode()
        signature = hmac.new(stored_key, self.auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def check_server_final(self, data):
        expected = hmac.new(self.server_key, self.auth_message, hashlib.sha256).digest()
        if data.decode() != "v=" + base64.b64encode(expected).decode():
            raise RuntimeError("bad server signature")


def wait_eof(conn, timeout):
    """Seconds until the peer closed, or None if it did not within timeout."""
    start = time.monotonic()
    _, closed = conn.read_error_then_eof(timeout)
    return time.monotonic() - start if closed else None
