// Chromium's native WebSocket with permessage-deflate against a WebSocket echo
// server under test (examples/ws_echo.rs): Debian's Chromium
// (/usr/bin/chromium, headless), driven by playwright-core, opens a page
// served from a static HTTP server on 127.0.0.1:0, and the page's own
// `WebSocket` (no library) talks to the server.
//
// Usage: node ws_deflate_browser.mjs ws://127.0.0.1:PORT/
//
// Checks (each prints one JSON line; the last line is {"ok":true} or
// {"ok":false,"error":"..."}; exit 0 only on success; hard timeout 25 s):
//   open          the connection opens and `ws.extensions` names
//                 permessage-deflate (Chromium always offers it)
//   compressible  a text of >= 1 MiB of repeated JSON records (with non-ASCII
//                 characters) comes back identical
//   incompressible  1 MiB of crypto.getRandomValues bytes (binary) comes
//                 back identical
//   small         1000 small messages, text and binary of 0..63 bytes,
//                 sent back to back, come back identical and in order
//   empty         an empty text and an empty binary message come back empty
//   close         ws.close(1000, "done"): the close event has code 1000 and
//                 wasClean
// The page reports the sizes it sent; whether they were compressed on the
// wire is for the caller to see (tests/interop_browser_deflate.rs counts the
// bytes through a proxy). On failure the page's console and the WebSocket
// frames Chromium saw (sizes only) are written to stderr.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fail, run, step } from './driver_util.mjs';
import { CHROMIUM, CHROMIUM_ARGS, SETUP_HINT, loadPlaywright } from './chromium.mjs';

const OVERALL_TIMEOUT_MS = 25_000;
/** The browser is closed and the run failed this long before the hard timeout. */
const BROWSER_DEADLINE_MS = OVERALL_TIMEOUT_MS - 4_000;

const [url] = process.argv.slice(2);
if (!url || !/^wss?:\/\/[^/]+\/?/.test(url)) {
  console.error('usage: node ws_deflate_browser.mjs ws://HOST:PORT/');
  process.exit(2);
}

// ---------------------------------------------------------------------------
// The page's code (runs in Chromium; serialized, so it must not use anything
// from this module's scope).
// ---------------------------------------------------------------------------

async function pageChecks(url) {
  const STEP_MS = 8000;
  const report = (obj) => window.report(obj);
  const check = (cond, msg) => {
    if (!cond) throw new Error(msg);
  };

  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const items = [];
  let wake = null;
  const push = (ev) => {
    items.push(ev);
    if (wake) wake();
  };
  ws.onopen = () => push({ type: 'open' });
  ws.onmessage = (e) => push({ type: 'message', data: e.data });
  ws.onerror = () => push({ type: 'error' });
  ws.onclose = (e) => push({ type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean });

  /** The next event, which must be of `type`. */
  async function next(type, what) {
    const deadline = Date.now() + STEP_MS;
    while (items.length === 0) {
      const left = deadline - Date.now();
      check(left > 0, `timed out after ${STEP_MS} ms waiting for ${what}`);
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
    check(ev.type === type, `expected ${what}, got ${describe(ev)}`);
    return ev;
  }
  function describe(ev) {
    if (ev.type !== 'message') return JSON.stringify(ev);
    const d = ev.data;
    return typeof d === 'string' ? `a text message of ${d.length} chars` : `a binary message of ${d.byteLength} bytes`;
  }
  function sameText(got, want, what) {
    check(typeof got === 'string', `${what}: came back as binary (${got.byteLength} bytes)`);
    if (got === want) return;
    let i = 0;
    while (i < got.length && i < want.length && got[i] === want[i]) i++;
    throw new Error(`${what}: ${got.length} chars came back for ${want.length}, first difference at ${i}`);
  }
  function sameBytes(got, want, what) {
    check(got instanceof ArrayBuffer, `${what}: came back as text (${typeof got === 'string' ? got.length : '?'} chars)`);
    const a = new Uint8Array(got);
    check(a.length === want.length, `${what}: ${a.length} bytes came back for ${want.length}`);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== want[i]) throw new Error(`${what}: byte ${i} came back as ${a[i]}, sent ${want[i]}`);
    }
  }
  const utf8Len = (s) => new TextEncoder().encode(s).length;

  // --- open: permessage-deflate negotiated ---
  await next('open', 'the connection to open');
  report({ check: 'open', url, extensions: ws.extensions, protocol: ws.protocol });
  check(/(^|,\s*)permessage-deflate(;|,|$)/.test(ws.extensions), `ws.extensions is ${JSON.stringify(ws.extensions)}, expected permessage-deflate`);

  // --- a large compressible text: >= 1 MiB of JSON records ---
  const records = [];
  let len = 0;
  for (let i = 0; len < 1 << 20; i++) {
    const r = JSON.stringify({ id: i, sensor: 'temperature', unit: '°C', place: 'κόσμε', value: 20 + (i % 50) / 10, ok: i % 7 !== 0 });
    records.push(r);
    len += r.length + 1;
  }
  const json = `[${records.join(',')}]`;
  let t = performance.now();
  ws.send(json);
  const jsonBack = await next('message', 'the echo of the compressible text');
  sameText(jsonBack.data, json, 'compressible text');
  report({ check: 'compressible', chars: json.length, bytes: utf8Len(json), ms: Math.round(performance.now() - t) });

  // --- a large incompressible binary: 1 MiB of random bytes ---
  const noise = new Uint8Array(1 << 20);
  for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
  t = performance.now();
  ws.send(noise);
  const noiseBack = await next('message', 'the echo of the random binary');
  sameBytes(noiseBack.data, noise, 'random binary');
  report({ check: 'incompressible', bytes: noise.length, ms: Math.round(performance.now() - t) });

  // --- many small messages, back to back ---
  const small = [];
  for (let i = 0; i < 1000; i++) {
    if (i % 2 === 0) {
      small.push(`#${i} ${'ab'.repeat(i % 30)}`);
    } else {
      small.push(Uint8Array.from({ length: i % 64 }, (_, k) => (i * 31 + k) & 0xff));
    }
  }
  t = performance.now();
  for (const m of small) ws.send(m);
  let smallBytes = 0;
  for (let i = 0; i < small.length; i++) {
    const ev = await next('message', `the echo of small message ${i}`);
    if (typeof small[i] === 'string') {
      sameText(ev.data, small[i], `small message ${i}`);
      smallBytes += utf8Len(small[i]);
    } else {
      sameBytes(ev.data, small[i], `small message ${i}`);
      smallBytes += small[i].length;
    }
  }
  report({ check: 'small', messages: small.length, bytes: smallBytes, ms: Math.round(performance.now() - t) });

  // --- empty messages ---
  ws.send('');
  ws.send(new Uint8Array(0));
  const emptyText = await next('message', 'the echo of the empty text');
  sameText(emptyText.data, '', 'empty text');
  const emptyBinary = await next('message', 'the echo of the empty binary');
  sameBytes(emptyBinary.data, new Uint8Array(0), 'empty binary');
  report({ check: 'empty', text: emptyText.data.length, binary: emptyBinary.data.byteLength });

  // --- the closing handshake ---
  ws.close(1000, 'done');
  const closed = await next('close', 'the close event');
  check(closed.code === 1000 && closed.wasClean, `close event ${JSON.stringify(closed)}, expected code 1000 and wasClean`);
  report({ check: 'close', code: closed.code, reason: closed.reason, wasClean: closed.wasClean });
  return 'done';
}

const PAGE_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>sockwire permessage-deflate</title><link rel="icon" href="data:,"></head>
<body><p>Chromium's WebSocket against a server under test</p></body>
</html>
`;

// ---------------------------------------------------------------------------
// Node side
// ---------------------------------------------------------------------------

const transcript = [];
function note(line) {
  transcript.push(line);
  if (transcript.length > 200) transcript.splice(0, transcript.length - 200);
}
const size = (p) => (typeof p === 'string' ? `text ${Buffer.byteLength(p)} bytes` : `binary ${p.length} bytes`);

function startStaticServer() {
  const server = createServer((req, res) => {
    if (new URL(req.url, 'http://x').pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE_HTML);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

run(
  'ws_deflate_browser',
  async () => {
    if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} not found (Debian package chromium): ${SETUP_HINT}`);
    const chromium = await loadPlaywright();
    const web = await startStaticServer();
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
        timeout: 15_000,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      step({ step: 'browser', chromium: CHROMIUM, version: context.browser()?.version() ?? null, launchMs: Date.now() - launched });

      page.on('console', (msg) => note(`console.${msg.type()}: ${msg.text()}`));
      page.on('pageerror', (err) => note(`pageerror: ${err.stack || err.message}`));
      page.on('websocket', (ws) => {
        note(`websocket: open ${ws.url()}`);
        ws.on('framesent', (f) => note(`ws >> ${size(f.payload)}`));
        ws.on('framereceived', (f) => note(`ws << ${size(f.payload)}`));
        ws.on('socketerror', (e) => note(`websocket: error ${e}`));
        ws.on('close', () => note('websocket: closed'));
      });
      await page.exposeFunction('report', (obj) => step({ ...obj, atMs: Date.now() - t0 }));
      await page.goto(pageUrl, { waitUntil: 'load', timeout: 10_000 });

      const left = BROWSER_DEADLINE_MS - (Date.now() - t0);
      const result = await Promise.race([
        page.evaluate(pageChecks, url),
        new Promise((_, reject) => {
          deadline = setTimeout(() => reject(new Error(`the page's checks took longer than ${left} ms`)), left);
        }),
      ]);
      if (result !== 'done') throw new Error(`the page's checks returned ${JSON.stringify(result)}`);
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(deadline);
      if (context) await context.close().catch((err) => note(`closing the browser: ${err.message}`));
      await new Promise((resolve) => web.close(resolve));
      rmSync(userDataDir, { recursive: true, force: true });
    }
    if (failure) {
      process.stderr.write(`ws_deflate_browser: what the browser saw (last ${transcript.length} entries):\n`);
      for (const line of transcript) process.stderr.write(`  ${line}\n`);
      const msg = String(failure.message || failure).split('\n')[0];
      fail(msg.replace(/^page\.evaluate: (Error|CheckFailed): /, ''));
    }
    step({ step: 'browser-closed', totalMs: Date.now() - t0 });
  },
  OVERALL_TIMEOUT_MS,
);
