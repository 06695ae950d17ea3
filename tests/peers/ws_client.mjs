// Node `ws` client that exercises a sockwire WebSocket echo server.
//
// Usage: node ws_client.mjs ws://127.0.0.1:PORT/path
//
// The server under test must echo every text and binary message back
// unchanged, answer pings with pongs and echo the close code. The scenario,
// one `ok - ...` line per passed check:
//   1. opening handshake (no extension negotiated: ws offers
//      permessage-deflate, the server must decline it)
//   2. text echo with non-ASCII UTF-8
//   3. binary echo (all 256 byte values)
//   4. fragmented text message whose fragment boundaries split a code point,
//      echoed back as one message
//   5. fragmented binary message, echoed back as one message
//   6. 16 MiB binary message echoed intact (SHA-256 compared)
//   7. ping with payload answered by a pong with the same payload
//   8. close 4000 "bye": the server answers with close code 4000, and the TCP
//      connection ends after the closing handshake
// Any failure prints `FAIL: ...` on stderr and exits 1; the whole run is
// bounded by TIMEOUT_MS. Incoming events go into a queue that the checks
// consume in order, so no event can be missed by a listener registered late.

import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 30_000;
const BIG_LEN = 16 * 1024 * 1024;

const url = process.argv[2];
if (!url) {
  console.error('usage: node ws_client.mjs ws://HOST:PORT/PATH');
  process.exit(2);
}

let checks = 0;
function ok(what) {
  checks += 1;
  console.log(`ok - ${what}`);
}
function fail(what) {
  console.error(`FAIL: ws_client.mjs: ${what}`);
  process.exit(1);
}
setTimeout(() => fail(`overall timeout of ${TIMEOUT_MS} ms exceeded`), TIMEOUT_MS);

// ---- event queue ----
const queue = [];
let waiter = null;
function push(ev) {
  queue.push(ev);
  if (waiter) {
    const w = waiter;
    waiter = null;
    w();
  }
}
async function next(what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (queue.length === 0) {
    const left = deadline - Date.now();
    if (left <= 0) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, left);
      waiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
  return queue.shift();
}
async function expectMessage(what, isBinaryWanted) {
  const ev = await next(what);
  if (ev.type !== 'message') fail(`${what}: expected a message, got ${describe(ev)}`);
  if (ev.isBinary !== isBinaryWanted) {
    fail(`${what}: expected a ${isBinaryWanted ? 'binary' : 'text'} message, got ${describe(ev)}`);
  }
  return ev.data;
}
function describe(ev) {
  switch (ev.type) {
    case 'message':
      return `${ev.isBinary ? 'binary' : 'text'} message of ${ev.data.length} bytes`;
    case 'pong':
      return `pong ${JSON.stringify(ev.data.toString('latin1'))}`;
    case 'close':
      return `close code=${ev.code} reason=${JSON.stringify(ev.reason)}`;
    case 'error':
      return `error ${ev.error}`;
    default:
      return ev.type;
  }
}

// ---- connection ----
const ws = new WebSocket(url, { handshakeTimeout: 10_000, maxPayload: 64 * 1024 * 1024 });
let upgradeResponse = null;
ws.on('upgrade', (res) => {
  upgradeResponse = res;
});
ws.on('open', () => push({ type: 'open' }));
ws.on('message', (data, isBinary) => push({ type: 'message', data: toBuffer(data), isBinary }));
ws.on('ping', (data) => push({ type: 'ping', data }));
ws.on('pong', (data) => push({ type: 'pong', data }));
ws.on('error', (error) => push({ type: 'error', error }));
ws.on('close', (code, reason) => push({ type: 'close', code, reason: reason.toString() }));
ws.on('unexpected-response', (_req, res) => {
  push({ type: 'error', error: `unexpected HTTP response ${res.statusCode}` });
});

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}
async function send(data, options) {
  await new Promise((resolve, reject) => {
    ws.send(data, options, (err) => (err ? reject(err) : resolve()));
  }).catch((err) => fail(`send failed: ${err}`));
}

async function main() {
  // 1. handshake
  const opened = await next('the opening handshake');
  if (opened.type !== 'open') fail(`opening handshake: got ${describe(opened)}`);
  if (ws.extensions !== '') fail(`server negotiated extensions ${JSON.stringify(ws.extensions)}`);
  if (upgradeResponse && upgradeResponse.headers['sec-websocket-extensions'] !== undefined) {
    fail('server answered Sec-WebSocket-Extensions although it implements none');
  }
  ok(`opening handshake with ${url} (status 101, no extension)`);

  // 2. text
  const text = 'Hello sockwire: héllo wörld ✓ 日本語 😀';
  await send(text, { binary: false });
  const gotText = (await expectMessage('text echo', false)).toString('utf8');
  if (gotText !== text) fail(`text echo differs: ${JSON.stringify(gotText)}`);
  ok('text message echoed (non-ASCII UTF-8)');

  // 3. binary
  const bin = Buffer.alloc(256);
  for (let i = 0; i < 256; i += 1) bin[i] = i;
  await send(bin, { binary: true });
  const gotBin = await expectMessage('binary echo', true);
  if (!gotBin.equals(bin)) fail('binary echo differs');
  ok('binary message echoed (256 byte values)');

  // 4. fragmented text: the boundaries split the 3-byte U+2713 and the 4-byte U+1F600
  const whole = Buffer.from('frag ✓ ment 😀 ed', 'utf8');
  const check = whole.indexOf(Buffer.from('✓', 'utf8'));
  const smile = whole.indexOf(Buffer.from('😀', 'utf8'));
  const parts = [whole.subarray(0, check + 1), whole.subarray(check + 1, smile + 2), whole.subarray(smile + 2)];
  for (let i = 0; i < parts.length; i += 1) {
    await send(parts[i], { binary: false, fin: i === parts.length - 1 });
  }
  const gotFrag = await expectMessage('fragmented text echo', false);
  if (!gotFrag.equals(whole)) fail(`fragmented text echo differs: ${JSON.stringify(gotFrag.toString())}`);
  ok(`fragmented text message (${parts.length} frames, code points split) echoed whole`);

  // 5. fragmented binary
  const binParts = [Buffer.from([0, 1, 2]), Buffer.alloc(0), Buffer.from([0xff, 0xfe]), Buffer.from([7])];
  for (let i = 0; i < binParts.length; i += 1) {
    await send(binParts[i], { binary: true, fin: i === binParts.length - 1 });
  }
  const gotBinFrag = await expectMessage('fragmented binary echo', true);
  if (!gotBinFrag.equals(Buffer.concat(binParts))) fail('fragmented binary echo differs');
  ok(`fragmented binary message (${binParts.length} frames, one empty) echoed whole`);

  // 6. 16 MiB binary
  const big = randomBytes(BIG_LEN);
  const bigHash = sha256(big);
  const started = Date.now();
  await send(big, { binary: true });
  const gotBig = await expectMessage('16 MiB binary echo', true);
  if (gotBig.length !== BIG_LEN) fail(`16 MiB echo has ${gotBig.length} bytes`);
  if (sha256(gotBig) !== bigHash) fail('16 MiB echo content differs (SHA-256)');
  ok(`16 MiB binary message echoed intact in ${Date.now() - started} ms (sha256 ${bigHash.slice(0, 16)}...)`);

  // 7. ping -> pong with the same payload
  const pingPayload = Buffer.from('sockwire-ping-✓', 'utf8');
  ws.ping(pingPayload);
  const pong = await next('the pong');
  if (pong.type !== 'pong') fail(`expected a pong, got ${describe(pong)}`);
  if (!pong.data.equals(pingPayload)) fail(`pong payload differs: ${JSON.stringify(pong.data.toString())}`);
  ok('ping answered by a pong with the same payload');

  // 8. close 4000 "bye"
  const closeStarted = Date.now();
  ws.close(4000, 'bye');
  const closed = await next('the close reply');
  const closeMs = Date.now() - closeStarted;
  if (closed.type !== 'close') fail(`expected the close reply, got ${describe(closed)}`);
  if (closed.code !== 4000) fail(`server answered close code ${closed.code} (reason ${JSON.stringify(closed.reason)}), expected 4000`);
  if (closeMs > 5000) fail(`the TCP connection ended only ${closeMs} ms after the close frame was sent`);
  ok(`closing handshake: server echoed code ${closed.code} (reason ${JSON.stringify(closed.reason)}), TCP closed after ${closeMs} ms`);

  console.log(`PASS ws_client.mjs: ${checks} checks`);
  process.exit(0);
}

main().catch((err) => fail(`unexpected exception: ${err && err.stack ? err.stack : err}`));
