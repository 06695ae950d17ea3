// Engine.IO v4 server conformance checks, spoken at the wire level: plain
// HTTP requests through the global `fetch` for long-polling, raw frames
// through the `ws` package for WebSocket. No Engine.IO client library is
// involved, so every packet the server sends is seen as it is.
//
// Usage: node eio_protocol.mjs http://127.0.0.1:PORT
//
// The server under test serves /engine.io/ with transports polling and
// websocket, pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, and
// echoes every message back unchanged (eio_server.mjs is the reference).
//
// Each check is an independent function below; each prints one JSON line
// {"check":NAME,"ok":true,...} when it passes. The first failure prints
// {"ok":false,"error":"NAME: ..."} and exits 1; after all checks the last line
// is {"ok":true} and the exit code 0. Hard timeout: 30 s.
//
// Pings that arrive while a check waits for something else are answered and
// skipped (helpers dropPings / nextMessage); the heartbeat checks look at them
// directly.

import WebSocket from 'ws';
import { Queue, assertEqual, describe, fail, run, sleep, step, within } from './driver_util.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const SEP = '\x1e';

const base = (process.argv[2] ?? '').replace(/\/+$/, '');
if (!/^http:\/\/[^/]+$/.test(base)) {
  console.error('usage: node eio_protocol.mjs http://HOST:PORT');
  process.exit(2);
}

/** The check being run, for failure messages. */
let current = '';
const where = (what) => `${current}: ${what}`;
const expectEq = (got, want, what) => assertEqual(got, want, where(what));

// ---------------------------------------------------------------------------
// HTTP (long-polling)
// ---------------------------------------------------------------------------

const httpUrl = (query) => `${base}/engine.io/?${query}`;
const wsUrl = (query) => httpUrl(query).replace(/^http:/, 'ws:');
const sidQuery = (sid) => `EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;

/**
 * One request. Resolves with {status, body}; a request that fails at the
 * network level resolves with {status: 0, error} (aborted ones included).
 */
async function request(query, { method = 'GET', body, signal } = {}) {
  try {
    const res = await fetch(httpUrl(query), { method, body, signal });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, error: String(err?.cause?.code ?? err?.name ?? err) };
  }
}

/** A request bounded in time (fails the run after `ms`). */
const send = (what, query, opts, ms) => within(request(query, opts), where(what), ms);

const get = (what, sid, extra = '', ms = 2_000) => send(what, `${sidQuery(sid)}${extra}`, {}, ms);
const post = (what, sid, body) => send(what, sidQuery(sid), { method: 'POST', body });

/** Expects `res` to be exactly status 200 with `body`. */
function expectOk(res, body, what) {
  expectEq({ status: res.status, body: res.body }, { status: 200, body }, what);
}

/** Expects the reference server's JSON error answer. */
function expectRefusal(res, code, message, what) {
  expectEq(res.status, 400, `${what}: status`);
  let json;
  try {
    json = JSON.parse(res.body);
  } catch {
    fail(where(`${what}: body is not JSON: ${describe(res.body)}`));
  }
  expectEq(json, { code, message }, `${what}: body`);
}

/** Parses an open packet `0{...}`. */
function openPacket(text, what) {
  if (typeof text !== 'string' || !text.startsWith('0')) fail(where(`${what}: expected an open packet, got ${describe(text)}`));
  try {
    return JSON.parse(text.slice(1));
  } catch {
    return fail(where(`${what}: open packet is not JSON: ${describe(text)}`));
  }
}

/** Opens a polling session; returns its sid. */
async function handshake() {
  const res = await send('polling handshake', 'EIO=4&transport=polling');
  expectEq(res.status, 200, 'handshake status');
  const open = openPacket(res.body, 'handshake');
  if (typeof open.sid !== 'string' || open.sid === '') fail(where(`handshake: no sid in ${describe(open)}`));
  return open.sid;
}

/**
 * Removes ping packets from a polling body and answers them with a pong, so
 * that a slow run cannot make a timer ping land in a message check.
 */
async function dropPings(sid, body) {
  const packets = body.split(SEP);
  const rest = packets.filter((p) => p !== '2');
  if (rest.length !== packets.length) {
    const res = await post('pong for a stray ping', sid, '3');
    expectOk(res, 'ok', 'pong for a stray ping');
    if (rest.length === 0) return dropPings(sid, (await get('poll after a stray ping', sid)).body);
  }
  return rest.join(SEP);
}

/** A GET whose answer (pings dropped) must be exactly `want`. */
async function expectPoll(sid, want, what) {
  const res = await get(what, sid);
  expectEq(res.status, 200, `${what}: status`);
  expectEq(await dropPings(sid, res.body), want, what);
}

// ---------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------

/** A raw WebSocket whose events are queued from the start. */
function connectWs(query, label) {
  const q = new Queue(`${current}: ${label}`);
  const ws = new WebSocket(wsUrl(query));
  ws.on('open', () => q.push({ type: 'open' }));
  ws.on('message', (data, isBinary) =>
    q.push(isBinary ? { type: 'binary', data: [...data] } : { type: 'text', data: data.toString() }),
  );
  ws.on('error', (err) => q.push({ type: 'error', error: err.message }));
  ws.on('close', (code) => q.push({ type: 'close', code }));
  // A handshake refused with an HTTP response: its status and body.
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      q.push({ type: 'refused', status: res.statusCode, body });
      req.destroy();
    });
  });
  return { ws, q, label };
}

/** Expects the WebSocket handshake to be refused with exactly `status` and `body`. */
async function expectWsRefused(sock, status, body, what) {
  let ev;
  do ev = await sock.q.next(what);
  while (ev.type === 'error');
  expectEq(ev, { type: 'refused', status, body }, what);
}

/** Expects the reference's answer to a second WebSocket: 101, then a close frame (no code) and nothing else. */
async function expectOpenThenClosed(sock, what) {
  await opened(sock);
  let ev;
  do ev = await sock.q.next(what);
  while (ev.type === 'error');
  expectEq(ev, { type: 'close', code: 1005 }, what);
}

/** The reference's refusal of a request for a session that is gone. */
const expectGone = async (what, sid) => expectRefusal(await get(what, sid), 1, 'Session ID unknown', what);

/** Waits for the WebSocket to open. */
async function opened(sock) {
  await sock.q.expect('open', `${sock.label} to open`);
}

/** The next message, answering and skipping pings. */
async function nextMessage(sock, what) {
  for (;;) {
    const ev = await sock.q.next(what);
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

/** Opens an Engine.IO WebSocket session; returns the socket and its open packet. */
async function openWsSession(label = 'websocket') {
  const sock = connectWs('EIO=4&transport=websocket', label);
  await opened(sock);
  const ev = await sock.q.expect('text', 'the open packet');
  return { sock, open: openPacket(ev.data, 'websocket open packet') };
}

/**
 * Waits until the socket closes (with `code`, when given: the reference
 * closes with an empty Close frame, 1005). Text messages in `allowed` (the
 * server's goodbye packets) and errors may come first; anything else fails.
 */
async function expectClosed(sock, what, { allowed = [], ms = 3_000, code } = {}) {
  const seen = [];
  for (;;) {
    const ev = await sock.q.next(what, ms);
    if (ev.type === 'close') {
      if (code !== undefined) expectEq(ev.code, code, `${what}: close code`);
      return { code: ev.code, before: seen };
    }
    if (ev.type === 'error') continue;
    if (ev.type === 'text' && allowed.includes(ev.data)) {
      seen.push(ev.data);
      continue;
    }
    fail(where(`${what}: expected the socket to close, got ${describe(ev)}`));
  }
}

/** Polling session upgraded to WebSocket: the sid and the socket. */
async function upgradedSession() {
  const sid = await handshake();
  const sock = connectWs(`EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`, 'upgrade websocket');
  await opened(sock);
  sock.ws.send('2probe');
  expectEq(await sock.q.next('3probe'), { type: 'text', data: '3probe' }, 'probe answer');
  // The pending (here: next) GET is released with a noop.
  await expectPoll(sid, '6', 'GET during the upgrade');
  sock.ws.send('5');
  sock.ws.send('4hello');
  await expectText(sock, '4hello', 'echo after the upgrade');
  return { sid, sock };
}

function closeWs(...socks) {
  for (const s of socks) s.ws.terminate();
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

async function pollingHandshake() {
  const res = await send('handshake', 'EIO=4&transport=polling');
  expectEq(res.status, 200, 'status');
  const open = openPacket(res.body, 'body');
  if (typeof open.sid !== 'string' || open.sid === '') fail(where(`sid missing in ${describe(open)}`));
  expectEq(open.upgrades, ['websocket'], 'upgrades');
  expectEq(open.pingInterval, PING_INTERVAL, 'pingInterval');
  expectEq(open.pingTimeout, PING_TIMEOUT, 'pingTimeout');
  expectEq(open.maxPayload, MAX_PAYLOAD, 'maxPayload');
  return { sid: open.sid };
}

async function badProtocolVersion() {
  for (const query of ['EIO=abc&transport=polling', 'transport=polling', 'EIO=3&transport=polling']) {
    expectRefusal(await send(query, query), 5, 'Unsupported protocol version', query);
  }
}

async function badTransport() {
  const query = 'EIO=4&transport=abc';
  expectRefusal(await send(query, query), 0, 'Transport unknown', query);
}

async function badHandshakeMethod() {
  const res = await send('POST without sid', 'EIO=4&transport=polling', { method: 'POST', body: '4hello' });
  expectRefusal(res, 2, 'Bad handshake method', 'POST without sid');
}

async function corsPreflight() {
  // A browser asks before a request with a custom header: 204, the methods,
  // and the headers it asked for.
  const res = await within(
    fetch(httpUrl('EIO=4&transport=polling'), {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:9',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-test',
      },
    }),
    where('CORS preflight'),
  );
  expectEq(res.status, 204, 'preflight status');
  const methods = (res.headers.get('access-control-allow-methods') ?? '').split(',');
  for (const m of ['GET', 'POST']) if (!methods.includes(m)) fail(where(`preflight allows ${describe(methods)}, not ${m}`));
  expectEq(res.headers.get('access-control-allow-headers'), 'content-type,x-test', 'preflight allowed headers');
  expectEq(res.headers.get('access-control-allow-origin'), '*', 'preflight origin');
}

async function unknownSid() {
  const res = await get('GET with an unknown sid', 'no-such-session');
  expectRefusal(res, 1, 'Session ID unknown', 'GET with an unknown sid');
  const res2 = await post('POST with an unknown sid', 'no-such-session', '4hello');
  expectRefusal(res2, 1, 'Session ID unknown', 'POST with an unknown sid');
}

async function websocketHandshake() {
  const { sock, open } = await openWsSession();
  if (typeof open.sid !== 'string' || open.sid === '') fail(where(`sid missing in ${describe(open)}`));
  expectEq(open.upgrades, [], 'upgrades');
  expectEq(open.pingInterval, PING_INTERVAL, 'pingInterval');
  expectEq(open.pingTimeout, PING_TIMEOUT, 'pingTimeout');
  expectEq(open.maxPayload, MAX_PAYLOAD, 'maxPayload');
  closeWs(sock);
  return { sid: open.sid };
}

async function websocketBadHandshake() {
  // A bad transport or an unknown sid is refused before the WebSocket
  // handshake, as the reference's abortUpgrade does: 400, the message as
  // text. A bad EIO is refused by the reference server only after the
  // handshake (it writes its HTTP refusal into the open WebSocket, which the
  // client sees as a broken frame): the WebSocket may open, but no Engine.IO
  // session does and it closes at once; or it is refused before, the same
  // way as a bad transport.
  const refusals = [
    ['EIO=4&transport=abc', 'Transport unknown'],
    ['EIO=4&transport=websocket&sid=no-such-session', 'Session ID unknown'],
  ];
  for (const [query, message] of refusals) {
    await expectWsRefused(connectWs(query, query), 400, message, `${query}: refusal`);
  }
  const query = 'EIO=abc&transport=websocket';
  const sock = connectWs(query, query);
  const first = await sock.q.next(`${query}: the WebSocket to fail`);
  if (first.type === 'refused') {
    expectEq(first, { type: 'refused', status: 400, body: 'Unsupported protocol version' }, `${query}: refusal`);
  } else if (first.type === 'open') {
    await expectClosed(sock, `${query}: the WebSocket to fail`);
  } else {
    fail(where(`${query}: expected a refusal or an open then a close, got ${describe(first)}`));
  }
  return { badEio: first.type };
}

async function pollingMessages() {
  const cases = [
    ['4hello', '4hello'],
    [['4test1', '4test2', '4test3'].join(SEP), ['4test1', '4test2', '4test3'].join(SEP)],
    [`4hello${SEP}bAQIDBA==`, `4hello${SEP}bAQIDBA==`],
  ];
  for (const [sent, echoed] of cases) {
    const sid = await handshake();
    expectOk(await post(`POST ${describe(sent)}`, sid, sent), 'ok', `POST ${describe(sent)}`);
    await expectPoll(sid, echoed, `GET after POST ${describe(sent)}`);
  }
}

async function pollingInvalidPacket() {
  const sid = await handshake();
  // As the reference engine.io 6.6 does: the body was read whole, so the
  // POST itself is answered 200 "ok"; the session is closed behind it.
  const res = await post('POST "abc"', sid, 'abc');
  if (!(res.status === 200 && res.body === 'ok')) fail(where(`POST "abc": expected 200 "ok", got ${describe(res)}`));
  await expectGone('GET after the invalid packet', sid);
  return { post: res.status || res.error };
}

async function duplicatePoll() {
  const sid = await handshake();
  const first = get('first GET', sid);
  await sleep(50); // the first request is held by then, even under load
  const second = get('second GET', sid, '&t=burst');
  const [a, b] = await Promise.all([first, second]);
  expectOk(a, '1', 'first GET (answered with a close packet)');
  expectEq({ status: b.status, body: b.body }, { status: 400, body: '' }, 'second GET');
  await expectGone('GET after the duplicate', sid);
}

async function cancelledPoll() {
  const sid = await handshake();
  const abort = new AbortController();
  const pending = request(sidQuery(sid), { signal: abort.signal });
  await sleep(50); // the first request is held by then, even under load
  abort.abort();
  const res = await within(pending, where('aborted GET'));
  if (res.status !== 0) fail(where(`aborted GET: expected an abort, got ${describe(res)}`));
  await sleep(20);
  await expectGone('GET after the cancelled poll', sid);
}

async function websocketMessages() {
  const { sock } = await openWsSession();
  sock.ws.send('4hello');
  await expectText(sock, '4hello', 'text echo');
  sock.ws.send(Buffer.from([1, 2, 3, 4]));
  expectEq(await nextMessage(sock, 'binary echo'), { type: 'binary', data: [1, 2, 3, 4] }, 'binary echo');
  sock.ws.send('abc');
  const closed = await expectClosed(sock, 'close after "abc"', { allowed: ['1', '2'], code: 1005 });
  return { closeCode: closed.code };
}

async function heartbeatPolling() {
  const sid = await handshake();
  for (let round = 1; round <= 3; round++) {
    const started = Date.now();
    expectOk(await get(`ping ${round}`, sid), '2', `ping ${round}`);
    const waited = Date.now() - started;
    expectOk(await post(`pong ${round}`, sid, '3'), 'ok', `pong ${round}`);
    // A client gives up on a server that has not pinged for pingInterval + pingTimeout.
    if (waited > PING_INTERVAL + PING_TIMEOUT) fail(where(`ping ${round} came after ${waited} ms`));
  }
}

async function pingTimeoutPolling() {
  const sid = await handshake();
  await sleep(PING_INTERVAL + PING_TIMEOUT + 50);
  await expectGone('GET after the ping timeout', sid);
}

async function heartbeatWebsocket() {
  const { sock } = await openWsSession();
  for (let round = 1; round <= 3; round++) {
    expectEq(await sock.q.next(`ping ${round}`, 2_000), { type: 'text', data: '2' }, `ping ${round}`);
    sock.ws.send('3');
  }
  closeWs(sock);
}

async function pingTimeoutWebsocket() {
  const started = Date.now();
  const { sock } = await openWsSession();
  const closed = await expectClosed(sock, 'close without pongs', { allowed: ['2', '1'], ms: 3_000, code: 1005 });
  const elapsed = Date.now() - started;
  if (!closed.before.includes('2')) fail(where(`closed without a ping first (${describe(closed)})`));
  if (elapsed < PING_INTERVAL + PING_TIMEOUT - 50) fail(where(`closed after ${elapsed} ms, before the ping timeout`));
  return { elapsedMs: elapsed };
}

async function closePolling() {
  const sid = await handshake();
  const held = get('held GET', sid);
  await sleep(50); // the first request is held by then, even under load
  expectOk(await post('POST "1"', sid, '1'), 'ok', 'POST "1"');
  expectOk(await held, '6', 'held GET after the close packet');
  await expectGone('GET after the close', sid);
}

async function closeWebsocket() {
  // The reference engine.io 6.6 ignores a close packet on WebSocket and ends
  // the session at the ping timeout; an immediate close is fine too.
  const { sock } = await openWsSession();
  const started = Date.now();
  sock.ws.send('1');
  await expectClosed(sock, 'close after "1"', { allowed: ['6', '2'], code: 1005 });
  return { elapsedMs: Date.now() - started };
}

async function upgrade() {
  const { sock } = await upgradedSession();
  closeWs(sock);
}

async function pollingAfterUpgrade() {
  const { sid, sock } = await upgradedSession();
  expectRefusal(await get('polling GET after the upgrade', sid), 3, 'Bad request', 'polling GET after the upgrade');
  expectRefusal(await post('POST after the upgrade', sid, '4x'), 3, 'Bad request', 'POST after the upgrade');
  sock.ws.send('4still');
  await expectText(sock, '4still', 'websocket echo after the refused GET');
  closeWs(sock);
}

async function secondWebsocketAfterUpgrade() {
  const { sid, sock } = await upgradedSession();
  const second = connectWs(`EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`, 'second websocket');
  second.ws.on('open', () => second.ws.send('2probe'));
  await expectOpenThenClosed(second, 'the second websocket: 101, then a close frame');
  sock.ws.send('4still');
  await expectText(sock, '4still', 'first websocket echo after the second one closed');
  closeWs(sock);
}

async function secondWebsocketDuringUpgrade() {
  const sid = await handshake();
  const query = `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`;
  const sock = connectWs(query, 'upgrade websocket');
  await opened(sock);
  sock.ws.send('2probe');
  expectEq(await sock.q.next('3probe'), { type: 'text', data: '3probe' }, 'probe answer');
  const second = connectWs(query, 'second websocket');
  await expectOpenThenClosed(second, 'the second websocket: 101, then a close frame');
  // The first one still completes the upgrade.
  await expectPoll(sid, '6', 'GET during the upgrade');
  sock.ws.send('5');
  sock.ws.send('4hello');
  await expectText(sock, '4hello', 'echo after the upgrade');
  closeWs(sock);
}

async function secondWebsocketOnWebsocketSession() {
  const { sock, open } = await openWsSession();
  const second = connectWs(`EIO=4&transport=websocket&sid=${encodeURIComponent(open.sid)}`, 'second websocket');
  await expectOpenThenClosed(second, 'the second websocket: 101, then a close frame');
  closeWs(sock);
}

async function payloadTooLarge() {
  const sid = await handshake();
  const body = `4${'a'.repeat(MAX_PAYLOAD)}`;
  const res = await post(`POST of ${body.length} bytes`, sid, body);
  expectEq({ status: res.status, body: res.body }, { status: 413, body: '' }, `POST of ${body.length} bytes`);
}

const CHECKS = [
  ['polling handshake', pollingHandshake],
  ['bad protocol version', badProtocolVersion],
  ['bad transport', badTransport],
  ['bad handshake method', badHandshakeMethod],
  ['unknown sid', unknownSid],
  ['CORS preflight', corsPreflight],
  ['websocket handshake', websocketHandshake],
  ['websocket bad handshake', websocketBadHandshake],
  ['polling messages', pollingMessages],
  ['polling invalid packet', pollingInvalidPacket],
  ['duplicate poll', duplicatePoll],
  ['cancelled poll', cancelledPoll],
  ['websocket messages', websocketMessages],
  ['heartbeat polling', heartbeatPolling],
  ['ping timeout polling', pingTimeoutPolling],
  ['heartbeat websocket', heartbeatWebsocket],
  ['ping timeout websocket', pingTimeoutWebsocket],
  ['close polling', closePolling],
  ['close websocket', closeWebsocket],
  ['upgrade', upgrade],
  ['polling after upgrade', pollingAfterUpgrade],
  ['second websocket after upgrade', secondWebsocketAfterUpgrade],
  ['second websocket during upgrade', secondWebsocketDuringUpgrade],
  ['second websocket on a websocket session', secondWebsocketOnWebsocketSession],
  ['payload too large', payloadTooLarge],
];

run(
  'eio_protocol',
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
