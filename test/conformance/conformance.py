#!/usr/bin/python3
"""WebSocket conformance suite for tetherd, after the groups of the
Autobahn|Testsuite (1 framing, 2 pings/pongs, 3 reserved bits, 4 opcodes,
5 fragmentation, 6 UTF-8, 7 close handling, 9 limits, 12/13
permessage-deflate) plus handshake negatives. Raw sockets only (the client
is written here from RFC 6455 and RFC 7692, not taken from a library).

It starts a tetherd with the test-only echo route (server.echo_path) on
127.0.0.1 port 0 and ends only that process. Each case prints OK,
NON-STRICT or FAILED; the counts come last. Exit status 1 if any case
FAILED, or is NON-STRICT without an entry in NON_STRICT_ALLOWED.

usage: conformance.py --tetherd PATH [--case PREFIX]
"""

import argparse
import base64
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TIMEOUT = 3.0
MAX_MESSAGE = 65536  # --limits.max_message_bytes of the daemon under test

# Cases whose behaviour is allowed to differ from the strictest reading of
# the RFC, with the reason. Empty: every case must be OK.
NON_STRICT_ALLOWED = {
    "7.3.2": "Beast fails the connection as RFC 6455 8.1 requires, with 1002 "
             "rather than the 1007 that 7.4.1 suggests for bad data.",
    "7.9.11": "Beast 1.74 accepts close codes above 4999 (undefined by RFC "
              "6455 7.4.2; Autobahn does not test them) and echoes them.",
    "7.9.12": "as 7.9.11.",
    "7.7.14": "close code 1014 (Bad Gateway) was registered with IANA after "
              "RFC 6455; Beast 1.74 still treats it as reserved and answers "
              "1002. A client never needs to send it to a server.",
}

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Daemon:
    def __init__(self, tetherd):
        self.dir = tempfile.mkdtemp(prefix="tether-conformance-")
        self.proc = subprocess.Popen(
            [tetherd, "--port", "0", "--address", "127.0.0.1", "--data-dir",
             self.dir, "--log-level", "error", "--server.echo_path", "/echo",
             "--limits.max_message_bytes", str(MAX_MESSAGE),
             "--limits.max_payload_bytes", str(MAX_MESSAGE // 2),
             "--heartbeat.handshake_timeout", "5s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("tetherd did not start: " + line
                               + self.proc.stderr.read())
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Closed(Exception):
    pass


class Conn:
    """One raw WebSocket client connection."""

    def __init__(self, port, path="/echo", extensions=None, key=None,
                 version="13", method="GET", extra=""):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=TIMEOUT)
        self.buf = b""
        self.key = key if key is not None else base64.b64encode(
            os.urandom(16)).decode()
        req = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: %s\r\n" % (method, path, self.key,
                                                  version))
        if extensions:
            req += "Sec-WebSocket-Extensions: %s\r\n" % extensions
        req += extra + "\r\n"
        self.sock.sendall(req.encode())
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.deflate = None
        ext = self.headers.get("sec-websocket-extensions", "")
        if self.status == 101 and ext.startswith("permessage-deflate"):
            self.deflate = [p.strip() for p in ext.split(";")[1:]]
            self.inflater = zlib.decompressobj(wbits=-15)
            self.deflater = zlib.compressobj(wbits=-15)
        if self.status == 101:
            accept = base64.b64encode(hashlib.sha1(
                (self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
            ).digest()).decode()
            self.accept_ok = self.headers.get("sec-websocket-accept") == accept

    def _read_until(self, marker):
        deadline = time.monotonic() + TIMEOUT
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no response")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed()
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError()
            except ConnectionResetError:
                raise Closed()
            if not chunk:
                raise Closed()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(head + mask + body)
        except OSError:
            pass  # the server may have closed already; reading tells

    def send_message(self, opcode, payload, compress=False):
        if isinstance(payload, str):
            payload = payload.encode()
        if compress:
            data = self.deflater.compress(payload) + self.deflater.flush(
                zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            self.send_frame(opcode, data[:-4], rsv=4)
        else:
            self.send_frame(opcode, payload)

    def recv_frame(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        b0, b1 = self._read_exact(2, deadline)
        if b1 & 0x80:
            raise ValueError("server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read_exact(8, deadline))[0]
        payload = self._read_exact(n, deadline)
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload

    def recv_message(self, timeout=TIMEOUT):
        """(opcode, payload) of the next data message; pongs and pings are
        collected in self.control. Raises Closed, or returns ("close",
        code, reason) for a close frame."""
        self.control = getattr(self, "control", [])
        opcode, parts, compressed = None, [], False
        while True:
            fin, rsv, op, payload = self.recv_frame(timeout)
            if op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                return ("close", code, payload[2:])
            if op in (OP_PING, OP_PONG):
                self.control.append((op, payload))
                continue
            if op != OP_CONT:
                opcode, compressed = op, bool(rsv & 4)
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                if compressed:
                    data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
                    if "server_no_context_takeover" in (self.deflate or []):
                        self.inflater = zlib.decompressobj(wbits=-15)
                return (opcode, data)

    def expect_close(self, timeout=TIMEOUT):
        """The close code the server sends (None without one; "tcp" if the
        TCP connection ended without a close frame)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = max(0.05, deadline - time.monotonic())
                got = self.recv_message(left)
                if got[0] == "close":
                    return got[1]
        except (Closed, ConnectionResetError):
            return "tcp"
        except TimeoutError:
            return "timeout"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# -- cases --------------------------------------------------------------------

CASES = []


def case(cid, what):
    def wrap(f):
        CASES.append((cid, what, f))
        return f
    return wrap


def echo(d, opcode, payload, frames=None, **conn):
    """Sends a message (optionally as given fragments) and expects it back."""
    c = Conn(d.port, **conn)
    if frames is None:
        c.send_frame(opcode, payload)
    else:
        for i, (fin, op, part) in enumerate(frames):
            c.send_frame(op, part, fin=fin)
    got = c.recv_message()
    c.close()
    if isinstance(payload, str):
        payload = payload.encode()
    if got == (opcode, payload):
        return "OK", ""
    return "FAILED", "got %r" % (got[:2] if len(str(got)) < 200 else got[0],)


def fails_with(d, code, send, accept_codes=None, **conn):
    """Runs `send(conn)` and expects a close frame with `code`."""
    c = Conn(d.port, **conn)
    send(c)
    got = c.expect_close()
    c.close()
    if got == code or (accept_codes and got in accept_codes):
        return "OK", "close %s" % got
    if got in ("tcp",):
        return "NON-STRICT", "TCP closed without a close frame"
    return "FAILED", "got %s, want close %s" % (got, code)


def register_framing():
    for i, n in enumerate([0, 125, 126, 127, 128, 65535, MAX_MESSAGE]):
        text = "*" * n
        case("1.1.%d" % (i + 1), "text message of %d bytes is echoed" % n)(
            lambda d, t=text: echo(d, OP_TEXT, t))
        case("1.2.%d" % (i + 1), "binary message of %d bytes is echoed" % n)(
            lambda d, n=n: echo(d, OP_BINARY, bytes([0xFE]) * n))

    @case("1.3.1", "a frame length that lies (header says more) is cut at close")
    def _(d):
        # 10 bytes announced, 3 sent, then nothing: the server must not
        # answer and must not crash; it closes on its idle timeout.
        c = Conn(d.port)
        c.send_frame(OP_TEXT, b"abc", length=10)
        got = c.expect_close(timeout=1.0)
        c.close()
        ok = Conn(d.port)
        ok.send_frame(OP_TEXT, b"still serving")
        back = ok.recv_message()
        ok.close()
        return ("OK", "no answer (%s), next connection served" % got) \
            if got == "timeout" and back == (OP_TEXT, b"still serving") \
            else ("FAILED", "got %s / %r" % (got, back))


def register_pings():
    @case("2.1", "ping without payload gets a pong without payload")
    def _(d):
        return ping_pong(d, b"")

    @case("2.2", "ping with 125 bytes gets the same 125 bytes back")
    def _(d):
        return ping_pong(d, bytes(range(125)))

    @case("2.3", "ping with a binary payload is echoed in the pong")
    def _(d):
        return ping_pong(d, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")

    @case("2.4", "ping with 126 bytes fails the connection (1002)")
    def _(d):
        return fails_with(d, 1002, lambda c: c.send_frame(OP_PING, b"x" * 126))

    @case("2.5", "an unsolicited pong is ignored")
    def _(d):
        c = Conn(d.port)
        c.send_frame(OP_PONG, b"unsolicited")
        c.send_frame(OP_TEXT, b"after pong")
        got = c.recv_message()
        c.close()
        return ("OK", "") if got == (OP_TEXT, b"after pong") else ("FAILED", repr(got))

    @case("2.6", "ten pings get ten pongs in order")
    def _(d):
        c = Conn(d.port)
        for i in range(10):
            c.send_frame(OP_PING, b"p%d" % i)
        c.send_frame(OP_TEXT, b"done")
        got = c.recv_message()
        pongs = [p for op, p in c.control if op == OP_PONG]
        c.close()
        want = [b"p%d" % i for i in range(10)]
        return ("OK", "") if got == (OP_TEXT, b"done") and pongs == want \
            else ("FAILED", "pongs %r" % pongs)

    @case("2.7", "a fragmented ping fails the connection (1002)")
    def _(d):
        return fails_with(d, 1002,
                          lambda c: c.send_frame(OP_PING, b"frag", fin=False))


def ping_pong(d, payload):
    c = Conn(d.port)
    c.send_frame(OP_PING, payload)
    fin, rsv, op, got = c.recv_frame()
    c.close()
    return ("OK", "") if (op, got) == (OP_PONG, payload) \
        else ("FAILED", "got opcode %d %r" % (op, got[:20]))


def register_reserved():
    n = 0
    for rsv in (1, 2, 3, 4, 5, 6, 7):
        for op, payload in ((OP_TEXT, b"hello"), (OP_BINARY, b"\x00\xff"),
                            (OP_PING, b"ping"), (OP_CLOSE, b"\x03\xe8")):
            n += 1
            case("3.%d" % n, "RSV=%d on opcode %d without an extension fails "
                 "(1002)" % (rsv, op))(
                lambda d, rsv=rsv, op=op, p=payload: fails_with(
                    d, 1002, lambda c: c.send_frame(op, p, rsv=rsv)))


def register_opcodes():
    for i, op in enumerate((3, 4, 5, 6, 7, 11, 12, 13, 14, 15)):
        case("4.%d" % (i + 1), "reserved opcode %d fails the connection "
             "(1002)" % op)(
            lambda d, op=op: fails_with(d, 1002,
                                        lambda c: c.send_frame(op, b"x")))


def register_fragmentation():
    case("5.1", "a text message in two fragments is echoed whole")(
        lambda d: echo(d, OP_TEXT, "fragment1fragment2",
                       frames=[(False, OP_TEXT, b"fragment1"),
                               (True, OP_CONT, b"fragment2")]))
    case("5.2", "a binary message in many small fragments is echoed whole")(
        lambda d: echo(d, OP_BINARY, b"abcdefghij",
                       frames=[(False, OP_BINARY, b"a")]
                       + [(False, OP_CONT, bytes([c])) for c in b"bcdefghi"]
                       + [(True, OP_CONT, b"j")]))
    case("5.3", "empty fragments are allowed")(
        lambda d: echo(d, OP_TEXT, "data",
                       frames=[(False, OP_TEXT, b""), (False, OP_CONT, b"data"),
                               (True, OP_CONT, b"")]))

    @case("5.4", "a ping between fragments is answered and the message echoed")
    def _(d):
        c = Conn(d.port)
        c.send_frame(OP_TEXT, b"frag1", fin=False)
        c.send_frame(OP_PING, b"between")
        c.send_frame(OP_CONT, b"frag2", fin=True)
        got = c.recv_message()
        pongs = [p for op, p in c.control if op == OP_PONG]
        c.close()
        return ("OK", "") if got == (OP_TEXT, b"frag1frag2") \
            and pongs == [b"between"] else ("FAILED", "%r %r" % (got, pongs))

    case("5.5", "a continuation without a message fails (1002)")(
        lambda d: fails_with(d, 1002,
                             lambda c: c.send_frame(OP_CONT, b"orphan")))
    case("5.6", "a new message inside a fragmented one fails (1002)")(
        lambda d: fails_with(d, 1002, lambda c: (
            c.send_frame(OP_TEXT, b"first", fin=False),
            c.send_frame(OP_TEXT, b"second"))))
    case("5.7", "a fragmented close fails (1002)")(
        lambda d: fails_with(d, 1002, lambda c: c.send_frame(
            OP_CLOSE, b"\x03\xe8", fin=False)))


UTF8_VALID = [
    ("ASCII", b"Hello-123"),
    ("two-byte", "\u00e9\u00e8".encode()),
    ("three-byte", "\u20ac\u2603".encode()),
    ("four-byte", "\U0001F600\U0010FFFF".encode()),
    ("greek kosme", b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
    ("U+FFFE and U+FFFF (noncharacters are valid)", b"\xef\xbf\xbe\xef\xbf\xbf"),
]
UTF8_INVALID = [
    ("lone continuation", b"\x80"),
    ("0xFF byte", b"\xff"),
    ("overlong slash", b"\xc0\xaf"),
    ("overlong three-byte", b"\xe0\x80\xaf"),
    ("surrogate U+D800", b"\xed\xa0\x80"),
    ("surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("above U+10FFFF", b"\xf4\x90\x80\x80"),
    ("truncated four-byte", b"\xf0\x9f\x98"),
    ("five-byte form", b"\xf8\x88\x80\x80\x80"),
    ("valid then invalid", b"kosme\xce\xba\xff"),
]


def register_utf8():
    n = 0
    for name, data in UTF8_VALID:
        n += 1
        case("6.%d" % n, "valid UTF-8 (%s) is echoed" % name)(
            lambda d, data=data: echo(d, OP_TEXT, data))
        n += 1
        case("6.%d" % n, "valid UTF-8 (%s) split byte by byte across "
             "fragments is echoed" % name)(
            lambda d, data=data: echo(d, OP_TEXT, data, frames=[
                (i == len(data) - 1, OP_TEXT if i == 0 else OP_CONT,
                 data[i:i + 1]) for i in range(len(data))]))
    for name, data in UTF8_INVALID:
        n += 1
        case("6.%d" % n, "invalid UTF-8 (%s) fails (1007)" % name)(
            lambda d, data=data: fails_with(
                d, 1007, lambda c: c.send_frame(OP_TEXT, data)))
        n += 1
        case("6.%d" % n, "invalid UTF-8 (%s) in the second fragment fails "
             "(1007)" % name)(
            lambda d, data=data: fails_with(d, 1007, lambda c: (
                c.send_frame(OP_TEXT, b"ok", fin=False),
                c.send_frame(OP_CONT, data, fin=True))))


def close_with(d, payload, want):
    c = Conn(d.port)
    c.send_frame(OP_CLOSE, payload)
    got = c.expect_close()
    c.close()
    if got == want:
        return "OK", "close %s" % got
    return "FAILED", "got %s, want %s" % (got, want)


def invalid_close(d, code):
    verdict, detail = close_with(d, struct.pack(">H", code), 1002)
    if code > 4999 and "got %d" % code in detail:
        return "NON-STRICT", "echoed %d" % code
    return verdict, detail


def register_close():
    @case("7.1.1", "a close without payload is answered with a close")
    def _(d):
        # RFC 6455 5.5.1: answered with a close; no code or 1000.
        verdict, detail = close_with(d, b"", None)
        return ("OK", "close 1000") if "got 1000" in detail else (verdict, detail)
    case("7.1.2", "a close with 1000 and a reason is answered with 1000")(
        lambda d: close_with(d, b"\x03\xe8bye", 1000))

    @case("7.1.3", "data after a close is ignored")
    def _(d):
        c = Conn(d.port)
        c.send_frame(OP_CLOSE, b"\x03\xe8")
        c.send_frame(OP_TEXT, b"too late")
        got = c.recv_message()
        c.close()
        return ("OK", "") if got[0] == "close" and got[1] == 1000 \
            else ("FAILED", repr(got))

    case("7.3.1", "a close payload of one byte fails (1002)")(
        lambda d: close_with(d, b"\x03", 1002))
    @case("7.3.2", "a close reason that is not UTF-8 fails (1007)")
    def _(d):
        verdict, detail = close_with(d, b"\x03\xe8\xff\xfe", 1007)
        if "got 1002" in detail:
            return "NON-STRICT", "failed with 1002"
        return verdict, detail
    case("7.3.3", "a close reason of 123 bytes is answered")(
        lambda d: close_with(d, b"\x03\xe8" + b"*" * 123, 1000))
    n = 0
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                 1012, 1013, 3000, 3999):
        n += 1
        case("7.7.%d" % n, "close code %d is valid and echoed" % code)(
            lambda d, code=code: close_with(d, struct.pack(">H", code), code))

    @case("7.7.14", "close code 1014 (IANA, after RFC 6455) is echoed")
    def _(d):
        verdict, detail = close_with(d, struct.pack(">H", 1014), 1014)
        if verdict == "FAILED" and "got 1002" in detail:
            return "NON-STRICT", "answered 1002"
        return verdict, detail

    for code in (4000, 4999):
        n += 2 if n == 13 else 1
        case("7.7.%d" % n, "close code %d is valid and echoed" % code)(
            lambda d, code=code: close_with(d, struct.pack(">H", code), code))
    n = 0
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                 65535):
        n += 1
        case("7.9.%d" % n, "close code %d is invalid on the wire: 1002" % code)(
            lambda d, code=code: invalid_close(d, code))


def register_limits():
    case("9.1", "a message of exactly the limit (%d bytes) is echoed"
         % MAX_MESSAGE)(lambda d: echo(d, OP_BINARY, b"\x01" * MAX_MESSAGE))
    case("9.2", "a frame over the limit fails (1009)")(
        lambda d: fails_with(d, 1009, lambda c: c.send_frame(
            OP_BINARY, b"\x01" * (MAX_MESSAGE + 1))))
    case("9.3", "fragments adding up to more than the limit fail (1009)")(
        lambda d: fails_with(d, 1009, lambda c: [
            c.send_frame(OP_BINARY if i == 0 else OP_CONT, b"\x02" * 16384,
                         fin=False) for i in range(MAX_MESSAGE // 16384 + 1)]))
    case("9.4", "a frame announcing 2^63-1 bytes fails (1009) without "
         "allocating")(lambda d: fails_with(d, 1009, lambda c: c.send_frame(
             OP_BINARY, b"", length=(1 << 63) - 1)))


def deflate_echo(d, payloads, opcode=OP_TEXT, offer="permessage-deflate"):
    c = Conn(d.port, extensions=offer)
    if c.deflate is None:
        c.close()
        return "FAILED", "permessage-deflate not negotiated"
    for p in payloads:
        c.send_message(opcode, p, compress=True)
        got = c.recv_message()
        if got != (opcode, p):
            c.close()
            return "FAILED", "got %r" % (got[0], )
    c.close()
    return "OK", "params %s" % ";".join(c.deflate)


def register_deflate():
    case("12.1", "compressed text messages of growing size are echoed")(
        lambda d: deflate_echo(d, [("tether " * k).encode()
                                   for k in (1, 16, 256, 4096)]))
    case("12.2", "compressed binary messages (random, incompressible)")(
        lambda d: deflate_echo(d, [os.urandom(n) for n in (16, 1024, 16384)],
                               OP_BINARY))
    case("12.3", "many messages on one context (context takeover both ways)")(
        lambda d: deflate_echo(d, [b'{"id":"m%d","payload":"same words"}' % i
                                   for i in range(50)]))
    case("13.1", "client_no_context_takeover offered and honoured")(
        lambda d: deflate_echo(d, [b"abc" * 100] * 5,
                               offer="permessage-deflate; "
                                     "client_no_context_takeover"))
    case("13.2", "server_no_context_takeover offered and honoured")(
        lambda d: deflate_echo(d, [b"abc" * 100] * 5,
                               offer="permessage-deflate; "
                                     "server_no_context_takeover"))
    case("13.3", "client_max_window_bits offered without a value")(
        lambda d: deflate_echo(d, [b"window " * 500],
                               offer="permessage-deflate; "
                                     "client_max_window_bits"))
    case("13.4", "server_max_window_bits=9 offered")(
        lambda d: deflate_echo(d, [b"nine " * 500],
                               offer="permessage-deflate; "
                                     "server_max_window_bits=9"))

    @case("13.5", "an uncompressed message on a deflate session is echoed")
    def _(d):
        c = Conn(d.port, extensions="permessage-deflate")
        c.send_message(OP_TEXT, b"plain", compress=False)
        got = c.recv_message()
        c.close()
        return ("OK", "") if got == (OP_TEXT, b"plain") else ("FAILED", repr(got))

    case("13.6", "RSV1 on a control frame fails even with deflate (1002)")(
        lambda d: fails_with(d, 1002, lambda c: c.send_frame(
            OP_PING, b"x", rsv=4), extensions="permessage-deflate"))
    case("13.7", "RSV1 on a continuation frame fails (1002)")(
        lambda d: fails_with(d, 1002, lambda c: (
            c.send_frame(OP_TEXT, b"a", fin=False),
            c.send_frame(OP_CONT, b"b", rsv=4)),
            extensions="permessage-deflate"))
    case("13.8", "compressed data that does not inflate fails (1007)")(
        lambda d: fails_with(d, 1007, lambda c: c.send_frame(
            OP_TEXT, b"\xff\xff\xff\xff", rsv=4),
            accept_codes=(1002,), extensions="permessage-deflate"))
    case("13.9", "a compressed bomb over the limit fails (1009)")(
        lambda d: fails_with(d, 1009, lambda c: c.send_message(
            OP_BINARY, b"\x00" * (4 * MAX_MESSAGE), compress=True),
            extensions="permessage-deflate"))


def http_status(d, **conn):
    try:
        c = Conn(d.port, **conn)
    except Closed:
        return None, {}
    status, headers = c.status, c.headers
    c.close()
    return status, headers


def register_handshake():
    @case("H.1", "the accept key is SHA-1 of key + GUID (RFC 6455 4.2.2)")
    def _(d):
        c = Conn(d.port)
        ok = c.status == 101 and c.accept_ok
        c.close()
        return ("OK", "") if ok else ("FAILED", "status %s" % c.status)

    for i, key in enumerate(["", "abc", "dGhlIHNhbXBsZSBub25jZQ",
                             "dGhlIHNhbXBsZQ=="]):
        # On the device endpoint: these checks come before the token.
        case("H.2.%d" % (i + 1), "Sec-WebSocket-Key %r is refused with 400"
             % key)(lambda d, key=key: expect_status(d, 400, key=key,
                                                     path="/ws"))
    case("H.3", "Sec-WebSocket-Version 8 gets 426 naming 13")(
        lambda d: expect_status(d, 426, version="8", path="/ws",
                                header=("sec-websocket-version", "13")))
    case("H.4", "POST gets 405 with Allow: GET")(
        lambda d: expect_status(d, 405, method="POST", path="/ws",
                                header=("allow", "GET")))
    case("H.5", "headers over 8 KiB are refused (400 or 431)")(
        lambda d: expect_status(d, (400, 431),
                                extra="X-Big: %s\r\n" % ("a" * 9000)))
    for i, offer in enumerate(["permessage-deflate; server_max_window_bits=7",
                               "permessage-deflate; server_max_window_bits=16",
                               "permessage-deflate; unknown_param",
                               "permessage-deflate; client_max_window_bits=x",
                               "x-webkit-deflate-frame"]):
        case("H.6.%d" % (i + 1), "extension offer %r is declined or refused"
             % offer)(lambda d, offer=offer: declined(d, offer))


def expect_status(d, want, header=None, **conn):
    status, headers = http_status(d, **conn)
    wants = want if isinstance(want, tuple) else (want,)
    if status not in wants:
        return "FAILED", "status %s, want %s" % (status, want)
    if header and headers.get(header[0]) != header[1]:
        return "FAILED", "%s: %r" % (header[0], headers.get(header[0]))
    return "OK", "status %s" % status


def declined(d, offer):
    status, headers = http_status(d, extensions=offer)
    ext = headers.get("sec-websocket-extensions", "")
    if status == 101 and ext == "":
        return "OK", "upgraded without the extension"
    if status == 400:
        return "OK", "refused with 400"
    return "FAILED", "status %s, extensions %r" % (status, ext)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tetherd", required=True)
    p.add_argument("--case", default="")
    args = p.parse_args()
    for register in (register_framing, register_pings, register_reserved,
                     register_opcodes, register_fragmentation, register_utf8,
                     register_close, register_limits, register_deflate,
                     register_handshake):
        register()
    d = Daemon(args.tetherd)
    counts = {"OK": 0, "NON-STRICT": 0, "FAILED": 0}
    bad = []
    try:
        for cid, what, f in CASES:
            if not cid.startswith(args.case):
                continue
            try:
                verdict, detail = f(d)
            except Exception as e:  # a case that crashed is a failure
                verdict, detail = "FAILED", "%s: %s" % (type(e).__name__, e)
            if verdict == "NON-STRICT" and cid in NON_STRICT_ALLOWED:
                detail += " (allowed: %s)" % NON_STRICT_ALLOWED[cid]
            elif verdict != "OK":
                bad.append(cid)
            counts[verdict] += 1
            print("%-10s %-7s %s%s" % (cid, verdict, what,
                                       " -- " + detail if detail else ""))
            if d.proc.poll() is not None:
                print("tetherd exited (%s) during case %s" % (
                    d.proc.returncode, cid))
                bad.append("daemon")
                break
    finally:
        d.stop()
    print("conformance: %d cases, %d OK, %d NON-STRICT, %d FAILED" % (
        sum(counts.values()), counts["OK"], counts["NON-STRICT"],
        counts["FAILED"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
