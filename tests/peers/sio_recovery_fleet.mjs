// The delivery check of connection state recovery, Node side: a fleet of
// `socket.io-client` 4.8 clients (WebSocket only) behind the chaos proxy of
// tests/common/delivery.rs, and the sender of the numbered events.
//
// node sio_recovery_fleet.mjs --url URL --conns N [--send-url URL --events E --interval MS]
//     [--settle MS] [--room r] [--stats 1]
//
// - Each of the N clients connects to --url (the proxy) and, on every
//   connect that is not a recovery (`socket.recovered` false), emits
//   `join` [room] with an ack, as an application resynchronising would. It
//   records the first argument of every `broadcast-back`. Reconnection: 500 ms
//   delay, 1000 ms at most, randomization 0.5, no limit.
// - Prints `READY` once every client joined once. Then waits for a line `GO`
//   on stdin.
// - With --send-url: one more client, connected to the server directly, emits
//   `broadcast` [room, n] for n = 1..E every --interval ms, then prints
//   `SENT`. Without: the line `SENT` on stdin stands for it.
// - --settle ms after SENT, prints one JSON line per client
//   {"client":i,"seqs":[...],"connects":c,"recovered":r} and a last line
//   {"done":true}, then exits 0. With --stats 1, first a line {"stats":...}:
//   the server's answer to `recovery-stats` (the sockwire test server's
//   recovery log size), null when it does not answer within 3 s. Everything is bounded: the process exits 1
//   after 10 minutes whatever happens.

import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(new URL('./package.json', import.meta.url));
const { io } = require('socket.io-client');

const opts = { conns: 10, events: 0, interval: 50, settle: 4000, room: 'r' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  opts[k] = ['url', 'send-url', 'room'].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
}
if (!opts.url && opts.conns > 0) {
  console.error('usage: node sio_recovery_fleet.mjs --url URL --conns N [--send-url URL --events E --interval MS] [--settle MS]');
  process.exit(2);
}
setTimeout(() => { console.error('sio_recovery_fleet: 10 minutes, giving up'); process.exit(1); }, 600_000).unref();

const clients = [];
let joinedOnce = 0;
let ready = false;
function checkReady() {
  if (!ready && joinedOnce === opts.conns) {
    ready = true;
    process.stdout.write('READY\n');
  }
}
for (let i = 0; i < opts.conns; i++) {
  const c = { seqs: [], connects: 0, recovered: 0, joined: false };
  const s = io(opts.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0.5,
    timeout: 5000,
  });
  s.on('connect', () => {
    c.connects++;
    if (s.recovered) {
      c.recovered++;
      return;
    }
    s.emit('join', opts.room, () => {
      if (!c.joined) {
        c.joined = true;
        joinedOnce++;
        checkReady();
      }
    });
  });
  s.on('broadcast-back', (n) => c.seqs.push(n));
  c.socket = s;
  clients.push(c);
}
checkReady();

async function report() {
  if (opts.stats) {
    // The sockwire server's recovery log (`recovery-stats`); null elsewhere.
    const s = io(opts['send-url'] ?? opts.url, { transports: ['websocket'], forceNew: true });
    const stats = await s.timeout(3000).emitWithAck('recovery-stats').catch(() => null);
    process.stdout.write(JSON.stringify({ stats }) + '\n');
    s.close();
  }
  for (const [i, c] of clients.entries()) {
    process.stdout.write(JSON.stringify({ client: i, seqs: c.seqs, connects: c.connects, recovered: c.recovered }) + '\n');
  }
  for (const c of clients) c.socket.close();
  // stdout is a pipe, written asynchronously: exit once the last line is out.
  process.stdout.write(JSON.stringify({ done: true }) + '\n', () => process.exit(0));
}

function send() {
  const sender = io(opts['send-url'], { transports: ['websocket'], forceNew: true });
  sender.once('connect', () => {
    let n = 0;
    const timer = setInterval(() => {
      n++;
      sender.emit('broadcast', opts.room, n);
      if (n >= opts.events) {
        clearInterval(timer);
        // The last emit leaves before SENT is said.
        setTimeout(() => {
          process.stdout.write('SENT\n');
          sender.close();
          setTimeout(report, opts.settle);
        }, 50);
      }
    }, opts.interval);
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'GO' && opts['send-url']) send();
  if (line.trim() === 'SENT' && !opts['send-url']) setTimeout(report, opts.settle);
});
