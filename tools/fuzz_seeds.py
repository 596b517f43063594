#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets into DIR/<target>/,
taken from the examples of protocol/SPEC.md (every JSON object in it), so
that the fuzzers start from real frames.

usage: tools/fuzz_seeds.py SPEC.md DIR
"""
import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import struct
import sys
import zlib

import msgpack


def json_objects(text):
    """Every balanced {...} in the text that parses as a JSON object."""
    found = []
    for start in [m.start() for m in re.finditer(r"\{", text)]:
        depth = 0
        in_string = False
        escaped = False
        for i in range(start, min(len(text), start + 8192)):
            c = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(text[start:i + 1].replace("\n", " "))
                        if isinstance(obj, dict):
                            found.append(obj)
                    except ValueError:
                        pass
                    break
    return found


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(claims, secret=b"s" * 32):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, head + b"." + body, hashlib.sha256).digest()
    return head + b"." + body + b"." + b64url(sig)


def client_frame(opcode, payload, fin=True, rsv=0):
    """A masked client frame (RFC 6455 5.2), mask key 01 02 03 04."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0xFE]) + struct.pack(">H", n)
    else:
        head += bytes([0xFF]) + struct.pack(">Q", n)
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    spec, out = sys.argv[1], sys.argv[2]
    objects = json_objects(open(spec, encoding="utf-8").read())
    for i, obj in enumerate(objects):
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        raw = text.encode()
        write(f"{out}/decode_json", f"spec-{i}", raw)
        write(f"{out}/decode_msgpack", f"spec-{i}",
              msgpack.packb(obj, use_bin_type=True))
        header = struct.pack(">I", len(raw))
        write(f"{out}/compressed_frame", f"deflate-{i}",
              b"\xc1\x01" + header + zlib.compress(raw))
        write(f"{out}/compressed_frame", f"gzip-{i}",
              b"\xc1\x02" + header + gzip.compress(raw))
        write(f"{out}/base64", f"spec-{i}", base64.b64encode(raw[:48]))
    # A batch of every message-like example, for the batch reader.
    messages = [o for o in objects if "source" in o and "destination" in o]
    batch = {"id": "b1", "messages": messages}
    write(f"{out}/decode_json", "batch", json.dumps(batch).encode())
    write(f"{out}/decode_msgpack", "batch", msgpack.packb(batch))
    # Keys given twice (at the top, nested, escaped alike) and nesting past
    # the frame's depth: refused, and the reader must stay bounded.
    message = json.dumps(messages[0], separators=(",", ":")) if messages else "{}"
    write(f"{out}/decode_json", "dup-source",
          message[:-1].encode() + b',"source":{"userId":"mallory"}}')
    write(f"{out}/decode_json", "dup-escaped",
          message[:-1].encode() + b',"\\u0073ource":{}}')
    write(f"{out}/decode_json", "dup-nested",
          message[:-1].encode() + b',"x":{"a":[{"b":1,"b":2}]}}')
    write(f"{out}/decode_json", "dup-batch",
          b'{"id":"b1","id":"b2","messages":[' + message.encode() + b"]}")
    write(f"{out}/decode_json", "deep",
          message[:-1].encode() + b',"x":' + b"[" * 40 + b"]" * 40 + b"}")
    write(f"{out}/decode_msgpack", "dup-status", b"\x83" + b"".join(
        msgpack.packb(x) for x in ["messageId", "m1", "status", "received",
                                   "status", "failed"]))
    write(f"{out}/decode_msgpack", "deep",
          msgpack.packb({"id": "m", "payload": 0})[:-1] + b"\x91" * 40 + b"\x01")
    for i, claims in enumerate(o for o in objects if "sub" in o):
        write(f"{out}/token", f"spec-{i}", token(claims))
    write(f"{out}/token", "valid",
          token({"sub": "alice", "device_id": "phone",
                 "device_type": "mobile", "iat": 1000, "exp": 2000}))
    head = b64url(b'{"alg":"HS256","typ":"JWT"}')
    body = b64url(b'{"sub":"alice","sub":"bob","device_id":"phone",'
                  b'"device_type":"mobile","exp":2000}')
    sig = hmac.new(b"s" * 32, head + b"." + body, hashlib.sha256).digest()
    write(f"{out}/token", "dup-sub", head + b"." + body + b"." + b64url(sig))
    write(f"{out}/base64", "rfc6455-key", b"dGhlIHNhbXBsZSBub25jZQ==")
    # upgrade_check: method, version, key, origin, authorization,
    # protocols, query, one per line.
    good = token({"sub": "alice", "device_id": "phone",
                  "device_type": "mobile", "exp": 2000})
    write(f"{out}/upgrade_check", "valid", b"\n".join([
        b"GET", b"13", b"dGhlIHNhbXBsZSBub25jZQ==", b"https://app.example.com",
        b"Bearer " + good, b"tether.v1.msgpack",
        b"compress=gzip&resume=r&lastSeq=3"]))
    write(f"{out}/upgrade_check", "query-token", b"\n".join([
        b"GET", b"13", b"dGhlIHNhbXBsZSBub25jZQ==", b"", b"", b"",
        b"token=" + good]))
    # session: a mode byte (bit 0 deflate, bit 1 msgpack), then client frames.
    messages_json = [json.dumps(o).encode() for o in messages[:4]]
    frames = b"".join(client_frame(1, m) for m in messages_json)
    write(f"{out}/session", "json", b"\x00" + frames + client_frame(9, b"hi")
          + client_frame(8, b"\x03\xe8"))
    write(f"{out}/session", "msgpack", b"\x02" + b"".join(
        client_frame(2, msgpack.packb(o)) for o in messages[:4]))
    deflated = []
    for m in messages_json:
        c = zlib.compressobj(wbits=-15)
        deflated.append(client_frame(1, (c.compress(m) + c.flush(
            zlib.Z_SYNC_FLUSH))[:-4], rsv=4))
    write(f"{out}/session", "deflate", b"\x01" + b"".join(deflated))
    half = len(messages_json[0]) // 2
    write(f"{out}/session", "fragments", b"\x00"
          + client_frame(1, messages_json[0][:half], fin=False)
          + client_frame(9, b"between")
          + client_frame(0, messages_json[0][half:]))
    print(f"fuzz seeds: {len(objects)} SPEC examples into {out}")


if __name__ == "__main__":
    main()
