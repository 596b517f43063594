// The Tether protocol (protocol/SPEC.md) as a JavaScript client: an ES
// module without runtime dependencies for browsers and Node (its built-in
// WebSocket or the `ws` package, passed as `WebSocket`).
//
// What it does for the application: the welcome; JSON or msgpack;
// reconnect with exponential backoff and full jitter (Retry-After honoured,
// terminal close codes never retried); resume with the resume token and the
// last seq; cumulative delivery acks; duplicates dropped by id and seq;
// `send` with `requiresAck` as a promise of the server's ack; an offline
// outbox, and unacked messages resent after a reconnect (the server drops
// resends by id); rooms, presence as a live member map; gap notices as
// events; app-level heartbeats that notice a dead link where the browser
// cannot see WebSocket pings, and a quick check of the link whenever the
// platform says the network changed (a half-open link after a switch from
// Wi-Fi to cellular is redialled at once, not after the next heartbeat);
// push addresses and the app's background/foreground state told to the
// server, and told again after every reconnect.
// A hostile or broken server cannot make it
// throw: frames of the wrong shape are dropped and reported as `error`
// events, and a second welcome on a connection closes that link.

import * as msgpack from './msgpack.js';

export const PROTOCOL_VERSION = '1.1.0';

/** A refusal by the server (a failed ack) or by this client. */
export class TetherError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'TetherError';
    this.code = code;
    this.details = details;
  }
}

/** Close codes after which the client does not reconnect (SPEC §12). */
export function isTerminalClose(code) {
  return code === 1002 || code === 1003 || code === 1007 || code === 1008
    || (code >= 4500 && code <= 4999);
}

/** HTTP statuses of a refused upgrade that a retry cannot fix (SPEC §2.2). */
export function isFinalRefusal(status) {
  return status === 400 || status === 403 || status === 404 || status === 405
    || status === 426;
}

/** A plain object (not null, an array or bytes): the only frame shape. */
function isObject(x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** A delivery sequence number: a non-negative safe integer. */
function isSeq(x) {
  return Number.isSafeInteger(x) && x >= 0;
}

function hasOwn(x, key) {
  return Object.prototype.hasOwnProperty.call(x, key);
}

/** A presence member or change: who it is, at least. */
function isMember(m) {
  return isObject(m) && typeof m.userId === 'string' && typeof m.deviceId === 'string';
}

const pushProviders = ['apns', 'fcm', 'webhook'];

function checkProvider(provider, what) {
  if (!pushProviders.includes(provider)) {
    throw new TypeError(`${what}: provider must be apns, fcm or webhook, not ${String(provider)}`);
  }
}

/**
 * The reconnect rule (SPEC §12, as `tether devices` simulates it): a link
 * that was established (its welcome arrived) and stayed up `stableMs` was
 * a success, so the next attempt starts from the base delay (0); any other
 * ending, no welcome or a drop sooner after it (a crash loop), is one more
 * failed attempt and the delay keeps growing to its cap.
 * @param {number} attempt failed attempts so far
 * @param {number|null} upMs how long the link stayed up after its welcome
 *   (null: it was never welcomed)
 */
export function nextAttempt(attempt, upMs, stableMs) {
  return upMs !== null && upMs >= stableMs ? 0 : attempt;
}

/** The time to come back a drain's close reason (1012) names:
 * `{"retryAfterMs":N,"resume":true}` (SPEC §12); null if it names none.
 * At most 10 minutes whatever a server says. */
export function drainRetryAfter(reason) {
  let r;
  try {
    r = JSON.parse(reason);
  } catch {
    return null;
  }
  const ms = isObject(r) ? r.retryAfterMs : undefined;
  return Number.isSafeInteger(ms) && ms >= 0 ? Math.min(ms, 600000) : null;
}

/** Full-jitter backoff: a draw in [0, min(cap, base * multiplier^attempt)). */
export function backoffDelay(attempt, backoff, u) {
  const window = Math.min(backoff.capMs, backoff.baseMs * backoff.multiplier ** attempt);
  return Math.floor(u * window);
}

const defaults = {
  codec: 'json',
  tokenIn: 'query', // browsers cannot set headers; 'header' with `ws`
  backoff: { baseMs: 250, capMs: 30000, multiplier: 2 },
  stableMs: 3000, // a link up this long after its welcome resets the backoff
  random: Math.random,
  ackDelayMs: 50, // one cumulative ack covers what arrives meanwhile
  probeTimeoutMs: 1500, // checkLink: a link silent this long is dead
  dedupCapacity: 10000,
  outboxLimit: 1000,
};

let counter = 0;

/** A message id unique for this device: time, a counter, randomness. */
function newId(prefix) {
  counter = (counter + 1) % 0x100000;
  return `${prefix}-${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export class TetherClient {
  /**
   * @param {object} options url (ws://host:port/ws), token (a string or a
   *   function returning one or a promise of one), codec ('json' or
   *   'msgpack'), WebSocket (constructor; default globalThis.WebSocket),
   *   tokenIn ('query' or 'header'), backoff {baseMs, capMs, multiplier},
   *   stableMs (a link up this long after its welcome resets the backoff),
   *   random (() => [0, 1)), ackDelayMs, dedupCapacity, outboxLimit,
   *   probeTimeoutMs (checkLink's wait), networkEvents (an EventTarget
   *   firing `online`/`offline`, each a checkLink; default: globalThis in a
   *   browser, false: none), visibility (a Document whose
   *   `visibilitychange` to visible is a checkLink; default:
   *   globalThis.document), lifecycle ('visibility': the document hidden
   *   is background(), shown again foreground(); default when there is a
   *   globalThis.document; false: none. The document is `visibility` if
   *   that is one, else globalThis.document: tests pass a fake one).
   */
  constructor(options) {
    this.options = { ...defaults, ...options, backoff: { ...defaults.backoff, ...(options.backoff || {}) } };
    this.WebSocket = this.options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new TetherError('NO_WEBSOCKET', 'no WebSocket: pass options.WebSocket (e.g. the ws package)');
    this.options.lifecycle ??= typeof globalThis.document !== 'undefined' ? 'visibility' : false;
    if (this.options.lifecycle !== 'visibility' && this.options.lifecycle !== false) {
      throw new TypeError(`lifecycle must be 'visibility' or false, not ${String(this.options.lifecycle)}`);
    }
    this.listeners = new Map();
    this.state = 'idle'; // connecting, open, waiting (to reconnect), closed
    this.identity = null; // from the welcome: userId, deviceId, deviceType, sessionId
    this.resumeToken = null;
    this.lastSeq = 0; // highest seq processed
    this.ackedSeq = 0; // highest seq acked to the server
    this.attempt = 0;
    this.welcomedAt = null; // when the current link's welcome arrived
    this.pending = new Map(); // id -> {envelope, resolve, reject}: sent, awaiting the server's ack
    this.outbox = []; // {envelope, resolve, reject, wantsAck}: not sent yet
    this.seenIds = new Set();
    // Received messages whose sender said withdrawable: false (markHandled
    // leaves them out), as many as seenIds.
    this.keptIds = new Set();
    this.rooms = new Map(); // room -> join payload, rejoined after a reconnect
    this.members = new Map(); // room -> Map(userId/deviceId -> member)
    this.pushAddresses = new Map(); // provider -> register payload, registered again after a reconnect
    this.app = 'foreground'; // as background()/foreground() last said; background is told again after a reconnect
    this.appRequest = null; // the last tether.lifecycle request (null: none, or it failed)
    this.timers = new Set();
    this.socket = null;
    this.probe = null; // checkLink's {timer, resolvers} while a ping waits
    this.unwatch = null; // removes the network and visibility listeners
    this.stats = { connects: 0, resumes: 0, duplicates: 0, delivered: 0, resent: 0, deadLinks: 0, drained: 0, paced: 0, withdrawn: 0 };
  }

  // -- events: open, message, ack, gap, presence, close, error -------------

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return this;
  }

  off(event, fn) {
    this.listeners.get(event)?.delete(fn);
    return this;
  }

  emit(event, ...args) {
    for (const fn of this.listeners.get(event) || []) {
      try {
        fn(...args);
      } catch (e) {
        if (event !== 'error') this.emit('error', e);
      }
    }
  }

  // -- the link ------------------------------------------------------------

  /** Connects; resolves with the first welcome's payload. */
  connect() {
    if (this.state === 'closed') return Promise.reject(new TetherError('CLOSED', 'the client was closed'));
    if (!this.ready) {
      this.ready = new Promise((resolve, reject) => {
        this.readyResolve = resolve;
        this.readyReject = reject;
      });
    }
    if (this.state === 'idle') {
      this.watchNetwork();
      this.dial();
    }
    return this.ready;
  }

  /**
   * Checks the link now, for when the platform says the network changed:
   * a ping that must be answered (by any frame) within probeTimeoutMs, or
   * the link is taken for dead (a half-open TCP connection sends nothing
   * back and may never close) and dialled again at once, resuming. While
   * waiting to reconnect it dials at once. Resolves true if the link
   * answered, false otherwise.
   */
  checkLink() {
    if (this.state === 'waiting') {
      clearTimeout(this.retryTimer);
      this.timers.delete(this.retryTimer);
      this.dial();
      return Promise.resolve(false);
    }
    if (this.state !== 'open' || !this.socket) return Promise.resolve(false);
    return new Promise((resolve) => {
      if (this.probe) {
        this.probe.resolvers.push(resolve);
        return;
      }
      this.probe = { resolvers: [resolve] };
      this.write({ type: 'ping', timestamp: Date.now() });
      this.probe.timer = this.later(this.options.probeTimeoutMs, () => {
        this.stats.deadLinks++;
        this.emit('error', new TetherError('HEARTBEAT_TIMEOUT', 'no answer to the link check'));
        this.giveUp(1006, 'no answer to the link check', undefined, true);
      });
    });
  }

  // Any answer ends a link check.
  endProbe(answered) {
    const probe = this.probe;
    if (!probe) return;
    this.probe = null;
    if (probe.timer) {
      clearTimeout(probe.timer);
      this.timers.delete(probe.timer);
    }
    for (const resolve of probe.resolvers) resolve(answered);
  }

  // online / offline / the page visible again: check the link. With
  // `lifecycle: 'visibility'`, the page hidden or shown: the app goes to the
  // background or comes back (and a page hidden already is in the background).
  watchNetwork() {
    if (this.unwatch) return;
    const g = globalThis;
    const net = this.options.networkEvents ?? (typeof g.window === 'object' ? g : null);
    const doc = this.options.visibility ?? g.document;
    const check = () => { this.checkLink(); };
    const visible = () => { if (doc.visibilityState !== 'hidden') this.checkLink(); };
    const canListen = (t) => t && typeof t.addEventListener === 'function';
    const page = this.options.lifecycle !== 'visibility' ? null
      : canListen(this.options.visibility) ? this.options.visibility : g.document;
    const hidden = () => page.hidden ?? page.visibilityState === 'hidden';
    const follow = () => { this.automatic(hidden() ? this.background() : this.foreground()); };
    if (canListen(net)) {
      net.addEventListener('online', check);
      net.addEventListener('offline', check);
    }
    if (canListen(doc)) doc.addEventListener('visibilitychange', visible);
    if (canListen(page)) {
      page.addEventListener('visibilitychange', follow);
      if (hidden()) follow();
    }
    this.unwatch = () => {
      if (canListen(net)) {
        net.removeEventListener('online', check);
        net.removeEventListener('offline', check);
      }
      if (canListen(doc)) doc.removeEventListener('visibilitychange', visible);
      if (canListen(page)) page.removeEventListener('visibilitychange', follow);
    };
  }

  /** Closes the link for good; unsent and unacked messages are rejected. */
  close() {
    this.state = 'closed';
    this.unwatch?.();
    this.clearTimers();
    const ws = this.socket;
    this.socket = null; // nothing it still delivers is read
    if (ws) {
      try { ws.close(1000); } catch { /* already closing */ }
    }
    const err = new TetherError('CLOSED', 'the client was closed');
    this.failAll(err);
    this.readyReject?.(err);
    this.readyResolve = null;
    this.readyReject = null;
  }

  /** TEST SEAM: drops the TCP connection as a failing network would. */
  dropLinkForTesting() {
    if (this.socket?.terminate) this.socket.terminate();
    else this.socket?.close(4000, 'dropped');
  }

  async dial() {
    this.state = 'connecting';
    let token;
    try {
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch (e) {
      this.emit('error', e);
      this.retry(null);
      return;
    }
    if (this.state === 'closed') return;
    const url = new URL(this.options.url);
    if (this.options.tokenIn === 'query') url.searchParams.set('token', token);
    if (this.resumeToken) {
      url.searchParams.set('resume', this.resumeToken);
      url.searchParams.set('lastSeq', String(this.lastSeq));
    }
    const protocol = this.options.codec === 'msgpack' ? 'tether.v1.msgpack' : 'tether.v1.json';
    let ws;
    try {
      ws = this.options.tokenIn === 'header'
        ? new this.WebSocket(url.toString(), [protocol], { headers: { Authorization: `Bearer ${token}` } })
        : new this.WebSocket(url.toString(), [protocol]);
    } catch (e) {
      this.emit('error', e);
      this.retry(null);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    this.welcomed = false; // a connection has one welcome, first (SPEC §2.5)
    let refusal = null;
    // `ws` reports the HTTP answer of a refused upgrade; browsers do not.
    if (typeof ws.on === 'function') {
      ws.on('unexpected-response', (req, res) => {
        refusal = { status: res.statusCode, retryAfter: Number(res.headers['retry-after']) || 0 };
        req.destroy?.();
        ws.terminate?.();
      });
    }
    ws.onmessage = (ev) => {
      if (this.socket !== ws) return;
      // Nothing the server sends may throw out of here: in Node a throw
      // from `ws`'s handler ends the process.
      try {
        this.onFrame(ev.data, ws);
      } catch (e) {
        this.malformed(`it could not be handled: ${e?.message}`);
      }
    };
    ws.onerror = () => { /* the close event follows */ };
    ws.onclose = (ev) => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.onClose(refusal ? 1006 : ev.code, ev.reason || '', refusal);
    };
  }

  onClose(code, reason, refusal) {
    this.clearTimers();
    const wasOpen = this.state === 'open';
    if (this.state === 'closed') return;
    let terminal = isTerminalClose(code) && !(code === 4501 && typeof this.options.token === 'function');
    if (refusal) terminal = isFinalRefusal(refusal.status)
      || (refusal.status === 401 && typeof this.options.token !== 'function');
    if (terminal) {
      this.state = 'closed';
      const err = new TetherError(refusal ? `HTTP_${refusal.status}` : `CLOSE_${code}`,
        refusal ? `the server refused the upgrade with HTTP ${refusal.status}` : `closed with ${code} ${reason}`);
      this.emit('close', { code, reason, status: refusal?.status, reconnect: false });
      this.failAll(err);
      this.readyReject?.(err);
      return;
    }
    // The server paces its returns: a drain's close (1012) and a 503 name
    // the time to come back; the backoff never dials sooner.
    let retryAfterMs = (refusal?.retryAfter || 0) * 1000;
    if (refusal?.status === 503 && retryAfterMs > 0) this.stats.paced++;
    const back = code === 1012 ? drainRetryAfter(reason) : null;
    if (back !== null) {
      retryAfterMs = back;
      this.stats.drained++;
    }
    this.retry({ code, reason, status: refusal?.status, retryAfterMs, wasOpen });
  }

  retry(info) {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    const up = this.welcomedAt === null ? null : Date.now() - this.welcomedAt;
    this.welcomedAt = null;
    this.attempt = nextAttempt(this.attempt, up, this.options.stableMs);
    let delay = backoffDelay(this.attempt++, this.options.backoff, this.options.random());
    // A link found dead by a check is dialled again at once (the network
    // changed under it); if that fails, the backoff goes on from here.
    if (info?.now) delay = 0;
    if (info?.retryAfterMs) delay = Math.max(delay, info.retryAfterMs);
    this.emit('close', { ...(info || {}), reconnect: true, delayMs: delay });
    this.retryTimer = this.later(delay, () => this.dial());
  }

  later(ms, fn) {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pongTimer = null;
    this.ackTimer = null;
    this.endProbe(false);
  }

  failAll(err) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const o of this.outbox) o.reject(err);
    this.outbox = [];
  }

  // -- frames in -----------------------------------------------------------

  decode(data) {
    if (typeof data === 'string') return JSON.parse(data);
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.options.codec !== 'msgpack') return JSON.parse(new TextDecoder().decode(bytes));
    return msgpack.decode(bytes);
  }

  /** Reports a frame (or a batch member) that was dropped. */
  malformed(why) {
    this.emit('error', new TetherError('MALFORMED_FRAME', `a frame from the server was dropped: ${why}`));
  }

  /** The server broke the protocol on this link: it is closed (1002) and
   * dialled again; identity, resume token and lastSeq stay as they were. */
  protocolError(why) {
    this.emit('error', new TetherError('PROTOCOL_ERROR', `${why}: the client closes the link and reconnects`));
    this.giveUp(1002, why, 1002);
  }

  /** Gives the link up now and dials again: it broke the protocol
   * (`closeCode` 1002), or it is dead and its close may never come (no
   * `closeCode`: the TCP connection is dropped where the platform allows);
   * `now`: without waiting out a backoff delay. */
  giveUp(code, why, closeCode, now = false) {
    const ws = this.socket;
    if (!ws) return;
    const wasOpen = this.state === 'open';
    this.socket = null; // nothing more it delivers is read; its close is ours
    this.clearTimers();
    try {
      if (closeCode === undefined && ws.terminate) ws.terminate();
      else ws.close(closeCode ?? 4000, closeCode === 1002 ? 'protocol error' : 'no answer');
    } catch {
      try { ws.close(); } catch { /* already closing */ }
    }
    this.retry({ code, reason: why, wasOpen, now });
  }

  onFrame(data, ws) {
    let frame;
    try {
      frame = this.decode(data);
    } catch (e) {
      this.malformed(`it could not be read: ${e.message}`);
      return;
    }
    this.alive();
    if (!isObject(frame)) {
      this.malformed('it is not an object');
      return;
    }
    // The kind is decided by the keys, as the server does (SPEC §3).
    if (hasOwn(frame, 'messages')) {
      if (!Array.isArray(frame.messages)) {
        this.malformed('a batch whose messages are not an array');
        return;
      }
      for (const m of frame.messages) {
        if (this.socket !== ws) return; // a protocol error ended the link
        this.onMessage(m);
      }
    } else if (frame.messageId !== undefined && frame.status !== undefined) {
      if (!this.welcomed) {
        this.protocolError('an ack before the tether.welcome');
        return;
      }
      this.onAck(frame);
    } else if ((frame.type === 'ping' || frame.type === 'pong') && frame.id === undefined) {
      if (frame.timestamp !== undefined && typeof frame.timestamp !== 'number') {
        this.malformed(`a ${frame.type} whose timestamp is not a number`);
        return;
      }
      if (frame.type === 'ping') this.write({ type: 'pong', timestamp: frame.timestamp });
    } else {
      this.onMessage(frame);
    }
  }

  onMessage(m) {
    if (!isObject(m)) {
      this.malformed('a message that is not an object');
      return;
    }
    if (typeof m.id !== 'string' || typeof m.type !== 'string') {
      this.malformed('a message without a string id and type');
      return;
    }
    if (m.seq !== undefined && !isSeq(m.seq)) {
      this.malformed(`message ${m.id}: seq is not a non-negative integer`);
      return;
    }
    if (m.type === 'tether.welcome') {
      this.onWelcome(m.payload);
      return;
    }
    if (!this.welcomed) {
      this.protocolError(`message ${m.id} before the tether.welcome`);
      return;
    }
    if (typeof m.seq === 'number') {
      this.scheduleAck();
      if (m.seq <= this.lastSeq) {
        this.stats.duplicates++; // a redelivery of what was processed
        return;
      }
      this.lastSeq = m.seq;
    }
    if (this.seenIds.has(m.id)) {
      this.stats.duplicates++; // the same message again under a new seq
      return;
    }
    this.remember(m.id);
    if (isObject(m.optimization) && m.optimization.withdrawable === false) {
      this.keptIds.add(m.id);
      if (this.keptIds.size > this.options.dedupCapacity) this.keptIds.delete(this.keptIds.values().next().value);
    }
    switch (m.type) {
      case 'tether.gap':
        this.onGap(m.payload);
        return;
      case 'tether.withdrawn':
        this.onWithdrawn(m.payload);
        return;
      case 'tether.presence.snapshot':
        this.onSnapshot(m.payload);
        return;
      case 'tether.presence.diff':
        this.onDiff(m.payload);
        return;
      default:
        this.stats.delivered++;
        this.emit('message', m);
    }
  }

  remember(id) {
    this.seenIds.add(id);
    if (this.seenIds.size > this.options.dedupCapacity) this.seenIds.delete(this.seenIds.values().next().value);
  }

  scheduleAck() {
    if (this.ackTimer) return;
    this.ackTimer = this.later(this.options.ackDelayMs, () => {
      this.ackTimer = null;
      this.flushAck();
    });
  }

  flushAck() {
    if (this.state !== 'open' || this.lastSeq <= this.ackedSeq) return;
    this.ackedSeq = this.lastSeq;
    this.write({ messageId: '', status: 'received', timestamp: Date.now(), seq: this.lastSeq });
  }

  onWelcome(w) {
    if (this.state === 'closed') return;
    if (this.welcomed) {
      // Accepted, it would replace the identity and reset lastSeq, so
      // that messages already seen would be taken again.
      this.protocolError('a second tether.welcome on one connection');
      return;
    }
    if (!isObject(w) || typeof w.userId !== 'string' || typeof w.deviceId !== 'string'
      || typeof w.resumeToken !== 'string') {
      this.protocolError('a tether.welcome without userId, deviceId and resumeToken');
      return;
    }
    this.welcomed = true;
    const first = !this.identity;
    this.identity = { userId: w.userId, deviceId: w.deviceId, deviceType: w.deviceType, sessionId: w.sessionId };
    if (w.resumed) this.stats.resumes++;
    if (!w.resumed && this.resumeToken && this.resumeToken !== w.resumeToken) {
      // Another queue incarnation: its seqs start afresh.
      this.lastSeq = 0;
    }
    this.ackedSeq = Math.min(this.ackedSeq, this.lastSeq);
    this.resumeToken = w.resumeToken;
    this.welcome = w;
    this.state = 'open';
    this.welcomedAt = Date.now(); // the backoff resets once the link lasts
    this.stats.connects++;
    const ms = (x, fallback) => (Number.isSafeInteger(x) && x > 0 ? x : fallback);
    this.heartbeat(ms(w.heartbeatIntervalMs, 20000), ms(w.pongTimeoutMs, 10000));
    // Unacked messages first (oldest first), then the rooms again, then
    // what was never sent.
    for (const p of [...this.pending.values()]) {
      this.stats.resent++;
      this.transmit(p.envelope);
    }
    for (const [, payload] of this.rooms) this.request('tether.join', payload).catch((e) => this.emit('error', e));
    this.restoreDevice();
    const outbox = this.outbox;
    this.outbox = [];
    for (const o of outbox) this.dispatch(o);
    this.emit('open', w);
    if (first || this.readyResolve) {
      this.readyResolve?.(w);
      this.readyResolve = null;
      this.readyReject = null;
    }
  }

  // A new connection starts in the foreground, and in a cluster it may be
  // on another node than the last: the app's background state and the push
  // addresses are told again (SPEC §5.10), save what a request still in the
  // outbox (sent after this) says.
  restoreDevice() {
    const waiting = this.outbox.map((o) => o.envelope);
    if (this.app === 'background' && !waiting.some((e) => e.type === 'tether.lifecycle')) {
      this.appRequest = null;
      this.automatic(this.tellAppState('background'));
    }
    for (const [provider, payload] of this.pushAddresses) {
      // A register or unregister of this provider, or an unregister of all.
      const named = waiting.some((e) => e.type.startsWith('tether.push.') && (e.payload?.provider ?? provider) === provider);
      if (!named) this.automatic(this.registerAddress(payload));
    }
  }

  // A request the client makes on its own: its failure is an `error` event,
  // except from a server that does not serve it (UNSUPPORTED_TARGET: one
  // before tether.lifecycle) and after close().
  automatic(request) {
    request.catch((e) => {
      if (e?.code !== 'UNSUPPORTED_TARGET' && e?.code !== 'CLOSED') this.emit('error', e);
    });
  }

  onAck(a) {
    if (typeof a.messageId !== 'string' || typeof a.status !== 'string'
      || (a.error !== undefined && !isObject(a.error))) {
      this.malformed('an ack whose messageId, status or error is of the wrong type');
      return;
    }
    this.emit('ack', a);
    const p = this.pending.get(a.messageId);
    if (!p) {
      if (a.status === 'failed') this.emit('error', new TetherError(a.error?.code || 'FAILED', a.error?.message || 'failed', a.error?.details));
      return;
    }
    this.pending.delete(a.messageId);
    if (a.status === 'failed') p.reject(new TetherError(a.error?.code || 'FAILED', a.error?.message || 'failed', a.error?.details));
    else p.resolve(a);
  }

  // Any frame shows the link alive; a ping every interval checks it.
  heartbeat(intervalMs, timeoutMs) {
    this.heartbeatMs = { intervalMs, timeoutMs };
    this.later(intervalMs, () => {
      if (this.state !== 'open') return;
      this.write({ type: 'ping', timestamp: Date.now() });
      this.pongTimer = this.later(timeoutMs, () => {
        if (this.socket) {
          this.stats.deadLinks++;
          this.emit('error', new TetherError('HEARTBEAT_TIMEOUT', 'no answer from the server'));
          this.giveUp(1006, 'no answer from the server');
        }
      });
      this.heartbeat(intervalMs, timeoutMs);
    });
  }

  alive() {
    this.endProbe(true);
    if (this.pongTimer) {
      clearTimeout(this.pongTimer);
      this.timers.delete(this.pongTimer);
      this.pongTimer = null;
    }
  }

  // -- presence ------------------------------------------------------------

  onGap(g) {
    if (!isObject(g) || typeof g.reason !== 'string' || !isSeq(g.count)
      || (g.messageIds !== undefined && !(Array.isArray(g.messageIds) && g.messageIds.every((x) => typeof x === 'string')))) {
      this.malformed('a tether.gap whose payload is not {reason, count, messageIds}');
      return;
    }
    this.emit('gap', g);
  }

  onWithdrawn(p) {
    if (!isObject(p) || !Array.isArray(p.messageIds) || !p.messageIds.every((x) => typeof x === 'string')) {
      this.malformed('a tether.withdrawn whose payload is not {messageIds}');
      return;
    }
    this.stats.withdrawn += p.messageIds.length;
    this.emit('withdrawn', p.messageIds);
  }

  onSnapshot(p) {
    if (!isObject(p) || typeof p.room !== 'string'
      || (p.members !== undefined && !(Array.isArray(p.members) && p.members.every(isMember)))) {
      this.malformed('a tether.presence.snapshot whose payload is not {room, members}');
      return;
    }
    let room = this.members.get(p.room);
    if (!room || p.page === 0) {
      room = new Map();
      this.members.set(p.room, room);
    }
    for (const m of p.members || []) room.set(`${m.userId}/${m.deviceId}`, m);
    this.emit('presence', p.room, room, { snapshot: p });
  }

  onDiff(p) {
    if (!isObject(p) || typeof p.room !== 'string'
      || (p.changes !== undefined && !(Array.isArray(p.changes) && p.changes.every(isMember)))) {
      this.malformed('a tether.presence.diff whose payload is not {room, changes}');
      return;
    }
    let room = this.members.get(p.room);
    if (!room) {
      room = new Map();
      this.members.set(p.room, room);
    }
    for (const c of p.changes || []) {
      const key = `${c.userId}/${c.deviceId}`;
      if (c.event === 'leave') room.delete(key);
      else room.set(key, c);
    }
    this.emit('presence', p.room, room, { diff: p });
  }

  /** The members of `room` as the last snapshot and diffs tell (a Map). */
  presence(room) {
    return this.members.get(room) || new Map();
  }

  // -- frames out ----------------------------------------------------------

  write(obj) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(this.options.codec === 'msgpack' ? msgpack.encode(obj) : JSON.stringify(obj));
    return true;
  }

  transmit(envelope) {
    const now = Date.now();
    envelope.source = { ...this.identity, timestamp: now };
    if (!envelope.source.sessionId) delete envelope.source.sessionId;
    return this.write(envelope);
  }

  dispatch(o) {
    if (this.state !== 'open') {
      if (this.outbox.length >= this.options.outboxLimit) {
        o.reject(new TetherError('OUTBOX_FULL', `more than ${this.options.outboxLimit} messages wait for the link`));
        return;
      }
      this.outbox.push(o);
      return;
    }
    if (o.wantsAck) this.pending.set(o.envelope.id, o);
    const written = this.transmit(o.envelope);
    if (!o.wantsAck) {
      if (written) o.resolve({ messageId: o.envelope.id, status: 'sent' });
      else this.outbox.push(o);
    }
  }

  /**
   * Sends a message. `destination` is SPEC §3.1.2's object; options:
   * priority ('normal'), requiresAck (false), ttl (ms), offlineCapable,
   * withdrawable, notify (true: a push for it even below the server's push
   * priority), notification ({title, body}: the push's text), id. Resolves
   * with the server's ack (requiresAck) or once written; an option of the
   * wrong shape throws a TypeError.
   */
  send(destination, type, payload, options = {}) {
    const { notify, notification } = options;
    if (notify !== undefined && typeof notify !== 'boolean') throw new TypeError('send: notify must be a boolean');
    if (notification !== undefined
      && !(isObject(notification) && typeof notification.title === 'string' && typeof notification.body === 'string')) {
      throw new TypeError('send: notification must be {title, body}, both strings');
    }
    const envelope = {
      id: options.id || newId('m'),
      timestamp: Date.now(),
      protocolVersion: PROTOCOL_VERSION,
      destination,
      type,
      optimization: { priority: options.priority || 'normal' },
    };
    if (payload !== undefined) envelope.payload = payload;
    if (options.requiresAck) envelope.optimization.requiresAck = true;
    if (options.offlineCapable) envelope.optimization.offlineCapable = true;
    if (options.withdrawable === false) envelope.optimization.withdrawable = false;
    if (options.ttl !== undefined) envelope.optimization.ttl = options.ttl;
    if (notify) envelope.optimization.notify = true;
    if (notification) envelope.optimization.notification = { title: notification.title, body: notification.body };
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') {
        reject(new TetherError('CLOSED', 'the client was closed'));
        return;
      }
      this.dispatch({ envelope, resolve, reject, wantsAck: !!options.requiresAck });
    });
  }

  sendToDevice(deviceId, type, payload, options) {
    return this.send({ target: 'device', deviceId }, type, payload, options);
  }

  sendToExtension(type, payload, options) {
    return this.send({ target: 'extension' }, type, payload, options);
  }

  /** To every other device of the user. */
  broadcast(type, payload, options) {
    return this.send({ target: 'broadcast', broadcast: { scope: 'user' } }, type, payload, options);
  }

  publish(room, type, payload, options) {
    return this.send({ target: 'broadcast', broadcast: { scope: 'room', room } }, type, payload, options);
  }

  /** A request to the server (SPEC §6.2); resolves with its `processed` ack. */
  request(type, payload) {
    return this.send({ target: 'cloud' }, type, payload, { requiresAck: true, priority: 'high' });
  }

  /** Joins `room` (again after every reconnect). */
  join(room, { presence = false, filter } = {}) {
    const payload = { room, presence };
    if (filter) payload.filter = filter;
    this.rooms.set(room, payload);
    return this.request('tether.join', payload);
  }

  leave(room) {
    this.rooms.delete(room);
    this.members.delete(room);
    return this.request('tether.leave', { room });
  }

  /** online, away or busy; `custom` {text, emoji, expiresAt} or null. */
  setStatus(status, custom) {
    const payload = {};
    if (status) payload.status = status;
    if (custom !== undefined) payload.custom = custom;
    return this.request('tether.presence.set', payload);
  }

  getPresence(room, page = 0, pageSize = 100) {
    return this.request('tether.presence.get', { room, page, pageSize });
  }

  /**
   * This device handled these messages (SPEC §5.9): their copies still
   * queued for the user's other devices are withdrawn, and those that had
   * one get a `withdrawn` event. Messages this client received with
   * `withdrawable: false` are left out (their copies stay). Requests of 100
   * ids each; resolves with their `processed` acks.
   */
  markHandled(ids) {
    if (!Array.isArray(ids) || ids.length === 0
      || !ids.every((x) => typeof x === 'string' && x.length > 0)) {
      return Promise.reject(new TetherError('VALIDATION_ERROR', 'markHandled takes a non-empty array of message ids'));
    }
    const unique = [...new Set(ids)].filter((id) => !this.keptIds.has(id));
    const requests = [];
    for (let i = 0; i < unique.length; i += 100) {
      requests.push(this.request('tether.handled', { messageIds: unique.slice(i, i + 100) }));
    }
    return Promise.all(requests);
  }

  // -- push and app lifecycle (SPEC §5.10) ---------------------------------

  /**
   * Where this device's pushes go: {provider ('apns', 'fcm' or 'webhook'),
   * token, topic and environment ('production' or 'sandbox': apns only)}.
   * One address per provider (a new token replaces the old), registered
   * again after every reconnect. Resolves with the `processed` ack; a
   * refusal (VALIDATION_ERROR for a token of the wrong shape) rejects, and
   * the address it was to replace stays the one registered again.
   * Arguments of the wrong type throw a TypeError.
   */
  registerPush(address) {
    if (!isObject(address)) throw new TypeError('registerPush takes {provider, token, topic?, environment?}');
    const { provider, token, topic, environment } = address;
    checkProvider(provider, 'registerPush');
    if (typeof token !== 'string' || token.length === 0) throw new TypeError('registerPush: token must be a non-empty string');
    if ((topic !== undefined || environment !== undefined) && provider !== 'apns') {
      throw new TypeError('registerPush: topic and environment are for provider apns only');
    }
    if (topic !== undefined && (typeof topic !== 'string' || topic.length === 0)) {
      throw new TypeError('registerPush: topic must be a non-empty string (the bundle id)');
    }
    if (environment !== undefined && environment !== 'production' && environment !== 'sandbox') {
      throw new TypeError('registerPush: environment must be production or sandbox');
    }
    const payload = { provider, token };
    if (topic !== undefined) payload.topic = topic;
    if (environment !== undefined) payload.environment = environment;
    const previous = this.pushAddresses.get(provider);
    this.pushAddresses.set(provider, payload);
    return this.registerAddress(payload, previous);
  }

  // Refused, an address is not registered again after a reconnect; the one
  // it was to replace (`previous`), which the server kept, is.
  registerAddress(payload, previous) {
    const sent = this.request('tether.push.register', payload);
    sent.catch((e) => {
      if (e?.code !== 'VALIDATION_ERROR' || this.pushAddresses.get(payload.provider) !== payload) return;
      if (previous) this.pushAddresses.set(payload.provider, previous);
      else this.pushAddresses.delete(payload.provider);
    });
    return sent;
  }

  /** Removes this device's push address for `provider`, or all of them. */
  unregisterPush(provider) {
    if (provider !== undefined) checkProvider(provider, 'unregisterPush');
    if (provider === undefined) this.pushAddresses.clear();
    else this.pushAddresses.delete(provider);
    return this.request('tether.push.unregister', provider === undefined ? {} : { provider });
  }

  /** 'foreground' or 'background', as background()/foreground() last said. */
  get appState() {
    return this.app;
  }

  /**
   * The app left the screen: the server counts the device as unable to
   * take messages when it decides on a push, and shows it `away`. Told
   * again after every reconnect (a new connection starts in the
   * foreground). Resolves with the `processed` ack; called again in the
   * same state, the same promise.
   */
  background() {
    return this.tellAppState('background');
  }

  /** The app is on the screen again: undoes background(). */
  foreground() {
    return this.tellAppState('foreground');
  }

  tellAppState(state) {
    if (this.app === state && this.appRequest) return this.appRequest;
    this.app = state;
    const sent = this.request('tether.lifecycle', { state });
    this.appRequest = sent;
    sent.catch(() => {
      if (this.appRequest === sent) this.appRequest = null; // the next call asks again
    });
    return sent;
  }
}
