#!/usr/bin/python3
"""Interoperability test: drives a real tetherd process with an independent
client (python3-websockets 10.x and python3-msgpack from Debian), in JSON and
msgpack modes, with and without permessage-deflate.

Run by ctest (label interop); exits non-zero if any check fails.
Every wait is bounded; the test ends only the tetherd it started.
"""

import argparse
import asyncio
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
    def __init__(self, tetherd, tether):
        self.tetherd = tetherd
        self.tether = tether
        self.dir = tempfile.mkdtemp(prefix="tether-interop-")
        self.proc = subprocess.Popen(
            [tetherd, "--port", "0", "--address", "127.0.0.1", "--data-dir",
             self.dir, "--log-level", "warn",
             "--limits.max_message_bytes", "65536",
             "--limits.max_payload_bytes", "32768"],
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

    def url(self, token=None):
        base = "ws://127.0.0.1:%d/ws" % self.port
        return base + ("?token=" + token if token else "")

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
        check(False, "SIGTERM closes sessions with 1001")
    except websockets.exceptions.ConnectionClosed as e:
        check(e.code == 1001, "SIGTERM closes sessions with 1001 (got %s)"
              % e.code)
    rc = d.stop()
    check(rc == 0, "tetherd exits 0 after SIGTERM (got %s)" % rc)


async def main(args):
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
