// Shared plumbing for the Engine.IO / Socket.IO driver scripts
// (eio_client.mjs, sio_client.mjs): one JSON object per line on stdout, a
// final {"ok":true} or {"ok":false,"error":"..."}, exit 0 only on success, a
// hard overall timeout, and an event queue so that no event can be missed by
// a check that starts waiting late.

import { isDeepStrictEqual } from 'node:util';

export const STEP_TIMEOUT_MS = 5_000;

let finished = false;

/** Prints one JSON line. */
export function step(obj) {
  if (!finished) process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function finish(obj, code) {
  if (finished) return;
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
  finished = true;
}

/** Ends the run with {"ok":false,"error":msg} and exit code 1. Never returns normally. */
export function fail(msg) {
  finish({ ok: false, error: String(msg) }, 1);
  throw new Failed(msg);
}
export class Failed extends Error {}

/** Ends the run with {"ok":true} and exit code 0. */
export function pass() {
  finish({ ok: true }, 0);
}

/** Arms the overall timeout and runs main(), turning exceptions into a failure. */
export function run(name, main, timeoutMs = 20_000) {
  // fail() throws to stop the current check; outside main() (listeners,
  // timers) that throw lands here, after the result line has been printed.
  process.on('uncaughtException', (err) => {
    if (!(err instanceof Failed)) finish({ ok: false, error: `${name}: uncaught exception: ${err && err.stack ? err.stack : err}` }, 1);
  });
  setTimeout(() => fail(`${name}: overall timeout of ${timeoutMs} ms exceeded`), timeoutMs);
  main().then(pass, (err) => {
    if (!(err instanceof Failed)) finish({ ok: false, error: `${name}: exception: ${err && err.stack ? err.stack : err}` }, 1);
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the promise's value, or fails the run after `ms`. */
export async function within(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } catch (err) {
    return fail(err.message);
  } finally {
    clearTimeout(timer);
  }
}

/** FIFO of events ({type, ...}) pushed by listeners and consumed in order by the checks. */
export class Queue {
  constructor(label) {
    this.label = label;
    this.items = [];
    this.waiter = null;
  }

  push(ev) {
    this.items.push(ev);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  /** Next event; fails the run if none arrives within `ms`. */
  async next(what, ms = STEP_TIMEOUT_MS) {
    const deadline = Date.now() + ms;
    while (this.items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) fail(`${this.label}: timed out after ${ms} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.items.shift();
  }

  /** Next event, which must have type `type`; fails with a description otherwise. */
  async expect(type, what = type, ms = STEP_TIMEOUT_MS) {
    const ev = await this.next(what, ms);
    if (ev.type !== type) fail(`${this.label}: expected ${what}, got ${describe(ev)}`);
    return ev;
  }
}

/** Short printable form of an event or value (binary shown as hex). */
export function describe(v) {
  return JSON.stringify(v, (_k, x) => {
    if (x && x.type === 'Buffer' && Array.isArray(x.data)) return `<Buffer ${Buffer.from(x.data).toString('hex')}>`;
    if (x instanceof Error) return `Error(${x.message})`;
    if (typeof x === 'string' && x.length > 80) return `${x.slice(0, 40)}...(${x.length} chars)`;
    return x;
  });
}

/** Fails unless got and want are deeply equal (Buffers compared by content and type). */
export function assertEqual(got, want, what) {
  if (!isDeepStrictEqual(got, want)) fail(`${what}: got ${describe(got)}, expected ${describe(want)}`);
}
