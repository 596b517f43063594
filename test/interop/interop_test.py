#!/usr/bin/python3
"""Interoperability test: drives a real tetherd process with an independent
client (python3-websockets 10.x and python3-msgpack from Debian), in JSON and
msgpack modes, with and without permessage-deflate, and over TLS (Python's
ssl module against a `tether cert` certificate, reloaded on SIGHUP).

Run by ctest (label interop); exits non-zero if any check fails.
Every wait is bounded; the test ends only the tetherd it started.
"""

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

import msgpack
import websockets

TIMEOUT = 5.0
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def envelope(msg_id, user, device, dtype, destination, requires_ack=True,
             payload=None):
    now = int(time.time() * 1000)
    return {
        "id": msg_id,
        "timestamp": now,
        "protocolVersion": "1.0.0",
        "source": {"deviceId": device, "userId": user, "deviceType": dtype,
                   "timestamp": now},
        "destination": destination,
        "type": "command",
        "payload": payload if payload is not None else {"command": "status"},
        "optimization": {"priority": "high", "requiresAck": requires_ack},
    }


class Daemon:
    def __init__(self, tetherd, tether, tls=False):
        self.tetherd = tetherd
        self.tether = tether
        self.dir = tempfile.mkdtemp(prefix="tether-interop-")
        self.tls = None
        extra = []
        if tls:
            self.tls = os.path.join(self.dir, "tls")
            subprocess.run([tether, "cert", "--out", self.tls],
                           capture_output=True, timeout=TIMEOUT, check=True)
            extra = ["--server.tls_cert", self.tls + "/cert.pem",
                     "--server.tls_key", self.tls + "/key.pem"]
        self.proc = subprocess.Popen(
            [tetherd, "--port", "0", "--address", "127.0.0.1", "--data-dir",
             self.dir, "--log-level", "warn",
             "--limits.max_message_bytes", "65536",
             "--limits.max_payload_bytes", "32768"] + extra,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # tetherd prints it at start-up
        if not line.startswith("listening on "):
            raise RuntimeError("tetherd did not start: " + line
                               + self.proc.stderr.read())
        self.port = int(line.rsplit(":", 1)[1])

    def token(self, user, device, dtype, role=None):
        args = [self.tether, "token", "--user", user, "--device", device,
                "--type", dtype, "--data-dir", self.dir]
        if role:
            args += ["--role", role]
        out = subprocess.run(args, capture_output=True, text=True,
                             timeout=TIMEOUT, check=True).stdout
        return out.strip().splitlines()[-1]

    def url(self, token=None, scheme=None):
        scheme = scheme or ("wss" if self.tls else "ws")
        base = "%s://127.0.0.1:%d/ws" % (scheme, self.port)
        return base + ("?token=" + token if token else "")

    def ssl_context(self, **kwargs):
        """A client context trusting only this daemon's certificate."""
        ctx = ssl.create_default_context(cafile=self.tls + "/cert.pem")
        for k, v in kwargs.items():
            setattr(ctx, k, v)
        return ctx

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


def decode(frame):
    if isinstance(frame, bytes):
        return msgpack.unpackb(frame, raw=False)
    return json.loads(frame)


async def connect(d, user, device, dtype, role=None, codec="json",
                  deflate=True, query=False):
    token = d.token(user, device, dtype, role)
    kwargs = {"open_timeout": TIMEOUT, "max_size": 2 ** 24}
    if d.tls:
        kwargs["ssl"] = d.ssl_context()
    if not deflate:
        kwargs["compression"] = None
    if codec == "msgpack":
        kwargs["subprotocols"] = ["tether.v1.msgpack"]
    elif codec == "json-named":
        kwargs["subprotocols"] = ["tether.v1.json"]
    if query:
        ws = await websockets.connect(d.url(token), **kwargs)
    else:
        ws = await websockets.connect(
            d.url(), extra_headers={"Authorization": "Bearer " + token},
            **kwargs)
    welcome = decode(await recv(ws))
    return ws, welcome


def encode(codec, obj):
    return msgpack.packb(obj) if codec == "msgpack" else json.dumps(obj)


async def exchange(d, codec_a, codec_b, deflate):
    label = "%s->%s deflate=%s" % (codec_a, codec_b, deflate)
    a, wa = await connect(d, "u-" + label, "phone", "mobile", codec=codec_a,
                          deflate=deflate)
    b, wb = await connect(d, "u-" + label, "laptop", "desktop", "extension",
                          codec=codec_b, deflate=deflate, query=True)
    check(wa["type"] == "tether.welcome", label + ": welcome received")
    expected = "permessage-deflate" if deflate else "none"
    check(wa["payload"]["compression"] == expected,
          label + ": welcome names compression " + expected)
    check(bool(a.extensions) == deflate,
          label + ": client negotiated deflate=%s" % deflate)
    want_codec = "tether.v1.msgpack" if codec_a == "msgpack" else "tether.v1.json"
    check(wa["payload"]["codec"] == want_codec, label + ": codec " + want_codec)
    payload = {"text": "héllo", "n": [1, 2.5, None, True], "big": "x" * 3000}
    msg = envelope("m-" + label, "u-" + label, "phone", "mobile",
                   {"target": "extension"}, payload=payload)
    await a.send(encode(codec_a, msg))
    ack = decode(await recv(a))
    check(ack.get("messageId") == msg["id"] and ack.get("status") == "received",
          label + ": sender got a received ack")
    raw = await recv(b)
    check(isinstance(raw, bytes) == (codec_b == "msgpack"),
          label + ": delivery uses the recipient's frame type")
    got = decode(raw)
    check(got["id"] == msg["id"] and got["payload"] == payload,
          label + ": extension got the message with its payload intact")
    await a.close()
    await b.close()


async def original_client_behaviour(d):
    # The original client always sends BatchMessage frames and a
    # {"type":"ping"} heartbeat; it never names a subprotocol.
    a, _ = await connect(d, "orig", "phone", "mobile")
    b, _ = await connect(d, "orig", "laptop", "desktop", "extension")
    m = envelope("orig-1", "orig", "phone", "mobile", {"target": "extension"})
    batch = {"id": "batch_1_0_abcdef", "timestamp": m["timestamp"],
             "messages": [m],
             "metadata": {"totalSize": len(json.dumps(m)), "messageCount": 1,
                          "priority": "high"}}
    await a.send(json.dumps(batch))
    ack = decode(await recv(a))
    check(ack.get("batchId") == "batch_1_0_abcdef"
          and ack.get("status") == "received",
          "original: batch acked with its batchId")
    check(decode(await recv(b))["id"] == "orig-1",
          "original: batched message delivered")
    await a.send(json.dumps({"type": "ping", "timestamp": 99}))
    pong = decode(await recv(a))
    check(pong.get("type") == "pong" and pong.get("timestamp") == 99,
          "original: app-level ping answered with pong")
    await a.send("{broken")
    err = decode(await recv(a))
    check(err.get("status") == "failed"
          and err["error"]["code"] == "MALFORMED_FRAME",
          "original: malformed JSON gets a failed ack")
    invalid = envelope("orig-2", "orig", "phone", "mobile",
                       {"target": "device"})
    await a.send(json.dumps(invalid))
    err = decode(await recv(a))
    fields = [e["field"] for e in err["error"]["details"]["errors"]]
    check(err["error"]["code"] == "VALIDATION_ERROR"
          and "destination.deviceId" in fields,
          "original: invalid envelope gets field errors")
    await a.send(json.dumps(envelope("orig-3", "orig", "phone", "mobile",
                                     {"target": "extension"})))
    check(decode(await recv(a)).get("status") == "received",
          "original: connection keeps working after errors")
    await a.close()
    await b.close()


async def refusals(d):
    try:
        await websockets.connect(d.url("not-a-token"), open_timeout=TIMEOUT)
        check(False, "bad token refused with 401")
    except websockets.exceptions.InvalidStatusCode as e:
        check(e.status_code == 401, "bad token refused with 401")
    ws, _ = await connect(d, "big", "phone", "mobile")
    await ws.send("x" * 70000)
    try:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        check(False, "oversized message closes with 1009")
    except websockets.exceptions.ConnectionClosed as e:
        check(e.code == 1009, "oversized message closes with 1009 (got %s)"
              % e.code)


def peak_rss_kb(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def bombs(d):
    # The server's memory high-water mark before the bombs: the check below
    # bounds the growth, so a sanitizer's own baseline does not count.
    base_kb = peak_rss_kb(d)
    # permessage-deflate: 64 MiB of spaces is ~64 KiB on the wire; the
    # inflated size counts against the limit (64 KiB here).
    ws, _ = await connect(d, "bomb", "phone", "mobile")
    check(bool(ws.extensions), "bomb: deflate negotiated")
    await ws.send(" " * (64 << 20))
    try:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        check(False, "deflate bomb closes with 1009")
    except websockets.exceptions.ConnectionClosed as e:
        check(e.code == 1009, "deflate bomb closes with 1009 (got %s)" % e.code)
    # App-level zlib: a compressed frame that inflates past the limit.
    ws, _ = await connect(d, "bomb", "tablet", "tablet", deflate=False)
    raw = zlib.compress(b" " * (64 << 20), 9)
    frame = bytes([0xC1, 1]) + (64 << 20).to_bytes(4, "big") + raw
    await ws.send(frame)
    err = decode(await recv(ws))
    check(err.get("status") == "failed"
          and err["error"]["code"] == "DECOMPRESSION_ERROR",
          "zlib bomb refused with DECOMPRESSION_ERROR")
    # A well-formed compressed frame is accepted.
    m = envelope("z-1", "bomb", "tablet", "tablet", {"target": "device",
                 "deviceId": "tablet"})
    body = json.dumps(m).encode()
    await ws.send(bytes([0xC1, 2]) + len(body).to_bytes(4, "big")
                  + gzip.compress(body))
    got = [decode(await recv(ws)) for _ in range(2)]
    check(any(g.get("messageId") == "z-1" and g.get("status") == "received"
              for g in got), "gzip frame from the client accepted")
    await ws.close()
    # 128 MiB of bombs went in; the server's peak memory barely moved.
    peak_kb = peak_rss_kb(d)
    check(0 < base_kb <= peak_kb < base_kb + 32 * 1024,
          "server peak RSS after bombs: %d KiB, %d KiB before (growth < 32 MiB)"
          % (peak_kb, base_kb))


async def shutdown(d):
    ws, _ = await connect(d, "bye", "phone", "mobile")
    d.proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(ws.recv(), 15)
        check(False, "SIGTERM drains: sessions close with 1012")
    except websockets.exceptions.ConnectionClosed as e:
        check(e.code == 1012, "SIGTERM drains: sessions close with 1012 "
              "(got %s)" % e.code)
        # The reason tells the device when to come back, resuming.
        reason = json.loads(e.reason)
        check(isinstance(reason.get("retryAfterMs"), int)
              and 0 <= reason["retryAfterMs"] < 1000
              and reason.get("resume") is True,
              "the drain's close reason: %r" % e.reason)
    rc = d.stop()
    check(rc == 0, "tetherd exits 0 after SIGTERM (got %s)" % rc)


def peer_fingerprint(ws):
    der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


async def tls(args):
    d = Daemon(args.tetherd, args.tether, tls=True)
    try:
        # wss in both codecs, with and without permessage-deflate.
        for deflate in (True, False):
            await exchange(d, "json", "msgpack", deflate)
        ws, welcome = await connect(d, "tls-user", "phone", "mobile")
        version = ws.transport.get_extra_info("ssl_object").version()
        check(version in ("TLSv1.2", "TLSv1.3"), "TLS version %s" % version)
        first = peer_fingerprint(ws)
        # TLS 1.1 and older are refused by the server (its protocol_version
        # alert; the client side is opened up to TLS 1.0 to offer them).
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(d.tls + "/cert.pem")
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        refusal = ""
        try:
            with socket.create_connection(("127.0.0.1", d.port),
                                          timeout=TIMEOUT) as raw:
                old.wrap_socket(raw, server_hostname="localhost").close()
        except ssl.SSLError as e:
            refusal = str(e)
        check("PROTOCOL_VERSION" in refusal,
              "a TLS 1.1 client gets the server's protocol_version alert (%s)"
              % refusal)
        # Plain WebSocket on the same port still works (first bytes decide).
        token = d.token("tls-user", "laptop", "desktop")
        plain = await websockets.connect(d.url(token, scheme="ws"),
                                         open_timeout=TIMEOUT)
        check(decode(await recv(plain))["type"] == "tether.welcome",
              "plain ws on the TLS port")
        await plain.close()
        # A new certificate, reloaded on SIGHUP: new connections get it, the
        # open session keeps working.
        fresh = os.path.join(d.dir, "fresh")
        subprocess.run([args.tether, "cert", "--out", fresh],
                       capture_output=True, timeout=TIMEOUT, check=True)
        for name in ("cert.pem", "key.pem"):
            shutil.copy(os.path.join(fresh, name), os.path.join(d.tls, name))
        d.proc.send_signal(signal.SIGHUP)
        second = None
        for _ in range(50):  # bounded: 50 x 100 ms
            ws2, _ = await connect(d, "tls-user", "tablet", "tablet")
            second = peer_fingerprint(ws2)
            await ws2.close()
            if second != first:
                break
            await asyncio.sleep(0.1)
        check(second is not None and second != first,
              "SIGHUP reloads the certificate for new connections")
        msg = envelope("after-reload", "tls-user", "phone", "mobile",
                       {"target": "device", "deviceId": "phone"})
        await ws.send(json.dumps(msg))
        got = [decode(await recv(ws)) for _ in range(2)]
        check(any(x.get("messageId") == "after-reload" for x in got)
              and any(x.get("id") == "after-reload" for x in got),
              "the session opened before the reload still works")
        await ws.close()
        await shutdown(d)
    finally:
        d.cleanup()


async def main(args):
    await tls(args)
    d = Daemon(args.tetherd, args.tether)
    try:
        for deflate in (True, False):
            for a, b in (("json", "json"), ("msgpack", "msgpack"),
                         ("msgpack", "json"), ("json-named", "msgpack")):
                await exchange(d, a, b, deflate)
        await original_client_behaviour(d)
        await refusals(d)
        await bombs(d)
        await shutdown(d)
    finally:
        d.cleanup()
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--tetherd", required=True)
    p.add_argument("--tether", required=True)
    sys.exit(asyncio.run(main(p.parse_args())))
