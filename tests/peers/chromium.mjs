// Shared by the Chromium scripts (browser_sio.mjs, chat_browser.mjs): Debian's
// Chromium, the flags it runs headless with here (shared/CONFORMANCE.md,
// "Browser"), and playwright-core, loaded with a failure that names the setup.

import { fail } from './driver_util.mjs';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SETUP_HINT = 'run `bash tests/scripts/setup-peers.sh` from the repository root';

/** playwright-core's `chromium`, or a failed run naming the setup. */
export async function loadPlaywright() {
  try {
    return (await import('playwright-core')).chromium;
  } catch (err) {
    return fail(`cannot import playwright-core (${err.message}): ${SETUP_HINT}`);
  }
}
