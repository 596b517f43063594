// The msgpack subset of SPEC §4 (tether.v1.msgpack): maps with string keys,
// arrays, strings, integers (the smallest encoding), float64, booleans, nil
// and bin (Uint8Array). No ext types. No dependencies.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class MsgpackError extends Error {}

/** Encodes a JSON-like value (Uint8Array as bin) into msgpack bytes. */
export function encode(value) {
  const out = new Writer();
  write(out, value, 0);
  return out.bytes();
}

/** Decodes one msgpack value; throws MsgpackError on bad or trailing input,
 * nesting deeper than 100 levels and a map that names a key twice. */
export function decode(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const r = { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength), pos: 0 };
  const v = read(r, 0);
  if (r.pos !== buf.length) throw new MsgpackError('trailing bytes after the value');
  return v;
}

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }
  reserve(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x) { this.reserve(1); this.view.setUint8(this.pos, x); this.pos += 1; }
  u16(x) { this.reserve(2); this.view.setUint16(this.pos, x); this.pos += 2; }
  u32(x) { this.reserve(4); this.view.setUint32(this.pos, x); this.pos += 4; }
  u64(x) { this.reserve(8); this.view.setBigUint64(this.pos, BigInt(x)); this.pos += 8; }
  i64(x) { this.reserve(8); this.view.setBigInt64(this.pos, BigInt(x)); this.pos += 8; }
  f64(x) { this.reserve(8); this.view.setFloat64(this.pos, x); this.pos += 8; }
  raw(b) { this.reserve(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  bytes() { return this.buf.slice(0, this.pos); }
}

const maxDepth = 100;

function write(w, v, depth) {
  if (depth > maxDepth) throw new MsgpackError('nesting too deep');
  if (v === null || v === undefined) return w.u8(0xc0);
  if (v === false) return w.u8(0xc2);
  if (v === true) return w.u8(0xc3);
  if (typeof v === 'number') return writeNumber(w, v);
  if (typeof v === 'bigint') return v < 0n ? (w.u8(0xd3), w.i64(v)) : (w.u8(0xcf), w.u64(v));
  if (typeof v === 'string') {
    const b = textEncoder.encode(v);
    if (b.length < 32) w.u8(0xa0 | b.length);
    else if (b.length < 0x100) { w.u8(0xd9); w.u8(b.length); }
    else if (b.length < 0x10000) { w.u8(0xda); w.u16(b.length); }
    else { w.u8(0xdb); w.u32(b.length); }
    return w.raw(b);
  }
  if (v instanceof Uint8Array) {
    if (v.length < 0x100) { w.u8(0xc4); w.u8(v.length); }
    else if (v.length < 0x10000) { w.u8(0xc5); w.u16(v.length); }
    else { w.u8(0xc6); w.u32(v.length); }
    return w.raw(v);
  }
  if (Array.isArray(v)) {
    header(w, v.length, 0x90, 0xdc, 0xdd);
    for (const x of v) write(w, x, depth + 1);
    return undefined;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    header(w, keys.length, 0x80, 0xde, 0xdf);
    for (const k of keys) { write(w, k, depth + 1); write(w, v[k], depth + 1); }
    return undefined;
  }
  throw new MsgpackError(`cannot encode a ${typeof v}`);
}

function header(w, n, fix, c16, c32) {
  if (n < 16) w.u8(fix | n);
  else if (n < 0x10000) { w.u8(c16); w.u16(n); }
  else { w.u8(c32); w.u32(n); }
}

function writeNumber(w, v) {
  if (!Number.isInteger(v) || !Number.isSafeInteger(v)) {
    if (!Number.isFinite(v)) throw new MsgpackError('numbers must be finite');
    w.u8(0xcb);
    return w.f64(v);
  }
  if (v >= 0) {
    if (v < 0x80) return w.u8(v);
    if (v < 0x100) { w.u8(0xcc); return w.u8(v); }
    if (v < 0x10000) { w.u8(0xcd); return w.u16(v); }
    if (v < 0x100000000) { w.u8(0xce); return w.u32(v); }
    w.u8(0xcf);
    return w.u64(v);
  }
  if (v >= -32) return w.u8(v & 0xff);
  if (v >= -0x80) { w.u8(0xd0); w.reserve(1); w.view.setInt8(w.pos, v); w.pos += 1; return undefined; }
  if (v >= -0x8000) { w.u8(0xd1); w.reserve(2); w.view.setInt16(w.pos, v); w.pos += 2; return undefined; }
  if (v >= -0x80000000) { w.u8(0xd2); w.reserve(4); w.view.setInt32(w.pos, v); w.pos += 4; return undefined; }
  w.u8(0xd3);
  return w.i64(v);
}

function need(r, n) {
  if (r.pos + n > r.buf.length) throw new MsgpackError('truncated input');
}

function u(r, n) {
  need(r, n);
  const p = r.pos;
  r.pos += n;
  switch (n) {
    case 1: return r.view.getUint8(p);
    case 2: return r.view.getUint16(p);
    case 4: return r.view.getUint32(p);
    default: return safe(r.view.getBigUint64(p));
  }
}

function i(r, n) {
  need(r, n);
  const p = r.pos;
  r.pos += n;
  switch (n) {
    case 1: return r.view.getInt8(p);
    case 2: return r.view.getInt16(p);
    case 4: return r.view.getInt32(p);
    default: return safe(r.view.getBigInt64(p));
  }
}

// Integers beyond 2^53 stay exact as BigInt.
function safe(big) {
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(big) : big;
}

function bytes(r, n) {
  need(r, n);
  const b = r.buf.subarray(r.pos, r.pos + n);
  r.pos += n;
  return b;
}

function str(r, n) {
  try {
    return textDecoder.decode(bytes(r, n));
  } catch (e) {
    if (e instanceof MsgpackError) throw e;
    throw new MsgpackError('a string is not valid UTF-8');
  }
}

function read(r, depth) {
  if (depth > maxDepth) throw new MsgpackError('nesting too deep');
  const t = u(r, 1);
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if ((t & 0xf0) === 0x80) return map(r, t & 0x0f, depth);
  if ((t & 0xf0) === 0x90) return array(r, t & 0x0f, depth);
  if ((t & 0xe0) === 0xa0) return str(r, t & 0x1f);
  switch (t) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return bytes(r, u(r, 1)).slice();
    case 0xc5: return bytes(r, u(r, 2)).slice();
    case 0xc6: return bytes(r, u(r, 4)).slice();
    case 0xca: { need(r, 4); const v = r.view.getFloat32(r.pos); r.pos += 4; return v; }
    case 0xcb: { need(r, 8); const v = r.view.getFloat64(r.pos); r.pos += 8; return v; }
    case 0xcc: return u(r, 1);
    case 0xcd: return u(r, 2);
    case 0xce: return u(r, 4);
    case 0xcf: return u(r, 8);
    case 0xd0: return i(r, 1);
    case 0xd1: return i(r, 2);
    case 0xd2: return i(r, 4);
    case 0xd3: return i(r, 8);
    case 0xd9: return str(r, u(r, 1));
    case 0xda: return str(r, u(r, 2));
    case 0xdb: return str(r, u(r, 4));
    case 0xdc: return array(r, u(r, 2), depth);
    case 0xdd: return array(r, u(r, 4), depth);
    case 0xde: return map(r, u(r, 2), depth);
    case 0xdf: return map(r, u(r, 4), depth);
    default: throw new MsgpackError(`unsupported type byte 0x${t.toString(16)}`);
  }
}

function array(r, n, depth) {
  // Each element takes at least one byte: a huge header cannot allocate.
  need(r, n);
  const out = new Array(n);
  for (let k = 0; k < n; k++) out[k] = read(r, depth + 1);
  return out;
}

function map(r, n, depth) {
  need(r, 2 * n);
  const out = {};
  for (let k = 0; k < n; k++) {
    const key = read(r, depth + 1);
    if (typeof key !== 'string') throw new MsgpackError('map keys must be strings');
    // Which copy of a key counts differs between readers (SPEC §4).
    if (Object.prototype.hasOwnProperty.call(out, key)) throw new MsgpackError(`the key "${key}" is given more than once`);
    const value = read(r, depth + 1);
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}
