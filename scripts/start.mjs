#!/usr/bin/env node
// Runs the product: builds the extension, starts the party server on localhost:1999 (state kept in
// .partykit/state), and opens Chromium with the extension loaded and the chat page in a tab.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..');
const bin = (name) => resolve(root, 'node_modules/.bin', name);
const port = Number(process.env.PARTY_PORT ?? 1999);

console.log('Building the extension…');
execFileSync(bin('wxt'), ['build'], { cwd: root, stdio: 'inherit', env: { ...process.env, WXT_PARTY_HOST: process.env.WXT_PARTY_HOST ?? `localhost:${port}` } });

console.log(`Starting the party server on localhost:${port}…`);
const party = spawn(bin('partykit'), ['dev', '--port', String(port), '--disable-request-cf-fetch', '--persist'], { cwd: root, stdio: 'inherit' });
const stop = () => {
  party.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

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
if (!executablePath || (!process.env.DISPLAY && process.platform === 'linux')) {
  console.log(`\nThe party server is running at http://localhost:${port}.`);
  console.log(`Load the extension from ${extensionDir} (chrome://extensions → Developer mode → Load unpacked).`);
  if (!executablePath) console.log('No Chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH.');
  else console.log('No display found, so no browser window was opened.');
} else {
  const profile = resolve(root, '.partykit/browser-profile');
  mkdirSync(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: false,
    viewport: null,
    args: [`--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`, '--no-first-run'],
  });
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`chrome-extension://${new URL(worker.url()).host}/sidepanel.html`);
  console.log('\nPartyChat is open. Use the toolbar button to open it in the side panel. Ctrl+C stops everything.');
  context.on('close', stop);
}
