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
    for i, claims in enumerate(o for o in objects if "sub" in o):
        write(f"{out}/token", f"spec-{i}", token(claims))
    write(f"{out}/token", "valid",
          token({"sub": "alice", "device_id": "phone",
                 "device_type": "mobile", "iat": 1000, "exp": 2000}))
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
    print(f"fuzz seeds: {len(objects)} SPEC examples into {out}")


if __name__ == "__main__":
    main()
