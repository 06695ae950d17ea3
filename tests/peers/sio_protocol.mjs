// Socket.IO v5 server conformance checks, spoken at the wire level: raw
// WebSocket frames through the `ws` package (and plain `fetch` for one
// long-polling check). No Socket.IO or Engine.IO client library is involved,
// so every packet the server sends is seen exactly as it is written.
//
// Usage: node sio_protocol.mjs http://127.0.0.1:PORT
//
// The server under test implements the reference test-server configuration
// (sio_server.mjs is the reference; see shared/CONFORMANCE.md "Node peers"):
// path /socket.io/, pingInterval 300 ms, pingTimeout 200 ms, connectTimeout
// 1000 ms; namespaces "/" and "/custom" emit `auth` (the handshake auth, {}
// when none) on connection; "/" answers `message` with `message-back` (same
// arguments and attachments) and acks `message-with-ack` with its arguments;
// any other namespace is refused with "Invalid namespace".
//
// Each check is an independent function below, on its own connection; each
// prints one JSON line {"check":NAME,"ok":true,...} when it passes. The first
// failure prints {"ok":false,"error":"NAME: ..."} and exits 1; after all checks
// the last line is {"ok":true} and the exit code 0. Hard timeout: 30 s.
//
// Engine.IO pings that arrive while a check waits for something else are
// answered and skipped (nextMessage); the check after `41` looks at the ping
// directly.

import WebSocket from 'ws';
import { Queue, assertEqual, describe, fail, run, sleep, step, within } from './driver_util.mjs';

const CONNECT_TIMEOUT = 1_000;
const SEP = '\x1e';

const base = (process.argv[2] ?? '').replace(/\/+$/, '');
if (!/^http:\/\/[^/]+$/.test(base)) {
  console.error('usage: node sio_protocol.mjs http://HOST:PORT');
  process.exit(2);
}

/** The check being run, for failure messages. */
let current = '';
const where = (what) => `${current}: ${what}`;
const expectEq = (got, want, what) => assertEqual(got, want, where(what));

const httpUrl = (query) => `${base}/socket.io/?${query}`;
const WS_URL = httpUrl('EIO=4&transport=websocket').replace(/^http:/, 'ws:');

// ---------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------

/** A raw WebSocket whose events are queued from the start. */
function connectWs(label) {
  const q = new Queue(`${current}: ${label}`);
  const ws = new WebSocket(WS_URL);
  ws.on('open', () => q.push({ type: 'open' }));
  const sock = { ws, q, label, autoPong: false };
  ws.on('message', (data, isBinary) => {
    if (!isBinary && sock.autoPong && data.toString() === '2') ws.send('3');
    q.push(isBinary ? { type: 'binary', data: [...data] } : { type: 'text', data: data.toString() });
  });
  ws.on('error', (err) => q.push({ type: 'error', error: err.message }));
  ws.on('close', (code) => q.push({ type: 'close', code }));
  return sock;
}

/** Parses `prefix{...}` (an open packet, a CONNECT reply) as a JSON object. */
function jsonAfter(text, prefix, what) {
  if (typeof text !== 'string' || !text.startsWith(prefix)) {
    fail(where(`${what}: expected ${describe(`${prefix}{...}`)}, got ${describe(text)}`));
  }
  try {
    return JSON.parse(text.slice(prefix.length));
  } catch {
    return fail(where(`${what}: not JSON after ${describe(prefix)}: ${describe(text)}`));
  }
}

/** Opens an Engine.IO session over WebSocket; returns the socket and the Engine.IO sid. */
async function openSession(label = 'websocket') {
  const sock = connectWs(label);
  await sock.q.expect('open', `${label} to open`);
  const ev = await sock.q.expect('text', 'the Engine.IO open packet');
  const open = jsonAfter(ev.data, '0', 'Engine.IO open packet');
  if (typeof open.sid !== 'string' || open.sid === '') fail(where(`no sid in the open packet ${describe(open)}`));
  sock.eioSid = open.sid;
  return sock;
}

/** The next event, answering and skipping Engine.IO pings. */
async function nextMessage(sock, what, ms) {
  for (;;) {
    const ev = await sock.q.next(what, ms);
    if (ev.type === 'text' && ev.data === '2') {
      sock.ws.send('3');
      continue;
    }
    return ev;
  }
}

async function expectText(sock, want, what) {
  expectEq(await nextMessage(sock, what), { type: 'text', data: want }, what);
}

async function expectBinary(sock, want, what) {
  expectEq(await nextMessage(sock, what), { type: 'binary', data: want }, what);
}

/**
 * Nothing but pings for `ms`: they are answered as they arrive (the listener
 * does it while `autoPong` is set), and only looked at afterwards.
 */
async function expectQuiet(sock, ms, what) {
  const pending = sock.q.items.splice(0);
  for (const ev of pending) if (!(ev.type === 'text' && ev.data === '2')) fail(where(`${what}: expected nothing, got ${describe(ev)}`));
  if (pending.length > 0) sock.ws.send('3');
  sock.autoPong = true;
  await sleep(ms);
  sock.autoPong = false;
  const got = sock.q.items.splice(0).filter((ev) => !(ev.type === 'text' && ev.data === '2'));
  if (got.length > 0) fail(where(`${what}: expected nothing, got ${describe(got)}`));
}

/**
 * Checks a CONNECT reply `40<nsp,>{"sid":"..."}`: an object with only `sid`,
 * a non-empty string that is not the Engine.IO sid.
 */
function expectConnectReply(sock, text, nsp, what) {
  const prefix = nsp === '/' ? '40' : `40${nsp},`;
  const reply = jsonAfter(text, prefix, what);
  expectEq(Object.keys(reply ?? {}), ['sid'], `${what}: keys`);
  if (typeof reply.sid !== 'string' || reply.sid === '') fail(where(`${what}: sid is not a string: ${describe(reply)}`));
  if (reply.sid === sock.eioSid) fail(where(`${what}: the socket id is the Engine.IO sid ${describe(reply.sid)}`));
  return reply.sid;
}

/**
 * Joins `nsp` (with the raw JSON `auth`, if any): the CONNECT reply, then the
 * `auth` event carrying `wantAuth` (raw JSON).
 */
async function join(sock, nsp = '/', auth = '', wantAuth = auth || '{}') {
  const prefix = nsp === '/' ? '' : `${nsp},`;
  sock.ws.send(`40${prefix}${auth}`);
  const ev = await nextMessage(sock, `CONNECT reply for ${nsp}`);
  if (ev.type !== 'text') fail(where(`CONNECT reply for ${nsp}: got ${describe(ev)}`));
  const sid = expectConnectReply(sock, ev.data, nsp, `CONNECT reply for ${nsp}`);
  await expectText(sock, `42${prefix}["auth",${wantAuth}]`, `auth event on ${nsp}`);
  return sid;
}

/** An Engine.IO session joined to "/". */
async function joinedSession(label) {
  const sock = await openSession(label);
  await join(sock);
  return sock;
}

/**
 * Waits until the socket closes with an empty Close frame (1005, as the
 * reference); Engine.IO close/noop packets and pings may come first (pings
 * are answered), anything else fails.
 */
async function expectClosed(sock, what, ms = 3_000) {
  const until = Date.now() + ms;
  for (;;) {
    const ev = await sock.q.next(`${what} (within ${ms} ms)`, Math.max(1, until - Date.now()));
    // The reference closes with an empty Close frame: no status (1005).
    if (ev.type === 'close') return expectEq(ev.code, 1005, `${what}: close code`) ?? ev.code;
    if (ev.type === 'error') continue;
    if (ev.type === 'text' && ev.data === '2') {
      if (sock.ws.readyState === WebSocket.OPEN) sock.ws.send('3');
      continue;
    }
    if (ev.type === 'text' && (ev.data === '1' || ev.data === '6')) continue;
    fail(where(`${what}: expected the connection to close, got ${describe(ev)}`));
  }
}

function closeWs(...socks) {
  for (const s of socks) s.ws.terminate();
}

// ---------------------------------------------------------------------------
// Checks: connect
// ---------------------------------------------------------------------------

async function connectMain() {
  const sock = await openSession();
  sock.ws.send('40');
  const ev = await sock.q.expect('text', 'CONNECT reply');
  const sid = expectConnectReply(sock, ev.data, '/', 'CONNECT reply');
  await expectText(sock, '42["auth",{}]', 'auth event');
  closeWs(sock);
  return { sid };
}

async function connectMainWithAuth() {
  const sock = await openSession();
  await join(sock, '/', '{"token":"123"}');
  closeWs(sock);
}

async function connectCustom() {
  const sock = await openSession();
  sock.ws.send('40/custom,');
  const ev = await sock.q.expect('text', 'CONNECT reply');
  expectConnectReply(sock, ev.data, '/custom', 'CONNECT reply');
  await expectText(sock, '42/custom,["auth",{}]', 'auth event');
  closeWs(sock);
}

async function connectCustomWithAuth() {
  const sock = await openSession();
  await join(sock, '/custom', '{"token":"abc"}');
  closeWs(sock);
}

async function unknownNamespace() {
  const sock = await openSession();
  sock.ws.send('40/random');
  await expectText(sock, '44/random,{"message":"Invalid namespace"}', 'CONNECT_ERROR');
  // The refusal does not end the connection.
  await join(sock);
  closeWs(sock);
}

async function invalidHandshake() {
  const sock = await openSession();
  sock.ws.send('4abc');
  return { closeCode: await expectClosed(sock, 'close after "4abc"') };
}

async function noHandshake() {
  const started = Date.now();
  const sock = await openSession();
  const closeCode = await expectClosed(sock, 'close without a CONNECT', CONNECT_TIMEOUT + 500);
  const elapsed = Date.now() - started;
  // Pings were answered: the close is the connect timeout, not the ping timeout.
  if (elapsed < CONNECT_TIMEOUT - 100) fail(where(`closed after ${elapsed} ms, before connectTimeout`));
  return { elapsedMs: elapsed, closeCode };
}

async function connectedPastConnectTimeout() {
  const sock = await joinedSession();
  await expectQuiet(sock, CONNECT_TIMEOUT + 300, 'a joined connection after connectTimeout');
  sock.ws.send('42["message","still here"]');
  await expectText(sock, '42["message-back","still here"]', 'message-back');
  closeWs(sock);
}

// ---------------------------------------------------------------------------
// Checks: disconnect
// ---------------------------------------------------------------------------

async function disconnectMain() {
  const sock = await joinedSession();
  sock.ws.send('41');
  // Nothing answers a DISCONNECT; the next message is the Engine.IO ping of a
  // session that goes on.
  expectEq(await sock.q.next('the next message after "41"', 2_000), { type: 'text', data: '2' }, 'next message after "41"');
  sock.ws.send('3');
  await join(sock);
  closeWs(sock);
}

async function disconnectCustom() {
  const sock = await joinedSession();
  await join(sock, '/custom');
  sock.ws.send('41/custom');
  sock.ws.send('42["message","message to main namespace"]');
  await expectText(sock, '42["message-back","message to main namespace"]', 'message-back on "/"');
  closeWs(sock);
}

// ---------------------------------------------------------------------------
// Checks: events and acks
// ---------------------------------------------------------------------------

async function plainEvent() {
  const sock = await joinedSession();
  sock.ws.send('42["message","message to main namespace"]');
  await expectText(sock, '42["message-back","message to main namespace"]', 'message-back (one string)');
  sock.ws.send('42["message",1,"2",{"3":[true]}]');
  await expectText(sock, '42["message-back",1,"2",{"3":[true]}]', 'message-back (three arguments)');
  closeWs(sock);
}

const PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}';
const ATTACHMENTS = [
  [1, 2, 3],
  [4, 5, 6],
];

/** Sends the binary packet `sent` with ATTACHMENTS; expects `want` with the same attachments back. */
async function binaryRoundTrip(sent, want, what) {
  const sock = await joinedSession();
  sock.ws.send(sent);
  for (const a of ATTACHMENTS) sock.ws.send(Uint8Array.from(a));
  await expectText(sock, want, what);
  for (const [i, a] of ATTACHMENTS.entries()) await expectBinary(sock, a, `${what}: attachment ${i}`);
  closeWs(sock);
}

async function binaryEvent() {
  await binaryRoundTrip(`452-["message",${PLACEHOLDERS}]`, `452-["message-back",${PLACEHOLDERS}]`, 'BINARY_EVENT message-back');
}

async function eventWithAck() {
  const sock = await joinedSession();
  sock.ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  await expectText(sock, '43456[1,"2",{"3":[false]}]', 'ACK');
  closeWs(sock);
}

async function binaryEventWithAck() {
  await binaryRoundTrip(`452-789["message-with-ack",${PLACEHOLDERS}]`, `462-789[${PLACEHOLDERS}]`, 'BINARY_ACK');
}

async function invalidFormats() {
  const cases = [
    ['unknown packet type', '4abc'],
    ['invalid payload', '42{}'],
    ['invalid ack id', '42abc["message-with-ack",1,"2",{"3":[false]}]'],
  ];
  const closeCodes = {};
  for (const [what, packet] of cases) {
    const sock = await joinedSession(what);
    sock.ws.send(packet);
    closeCodes[what] = await expectClosed(sock, `close after ${describe(packet)} (${what})`);
  }
  return { closeCodes };
}

async function ackWithUnknownId() {
  const sock = await joinedSession();
  sock.ws.send('4312[]');
  sock.ws.send('42["message","after the ack"]');
  await expectText(sock, '42["message-back","after the ack"]', 'message-back after an ACK nobody asked for');
  closeWs(sock);
}

// ---------------------------------------------------------------------------
// Checks: packets out of place
//
// The reference server (socket.io 4.8, Client#ondecoded) accepts a CONNECT
// only for a namespace the client has not joined, and any other packet only
// for one it has joined; everything else closes the connection. So an event
// before CONNECT is not ignored: it closes (verified on the wire against
// sio_server.mjs).
// ---------------------------------------------------------------------------

/** How soon a packet out of place must close the connection (the reference: a few ms). */
const OUT_OF_PLACE_CLOSE = 500;

async function eventBeforeConnect() {
  const sock = await openSession();
  sock.ws.send('42["message","too early"]');
  // Well before connectTimeout, which would close it too.
  return { closeCode: await expectClosed(sock, 'close after an EVENT before CONNECT', OUT_OF_PLACE_CLOSE) };
}

async function packetsOutOfPlace() {
  const cases = [
    ['EVENT on a namespace not joined', ['42/custom,["message","x"]']],
    ['EVENT after leaving the namespace', ['41', 50, '42["message","x"]']],
    ['ACK on a namespace not joined', ['43/custom,1[]']],
    ['DISCONNECT of a namespace not joined', ['41/custom']],
    ['second CONNECT to a joined namespace', ['40']],
    ['CONNECT_ERROR from the client', ['44{"message":"x"}']],
  ];
  const closeCodes = {};
  for (const [what, steps] of cases) {
    const sock = await joinedSession(what);
    for (const s of steps) {
      if (typeof s === 'number') await sleep(s);
      else sock.ws.send(s);
    }
    closeCodes[what] = await expectClosed(sock, `close after ${describe(steps)} (${what})`, OUT_OF_PLACE_CLOSE);
  }
  return { closeCodes };
}

// ---------------------------------------------------------------------------
// Checks: long-polling
// ---------------------------------------------------------------------------

/** One request bounded in time. Resolves with {status, body}. */
async function request(query, { method = 'GET', body } = {}) {
  const res = await within(
    fetch(httpUrl(query), { method, body }).then(async (r) => ({ status: r.status, body: await r.text() })),
    where(`${method} ${query}`),
    2_000,
  );
  return res;
}

async function pollingConnect() {
  const hs = await request('EIO=4&transport=polling');
  expectEq(hs.status, 200, 'handshake status');
  const open = jsonAfter(hs.body, '0', 'Engine.IO open packet');
  const eioSid = open.sid;
  if (typeof eioSid !== 'string' || eioSid === '') fail(where(`no sid in ${describe(open)}`));
  const sidQuery = `EIO=4&transport=polling&sid=${encodeURIComponent(eioSid)}`;
  expectEq(await request(sidQuery, { method: 'POST', body: '40' }), { status: 200, body: 'ok' }, 'POST "40"');
  // The CONNECT reply and the `auth` event: one body joined by 0x1e, or two
  // bodies; pings on the way are answered.
  const packets = [];
  let gets = 0;
  while (packets.length < 2) {
    const res = await request(sidQuery);
    gets += 1;
    expectEq(res.status, 200, `GET ${gets}: status`);
    for (const p of res.body.split(SEP)) {
      if (p === '2') expectEq(await request(sidQuery, { method: 'POST', body: '3' }), { status: 200, body: 'ok' }, 'pong');
      else packets.push(p);
    }
  }
  expectEq(packets.length, 2, `packets in ${gets} GET(s)`);
  expectConnectReply({ eioSid }, packets[0], '/', 'CONNECT reply');
  expectEq(packets[1], '42["auth",{}]', 'auth event');
  return { gets };
}

const CHECKS = [
  ['connect to /', connectMain],
  ['connect to / with auth', connectMainWithAuth],
  ['connect to /custom', connectCustom],
  ['connect to /custom with auth', connectCustomWithAuth],
  ['unknown namespace', unknownNamespace],
  ['invalid handshake', invalidHandshake],
  ['no handshake', noHandshake],
  ['connected past connectTimeout', connectedPastConnectTimeout],
  ['disconnect from /', disconnectMain],
  ['disconnect from /custom', disconnectCustom],
  ['plain event', plainEvent],
  ['binary event', binaryEvent],
  ['event with ack', eventWithAck],
  ['binary event with ack', binaryEventWithAck],
  ['ack with an unknown id', ackWithUnknownId],
  ['invalid formats', invalidFormats],
  ['polling connect', pollingConnect],
  ['event before connect', eventBeforeConnect],
  ['packets out of place', packetsOutOfPlace],
];

run(
  'sio_protocol',
  async () => {
    for (const [name, check] of CHECKS) {
      current = name;
      const started = Date.now();
      const details = (await check()) ?? {};
      step({ check: name, ok: true, ms: Date.now() - started, ...details });
    }
  },
  30_000,
);
