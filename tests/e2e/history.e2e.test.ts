/**
 * History end to end, with real Chromium profiles, the built extension, and a party server of this
 * test's own that it stops and starts again (same port, same storage directory): a backup-mode room
 * survives a server restart with its history visible in a newly installed browser profile of a
 * member, who carried the identity over with export and import.
 *
 * Screenshots (test-results/): the room settings panel, a settings event line in the chat, the
 * export, the import screen, and the room and its settings in the new profile.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { launchFresh, type ExtensionBrowser } from '../helpers/browser';
import { freePort, startParty, type RunningParty } from '../helpers/party-server';
import { createRoom, enabledComposer, expectMessage, exportIdentity, id, importIdentity, onboard, openPanel, send } from './support/flows';

const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

const SCREENSHOTS = 'test-results';
const PASSPHRASE = 'alice-history-passphrase';
const MESSAGES = ['First, before the restart', 'Second, still in the backup', 'Third, sealed on the server'];

const launched: ExtensionBrowser[] = [];
let party: RunningParty | null = null;
let persistDir = '';

/** A browser with a new profile (one more try if the extension's worker was slow to start), closed after the test. */
async function launchNew(name: string): Promise<ExtensionBrowser> {
  const browser = await launchFresh(name, { chromiumPath, extensionDir });
  launched.push(browser);
  return browser;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  persistDir = mkdtempSync(join(tmpdir(), 'partychat-history-party-'));
  party = await startParty({ persistDir, port: await freePort() });
});

afterAll(async () => {
  for (const browser of launched.splice(0)) await browser.close().catch(() => undefined);
  await party?.stop();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

describe('history through the built extension', () => {
  it('a backup-mode room survives a server restart with history visible in a newly installed browser profile of a member', { timeout: 300_000 }, async () => {
    const server = party as RunningParty;
    const { host, port } = server;

    // Profile A: onboard, create a backup room, send three messages.
    const alice = await launchNew('history-alice');
    const a = await openPanel(alice);
    await onboard(a, 'Alice', PASSPHRASE, host);
    await createRoom(a, 'Backup history', 'backup');
    for (const text of MESSAGES) await send(a, text);

    // The room settings panel (admin), then a change every member sees as an event line.
    await a.click(id('room-settings-open'));
    await a.locator(id('room-settings')).waitFor();
    await a.selectOption(id('settings-disappear'), String(86_400_000));
    await a.check(id('settings-share-history'));
    await a.selectOption(id('settings-retention-days'), '365');
    await a.screenshot({ path: `${SCREENSHOTS}/history-settings-panel.png` });
    await a.click(id('settings-save'));
    await a.locator(id('settings-saved')).waitFor({ timeout: 20_000 });
    await a.click(id('room-settings-close'));
    await a.locator(id('room-event'), { hasText: 'Alice set disappearing messages to 1 day' }).waitFor({ timeout: 20_000 });
    await expect(a.locator(id('room-event')).textContent()).resolves.toContain('Alice let new members read earlier history');
    await expect(a.locator(id('room-timer')).textContent()).resolves.toContain('1 d');
    await a.screenshot({ path: `${SCREENSHOTS}/history-event-line.png` });
    // Settings events are not messages: the three messages are still the only `message` rows.
    await expect(a.locator(id('message')).count()).resolves.toBe(MESSAGES.length);

    // Export the identity from the room list's settings.
    await a.click(id('room-back'));
    const exported = await exportIdentity(a, PASSPHRASE);
    expect(exported).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    await a.screenshot({ path: `${SCREENSHOTS}/history-export.png`, fullPage: true });
    await alice.close();

    // The server restarts on the same port with the same storage.
    await server.stop();
    party = await startParty({ persistDir, port });
    expect(party.host).toBe(host);

    // Profile B, newly installed: import the identity, open the room, read the history from the backup.
    const again = await launchNew('history-alice-new-profile');
    const b = await openPanel(again);
    await b.locator(id('import-open')).waitFor({ timeout: 20_000 });
    await importIdentity(b, { content: exported, passphrase: PASSPHRASE, host, screenshot: `${SCREENSHOTS}/history-import.png` });
    const room = b.locator(id('room-item'), { hasText: 'Backup history' });
    await room.waitFor({ timeout: 30_000 });
    await room.click();
    for (const text of MESSAGES) await expectMessage(b, text, 45_000);
    const texts = await b.locator(id('message')).allTextContents();
    expect(MESSAGES.map((text) => texts.findIndex((t) => t.includes(text)))).toEqual([0, 1, 2]);

    await b.locator(enabledComposer).waitFor({ timeout: 30_000 });
    await send(b, 'Fourth, from the new profile');
    await b.screenshot({ path: `${SCREENSHOTS}/history-new-profile.png` });
    // The settings came along with the identity (the room's signed chain).
    await b.click(id('room-settings-open'));
    await expect(b.locator(id('settings-disappear')).inputValue()).resolves.toBe(String(86_400_000));
    await expect(b.isChecked(id('settings-share-history'))).resolves.toBe(true);
    await b.screenshot({ path: `${SCREENSHOTS}/history-settings-panel-new-profile.png` });
  });
});
