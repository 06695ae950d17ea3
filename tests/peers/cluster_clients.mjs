// Clients of a Socket.IO cluster (servers joined through Redis): each
// broadcast a client asks its server for must reach every client of every
// node that it targets exactly once, and no other.
//
// Usage: node cluster_clients.mjs PLAN_JSON
//
// PLAN_JSON: {
//   "nodes":   {"<node>": "http://127.0.0.1:PORT", ...},
//   "clients": [{"name": "<client>", "node": "<node>", "rooms": ["red", ...]}, ...],
//   "broadcasts": [{"from": "<client>", "target": null | "room" |
//                   {"rooms": [...], "except": [...]}, "binary": true|false}, ...],
//   "ops": [{"before": i, "from": "<client>", "op": "join"|"leave"|"disconnect",
//            "rooms": [...], "except": [...], "to": [...]}, ...]   (optional)
// }
// An op runs before broadcast i, as `sockets` [op] on its client's server
// (the adapter's socketsJoin / socketsLeave / disconnectSockets across the
// cluster); the expected receivers follow the rooms it changes (and a
// disconnected client receives nothing more). 150 ms pass after each op for
// every node to apply it.
// The servers speak the reference test-server contract (sio_server.mjs,
// examples/sio_server.rs): `join` [room] (acked), `broadcast` [target,
// ...args] (acked; the ack carries "error" when the server could not
// publish), each target client getting `broadcast-back` ...args.
// Every client connects (WebSocket), joins its rooms; then broadcast i is
// sent as `broadcast` [target, "#i", <bytes i,1,2,3 when binary>], one after
// the other (each after the previous one's ack); 600 ms after the last, the
// receipts are checked. A room "@name" is client name's socket id. Prints one line per broadcast and `OK` or the
// mismatches; exits 0 when all hold, 1 otherwise (or after 20 s).
import { io as connect } from 'socket.io-client';

const plan = JSON.parse(process.argv[2]);
setTimeout(() => {
  console.log('FAIL: not done within 20 s');
  process.exit(1);
}, 20000).unref();

const clients = {};
const got = {}; // client -> list of "#i"
const problems = [];
await Promise.all(
  plan.clients.map(
    (c) =>
      new Promise((resolve, reject) => {
        const s = connect(plan.nodes[c.node], { transports: ['websocket'], reconnection: false });
        clients[c.name] = s;
        got[c.name] = [];
        s.on('broadcast-back', (tag, ...rest) => {
          got[c.name].push(tag);
          const i = Number(tag.slice(1));
          const b = plan.broadcasts[i];
          if (b && b.binary) {
            const bin = rest[0];
            if (!Buffer.isBuffer(bin) || bin.toString('hex') !== Buffer.from([i, 1, 2, 3]).toString('hex')) {
              problems.push(`${c.name} got ${tag} with ${JSON.stringify(rest)} instead of its binary`);
            }
          }
        });
        s.on('connect_error', (e) => reject(new Error(`${c.name}: ${e.message}`)));
        s.on('connect', async () => {
          for (const room of c.rooms) await s.timeout(5000).emitWithAck('join', room);
          resolve();
        });
      }),
  ),
);

// "@name" stands for the socket id of client `name` (the room every socket
// is in, as `io.to(socket.id)` uses it).
const inRoom = (c, rooms) => rooms.some((r) => c.rooms.includes(r) || r === `@${c.name}`);
const ids = (v) =>
  JSON.parse(JSON.stringify(v), (k, x) => (typeof x === 'string' && x.startsWith('@') ? clients[x.slice(1)].id : x));
const targets = (rooms, except) =>
  plan.clients.filter((c) => !c.gone && (rooms.length === 0 || inRoom(c, rooms)) && !inRoom(c, except));
const wanted = [];
const disconnected = new Set();
for (const c of plan.clients) {
  c.rooms = [...c.rooms];
  clients[c.name].on('disconnect', () => disconnected.add(c.name));
}
for (const [i, b] of plan.broadcasts.entries()) {
  for (const op of (plan.ops ?? []).filter((o) => o.before === i)) {
    const reply = await clients[op.from].timeout(5000).emitWithAck('sockets', ids(op));
    if (reply && reply.error) problems.push(`op before #${i} from ${op.from}: ${reply.error}`);
    for (const c of targets(op.rooms ?? [], op.except ?? [])) {
      if (op.op === 'join') c.rooms = [...new Set([...c.rooms, ...op.to])];
      else if (op.op === 'leave') c.rooms = c.rooms.filter((r) => !op.to.includes(r));
      else c.gone = true;
    }
    console.log(`op ${JSON.stringify(op)}: ${plan.clients.map((c) => `${c.name}${c.gone ? ' gone' : JSON.stringify(c.rooms)}`).join(' ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  {
    const t = b.target;
    const rooms = t === null ? [] : typeof t === 'string' ? [t] : t.rooms ?? [];
    const except = t !== null && typeof t === 'object' ? t.except ?? [] : [];
    wanted[i] = targets(rooms, except).map((c) => c.name);
  }
  const args = [ids(b.target), `#${i}`];
  if (b.binary) args.push(Buffer.from([i, 1, 2, 3]));
  const reply = await clients[b.from].timeout(5000).emitWithAck('broadcast', ...args);
  if (reply && reply.error) problems.push(`broadcast #${i} from ${b.from}: ${reply.error}`);
}
await new Promise((r) => setTimeout(r, 1500));

for (const [i, b] of plan.broadcasts.entries()) {
  const t = b.target;
  const want = wanted[i];
  const receipts = plan.clients.map((c) => [c.name, got[c.name].filter((x) => x === `#${i}`).length]);
  const line = receipts.filter(([, n]) => n > 0).map(([name, n]) => (n === 1 ? name : `${name}x${n}`));
  console.log(`#${i} from ${b.from} to ${JSON.stringify(t)}${b.binary ? ' (binary)' : ''}: ${line.join(' ')}`);
  for (const [name, n] of receipts) {
    const expected = want.includes(name) ? 1 : 0;
    if (n !== expected) problems.push(`#${i}: ${name} received it ${n} times, expected ${expected}`);
  }
}
for (const c of plan.clients) {
  if (c.gone && !disconnected.has(c.name)) problems.push(`${c.name} was not disconnected`);
  if (!c.gone && disconnected.has(c.name)) problems.push(`${c.name} was disconnected`);
}
for (const s of Object.values(clients)) s.close();
if (problems.length) {
  for (const p of problems) console.log(`FAIL: ${p}`);
  process.exit(1);
}
console.log('OK');
process.exit(0);
