// Reference Node `socket.io` 4.8 server (Socket.IO protocol v5 over Engine.IO
// v4) in the "reference test-server configuration" of shared/CONFORMANCE.md:
// the behaviour sio_client.mjs and sio_client.py expect from a server under test.
// sio_server.py is its python-socketio counterpart for sockwire's client.
//
// Usage: node sio_server.mjs [PORT] [--recovery] [--deflate] [--ping-interval MS] [--ping-timeout MS] [--redis REDIS_PORT]
//        (PORT 0 or absent: the OS picks one; the ping settings default to
//        300 and 200 ms, the benchmarks in tests/bench may change them)
//
// - Listens on 127.0.0.1 only, path /socket.io/; pingInterval 300 ms,
//   pingTimeout 200 ms, maxHttpBufferSize 1e6, connectTimeout 1000 ms,
//   CORS origin "*".
// - Prints `LISTENING <port>` on stdout once it accepts connections; then runs
//   until killed (SIGTERM/SIGINT exit 0). Connection events go to stderr.
// - Namespace "/": on connection emits `auth` with the handshake auth; answers
//   `message` with `message-back` (same arguments, binary included); acks
//   `message-with-ack` with its own arguments; on `force-disconnect-transport`
//   closes the underlying Engine.IO connection (socket.conn.close()), so the
//   client sees "transport close" and reconnects.
//   `emit-later` [delayMs, payload] schedules `io.emit('later', payload)` (to
//   every socket of "/") after delayMs milliseconds, so that a client can have
//   an event emitted while it is disconnected.
//   `ask` ...args: the server emits `question` ...args asking for an ack, then
//   `answer` with the client's ack arguments as one array (or "timeout").
//   `join` [room] puts the socket in that room (acked with no arguments if the
//   client asks); `broadcast` [room, ...args] sends `broadcast-back` ...args to
//   that room (io.to(room).emit), or to every socket of "/" when room is null,
//   and acks (if asked) with {delivered: N, full: 0}: N the sockets targeted
//   (socket.io buffers without bound, it never refuses). As examples/sio_server.rs,
//   for the fan-out benchmarks of tests/bench. The room may also be an object
//   {rooms: [...], except: [...]}: io.to(rooms).except(except).emit(...)
//   (with `withAck: true`: io.timeout(500)...emit(..., ack), a broadcast with
//   acks).
//   `sockets` {op: "join"|"leave"|"disconnect", rooms, except, to, close}
//   runs io.in(rooms).except(except).socketsJoin(to) / socketsLeave(to) /
//   disconnectSockets(close) (across the cluster with --redis), acked {}.
//   `server-side-emit` ...args runs io.serverSideEmit('relay', ...args); a
//   `relay` from another server is emitted as `relayed` to this server's
//   sockets (io.local.emit).
//   The cluster's requests (as examples/sio_server.rs, `App::cluster_request`),
//   each acked with an object, its list sorted, `error` beside it on failure:
//   `fetch-sockets` -> {ids: [socket ids of every node]} (io.fetchSockets());
//   `all-rooms` -> {rooms: [...]} (io.of('/').adapter.allRooms());
//   `server-side-emit-ack` ...args -> {responses: [...]}
//   (io.serverSideEmit('ask-relay', ...args, ack); an `ask-relay` from
//   another server is acked with "node");
//   `broadcast-with-ack` [target, ...args] -> {acks: [...]}
//   (io.timeout(2000).to(rooms).except(except).emit('ack-me', ...args, ack)).
// - `--redis REDIS_PORT`: the server is one node of a cluster, with
//   `@socket.io/redis-adapter` on redis://127.0.0.1:REDIS_PORT (key
//   "socket.io"): broadcasts reach the sockets of every node. With the
//   environment variable SIO_SPECIFIC_RESPONSE=1 the adapter answers requests
//   on the asking node's own response channel (publishOnSpecificResponseChannel).
// - Namespace "/custom": on connection emits `auth` with the handshake auth.
// - Any other namespace: refused with CONNECT_ERROR {"message":"Invalid namespace"}.
// - `--recovery` (or the environment variable SIO_RECOVERY=1): the Server gets
//   `connectionStateRecovery: {}` (socket.io >= 4.6 defaults: 2 min
//   maxDisconnectionDuration, middlewares run again). Then the CONNECT reply
//   carries a `pid`, every non-volatile event without ack (`auth` and
//   `message-back` included) gets its offset appended as the last argument,
//   and a client that reconnects with {"pid","offset"} of an event it
//   received gets the missed events, then `40{"sid","pid"}` with the same sid.
//   Without the flag the behaviour above is unchanged.
// - `--deflate`: the Server gets `perMessageDeflate: true` (engine.io's
//   default is false): a WebSocket client's permessage-deflate offer is
//   accepted and messages of 1024 bytes or more go out compressed.

import { createServer } from 'node:http';
import { Server } from 'socket.io';

const args = process.argv.slice(2);
const recovery = args.includes('--recovery') || process.env.SIO_RECOVERY === '1';
const deflate = args.includes('--deflate');
const ms = { '--ping-interval': 300, '--ping-timeout': 200 };
const positional = [];
let redisPort = null;
let bad = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] in ms) {
    ms[args[i]] = Number(args[++i]);
    bad ||= !(ms[args[i - 1]] > 0);
  } else if (args[i] === '--redis') {
    redisPort = Number(args[++i]);
    bad ||= !(redisPort > 0);
  } else if (args[i] === '--recovery' || args[i] === '--deflate') {
    // above
  } else if (args[i].startsWith('--')) {
    bad = true;
  } else {
    positional.push(args[i]);
  }
}
const port = Number(positional[0] ?? 0);
if (bad || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node sio_server.mjs [PORT] [--recovery] [--deflate] [--ping-interval MS] [--ping-timeout MS] [--redis REDIS_PORT]');
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: ms['--ping-interval'],
  pingTimeout: ms['--ping-timeout'],
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  cors: { origin: '*' },
  ...(recovery ? { connectionStateRecovery: {} } : {}),
  ...(deflate ? { perMessageDeflate: true } : {}),
});
if (redisPort) {
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { createClient } = await import('redis');
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (e) => console.error(`sio_server: redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  // SIO_SPECIFIC_RESPONSE=1: answers go to the asking node's own response
  // channel (the adapter's publishOnSpecificResponseChannel).
  io.adapter(createAdapter(pub, sub, { publishOnSpecificResponseChannel: process.env.SIO_SPECIFIC_RESPONSE === '1' }));
  // The adapter's PSUBSCRIBE is confirmed before the server says it listens.
  await new Promise((r) => setTimeout(r, 100));
  console.error(`sio_server: redis adapter on port ${redisPort}`);
}
if (recovery) console.error('sio_server: connection state recovery on');

function logLifecycle(socket) {
  console.error(`sio_server: connect ${socket.nsp.name} ${socket.id} (${socket.conn.transport.name})${socket.recovered ? ' recovered' : ''}`);
  socket.on('disconnect', (reason) => console.error(`sio_server: disconnect ${socket.nsp.name} ${socket.id}: ${reason}`));
}

io.on('connection', (socket) => {
  logLifecycle(socket);
  socket.emit('auth', socket.handshake.auth);
  socket.on('message', (...args) => socket.emit('message-back', ...args));
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on('force-disconnect-transport', () => socket.conn.close());
  socket.on('join', (room, ...rest) => {
    socket.join(room);
    const ack = rest.pop();
    if (typeof ack === 'function') ack();
  });
  socket.on('broadcast', (room, ...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    const nsp = io.of('/');
    let delivered;
    if (room === null) {
      nsp.emit('broadcast-back', ...args);
      delivered = nsp.sockets.size;
    } else if (typeof room === 'object' && room.withAck) {
      // A broadcast with acks (the adapter's request type 7); the clients'
      // acks are not awaited here.
      nsp.timeout(500).to(room.rooms ?? []).except(room.except ?? []).emit('broadcast-back', ...args, () => {});
      delivered = 0;
    } else if (typeof room === 'object') {
      nsp.to(room.rooms ?? []).except(room.except ?? []).emit('broadcast-back', ...args);
      delivered = 0;
    } else {
      nsp.to(room).emit('broadcast-back', ...args);
      delivered = nsp.adapter.rooms.get(room)?.size ?? 0;
    }
    if (ack) ack({ delivered, full: 0 });
  });
  socket.on('server-side-emit', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    io.serverSideEmit('relay', ...args);
    if (ack) ack({});
  });
  socket.on('fetch-sockets', async (ack) => {
    try {
      const sockets = await io.fetchSockets();
      ack({ ids: sockets.map((s) => s.id).sort() });
    } catch (e) {
      ack({ error: e.message });
    }
  });
  socket.on('all-rooms', async (ack) => {
    try {
      const rooms = await io.of('/').adapter.allRooms();
      ack({ rooms: [...rooms].sort() });
    } catch (e) {
      ack({ error: e.message });
    }
  });
  socket.on('server-side-emit-ack', (...args) => {
    const ack = args.pop();
    io.serverSideEmit('ask-relay', ...args, (err, responses) => {
      const r = { responses: [...(responses ?? [])].sort() };
      ack(err ? { error: err.message, ...r } : r);
    });
  });
  socket.on('broadcast-with-ack', (target, ...args) => {
    const ack = args.pop();
    const rooms = target === null ? [] : typeof target === 'string' ? [target] : target.rooms ?? [];
    const except = target !== null && typeof target === 'object' ? target.except ?? [] : [];
    io.timeout(2000).to(rooms).except(except).emit('ack-me', ...args, (err, responses) => {
      const r = { acks: [...(responses ?? [])].sort() };
      ack(err ? { error: err.message, ...r } : r);
    });
  });
  socket.on('sockets', (op, ack) => {
    const target = io.of('/').in(op.rooms ?? []).except(op.except ?? []);
    if (op.op === 'leave') target.socketsLeave(op.to ?? []);
    else if (op.op === 'disconnect') target.disconnectSockets(op.close === true);
    else target.socketsJoin(op.to ?? []);
    if (typeof ack === 'function') ack({});
  });
  socket.on('emit-later', (delayMs, payload) => {
    setTimeout(() => io.emit('later', payload), Number(delayMs) || 0);
  });
  // An ack the server asks for: `ask` ...args makes the server emit
  // `question` ...args with an ack, then `answer` with what the client acked
  // (binary included), or `answer` "timeout" after 5 s.
  socket.on('ask', async (...args) => {
    try {
      const reply = await socket.timeout(5000).emitWithAck('question', ...args);
      socket.emit('answer', reply);
    } catch {
      socket.emit('answer', 'timeout');
    }
  });
});

// Another server's serverSideEmit('relay', ...args): to this server's
// sockets only.
io.on('relay', (...args) => io.local.emit('relayed', ...args));
io.on('ask-relay', (...args) => {
  const ack = args.pop();
  if (typeof ack === 'function') ack('node');
});

io.of('/custom').on('connection', (socket) => {
  logLifecycle(socket);
  socket.emit('auth', socket.handshake.auth);
});

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
