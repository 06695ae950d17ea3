// Reference Node `engine.io` 6.6 server (Engine.IO protocol v4), the
// behaviour eio_client.mjs expects from a server under test.
//
// Usage: node eio_server.mjs [PORT]      (PORT 0 or absent: the OS picks one)
//
// - Listens on 127.0.0.1 only, path /engine.io/, transports polling and
//   websocket; pingInterval 300 ms, pingTimeout 200 ms, maxHttpBufferSize 1e6,
//   CORS origin "*".
// - Prints `LISTENING <port>` on stdout once it accepts connections; then runs
//   until killed (SIGTERM/SIGINT exit 0). Session events go to stderr.
// - Echoes every message back unchanged (text as text, binary as binary),
//   except the text "close-me", on which it closes that session (no echo).

import { createServer } from 'node:http';
import { attach } from 'engine.io';

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node eio_server.mjs [PORT]');
  process.exit(2);
}

const httpServer = createServer();
const engine = attach(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  cors: { origin: '*' },
});

engine.on('connection', (socket) => {
  console.error(`eio_server: open ${socket.id} (${socket.transport.name})`);
  socket.on('upgrade', (t) => console.error(`eio_server: upgrade ${socket.id} -> ${t.name}`));
  socket.on('close', (reason) => console.error(`eio_server: close ${socket.id}: ${reason}`));
  socket.on('message', (data) => {
    if (data === 'close-me') socket.close();
    else socket.send(data);
  });
});
engine.on('connection_error', (err) => console.error(`eio_server: connection_error ${err.code} ${err.message}`));

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
