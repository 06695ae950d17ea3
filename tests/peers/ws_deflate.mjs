// Node `ws` with perMessageDeflate on, against sockwire, both roles.
//
//   node ws_deflate.mjs client ws://127.0.0.1:PORT/ '{"serverMaxWindowBits":9}'
//   node ws_deflate.mjs server '{"clientNoContextTakeover":true}'
//
// The JSON holds `ws` perMessageDeflate options (threshold 0 is added, so
// every message is compressed). As client: checks that permessage-deflate was
// negotiated, sends each message of the scenario and checks its echo, closes
// with 1000. As server (prints `LISTENING <port>`): echoes every message,
// checks the extension was negotiated, and exits 0 when the client closes
// with 1000. `ok - ...` lines on stdout, `FAIL: ...` and exit 1 otherwise.

import { randomBytes } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { Queue } from './driver_util.mjs';

const [mode, arg1, arg2] = process.argv.slice(2);
const options = { threshold: 0, ...JSON.parse((mode === 'client' ? arg2 : arg1) || '{}') };

function fail(what) {
  console.error(`FAIL: ws_deflate.mjs: ${what}`);
  process.exit(1);
}
setTimeout(() => fail('overall timeout of 60 s exceeded'), 60_000);

function messages() {
  const text = 'permessage-deflate from Node ws, κόσμε 𝄞 '.repeat(3000);
  return [
    ['text', 'Hello'],
    ['text', 'Hello'],
    ['text', ''],
    ['text', text],
    ['binary', randomBytes(70_000)],
    ['binary', Buffer.alloc(300_000, 7)],
    ['text', text.slice(0, 5000)],
  ];
}

const queue = new Queue('ws_deflate.mjs');
const next = () => queue.next('an echo', 30_000);

if (mode === 'client') {
  const ws = new WebSocket(arg1, { perMessageDeflate: options });
  ws.on('message', (data, isBinary) => queue.push({ data, isBinary }));
  ws.on('error', (e) => fail(`error: ${e.message}`));
  ws.on('close', (code) => queue.push({ close: code }));
  await new Promise((r) => ws.once('open', r));
  if (!ws.extensions.includes('permessage-deflate')) fail(`not negotiated: "${ws.extensions}"`);
  console.log(`ok - negotiated: ${ws.extensions}`);
  for (const [kind, data] of messages()) {
    ws.send(data, { binary: kind === 'binary' });
    const ev = await next();
    if (ev.close !== undefined) fail(`closed ${ev.close} instead of echoing`);
    const want = Buffer.from(data);
    if (ev.isBinary !== (kind === 'binary') || !Buffer.from(ev.data).equals(want)) {
      fail(`echo of a ${kind} message of ${want.length} bytes differs`);
    }
    console.log(`ok - ${kind} echo, ${want.length} bytes`);
  }
  ws.close(1000);
  const ev = await next();
  if (ev.close !== 1000) fail(`close code ${ev.close}`);
  console.log('ok - closed 1000');
  process.exit(0);
} else if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: options });
  wss.on('listening', () => console.log(`LISTENING ${wss.address().port}`));
  wss.on('connection', (ws) => {
    if (!ws.extensions.includes('permessage-deflate')) fail(`not negotiated: "${ws.extensions}"`);
    console.log(`ok - negotiated: ${ws.extensions}`);
    let n = 0;
    ws.on('message', (data, isBinary) => {
      n += 1;
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code) => {
      if (code !== 1000) fail(`client closed with ${code}`);
      console.log(`ok - echoed ${n} messages, closed 1000`);
      process.exit(0);
    });
  });
} else {
  fail(`unknown mode ${mode}`);
}
