// `socket.io-client` 4.8 driver (Socket.IO protocol v5 over Engine.IO v4)
// for a Socket.IO server under test.
//
// Usage: node sio_client.mjs http://127.0.0.1:PORT SCENARIO
//
// The server under test implements the reference test-server configuration
// (sio_server.mjs is the reference; see shared/CONFORMANCE.md "Node peers"):
// "/" and "/custom" emit `auth` (the handshake auth) on connection; "/"
// answers `message` with `message-back` (same arguments), acks
// `message-with-ack` with its arguments and, on `force-disconnect-transport`,
// closes the Engine.IO connection; other namespaces get "Invalid namespace".
// One Manager per run (reconnectionDelay 100, reconnectionDelayMax 200),
// auth {token:"123"} on every namespace; transports polling then websocket
// unless said otherwise.
//
// Scenarios (each step prints one JSON line; the last line is {"ok":true} or
// {"ok":false,"error":"..."}; exit 0 only on success; hard timeout 20 s).
// JOIN nsp: "connect" then an `auth` event whose only argument is {token:"123"}.
//   connect            JOIN "/" then JOIN "/custom" on the same Engine.IO session
//   events             JOIN "/", then EVENTS
//   websocket-only     transports ["websocket"]: JOIN "/", EVENTS
//   unknown-namespace  JOIN "/", then "/random" gets connect_error with message
//                      "Invalid namespace", and "/" still answers `message`
//   disconnect         JOIN "/" and "/custom"; "/custom".disconnect() gives
//                      "disconnect" reason "io client disconnect"; 500 ms later
//                      "/" is still connected and answers `message`; "/custom"
//                      connect() again gives "connect" + `auth`
//   reconnect          JOIN "/", emit `force-disconnect-transport`: "disconnect"
//                      reason "transport close", then automatic reconnection
//                      within 3 s ("connect" with a new id + `auth` again), and
//                      "/" answers `message`
// EVENTS: `message` [1,"two",{three:3}] -> `message-back` with the same args;
//   `message-with-ack` 1,"2",{3:[4]} with a callback -> ack args 1,"2",{3:[4]};
//   emitWithAck of the same -> resolves with 1 (emitWithAck keeps only the
//   first ack argument); `message` [Buffer 010203, {b: Buffer 0405}] ->
//   `message-back` with the same Buffers.

import { Manager } from 'socket.io-client';
import { Queue, assertEqual, describe, fail, run, sleep, step, within } from './driver_util.mjs';

const AUTH = { token: '123' };
const SCENARIOS = {
  connect: {},
  events: {},
  'websocket-only': { transports: ['websocket'] },
  'unknown-namespace': {},
  disconnect: {},
  reconnect: {},
};

const [base, scenario] = process.argv.slice(2);
if (!base || !(scenario in SCENARIOS)) {
  console.error(`usage: node sio_client.mjs http://HOST:PORT ${Object.keys(SCENARIOS).join('|')}`);
  process.exit(2);
}

const manager = new Manager(base, {
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  timeout: 5000,
  ...SCENARIOS[scenario],
});
const sockets = [];

/** Creates (and so connects) the socket for `nsp`, queueing everything it reports. */
function open(nsp) {
  const socket = manager.socket(nsp, { auth: AUTH });
  const q = new Queue(`sio_client ${nsp}`);
  socket.on('connect', () => q.push({ type: 'connect', id: socket.id }));
  socket.on('connect_error', (err) => q.push({ type: 'connect_error', message: err.message, data: err.data }));
  socket.on('disconnect', (reason) => q.push({ type: 'disconnect', reason }));
  socket.onAny((event, ...args) => q.push({ type: 'event', event, args }));
  sockets.push(socket);
  return { nsp, socket, q };
}

async function expectEvent(s, name, ms) {
  const ev = await s.q.expect('event', `the \`${name}\` event`, ms);
  if (ev.event !== name) fail(`${s.nsp}: expected the \`${name}\` event, got ${describe(ev)}`);
  return ev.args;
}

/** "connect" then `auth` with the handshake auth. */
async function connected(s, ms) {
  const ev = await s.q.expect('connect', `"connect" on ${s.nsp}`, ms);
  step({ step: 'connect', nsp: s.nsp, id: ev.id, sid: manager.engine.id, transport: manager.engine.transport.name });
  const args = await expectEvent(s, 'auth');
  assertEqual(args, [AUTH], `${s.nsp}: auth event`);
  step({ step: 'auth', nsp: s.nsp, auth: args[0] });
  return ev.id;
}

async function join(nsp) {
  const s = open(nsp);
  await connected(s);
  return s;
}

async function echo(s, args, label) {
  s.socket.emit('message', ...args);
  assertEqual(await expectEvent(s, 'message-back'), args, `${s.nsp}: message-back (${label})`);
  step({ step: 'message-back', nsp: s.nsp, kind: label });
}

async function events(s) {
  await echo(s, [1, 'two', { three: 3 }], 'plain');

  const ackArgs = [1, '2', { 3: [4] }];
  const got = await within(new Promise((res) => s.socket.emit('message-with-ack', ...ackArgs, (...a) => res(a))), 'the ack');
  assertEqual(got, ackArgs, `${s.nsp}: ack of message-with-ack`);
  step({ step: 'ack', nsp: s.nsp, args: got });

  const first = await within(s.socket.emitWithAck('message-with-ack', ...ackArgs), 'the emitWithAck ack');
  assertEqual(first, 1, `${s.nsp}: emitWithAck result`);
  step({ step: 'emitWithAck', nsp: s.nsp, result: first });

  await echo(s, [Buffer.from([1, 2, 3]), { b: Buffer.from([4, 5]) }], 'binary');
  step({ step: 'events', transport: manager.engine.transport.name });
}

run('sio_client', async () => {
  switch (scenario) {
    case 'connect': {
      await join('/');
      const sid = manager.engine.id;
      await join('/custom');
      if (manager.engine.id !== sid) fail(`"/custom" joined on Engine.IO session ${manager.engine.id}, "/" on ${sid}`);
      break;
    }
    case 'events':
      await events(await join('/'));
      break;
    case 'websocket-only': {
      const root = await join('/');
      if (manager.engine.transport.name !== 'websocket') fail(`transport is ${manager.engine.transport.name}`);
      await events(root);
      break;
    }
    case 'unknown-namespace': {
      const root = await join('/');
      const bad = open('/random');
      const ev = await bad.q.expect('connect_error', 'connect_error on /random');
      if (ev.message !== 'Invalid namespace') fail(`connect_error message ${JSON.stringify(ev.message)}, expected "Invalid namespace"`);
      step({ step: 'connect_error', nsp: '/random', message: ev.message });
      await echo(root, ['still', 'here'], 'after-invalid-namespace');
      break;
    }
    case 'disconnect': {
      const root = await join('/');
      const custom = await join('/custom');
      custom.socket.disconnect();
      const ev = await custom.q.expect('disconnect', '"disconnect" on /custom');
      if (ev.reason !== 'io client disconnect') fail(`/custom disconnect reason ${JSON.stringify(ev.reason)}`);
      step({ step: 'disconnect', nsp: '/custom', reason: ev.reason });
      await sleep(500);
      if (root.q.items.length) fail(`unexpected event on "/": ${describe(root.q.items[0])}`);
      if (!root.socket.connected) fail('"/" is no longer connected');
      await echo(root, ['after', 'custom', 'left'], 'after-disconnect');
      custom.socket.connect();
      await connected(custom);
      break;
    }
    case 'reconnect': {
      const root = await join('/');
      const oldId = root.socket.id;
      let attempts = null;
      manager.on('reconnect', (n) => (attempts = n));
      const t0 = Date.now();
      root.socket.emit('force-disconnect-transport');
      const ev = await root.q.expect('disconnect', '"disconnect" after force-disconnect-transport');
      if (ev.reason !== 'transport close') fail(`disconnect reason ${JSON.stringify(ev.reason)}, expected "transport close"`);
      step({ step: 'disconnect', nsp: '/', reason: ev.reason });
      const newId = await connected(root, 3000);
      if (newId === oldId) fail('reconnected with the same socket id');
      step({ step: 'reconnected', ms: Date.now() - t0, attempts });
      await echo(root, ['after', 'reconnect'], 'after-reconnect');
      break;
    }
  }
  for (const s of sockets) s.disconnect();
  await sleep(200); // let the DISCONNECT packets / close reach the server
});
