// permessage-deflate between the real `socket.io-client` 4.8 (which offers
// it on its WebSocket transport: engine.io-client's default
// `perMessageDeflate: { threshold: 1024 }` on Node) and a Socket.IO server
// under test that accepts it (reference test-server behaviour: `message` is
// answered with `message-back`).
//
// Usage: node sio_deflate.mjs URL [websocket|upgrade]
//   websocket: transports ["websocket"] (the default);
//   upgrade:   polling first, then the upgrade to WebSocket.
//
// Checks: the WebSocket negotiated `permessage-deflate`; three ~100 KB JSON
// messages sent with `message` come back equal in `message-back`; both
// directions were compressed on the wire (the TCP byte counts of the
// WebSocket are under a fifth of the payload). Exit 0 on success, 1 with a
// `FAIL` line otherwise.

import { io } from 'socket.io-client';

const [url, mode = 'websocket'] = process.argv.slice(2);
if (!url || !['websocket', 'upgrade'].includes(mode)) {
  console.error('usage: node sio_deflate.mjs URL [websocket|upgrade]');
  process.exit(2);
}

function fail(why) {
  console.log(`FAIL ${why}`);
  process.exit(1);
}
setTimeout(() => fail('timed out'), 20000).unref();

const big = {
  items: Array.from({ length: 2200 }, (_, i) => ({ id: i, name: 'item', tags: ['a', 'b'] })),
};
const size = JSON.stringify(big).length;
if (size < 90_000) fail(`payload only ${size} bytes`);

const socket = io(url, {
  transports: mode === 'websocket' ? ['websocket'] : ['polling', 'websocket'],
  reconnection: false,
  timeout: 5000,
});
socket.on('connect_error', (e) => fail(`connect_error ${e.message}`));
socket.on('disconnect', (r) => fail(`disconnected: ${r}`));

await new Promise((resolve) => socket.once('auth', resolve));
const engine = socket.io.engine;
if (engine.transport.name !== 'websocket') {
  await new Promise((resolve) => engine.once('upgrade', resolve));
}
const ws = engine.transport.ws;
if (!ws || !String(ws.extensions).includes('permessage-deflate')) {
  fail(`no permessage-deflate negotiated (extensions: ${JSON.stringify(ws && ws.extensions)})`);
}
const tcp = ws._socket;
const [read0, written0] = [tcp.bytesRead, tcp.bytesWritten];

for (let round = 0; round < 3; round++) {
  const back = new Promise((resolve) => socket.once('message-back', resolve));
  socket.emit('message', big);
  const got = await back;
  if (JSON.stringify(got) !== JSON.stringify(big)) fail(`round ${round}: message-back differs`);
}
const read = tcp.bytesRead - read0;
const written = tcp.bytesWritten - written0;
console.log(`OK ${mode}: 3 x ${size} bytes each way; on the wire ${written} bytes sent, ${read} received`);
if (written > (3 * size) / 5) fail(`client sent ${written} bytes: not compressed`);
if (read > (3 * size) / 5) fail(`server sent ${read} bytes: not compressed`);
socket.off('disconnect');
socket.disconnect();
process.exit(0);
