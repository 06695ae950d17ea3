// A real browser against a Socket.IO v5 server under test: Debian's Chromium
// (/usr/bin/chromium, headless), driven by playwright-core, runs the
// socket.io-client 4.8 browser bundle (node_modules/socket.io-client/dist/
// socket.io.min.js) in a page.
//
// Usage: node browser_sio.mjs http://127.0.0.1:PORT
//
// The server under test implements the reference test-server configuration
// (sio_server.mjs is the reference; see shared/CONFORMANCE.md "Node peers"):
// "/" and "/custom" emit `auth` (the handshake auth) on connection; "/"
// answers `message` with `message-back` (same arguments) and acks
// `message-with-ack` with its arguments; CORS origin "*".
//
// This script serves the page and the bundle itself from a static HTTP
// server on 127.0.0.1:0, so the page's origin differs from the server's (a
// cross-origin client: XHR polling without credentials, then WebSocket). The
// browser gets a fresh temporary user-data-dir and is always closed.
//
// Checks (each prints one JSON line; the last line is {"ok":true} or
// {"ok":false,"error":"..."}; exit 0 only on success; hard timeout 40 s):
//   connect          io(URL, {auth:{token:"123"}}): the Engine.IO session
//                    opens over polling, then "connect"
//   auth             the `auth` event, whose only argument is {token:"123"}
//   upgrade          the `upgrade` event, after which
//                    socket.io.engine.transport.name === "websocket"
//   message-back     `message` [1,"two",{three:3}] -> `message-back`, same args
//   emitWithAck      emitWithAck('message-with-ack', 1, '2', {3:[4]}) -> 1
//   binary           `message` [Uint8Array 010203, {b: ArrayBuffer 0405},
//                    Uint8Array of 100 000 bytes] -> `message-back` with
//                    ArrayBuffers of the same bytes
//   custom-connect,  io(URL + "/custom", {auth}) on the same Manager and
//   custom-auth      Engine.IO session: "connect", then `auth` {token:"123"}
//   disconnect       both sockets disconnect() ("io client disconnect"), and
//                    the Manager closes the Engine.IO session
//   polling-*        a second session with transports ["polling"] only
//                    (forceNew): connect, auth, message-back, emitWithAck and
//                    binary over XHR long-polling, then disconnect
// On failure the page's console, failed requests and the last HTTP
// exchanges and WebSocket frames with the server are written to stderr.

import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail, run, step } from './driver_util.mjs';
import { CHROMIUM, CHROMIUM_ARGS, SETUP_HINT, loadPlaywright } from './chromium.mjs';

const OVERALL_TIMEOUT_MS = 40_000;
/** The browser is closed and the run failed this long before the hard timeout. */
const BROWSER_DEADLINE_MS = OVERALL_TIMEOUT_MS - 5_000;
const BUNDLE = new URL('./node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url);

const [base] = process.argv.slice(2);
if (!base || !/^https?:\/\/[^/]+$/.test(base.replace(/\/$/, ''))) {
  console.error('usage: node browser_sio.mjs http://HOST:PORT');
  process.exit(2);
}
const SERVER_URL = base.replace(/\/$/, '');

// ---------------------------------------------------------------------------
// The page's code (runs in Chromium; serialized with Function.toString, so it
// must not use anything from this module's scope).
// ---------------------------------------------------------------------------

function pageCode() {
  const AUTH = { token: '123' };
  const STEP_MS = 5000;

  class CheckFailed extends Error {}
  const check = (cond, msg) => {
    if (!cond) throw new CheckFailed(msg);
  };

  /** Printable form of a value: ArrayBuffers and typed arrays as hex. */
  function show(v) {
    return JSON.stringify(v, (_k, x) => {
      if (x instanceof ArrayBuffer) return `<ArrayBuffer ${hex(x)}>`;
      if (ArrayBuffer.isView(x)) return `<${x.constructor.name} ${hex(x)}>`;
      return x;
    });
  }
  function hex(buf) {
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const h = Array.from(bytes.subarray(0, 32), (b) => b.toString(16).padStart(2, '0')).join('');
    return bytes.length > 32 ? `${h}...(${bytes.length} bytes)` : h;
  }
  function sameBytes(got, want) {
    if (!(got instanceof ArrayBuffer)) return false;
    const a = new Uint8Array(got);
    if (a.length !== want.length) return false;
    return a.every((b, i) => b === want[i]);
  }

  function withTimeout(promise, what, ms = STEP_MS) {
    let timer;
    return Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CheckFailed(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** FIFO of everything a socket reports, so no event is missed by a late wait. */
  function watch(socket, label) {
    const items = [];
    let wake = null;
    const push = (ev) => {
      items.push(ev);
      if (wake) wake();
    };
    socket.on('connect', () => push({ type: 'connect', id: socket.id }));
    socket.on('connect_error', (err) =>
      push({ type: 'connect_error', message: err.message, description: String(err.description ?? ''), data: err.data }),
    );
    socket.on('disconnect', (reason) => push({ type: 'disconnect', reason }));
    socket.onAny((event, ...args) => push({ type: 'event', event, args }));
    return {
      label,
      items,
      async expect(type, what, ms = STEP_MS) {
        const deadline = Date.now() + ms;
        while (items.length === 0) {
          const left = deadline - Date.now();
          if (left <= 0) throw new CheckFailed(`${label}: timed out after ${ms} ms waiting for ${what}`);
          await new Promise((resolve) => {
            const t = setTimeout(resolve, left);
            wake = () => {
              clearTimeout(t);
              wake = null;
              resolve();
            };
          });
        }
        const ev = items.shift();
        check(ev.type === type, `${label}: expected ${what}, got ${show(ev)}`);
        return ev;
      },
      async event(name) {
        const ev = await this.expect('event', `the \`${name}\` event`);
        check(ev.event === name, `${label}: expected the \`${name}\` event, got ${show(ev)}`);
        return ev.args;
      },
    };
  }

  async function connected(socket, q, prefix, report) {
    const ev = await q.expect('connect', `"connect" on ${q.label}`);
    check(typeof ev.id === 'string' && ev.id.length > 0, `${q.label}: connect without a socket id`);
    report({ check: `${prefix}connect`, nsp: q.label, id: ev.id, sid: socket.io.engine.id, transport: socket.io.engine.transport.name });
    const args = await q.event('auth');
    check(show(args) === show([AUTH]), `${q.label}: auth event args ${show(args)}, expected ${show([AUTH])}`);
    report({ check: `${prefix}auth`, nsp: q.label, auth: args[0] });
  }

  async function events(socket, q, prefix, report) {
    const plain = [1, 'two', { three: 3 }];
    socket.emit('message', ...plain);
    const back = await q.event('message-back');
    check(show(back) === show(plain), `${q.label}: message-back args ${show(back)}, expected ${show(plain)}`);
    report({ check: `${prefix}message-back`, args: back, transport: socket.io.engine.transport.name });

    const first = await withTimeout(socket.emitWithAck('message-with-ack', 1, '2', { 3: [4] }), 'the emitWithAck ack');
    check(first === 1, `${q.label}: emitWithAck('message-with-ack', 1, '2', {3:[4]}) resolved to ${show(first)}, expected 1`);
    report({ check: `${prefix}emitWithAck`, result: first, transport: socket.io.engine.transport.name });

    const big = new Uint8Array(100_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
    socket.emit('message', new Uint8Array([1, 2, 3]), { b: new Uint8Array([4, 5]).buffer }, big);
    const bin = await q.event('message-back');
    check(bin.length === 3, `${q.label}: binary message-back has ${bin.length} args: ${show(bin)}`);
    check(sameBytes(bin[0], [1, 2, 3]), `${q.label}: binary arg 0 came back as ${show(bin[0])}, expected <ArrayBuffer 010203>`);
    check(
      bin[1] && typeof bin[1] === 'object' && Object.keys(bin[1]).join() === 'b' && sameBytes(bin[1].b, [4, 5]),
      `${q.label}: binary arg 1 came back as ${show(bin[1])}, expected {"b":<ArrayBuffer 0405>}`,
    );
    check(sameBytes(bin[2], big), `${q.label}: binary arg 2 (100000 bytes) came back as ${show(bin[2])}`);
    report({
      check: `${prefix}binary`,
      args: [hex(bin[0]), { b: hex(bin[1].b) }, `${bin[2].byteLength} bytes`],
      types: [bin[0].constructor.name, bin[1].b.constructor.name, bin[2].constructor.name],
      transport: socket.io.engine.transport.name,
    });
  }

  async function disconnect(sockets, prefix, report) {
    const manager = sockets[0].socket.io;
    const engine = manager.engine;
    const closed = new Promise((resolve) => engine.on('close', (reason) => resolve(reason)));
    const reasons = {};
    for (const { socket, q } of sockets) {
      socket.disconnect();
      const ev = await q.expect('disconnect', `"disconnect" on ${q.label}`);
      check(ev.reason === 'io client disconnect', `${q.label}: disconnect reason ${show(ev.reason)}, expected "io client disconnect"`);
      check(!socket.connected, `${q.label}: still connected after disconnect()`);
      reasons[q.label] = ev.reason;
    }
    const engineReason = await withTimeout(closed, 'the Engine.IO session to close');
    report({ check: `${prefix}disconnect`, reasons, engine: engineReason, readyState: engine.readyState });
  }

  window.sioChecks = async (url) => {
    const report = (obj) => window.report(obj);
    report({ check: 'page', origin: location.origin, server: url, userAgent: navigator.userAgent });
    check(url !== location.origin, 'the page must not share the server origin');

    // --- "/" with the default transports: polling, then the upgrade ---
    const root = io(url, { auth: AUTH, reconnection: false, timeout: STEP_MS });
    const rootQ = watch(root, '/');
    const manager = root.io;
    const engine = manager.engine;
    let openTransport = null;
    manager.on('open', () => (openTransport = manager.engine.transport.name));
    const upgraded = new Promise((resolve) => engine.on('upgrade', (t) => resolve(t.name)));
    const upgradeError = new Promise((resolve) => engine.on('upgradeError', (err) => resolve(err)));
    try {
      await connected(root, rootQ, '', report);
      check(openTransport === 'polling', `the Engine.IO session opened with transport ${show(openTransport)}, expected "polling"`);

      const up = await withTimeout(
        Promise.race([upgraded, upgradeError.then((err) => Promise.reject(new CheckFailed(`upgradeError: ${err && err.message}`)))]),
        'the upgrade to websocket',
      );
      check(
        up === 'websocket' && engine.transport.name === 'websocket',
        `after the upgrade event (${show(up)}): transport ${show(engine.transport.name)}, expected "websocket"`,
      );
      report({ check: 'upgrade', from: openTransport, to: engine.transport.name, sid: engine.id });

      await events(root, rootQ, '', report);

      // --- "/custom", multiplexed on the same Manager and Engine.IO session ---
      const custom = io(`${url}/custom`, { auth: AUTH, reconnection: false, timeout: STEP_MS });
      const customQ = watch(custom, '/custom');
      check(custom.io === manager, '"/custom" did not reuse the Manager of "/"');
      await connected(custom, customQ, 'custom-', report);
      check(manager.engine.id === engine.id, `"/custom" joined on Engine.IO session ${manager.engine.id}, "/" on ${engine.id}`);

      await disconnect(
        [
          { socket: custom, q: customQ },
          { socket: root, q: rootQ },
        ],
        '',
        report,
      );
    } finally {
      root.io.engine.close();
    }

    // --- a second session over long-polling only ---
    const poll = io(url, { auth: AUTH, reconnection: false, timeout: STEP_MS, transports: ['polling'], forceNew: true });
    const pollQ = watch(poll, '/ (polling only)');
    try {
      check(poll.io !== manager, 'forceNew reused the first Manager');
      await connected(poll, pollQ, 'polling-', report);
      await events(poll, pollQ, 'polling-', report);
      check(poll.io.engine.transport.name === 'polling', `polling-only session on transport ${poll.io.engine.transport.name}`);
      await disconnect([{ socket: poll, q: pollQ }], 'polling-', report);
    } finally {
      poll.io.engine.close();
    }
    return 'done';
  };
}

const PAGE_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>sockwire browser interop</title>
<link rel="icon" href="data:,">
<script src="/socket.io.min.js"></script>
<script src="/checks.js"></script>
</head>
<body><p>socket.io-client in Chromium against a server under test</p></body>
</html>
`;

// ---------------------------------------------------------------------------
// Node side
// ---------------------------------------------------------------------------

/** What the browser saw, written to stderr on failure. */
const transcript = [];
function note(line) {
  transcript.push(line);
  if (transcript.length > 400) transcript.splice(0, transcript.length - 400);
}
const clip = (s, n = 300) => (s.length > n ? `${s.slice(0, n)}...(${s.length} chars)` : s);
const showPayload = (p) => (typeof p === 'string' ? JSON.stringify(clip(p)) : `<${p.length} bytes binary>`);

function startStaticServer(bundle) {
  const checksJs = `(${pageCode.toString()})();\n`;
  const files = {
    '/': ['text/html; charset=utf-8', PAGE_HTML],
    '/socket.io.min.js': ['text/javascript; charset=utf-8', bundle],
    '/checks.js': ['text/javascript; charset=utf-8', checksJs],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

run(
  'browser_sio',
  async () => {
    if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} not found (Debian package chromium): ${SETUP_HINT}`);
    if (!existsSync(BUNDLE)) fail(`${BUNDLE.pathname} not found (npm module socket.io-client): ${SETUP_HINT}`);
    const chromium = await loadPlaywright();
    const bundle = readFileSync(BUNDLE);

    const web = await startStaticServer(bundle);
    const pageUrl = `http://127.0.0.1:${web.address().port}/`;
    const userDataDir = mkdtempSync(join(tmpdir(), 'sockwire-chromium-'));
    process.on('exit', () => rmSync(userDataDir, { recursive: true, force: true }));

    let context = null;
    let failure = null;
    let deadline;
    const t0 = Date.now();
    try {
      const launched = Date.now();
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 20_000,
      });
      const browserVersion = context.browser()?.version() ?? null;
      const page = context.pages()[0] ?? (await context.newPage());
      step({ step: 'browser', chromium: CHROMIUM, version: browserVersion, launchMs: Date.now() - launched, userDataDir });

      page.on('console', (msg) => note(`console.${msg.type()}: ${msg.text()}`));
      page.on('pageerror', (err) => note(`pageerror: ${err.stack || err.message}`));
      page.on('requestfailed', (req) => note(`requestfailed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
      page.on('response', async (res) => {
        const req = res.request();
        if (!req.url().startsWith(SERVER_URL)) return;
        let body = '';
        try {
          body = clip((await res.body()).toString('latin1'));
        } catch {
          body = '(body unavailable)';
        }
        const acao = res.headers()['access-control-allow-origin'];
        const sent = req.postData() ? ` body ${JSON.stringify(clip(req.postData()))}` : '';
        note(`http: ${req.method()} ${req.url()}${sent} -> ${res.status()} (acao ${acao ?? 'none'}) ${JSON.stringify(body)}`);
      });
      page.on('websocket', (ws) => {
        note(`websocket: open ${ws.url()}`);
        ws.on('framesent', (f) => note(`ws >> ${showPayload(f.payload)}`));
        ws.on('framereceived', (f) => note(`ws << ${showPayload(f.payload)}`));
        ws.on('socketerror', (e) => note(`websocket: error ${e}`));
        ws.on('close', () => note('websocket: closed'));
      });
      await page.exposeFunction('report', (obj) => step({ ...obj, ms: Date.now() - t0 }));

      await page.goto(pageUrl, { waitUntil: 'load', timeout: 10_000 });
      const ready = await page.evaluate(() => typeof window.io === 'function' && typeof window.sioChecks === 'function');
      if (!ready) throw new Error(`the page at ${pageUrl} did not load socket.io.min.js and checks.js`);

      const left = BROWSER_DEADLINE_MS - (Date.now() - t0);
      const result = await Promise.race([
        page.evaluate((url) => window.sioChecks(url), SERVER_URL),
        new Promise((_, reject) => {
          deadline = setTimeout(() => reject(new Error(`the page's checks took longer than ${left} ms`)), left);
        }),
      ]);
      if (result !== 'done') throw new Error(`the page's checks returned ${JSON.stringify(result)}`);
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(deadline);
      if (context) {
        await context.close().catch((err) => note(`closing the browser: ${err.message}`));
      }
      await new Promise((resolve) => web.close(resolve));
      rmSync(userDataDir, { recursive: true, force: true });
    }
    if (failure) {
      process.stderr.write(`browser_sio: what the browser saw (last ${transcript.length} entries):\n`);
      for (const line of transcript) process.stderr.write(`  ${line}\n`);
      // Playwright wraps the page's exception: keep its first line.
      const msg = String(failure.message || failure).split('\n')[0];
      fail(msg.replace(/^page\.evaluate: (Error|CheckFailed): /, ''));
    }
    step({ step: 'browser-closed', totalMs: Date.now() - t0 });
  },
  OVERALL_TIMEOUT_MS,
);
