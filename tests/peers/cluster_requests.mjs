// The requests a Socket.IO cluster's servers make of each other (through the
// Redis adapter), issued from each node: each must gather every node's answer.
//
// Usage: node cluster_requests.mjs PLAN_JSON
//
// PLAN_JSON: {
//   "nodes":   {"<node>": "http://127.0.0.1:PORT", ...}   (names starting with
//              "s" are sockwire servers, with "n" Node servers),
//   "clients": [{"name": "<client>", "node": "<node>", "rooms": [...]}, ...],
//   "timeout": false | true
// }
// The servers speak the reference test-server contract (sio_server.mjs,
// examples/sio_server.rs): `join`, and the cluster requests `fetch-sockets`,
// `all-rooms`, `server-side-emit-ack`, `broadcast-with-ack` (each acked with
// an object whose list is sorted, `error` beside it on failure). Every client
// acks `ack-me` with its own name.
//
// Without "timeout": from a client of each node, fetch-sockets must list every
// client's id, all-rooms every room and id, server-side-emit-ack the answer of
// every other node ("sockwire" or "node"), broadcast-with-ack the names of the
// clients targeted. With "timeout" (a subscriber of the request channel that
// never answers is on Redis): each request from each node must fail with an
// error that says "timeout" (or "timed out"), server-side-emit-ack and broadcast-with-ack
// still listing what came.
// Prints one line per request and `OK` or the mismatches; exits 0 when all
// hold, 1 otherwise (or after 40 s).
import { io as connect } from 'socket.io-client';

const plan = JSON.parse(process.argv[2]);
setTimeout(() => {
  console.log('FAIL: not done within 40 s');
  process.exit(1);
}, 40000).unref();

const clients = {};
await Promise.all(
  plan.clients.map(
    (c) =>
      new Promise((resolve, reject) => {
        const s = connect(plan.nodes[c.node], { transports: ['websocket'], reconnection: false });
        clients[c.name] = s;
        s.on('ack-me', (...args) => {
          const cb = args.pop();
          cb(c.name);
        });
        s.on('connect_error', (e) => reject(new Error(`${c.name}: ${e.message}`)));
        s.on('connect', async () => {
          for (const room of c.rooms) await s.timeout(5000).emitWithAck('join', room);
          resolve();
        });
      }),
  ),
);

const sorted = (v) => [...v].sort();
const ids = sorted(plan.clients.map((c) => clients[c.name].id));
const rooms = sorted(new Set([...plan.clients.flatMap((c) => c.rooms), ...ids]));
const label = (node) => (node.startsWith('s') ? 'sockwire' : 'node');
const problems = [];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function check(node) {
  const from = clients[plan.clients.find((c) => c.node === node).name];
  const others = sorted(Object.keys(plan.nodes).filter((n) => n !== node).map(label));
  const red = sorted(plan.clients.filter((c) => c.rooms.includes('red')).map((c) => c.name));
  const all = sorted(plan.clients.map((c) => c.name));
  const ask = async (what, args, key, want) => {
    const reply = await from.timeout(15000).emitWithAck(what, ...args);
    console.log(`${node} ${what}: ${JSON.stringify(reply)}`);
    if (plan.timeout) {
      if (!reply.error || !/timeout|timed out/.test(String(reply.error))) {
        problems.push(`${node} ${what}: no timeout error: ${JSON.stringify(reply)}`);
      }
      if (want && !same(reply[key], want)) {
        problems.push(`${node} ${what}: ${key} ${JSON.stringify(reply[key])}, expected ${JSON.stringify(want)}`);
      }
    } else if (reply.error || !same(reply[key], want)) {
      problems.push(`${node} ${what}: ${JSON.stringify(reply)}, expected ${key} ${JSON.stringify(want)}`);
    }
  };
  if (plan.timeout) {
    await Promise.all([
      ask('fetch-sockets', [], 'ids', null),
      ask('all-rooms', [], 'rooms', null),
      ask('server-side-emit-ack', ['q'], 'responses', others),
      ask('broadcast-with-ack', [{ rooms: ['red'], except: [] }, 'x'], 'acks', red),
    ]);
    return;
  }
  await ask('fetch-sockets', [], 'ids', ids);
  await ask('all-rooms', [], 'rooms', rooms);
  await ask('server-side-emit-ack', ['q', { n: 1 }], 'responses', others);
  await ask('broadcast-with-ack', [{ rooms: ['red'], except: [] }, 'x'], 'acks', red);
  await ask('broadcast-with-ack', [null, 'y'], 'acks', all);
}

if (plan.timeout) {
  await Promise.all(Object.keys(plan.nodes).map(check));
} else {
  for (const node of Object.keys(plan.nodes)) await check(node);
}

for (const s of Object.values(clients)) s.close();
if (problems.length) {
  for (const p of problems) console.log(`FAIL: ${p}`);
  process.exit(1);
}
console.log('OK');
process.exit(0);
