// The Tether dashboard: reads the server API of the node that serves it
// (SPEC §15) with the key the user gives, which stays in this tab's
// sessionStorage. GET /api/v1/overview once, then the event stream
// GET /api/v1/stream (read with fetch, which can send the Authorization
// header; EventSource cannot). Rates are differences of the counters of two
// overviews. Every value reaches the page through textContent.

const KEY = 'tether.apiKey';
const HISTORY = 120; // samples kept per chart
const COLORS = ['#2f6fde', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0b7285', '#c2255c'];

const $ = (sel) => document.querySelector(sel);

const state = {
  key: sessionStorage.getItem(KEY) || '',
  previous: null, // the last overview
  series: new Map(), // node -> { connections: [], messages: [] }
  colors: new Map(),
  room: '', // the room whose presence is shown
  abort: null,
  updates: 0,
  retry: 1000,
};

function api(path, init = {}) {
  return fetch(path, {
    ...init,
    headers: { Authorization: `Bearer ${state.key}`, ...(init.headers || {}) },
    cache: 'no-store',
  });
}

function setStatus(text, kind) {
  const s = $('#status');
  s.textContent = text;
  s.dataset.state = kind;
}

function showLogin(message) {
  if (state.abort) state.abort.abort();
  state.abort = null;
  $('#board').hidden = true;
  $('#logout').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message || '';
  setStatus('not connected', 'idle');
}

async function open() {
  setStatus('connecting', 'idle');
  let res;
  try {
    res = await api('/api/v1/overview');
  } catch (e) {
    showLogin(`The node did not answer: ${e.message}`);
    return;
  }
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin('This key is not one of the node\'s (auth.api_keys_file).');
    return;
  }
  if (!res.ok) {
    showLogin(`The node answered ${res.status}: ${await res.text()}`);
    return;
  }
  $('#login').hidden = true;
  $('#board').hidden = false;
  $('#logout').hidden = false;
  update(await res.json());
  stream();
}

// Server-sent events over fetch: blocks split by a blank line, of
// "event:" and "data:" lines.
async function stream() {
  const controller = new AbortController();
  state.abort = controller;
  try {
    const res = await api('/api/v1/stream?interval=1000', {
      headers: { Accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (res.status === 401) {
      showLogin('The key was refused.');
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (event === 'overview') {
          state.retry = 1000;
          update(JSON.parse(data));
        } else if (event === 'error') {
          setStatus(`the node could not gather its overview: ${data}`, 'error');
        }
      }
    }
    throw new Error('the stream ended');
  } catch (e) {
    if (controller.signal.aborted) return;
    // Reconnect with backoff and full jitter, as the clients do.
    const wait = Math.random() * state.retry;
    state.retry = Math.min(state.retry * 2, 15000);
    setStatus(`reconnecting (${e.message})`, 'error');
    setTimeout(() => { if (state.abort === controller) stream(); }, wait);
  }
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function row(cells, attrs = {}) {
  const tr = el('tr', null, attrs);
  for (const c of cells) {
    if (c instanceof Node) tr.append(c);
    else tr.append(el('td', c));
  }
  return tr;
}

function cell(value, field, extra = {}) {
  return el('td', value, { 'data-field': field, ...extra });
}

function fill(table, rows) {
  $(`${table} tbody`).replaceChildren(...rows);
}

const fmt = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 120) return `${fmt.format(s)} s`;
  if (s < 7200) return `${fmt.format(s / 60)} min`;
  if (s < 172800) return `${fmt.format(s / 3600)} h`;
  return `${fmt.format(s / 86400)} d`;
}

function sum(o) {
  return Object.values(o || {}).reduce((a, b) => a + b, 0);
}

// Per-node rates between two overviews (null: not known yet).
function rates(node, prev, seconds) {
  if (!prev || prev.state !== 'alive' || node.state !== 'alive' || seconds <= 0) return null;
  if (prev.startedAt !== node.startedAt) return null; // restarted: counters began again
  const commits = node.store.commits - prev.store.commits;
  return {
    in: (node.messagesIn - prev.messagesIn) / seconds,
    out: (node.messagesOut - prev.messagesOut) / seconds,
    commits: commits / seconds,
    commitMs: commits > 0 ? ((node.store.commitSeconds - prev.store.commitSeconds) / commits) * 1000 : null,
    errors: (sum(node.errors) - sum(prev.errors)) / seconds,
  };
}

function colorOf(id) {
  if (!state.colors.has(id)) state.colors.set(id, COLORS[state.colors.size % COLORS.length]);
  return state.colors.get(id);
}

function update(ov) {
  const prev = state.previous;
  const seconds = prev ? (ov.time - prev.time) / 1000 : 0;
  const before = new Map((prev?.nodes || []).map((n) => [n.node, n]));
  const alive = ov.nodes.filter((n) => n.state === 'alive');

  // Nodes
  fill('#nodes', ov.nodes.map((n) => {
    const attrs = { 'data-node': n.node, 'data-state': n.state };
    if (n.state !== 'alive') {
      const td = el('td', 'not reachable from this node', { colspan: '9' });
      return row([cell(n.node, 'node'), cell(n.state, 'state'), td], attrs);
    }
    const r = rates(n, before.get(n.node), seconds);
    const perSecond = (x) => (x === null ? '…' : fmt.format(x));
    return row([
      cell(n.node, 'node'),
      cell(n.state, 'state'),
      cell(duration(ov.time - n.startedAt), 'up'),
      cell(n.connections, 'connections'),
      cell(r ? perSecond(r.in) : '…', 'in'),
      cell(r ? perSecond(r.out) : '…', 'out'),
      cell(r && r.commitMs !== null ? `${fmt.format(r.commitMs)} ms` : '—', 'commit'),
      cell(r ? perSecond(r.commits) : '…', 'commits'),
      cell(n.queues.waiting, 'waiting'),
      cell(n.queues.unacked, 'unacked'),
      cell(n.queues.slow, 'slow', { 'data-slow': String(n.queues.slow > 0) }),
    ], attrs);
  }));

  // Charts: one line per node.
  for (const n of alive) {
    if (!state.series.has(n.node)) state.series.set(n.node, { connections: [], messages: [] });
    const s = state.series.get(n.node);
    const r = rates(n, before.get(n.node), seconds);
    s.connections.push(n.connections);
    s.messages.push(r ? r.in + r.out : null);
    for (const k of ['connections', 'messages']) if (s[k].length > HISTORY) s[k].shift();
  }
  chart($('#chart-connections'), 'connections');
  chart($('#chart-messages'), 'messages');
  $('#legend').replaceChildren(...[...state.series.keys()].map((id) => {
    const span = el('span', null);
    const swatch = el('i', null);
    swatch.style.background = colorOf(id);
    span.append(swatch, document.createTextNode(id));
    return span;
  }));

  // Rooms: the view is cluster-wide; members per node are the local counts.
  const rooms = new Map();
  for (const n of alive) {
    for (const r of n.rooms.top) {
      const e = rooms.get(r.room) || { members: 0, by: [] };
      e.members = Math.max(e.members, r.members);
      if (r.local > 0) e.by.push(`${n.node}: ${r.local}`);
      rooms.set(r.room, e);
    }
  }
  const roomRows = [...rooms.entries()]
    .sort((a, b) => b[1].members - a[1].members || a[0].localeCompare(b[0]))
    .map(([name, e]) => {
      const tr = row([cell(name, 'room'), cell(e.members, 'members'), cell(e.by.join(', '), 'by')], {
        'data-room': name,
        'aria-selected': String(name === state.room),
        tabindex: '0',
      });
      tr.addEventListener('click', () => selectRoom(name));
      tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') selectRoom(name); });
      return tr;
    });
  if (roomRows.length === 0) roomRows.push(row([el('td', 'no room has members', { colspan: '3' })]));
  fill('#rooms', roomRows);
  if (state.room) presence();

  // Queues of every node, slow consumers first.
  const queues = alive.flatMap((n) => n.queues.top.map((q) => ({ ...q, node: n.node })));
  queues.sort((a, b) => (b.slow - a.slow) || (b.waiting + b.unacked - a.waiting - a.unacked));
  const queueRows = queues.slice(0, 40).map((q) => row([
    cell(q.node, 'node'),
    cell(q.userId, 'user'),
    cell(q.deviceId, 'device'),
    cell(q.waiting, 'waiting'),
    cell(q.unacked, 'unacked'),
    cell(q.bytes, 'bytes'),
    cell(q.waiting > 0 ? duration(q.oldestAgeMs) : '—', 'oldest'),
    cell(q.connected ? 'yes' : 'no', 'connected'),
    cell(q.slow ? 'slow' : '', 'slow', { 'data-slow': String(q.slow) }),
  ], { 'data-device': `${q.userId}/${q.deviceId}`, 'data-node': q.node }));
  if (queueRows.length === 0) queueRows.push(row([el('td', 'no queue', { colspan: '9' })]));
  fill('#queues', queueRows);

  // Pushes by provider, summed over the nodes.
  const outcomes = ['sent', 'retried', 'failed', 'dead', 'unconfigured'];
  const pushRows = ['apns', 'fcm', 'webhook'].map((provider) => {
    const total = Object.fromEntries(outcomes.map((o) => [o, 0]));
    let sentDelta = 0;
    for (const n of alive) {
      const p = (n.pushes || {})[provider] || {};
      for (const o of outcomes) total[o] += p[o] || 0;
      const was = before.get(n.node);
      if (was && was.state === 'alive' && was.startedAt === n.startedAt) {
        sentDelta += (p.sent || 0) - (((was.pushes || {})[provider] || {}).sent || 0);
      }
    }
    return row([
      cell(provider, 'provider'),
      ...outcomes.map((o) => cell(total[o], o)),
      cell(seconds > 0 ? fmt.format(sentDelta / seconds) : '…', 'rate'),
    ], { 'data-provider': provider });
  });
  fill('#pushes', pushRows);

  // Errors by code, summed over the nodes.
  const codes = new Map();
  for (const n of alive) {
    const was = before.get(n.node);
    for (const [code, count] of Object.entries(n.errors)) {
      const e = codes.get(code) || { total: 0, delta: 0, by: [] };
      e.total += count;
      if (was && was.state === 'alive' && was.startedAt === n.startedAt) e.delta += count - (was.errors[code] || 0);
      e.by.push(`${n.node}: ${count}`);
      codes.set(code, e);
    }
  }
  const errorRows = [...codes.entries()].sort((a, b) => b[1].total - a[1].total).map(([code, e]) => row([
    cell(code, 'code'),
    cell(e.total, 'total'),
    cell(seconds > 0 ? fmt.format(e.delta / seconds) : '…', 'rate'),
    cell(e.by.join(', '), 'by'),
  ], { 'data-code': code }));
  if (errorRows.length === 0) errorRows.push(row([el('td', 'no error since the nodes started', { colspan: '4' })]));
  fill('#errors', errorRows);

  state.previous = ov;
  state.updates += 1;
  const board = $('#board');
  board.dataset.updates = String(state.updates);
  board.dataset.time = String(ov.time);
  setStatus(`live · ${ov.nodes.length} node${ov.nodes.length === 1 ? '' : 's'} · ${new Date(ov.time).toLocaleTimeString()}`, 'live');
}

function chart(canvas, key) {
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  let max = 0;
  for (const s of state.series.values()) for (const v of s[key]) if (v !== null) max = Math.max(max, v);
  max = max > 0 ? max * 1.15 : 1;
  const left = 48;
  const bottom = height - 16;
  ctx.strokeStyle = '#dde1e8';
  ctx.fillStyle = '#6b7385';
  ctx.font = '11px system-ui, sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = bottom - (bottom - 8) * (i / 4);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(width, y);
    ctx.stroke();
    ctx.fillText(fmt.format((max * i) / 4), 2, y + 4);
  }
  ctx.fillText(`last ${HISTORY} s`, left, height - 2);
  const step = (width - left) / (HISTORY - 1);
  for (const [id, s] of state.series) {
    const values = s[key];
    const offset = HISTORY - values.length;
    ctx.strokeStyle = colorOf(id);
    ctx.lineWidth = 2;
    ctx.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      const x = left + (offset + i) * step;
      const y = bottom - (bottom - 8) * (v / max);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
  }
}

function selectRoom(name) {
  state.room = name;
  for (const tr of document.querySelectorAll('#rooms tbody tr')) {
    tr.setAttribute('aria-selected', String(tr.dataset.room === name));
  }
  presence();
}

let presenceSeq = 0;
async function presence() {
  const mine = ++presenceSeq;
  const name = state.room;
  const res = await api(`/api/v1/rooms/${encodeURIComponent(name)}/presence`).catch(() => null);
  if (mine !== presenceSeq) return; // a newer ask
  $('#presence-title').textContent = `Presence in ${name}`;
  if (!res || !res.ok) {
    $('#presence-hint').textContent = res ? `The node answered ${res.status}.` : 'The node did not answer.';
    $('#presence').hidden = true;
    return;
  }
  const body = await res.json();
  $('#presence-hint').textContent = `${body.members.length} member${body.members.length === 1 ? '' : 's'}`;
  $('#presence').hidden = false;
  $('#presence').dataset.room = name;
  fill('#presence', body.members.map((m) => row([
    cell(m.userId, 'user'),
    cell(m.deviceId, 'device'),
    cell(m.deviceType, 'type'),
    cell(m.customStatus ? `${m.status} · ${m.customStatus.emoji} ${m.customStatus.text}` : m.status, 'status'),
    cell(new Date(m.lastSeen).toLocaleTimeString(), 'seen'),
  ], { 'data-member': `${m.userId}/${m.deviceId}` })));
}

$('#login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.key = $('#key').value.trim();
  sessionStorage.setItem(KEY, state.key);
  $('#key').value = '';
  open();
});

$('#logout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  state.key = '';
  state.previous = null;
  state.series.clear();
  showLogin('');
});

if (state.key) open();
