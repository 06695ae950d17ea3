// A fleet of `socket.io-client` 4.8 clients (WebSocket transport only) in one
// Node process, against one Socket.IO server in the reference test-server
// configuration (`message` answered with `message-back`). Used by run.sh.
//
// node sio_fleet.mjs --url http://127.0.0.1:PORT --server-pid PID --label NAME
//     [--conns 1000] [--empty-idle 10] [--rt-secs 5] [--idle 10] [--hold 0]
//
// Phases, each bounded in time:
//   1. --empty-idle S: the server's CPU seconds over S seconds with no client;
//   2. connect --conns clients (batches of 250, 60 s at most);
//   3. --rt-secs S: every client in a closed loop: emit `message` ["ping", n],
//      wait for `message-back`; round trips per second, latency p50 / p99;
//   4. --idle S: the server's CPU seconds over S idle seconds (after 1 s to
//      settle), its VmRSS at the end; with --hold S instead, only hold the
//      clients connected S seconds (then --idle is not measured);
//   5. disconnect everything; print one JSON line (kind "sio").
// Any connect_error, connect timeout or disconnect before phase 5 is an
// error; exit status 1 if there was any.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const require = createRequire(new URL('../peers/package.json', import.meta.url));
const { io } = require('socket.io-client');

const opts = { conns: 1000, 'empty-idle': 10, 'rt-secs': 5, idle: 10, hold: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  opts[k] = ['url', 'label'].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
}
if (!opts.url || !opts['server-pid'] || !opts.label) {
  console.error('usage: node sio_fleet.mjs --url URL --server-pid PID --label NAME [--conns N] ...');
  process.exit(2);
}
const pid = opts['server-pid'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`sio_fleet ${opts.label}:`, ...a);

/** utime + stime of the server, in seconds (clock ticks of 1/100 s). */
function cpuSecs() {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
function statusKib(key) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(key + ':'));
  return line ? Number(line.split(/\s+/)[1]) : null;
}
async function cpuOver(secs) {
  const c0 = cpuSecs();
  await sleep(secs * 1000);
  return cpuSecs() - c0;
}

let errors = 0;
let closing = false;
const firstErrors = [];
function error(what) {
  errors += 1;
  if (firstErrors.length < 5) firstErrors.push(what);
}

const result = { kind: 'sio', label: opts.label, conns: opts.conns };
// How late the fleet's own event loop runs (a late client misses pings).
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const deadline = setTimeout(() => {
  log('hard timeout');
  process.exit(1);
}, (opts['empty-idle'] + opts['rt-secs'] + opts.idle + opts.hold + 180) * 1000);

if (opts['empty-idle'] > 0) {
  result.empty_idle_secs = opts['empty-idle'];
  result.empty_idle_cpu_s = await cpuOver(opts['empty-idle']);
  result.empty_rss_kib = statusKib('VmRSS');
  log(`no client: ${result.empty_idle_cpu_s.toFixed(3)} CPU-s over ${opts['empty-idle']} s`);
}

// Connect.
const sockets = [];
const t0 = performance.now();
function connectOne() {
  return new Promise((resolve) => {
    const s = io(opts.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 30000 });
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => {
      error(`connect_error: ${e.message}`);
      resolve(null);
    });
    s.on('disconnect', (reason) => {
      if (!closing) error(`disconnect: ${reason}`);
    });
  });
}
const connectBy = performance.now() + 60000;
while (sockets.length < opts.conns && performance.now() < connectBy) {
  const batch = Math.min(250, opts.conns - sockets.length);
  const got = await Promise.all(Array.from({ length: batch }, connectOne));
  for (const s of got) if (s) sockets.push(s);
  if (got.some((s) => !s)) break;
}
result.connected = sockets.length;
result.connect_secs = (performance.now() - t0) / 1000;
if (sockets.length < opts.conns) error(`only ${sockets.length} of ${opts.conns} connected`);
log(`${sockets.length} connected in ${result.connect_secs.toFixed(1)} s`);

// Round trips.
if (opts['rt-secs'] > 0 && errors === 0) {
  const lat = [];
  let stop = false;
  const loop = (s) =>
    new Promise((resolve) => {
      let sent = 0;
      let n = 0;
      const send = () => {
        if (stop) return resolve();
        sent = performance.now();
        s.emit('message', 'ping', n++);
      };
      s.on('message-back', () => {
        lat.push(performance.now() - sent);
        send();
      });
      s.on('disconnect', () => resolve());
      send();
    });
  const r0 = cpuSecs();
  const start = performance.now();
  const loops = sockets.map(loop);
  await sleep(opts['rt-secs'] * 1000);
  stop = true;
  const secs = (performance.now() - start) / 1000;
  const serverCpu = cpuSecs() - r0;
  await Promise.race([Promise.all(loops), sleep(5000)]);
  for (const s of sockets) s.off('message-back');
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  Object.assign(result, {
    rt_msgs: lat.length,
    rt_secs: secs,
    msgs_per_sec: lat.length / secs,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
    rt_server_cpu_s: serverCpu,
  });
  log(`${(lat.length / secs).toFixed(0)} round trips/s, p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms`);
}

// Idle (or hold).
if (errors === 0) {
  if (opts.hold > 0) {
    const c = await cpuOver(opts.hold);
    result.hold_secs = opts.hold;
    result.hold_cpu_s = c;
    result.rss_kib = statusKib('VmRSS');
    result.hwm_kib = statusKib('VmHWM');
  } else if (opts.idle > 0) {
    await sleep(1000);
    result.idle_secs = opts.idle;
    const me = process.cpuUsage();
    result.idle_cpu_s = await cpuOver(opts.idle);
    const used = process.cpuUsage(me);
    result.fleet_idle_cpu_s = (used.user + used.system) / 1e6;
    result.rss_kib = statusKib('VmRSS');
    result.hwm_kib = statusKib('VmHWM');
    log(`${sockets.length} idle clients: ${result.idle_cpu_s.toFixed(3)} CPU-s over ${opts.idle} s, RSS ${result.rss_kib} KiB`);
  }
}
result.still_connected = sockets.filter((s) => s.connected).length;
if (result.still_connected < sockets.length) error(`${sockets.length - result.still_connected} dropped`);

closing = true;
for (const s of sockets) s.disconnect();
result.errors = errors;
result.fleet_loop_delay_p99_ms = lag.percentile(99) / 1e6;
result.fleet_loop_delay_max_ms = lag.max / 1e6;
if (firstErrors.length) result.first_errors = firstErrors;
console.log(JSON.stringify(result));
clearTimeout(deadline);
setTimeout(() => process.exit(errors ? 1 : 0), 200);
