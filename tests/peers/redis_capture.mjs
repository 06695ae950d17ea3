// Captures the classic `@socket.io/redis-adapter` messages off a real Redis:
// the golden vectors of tests/redis_adapter_golden.rs
// (tests/data/redis_adapter/vectors.txt).
//
// Usage: node redis_capture.mjs REDIS_PORT > ../data/redis_adapter/vectors.txt
//        node redis_capture.mjs REDIS_PORT requests > ../data/redis_adapter/requests.txt
//        node redis_capture.mjs REDIS_PORT answers > ../data/redis_adapter/answers.txt
//
// `answers`: a second server (another node) answers the first one's
// allRooms, fetchSockets, serverSideEmit with an ack and broadcast with acks;
// each request and each answer is a line. The second node has a room
// `room1` holding the (client-less) id `Fake0000000000000000`, so its
// answers list something; no client acks (no BROADCAST_ACK line).
//
// A Node `socket.io` server (no HTTP listener: broadcasts need no client) with
// the Redis adapter makes each broadcast below; a second Redis connection,
// PSUBSCRIBEd to `socket.io*` in buffer mode, prints every message it gets as
// one line: `NAME CHANNEL HEX` (NAME is the broadcast's label, CHANNEL the
// Redis channel, HEX the payload's bytes as the adapter published them).
// The first line is a `#` comment naming the versions.
import { readFileSync } from 'node:fs';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const port = Number(process.argv[2]);
if (!(port > 0)) {
  console.error('usage: node redis_capture.mjs REDIS_PORT');
  process.exit(2);
}
const url = `redis://127.0.0.1:${port}`;
const pub = createClient({ url });
const sub = pub.duplicate();
const spy = pub.duplicate();
await Promise.all([pub.connect(), sub.connect(), spy.connect()]);

const got = [];
await spy.pSubscribe('socket.io*', (message, channel) => got.push([channel.toString(), message]), true);

const io = new Server({ adapter: createAdapter(pub, sub) });
io.of('/custom');
await new Promise((r) => setTimeout(r, 100));

const version = (m) => JSON.parse(readFileSync(new URL(`./node_modules/${m}/package.json`, import.meta.url))).version;
console.log(`# captured from socket.io ${version('socket.io')}, @socket.io/redis-adapter ${version('@socket.io/redis-adapter')}, notepack.io ${version('notepack.io')}, redis ${version('redis')} (node ${process.version}) over redis-server ${(await pub.info('server')).match(/redis_version:(\S+)/)[1]}`);

const broadcasts = [
  ['all', () => io.emit('hello', 'world')],
  ['room', () => io.to('room1').emit('hello', 'world')],
  ['rooms_except', () => io.to(['r1', 'r2']).except(['r3', 'AbCdEfGhIjKlMnOpQrSt']).emit('ev', { a: 1, b: [true, false, null] }, -1, 3.5, 'é😀')],
  ['binary', () => io.emit('file', Buffer.from([1, 2, 3]))],
  ['binary_nested', () => io.to('room1').emit('mixed', { data: Buffer.from('abc'), n: 1 }, [Buffer.alloc(300, 7)], 'tail')],
  ['custom_nsp_no_args', () => io.of('/custom').emit('ping')],
  ['flags', () => io.volatile.compress(false).emit('v', 1)],
  ['numbers', () => io.emit('n', 0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991, 0.5, -2.25, 1e300)],
  ['strings', () => io.emit('s', '', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(256), 'q"\\\n\t\u0001/', {})],
  ['empty_containers', () => io.emit('e', [], {}, [[]], { k: {} })],
  ['with_ack', () => io.timeout(1000).emit('ack-me', 1, () => {})],
];
const requests = [
  ['sockets_join', () => io.socketsJoin('room9')],
  ['sockets_join_filtered', () => io.in(['r1', 'r2']).except('r3').socketsJoin(['x', 'y'])],
  ['sockets_leave', () => io.in('r1').socketsLeave('r2')],
  ['disconnect_sockets', () => io.in('r1').disconnectSockets()],
  ['disconnect_sockets_close', () => io.except('r1').disconnectSockets(true)],
  ['custom_nsp_join', () => io.of('/custom').socketsJoin('c')],
  ['server_side_emit', () => io.serverSideEmit('relay', 'x', { n: 1 })],
];
const answers = [
  ['all_rooms', () => io.of('/').adapter.allRooms()],
  ['fetch_sockets', () => io.in('room1').except('r3').fetchSockets()],
  ['server_side_emit_ack', () => io.serverSideEmit('ask', 'x', { n: 1 }, () => {})],
  ['broadcast_with_ack', () => io.timeout(300).to('room1').emit('ev', 'x', () => {})],
];
let other = null;
if (process.argv[3] === 'answers') {
  const pub2 = pub.duplicate();
  const sub2 = pub.duplicate();
  await Promise.all([pub2.connect(), sub2.connect()]);
  other = { io: new Server({ adapter: createAdapter(pub2, sub2) }), pub2, sub2 };
  other.io.of('/').adapter.addAll('Fake0000000000000000', new Set(['Fake0000000000000000', 'room1']));
  other.io.on('ask', (...args) => args.pop()({ ok: true }));
  await new Promise((r) => setTimeout(r, 100));
}
const cases = { requests, answers }[process.argv[3]] ?? broadcasts;
for (const [name, run] of cases) {
  const before = got.length;
  run();
  for (let i = 0; i < 50 && got.length === before; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  for (const [channel, message] of got.slice(before)) {
    console.log(`${name} ${channel} ${message.toString('hex')}`);
  }
  got.length = 0;
}
io.of("/").adapter.close?.();
if (other) await Promise.all([other.pub2.quit().catch(() => {}), other.sub2.quit().catch(() => {})]);
await Promise.all([pub.quit().catch(() => {}), sub.quit().catch(() => {}), spy.quit().catch(() => {})]);
process.exit(0);
