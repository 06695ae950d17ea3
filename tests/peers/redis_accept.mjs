// A Node `socket.io` 4.8 node with `@socket.io/redis-adapter` 8 and three
// `socket.io-client` clients on it: what a message published by another
// node (sockwire, in tests/redis_adapter_node.rs) delivers to whom.
//
// Usage: node redis_accept.mjs REDIS_PORT
//
// - The server listens on 127.0.0.1 (a free port), namespace "/", adapter on
//   redis://127.0.0.1:REDIS_PORT with the default key "socket.io".
// - Clients: A in room1; B in room1 and room2; C in no room.
// - Prints `READY <sidA> <sidB> <sidC>` (the socket ids, as the server names
//   them) once every client has joined its rooms and the adapter is
//   subscribed; then, for every event a client receives, one line
//   `EVENT <client> <name> <args as JSON>` (a Buffer as {"hex": "..."}).
// - Exits 0 on SIGTERM; 1 if not ready within 10 s.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const redisPort = Number(process.argv[2]);
if (!(redisPort > 0)) {
  console.error('usage: node redis_accept.mjs REDIS_PORT');
  process.exit(2);
}
setTimeout(() => {
  console.error('redis_accept: not ready within 10 s');
  process.exit(1);
}, 10000).unref();

const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
const rooms = { A: ['room1'], B: ['room1', 'room2'], C: [] };
io.on('connection', (socket) => {
  const name = socket.handshake.auth.name;
  socket.join(rooms[name]);
  socket.emit('joined');
});
await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
const port = httpServer.address().port;

const show = (v) =>
  JSON.stringify(v, (k, x) => (x && x.type === 'Buffer' && Array.isArray(x.data) ? { hex: Buffer.from(x.data).toString('hex') } : x));
const sids = {};
await Promise.all(
  Object.keys(rooms).map(
    (name) =>
      new Promise((resolve) => {
        const c = connect(`http://127.0.0.1:${port}`, { auth: { name }, transports: ['websocket'] });
        c.on('joined', () => {
          sids[name] = c.id;
          resolve();
        });
        c.onAny((event, ...args) => {
          if (event !== 'joined') console.log(`EVENT ${name} ${event} ${show(args)}`);
        });
      }),
  ),
);
// The adapter's PSUBSCRIBE is confirmed before the first broadcast goes out.
await new Promise((r) => setTimeout(r, 100));
console.log(`READY ${sids.A} ${sids.B} ${sids.C}`);
process.on('SIGTERM', () => process.exit(0));
