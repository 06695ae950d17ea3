// The chat demo (examples/chat.rs) in a real browser: Debian's Chromium
// (/usr/bin/chromium, headless), driven by playwright-core, opens the page the
// chat server serves itself at `/`, which loads socket.io-client from the
// server's /socket.io/socket.io.js.
//
// Usage: node chat_browser.mjs http://127.0.0.1:PORT SCREENSHOT.png
//
// Three tabs: alice in #red, bob in #blue, carol in both. Checks (one JSON
// line each; the last line is {"ok":true} or {"ok":false,"error":"..."}; exit
// 0 only on success; hard timeout 50 s):
//   users       each tab shows each of its rooms' users
//   typing      alice types in #red: carol sees "alice is typing", bob not
//   delivered   every message sent shows "✓ delivered to N" (the ack), with
//               N the number of other members of the room
//   routing     messages reach exactly the tabs in the room (and not the
//               sender): asserted on every tab, positive and negative
//   reload      bob's tab reloads mid-chat: it rejoins #blue, carol's list
//               shows bob again, and messages flow both ways again
//   leave       carol leaves #red: alice's list shrinks, carol no longer gets
//               #red
//   screenshot  carol's tab, written to SCREENSHOT.png
// Page errors, console errors and failed requests fail the run.

import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fail, run, sleep, step } from './driver_util.mjs';
import { CHROMIUM, CHROMIUM_ARGS, SETUP_HINT, loadPlaywright } from './chromium.mjs';

const OVERALL_TIMEOUT_MS = 50_000;
const WAIT_MS = 8_000;

const [base, shot] = process.argv.slice(2);
if (!base || !shot || !/^https?:\/\/[^/]+$/.test(base.replace(/\/$/, ''))) {
  console.error('usage: node chat_browser.mjs http://HOST:PORT SCREENSHOT.png');
  process.exit(2);
}
const URL_BASE = base.replace(/\/$/, '');
mkdirSync(dirname(shot), { recursive: true });

const problems = [];


/** A tab for `nick`, joined to `rooms`, connected. */
async function open(context, nick, rooms) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 900, height: 560 });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${nick}: console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${nick}: pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A reload aborts the tab's pending long-poll or WebSocket: expected.
    if (!r.url().includes('/socket.io/?')) problems.push(`${nick}: requestfailed ${r.url()}: ${r.failure()?.errorText}`);
  });
  await page.goto(`${URL_BASE}/?nick=${nick}&rooms=${rooms.join(',')}`, { waitUntil: 'load', timeout: WAIT_MS });
  await ready(page, nick);
  return page;
}

async function ready(page, nick) {
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: WAIT_MS });
  const transport = await page.evaluate(() => window.chat.socket.io.engine.transport.name);
  step({ step: 'connected', nick, transport });
}

async function waitUsers(page, room, users) {
  try {
    await page.waitForFunction(
      ([r, u]) => JSON.stringify(window.chat.rooms.get(r)) === JSON.stringify(u),
      [room, users],
      { timeout: WAIT_MS },
    );
  } catch {
    const shown = await page.evaluate((r) => window.chat.rooms.get(r), room);
    fail(`users of #${room}: expected ${JSON.stringify(users)}, the tab shows ${JSON.stringify(shown)}`);
  }
}

/** Messages the tab received (not its own), as "#room nick: text". */
const seen = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('#log li.msg:not(.mine)')].map(
      (li) => `${li.querySelector('.room').textContent} ${li.querySelector('.from').textContent}: ${li.querySelector('.text').textContent}`,
    ),
  );

async function waitSeen(page, line) {
  try {
    await page.waitForFunction(
      (l) =>
        [...document.querySelectorAll('#log li.msg:not(.mine)')].some(
          (li) => `${li.querySelector('.room').textContent} ${li.querySelector('.from').textContent}: ${li.querySelector('.text').textContent}` === l,
        ),
      line,
      { timeout: WAIT_MS },
    );
  } catch {
    fail(`never seen: ${line}; the tab saw ${JSON.stringify(await seen(page))}`);
  }
}

/** Types `text` into `room` and sends it; waits for its delivered mark. */
async function say(page, room, text, delivered) {
  await page.selectOption('#to', room);
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  const want = `✓ delivered to ${delivered}`;
  try {
    await page.waitForFunction(
      ([t, w]) =>
        [...document.querySelectorAll('#log li.mine.delivered')].some(
          (li) => li.querySelector('.text').textContent === t && li.querySelector('.status').textContent === w,
        ),
      [text, want],
      { timeout: WAIT_MS },
    );
  } catch {
    const status = await page.evaluate(() => [...document.querySelectorAll('#log li.mine')].map((li) => li.textContent));
    fail(`"${text}" in #${room}: no "${want}"; the tab's own messages: ${JSON.stringify(status)}`);
  }
  step({ step: 'delivered', room, text, mark: want });
}

async function expectSeen(page, nick, lines) {
  const got = await seen(page);
  if (JSON.stringify(got) !== JSON.stringify(lines)) {
    fail(`${nick} saw ${JSON.stringify(got)}, expected exactly ${JSON.stringify(lines)}`);
  }
  step({ step: 'routing', nick, seen: got });
}

run(
  'chat_browser',
  async () => {
    if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} not found (Debian package chromium): ${SETUP_HINT}`);
    const chromium = await loadPlaywright();
    const userDataDir = mkdtempSync(join(tmpdir(), 'sockwire-chat-'));
    process.on('exit', () => rmSync(userDataDir, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 20_000,
    });
    try {
      step({ step: 'browser', version: context.browser()?.version() ?? null });
      const alice = await open(context, 'alice', ['red']);
      const bob = await open(context, 'bob', ['blue']);
      const carol = await open(context, 'carol', ['red', 'blue']);
      const bundle = await alice.evaluate(() => document.querySelector('script[src*="socket.io"]').src);
      if (!bundle.startsWith(URL_BASE)) fail(`the page loads socket.io-client from ${bundle}, not from the server`);

      for (const p of [alice, carol]) await waitUsers(p, 'red', ['alice', 'carol']);
      for (const p of [bob, carol]) await waitUsers(p, 'blue', ['bob', 'carol']);
      step({ step: 'users' });

      // Typing, best-effort (volatile), but on loopback it arrives.
      await alice.selectOption('#to', 'red');
      await alice.fill('#text', 'hi red');
      try {
        await carol.waitForFunction(() => document.getElementById('typing').textContent.includes('alice is typing in #red'), null, { timeout: WAIT_MS });
      } catch {
        fail('carol never saw "alice is typing in #red"');
      }
      const bobTyping = await bob.evaluate(() => document.getElementById('typing').textContent);
      if (bobTyping) fail(`bob, not in #red, saw typing: ${bobTyping}`);
      step({ step: 'typing' });

      await say(alice, 'red', 'hi red from alice', 1);
      await say(bob, 'blue', 'hi blue from bob', 1);
      await say(carol, 'red', 'carol in red', 1);
      await say(carol, 'blue', 'carol in blue', 1);
      await waitSeen(carol, '#blue bob: hi blue from bob');
      await waitSeen(alice, '#red carol: carol in red');
      await waitSeen(bob, '#blue carol: carol in blue');
      await sleep(300);
      await expectSeen(alice, 'alice', ['#red carol: carol in red']);
      await expectSeen(bob, 'bob', ['#blue carol: carol in blue']);
      await expectSeen(carol, 'carol', ['#red alice: hi red from alice', '#blue bob: hi blue from bob']);

      // bob reloads mid-chat: the tab rejoins #blue from sessionStorage.
      await bob.reload({ waitUntil: 'load', timeout: WAIT_MS });
      await ready(bob, 'bob (reloaded)');
      await waitUsers(bob, 'blue', ['bob', 'carol']);
      await waitUsers(carol, 'blue', ['bob', 'carol']);
      await say(bob, 'blue', 'bob is back', 1);
      await say(carol, 'blue', 'welcome back bob', 1);
      await waitSeen(carol, '#blue bob: bob is back');
      await waitSeen(bob, '#blue carol: welcome back bob');
      step({ step: 'reload' });

      await carol.screenshot({ path: shot, fullPage: false });
      step({ step: 'screenshot', path: shot });

      // carol leaves #red.
      await carol.fill('#room', 'red');
      await carol.click('#leave');
      await waitUsers(alice, 'red', ['alice']);
      await carol.waitForFunction(() => !window.chat.rooms.has('red'), null, { timeout: WAIT_MS });
      await say(alice, 'red', 'only alice now', 0);
      step({ step: 'leave' });

      await sleep(300);
      await expectSeen(alice, 'alice', ['#red carol: carol in red']);
      await expectSeen(bob, 'bob (reloaded)', ['#blue carol: welcome back bob']);
      await expectSeen(carol, 'carol', [
        '#red alice: hi red from alice',
        '#blue bob: hi blue from bob',
        '#blue bob: bob is back',
      ]);
      if (problems.length) fail(`the tabs reported problems:\n${problems.join('\n')}`);
    } finally {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    }
  },
  OVERALL_TIMEOUT_MS,
);
