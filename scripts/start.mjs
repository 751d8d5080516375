#!/usr/bin/env node
// Runs the product: builds the extension, starts the party server on localhost:1999 (state kept in
// .partykit/state), and opens Chromium with the extension loaded and the chat page in a tab.
// Ctrl+C closes the browser properly (so it does not ask to restore pages next time) and stops the server.
// How the browser is launched is in browser-launch.mjs.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions, needsNoSandbox, onceThenExit, prepareProfile, unpackedExtensionId } from './browser-launch.mjs';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => resolve(root, 'node_modules/.bin', name);
const port = Number(process.env.PARTY_PORT ?? 1999);

console.log('Building the extension…');
execFileSync(bin('wxt'), ['build'], { cwd: root, stdio: 'inherit', env: { ...process.env, WXT_PARTY_HOST: process.env.WXT_PARTY_HOST ?? `localhost:${port}` } });

console.log(`Starting the party server on localhost:${port}…`);
const party = spawn(bin('partykit'), ['dev', '--port', String(port), '--disable-request-cf-fetch', '--persist'], { cwd: root, stdio: 'inherit' });
/** @type {import('playwright-core').BrowserContext | null} */
let context = null;
const stop = onceThenExit(
  async () => {
    const open = context;
    context = null;
    if (open) {
      console.log('\nClosing the browser…');
      // Closed like a person closes it, not killed: otherwise the next start offers to restore pages.
      await Promise.race([open.close(), new Promise((r) => setTimeout(r, 10_000))]);
    }
    party.kill('SIGTERM');
  },
  (code) => process.exit(code),
);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);

for (let i = 0; ; i++) {
  try {
    await fetch(`http://127.0.0.1:${port}/parties/directory/00`);
    break;
  } catch {
    if (i > 240) throw new Error('the party server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p));
const extensionDir = resolve(root, '.output/chrome-mv3');
if (!executablePath || (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY && process.platform === 'linux')) {
  console.log(`\nThe party server is running at http://localhost:${port}.`);
  console.log(`Load the extension from ${extensionDir} (chrome://extensions → Developer mode → Load unpacked).`);
  if (!executablePath) console.log('No Chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH.');
  else console.log('No display found, so no browser window was opened.');
} else {
  const where = { platform: process.platform, uid: process.getuid?.() ?? null, env: process.env };
  const profile = resolve(root, '.partykit/browser-profile');
  const extensionId = unpackedExtensionId(extensionDir);
  prepareProfile(profile, extensionId);
  if (needsNoSandbox(where)) console.log('Running as root: Chromium needs --no-sandbox here, and says so in a bar at the top.');
  context = await chromium.launchPersistentContext(profile, chromiumLaunchOptions({ executablePath, extensionDir, ...where }));
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`chrome-extension://${new URL(worker.url()).host}/sidepanel.html`);
  console.log('\nPartyChat is open in the browser tab.');
  console.log('For the side panel: click the PartyChat button in the toolbar (if it is not pinned there, it is under the');
  console.log('puzzle-piece Extensions button next to the address bar: pin it), then "Open chat" in its popup.');
  console.log('Ctrl+C closes the browser and stops the server.');
  // The person closed the browser window: stop the server too.
  context.on('close', () => {
    if (context) stop();
  });
}
