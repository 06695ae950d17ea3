// `engine.io-client` 6.6 driver (Engine.IO protocol v4) for an Engine.IO
// server under test.
//
// Usage: node eio_client.mjs http://127.0.0.1:PORT SCENARIO
//
// The server under test (eio_server.mjs is the reference) serves path
// /engine.io/ with transports polling and websocket, pingInterval 300 ms,
// pingTimeout 200 ms, maxHttpBufferSize >= 1e6; it echoes every message back
// unchanged (text as text, binary as binary) except the text "close-me", on
// which it closes the session.
//
// Scenarios (each step prints one JSON line; the last line is {"ok":true} or
// {"ok":false,"error":"..."}; exit 0 only on success; hard timeout 20 s):
//   polling          polling only, no upgrade: open, then EXCHANGE, then close()
//   websocket        websocket only: open, EXCHANGE, close()
//   upgrade          default transports: open on polling, the "upgrade" event
//                    leaves socket.transport.name === "websocket", then
//                    EXCHANGE, close()
//   heartbeat        polling only: stays open 2 s and sees >= 3 server pings
//                    (the "ping" event), no "close" meanwhile, then close()
//   close-by-server  polling only: sends "close-me"; the "close" event with
//                    reason "transport close" follows within 2 s, no message
//                    before it
//   close-by-server-websocket  the same over websocket only
// EXCHANGE: sends 3 text messages (one non-ASCII), a binary Uint8Array
// [1,2,3,4] and a 100 KiB text message back to back; expects the 5 echoes in
// the same order with the same type (string / Buffer) and exact content.

import { Socket } from 'engine.io-client';
import { Queue, assertEqual, describe, fail, run, sleep, step } from './driver_util.mjs';

const SCENARIOS = {
  polling: { transports: ['polling'], upgrade: false },
  websocket: { transports: ['websocket'] },
  upgrade: {},
  heartbeat: { transports: ['polling'], upgrade: false },
  'close-by-server': { transports: ['polling'], upgrade: false },
  'close-by-server-websocket': { transports: ['websocket'] },
};

const [base, scenario] = process.argv.slice(2);
if (!base || !(scenario in SCENARIOS)) {
  console.error(`usage: node eio_client.mjs http://HOST:PORT ${Object.keys(SCENARIOS).join('|')}`);
  process.exit(2);
}

const q = new Queue('eio_client');
let pings = 0;

function connect() {
  const socket = new Socket(base, { ...SCENARIOS[scenario], reconnection: false });
  socket.on('open', () => q.push({ type: 'open' }));
  socket.on('upgrade', (t) => q.push({ type: 'upgrade', transport: t.name }));
  socket.on('message', (data) => q.push({ type: 'message', data }));
  socket.on('close', (reason, details) => q.push({ type: 'close', reason, details: String(details?.description ?? details ?? '') }));
  socket.on('error', (err) => q.push({ type: 'error', error: String(err) }));
  socket.on('ping', () => (pings += 1));
  return socket;
}

async function open(socket) {
  await q.expect('open', 'the "open" event');
  step({ step: 'open', transport: socket.transport.name, sid: socket.id });
}

async function exchange(socket) {
  const big = Array.from({ length: 100 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  const sent = ['hello', 'héllo wörld ✓ 日本語 😀', '{"third":3}', new Uint8Array([1, 2, 3, 4]), big];
  for (const m of sent) socket.send(m);
  step({ step: 'sent', count: sent.length });
  for (const [i, m] of sent.entries()) {
    const ev = await q.next(`echo ${i}`);
    if (ev.type !== 'message') fail(`echo ${i}: expected a message, got ${describe(ev)}`);
    if (typeof m === 'string') {
      if (typeof ev.data !== 'string') fail(`echo ${i}: expected text, got ${describe(ev.data)}`);
      assertEqual(ev.data, m, `echo ${i}`);
      step({ step: 'echo', index: i, kind: 'text', chars: m.length });
    } else {
      if (!Buffer.isBuffer(ev.data)) fail(`echo ${i}: expected binary (Buffer), got ${describe(ev.data)}`);
      assertEqual([...ev.data], [...m], `echo ${i}`);
      step({ step: 'echo', index: i, kind: 'binary', bytes: [...ev.data] });
    }
  }
}

async function clientClose(socket) {
  socket.close();
  const ev = await q.expect('close', 'the "close" event after close()');
  step({ step: 'close', reason: ev.reason });
  await sleep(200); // let the close packet / WebSocket close frame reach the server
}

run('eio_client', async () => {
  const socket = connect();
  await open(socket);
  switch (scenario) {
    case 'polling':
    case 'websocket':
      await exchange(socket);
      break;
    case 'upgrade': {
      if (socket.transport.name !== 'polling') fail(`opened on ${socket.transport.name}, expected polling`);
      const ev = await q.expect('upgrade', 'the "upgrade" event');
      if (socket.transport.name !== 'websocket') fail(`after "upgrade" the transport is ${socket.transport.name}`);
      step({ step: 'upgrade', transport: ev.transport });
      await exchange(socket);
      break;
    }
    case 'heartbeat': {
      await sleep(2000);
      if (q.items.length) fail(`unexpected event during the heartbeat wait: ${describe(q.items[0])}`);
      if (socket.readyState !== 'open') fail(`readyState is ${socket.readyState} after 2 s`);
      if (pings < 3) fail(`saw ${pings} pings in 2 s, expected >= 3 (pingInterval 300)`);
      step({ step: 'heartbeat', pings, readyState: socket.readyState });
      break;
    }
    case 'close-by-server':
    case 'close-by-server-websocket': {
      socket.send('close-me');
      step({ step: 'sent', data: 'close-me' });
      const ev = await q.expect('close', 'the "close" event after "close-me"', 2000);
      if (ev.reason !== 'transport close') fail(`close reason ${JSON.stringify(ev.reason)}, expected "transport close"`);
      step({ step: 'close', reason: ev.reason, details: ev.details });
      return;
    }
  }
  await clientClose(socket);
});
