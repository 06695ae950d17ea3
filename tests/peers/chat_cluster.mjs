// Two chat servers (examples/chat.rs --redis) on one Redis share their rooms:
// ann on the first and bob on the second join "lobby"; ann's message reaches
// bob (and not ann), bob's typing notice reaches ann.
//
// Usage: node chat_cluster.mjs URL1 URL2
// Prints OK and exits 0, or FAIL: ... and exits 1 (after 10 s at most).
import { io as connect } from 'socket.io-client';

const [url1, url2] = process.argv.slice(2);
setTimeout(() => {
  console.log('FAIL: not done within 10 s');
  process.exit(1);
}, 10000).unref();
const ann = connect(url1, { auth: { nick: 'ann' }, transports: ['websocket'] });
const bob = connect(url2, { auth: { nick: 'bob' }, transports: ['websocket'] });
const got = { ann: [], bob: [] };
for (const [name, s] of [['ann', ann], ['bob', bob]]) {
  s.on('message', (m) => got[name].push(['message', m]));
  s.on('typing', (m) => got[name].push(['typing', m]));
}
await Promise.all([ann, bob].map((s) => new Promise((r) => s.on('connect', r))));
await bob.emitWithAck('join', 'lobby');
await ann.emitWithAck('join', 'lobby');
const ack = await ann.emitWithAck('message', 'lobby', 'hello across');
bob.volatile.emit('typing', 'lobby');
await new Promise((r) => setTimeout(r, 500));
const want = {
  ann: [['typing', { room: 'lobby', nick: 'bob' }]],
  bob: [['message', { room: 'lobby', nick: 'ann', text: 'hello across' }]],
};
console.log(`ack ${JSON.stringify(ack)} got ${JSON.stringify(got)}`);
if (JSON.stringify(got) !== JSON.stringify(want)) {
  console.log(`FAIL: expected ${JSON.stringify(want)}`);
  process.exit(1);
}
console.log('OK');
process.exit(0);
