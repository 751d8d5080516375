/**
 * Firefox end to end: the Firefox build (MV2, `.output/firefox-mv2`) installed in real Firefox ESR
 * (driven by puppeteer-core over WebDriver BiDi) chats with a Chromium profile through the real party
 * server. Firefox onboards; invites by contact code go both ways (Firefox's ephemeral room, Chromium's
 * backup room) with messages both ways in each; an invite link opened in a Firefox tab is redirected to
 * the extension before the party server is asked for its page, previewed, and joined once confirmed; after a
 * Firefox restart on the same profile the history is still there; and the two compare safety numbers (equal in
 * both browsers), Firefox marks Chris verified, and Chromium makes Fiona an admin of its room.
 *
 * The steps run in order and build on each other (one Firefox profile, one Chromium profile).
 */
import { mkdirSync } from 'node:fs';
import type { Page as FirefoxPage } from 'puppeteer-core';
import type { Page } from 'playwright-core';
import { inject } from 'vitest';
import { launchWithExtension, newProfileDir, type ExtensionBrowser } from '../helpers/browser';
import { launchFirefoxWithExtension, type FirefoxWithExtension } from '../helpers/firefox';
import * as ff from './support/firefox-flows';
import { checkSealVectors, EXPECTED_VECTORS } from './support/seal-vectors';
import { acceptInvitation, createInviteLink, createRoom, enabledComposer, expectMessage, id, onboard, openPanel, send } from './support/flows';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');
const firefoxExtensionDir = inject('firefoxExtensionDir');
const firefoxPath = inject('firefoxPath');

const SCREENSHOTS = 'test-results';
const FOX_PASSPHRASE = 'fiona-firefox-passphrase';

const firefoxProfile = newProfileDir('firefox-fiona');
let firefox: FirefoxWithExtension | null = null;
let chromium: ExtensionBrowser | null = null;
/** Firefox's side panel tab, and Chromium's. */
let f: FirefoxPage;
let c: Page;
let foxCode = '';
let chrisCode = '';

/** How often the party server was asked for each `/join/…` page (its test-only counter). */
async function joinPageHits(): Promise<Record<string, number>> {
  const res = await fetch(`http://${host}/__test/join-page-hits`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, number>;
}

async function launchFirefox(): Promise<FirefoxWithExtension> {
  firefox = await launchFirefoxWithExtension({ firefoxPath, extensionDir: firefoxExtensionDir, userDataDir: firefoxProfile });
  return firefox;
}

function running<T>(browser: T | null, name: string): T {
  if (!browser) throw new Error(`${name} is not running (an earlier step failed)`);
  return browser;
}

/** A Chromium with a new profile; one more try if the extension's service worker was slow to start. */
async function launchChromium(): Promise<ExtensionBrowser> {
  try {
    return await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('firefox-chris') });
  } catch (error) {
    if (!/serviceworker/i.test(String(error))) throw error;
    return launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('firefox-chris-retry') });
  }
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [firefox, chromium] = await Promise.all([launchFirefox(), launchChromium()]);
});

afterAll(async () => {
  await firefox?.close().catch(() => undefined);
  await chromium?.close().catch(() => undefined);
});

describe('Firefox build in Firefox ESR, chatting with Chromium', () => {
  it('onboards in Firefox (and Chromium)', async () => {
    f = await running(firefox, 'Firefox').openPanel();
    c = await openPanel(running(chromium, 'Chromium'));
    [foxCode, chrisCode] = await Promise.all([ff.onboard(f, 'Fiona', FOX_PASSPHRASE, host), onboard(c, 'Chris', 'chris-chromium-passphrase', host)]);
    expect(foxCode.replace(/\s/g, '')).toMatch(/^[0-9A-F]{40}$/i);
    expect(foxCode).not.toBe(chrisCode);
    await f.waitForSelector(id('room-create-name'));
  });

  it('checks the message seal test vectors in the Firefox extension page, on Firefox’s WebCrypto', async () => {
    expect(await checkSealVectors((code) => f.evaluate(code))).toEqual(EXPECTED_VECTORS);
  });

  it('Firefox creates an ephemeral room, invites Chromium by contact code, and they chat both ways', async () => {
    await ff.createRoom(f, 'Fox den', 'ephemeral');
    // Chris's key carries no name: Fiona lists him by his code until his profile reaches the room.
    await ff.inviteByContact(f, chrisCode);
    // Fiona is no contact of Chris's yet: the invitation waits until Chris accepts it. (They then share a room,
    // so Chris's invitation below joins Fiona by itself.)
    await acceptInvitation(c, 'Fiona');

    const room = c.locator(id('room-item'), { hasText: 'Fox den' });
    await room.waitFor({ timeout: 20_000 });
    await room.click();
    await c.locator(enabledComposer).waitFor({ timeout: 30_000 });

    await ff.send(f, 'Hello from Firefox');
    await expectMessage(c, 'Hello from Firefox');
    await expect(c.locator(id('message'), { hasText: 'Hello from Firefox' }).first().textContent()).resolves.toContain('Fiona');
    await send(c, 'Chromium says hi in the fox den');
    await ff.expectMessage(f, 'Chromium says hi in the fox den');
    await f.screenshot({ path: `${SCREENSHOTS}/firefox-ephemeral-room.png` });
  });

  it('Chromium creates a backup room, invites Firefox by contact code, and they chat both ways', async () => {
    await c.click(id('room-back'));
    await createRoom(c, 'Chrome backup', 'backup');
    await c.click(id('members-open'));
    await c.fill(id('invite-contact-input'), foxCode);
    await c.click(id('invite-contact-submit'));
    await c.locator(id('member'), { hasText: 'Fiona' }).waitFor({ timeout: 20_000 });

    await f.locator(id('room-back')).click();
    await ff.openRoom(f, 'Chrome backup');
    await send(c, 'Backed up from Chromium');
    await ff.expectMessage(f, 'Backed up from Chromium');
    await ff.send(f, 'Backed up from Firefox');
    await expectMessage(c, 'Backed up from Firefox');
    await expect(c.locator(id('message'), { hasText: 'Backed up from Firefox' }).first().textContent()).resolves.toContain('Fiona');

    // Message actions across the two browsers: Firefox reacts to Chromium's message and answers it, Chromium edits
    // it, Firefox deletes its answer.
    const chromeRow = () => c.locator(id('message'), { hasText: 'Backed up from Chromium' }).first();
    await ff.clickInMessage(f, 'Backed up from Chromium', id('message-react'));
    await ff.clickInMessage(f, 'Backed up from Chromium', `${id('reaction-choice')}[data-emoji="❤️"]`);
    await chromeRow().locator(`${id('reaction')}[data-emoji="❤️"]`).waitFor({ timeout: 15_000 });
    await ff.clickInMessage(f, 'Backed up from Chromium', id('message-reply'));
    await f.waitForSelector(id('composer-reply'));
    await ff.send(f, 'Firefox answers');
    await c.locator(id('message'), { hasText: 'Firefox answers' }).first().locator(id('message-quote'), { hasText: 'Backed up from Chromium' }).waitFor({ timeout: 15_000 });
    await chromeRow().hover();
    await chromeRow().locator(id('message-edit')).click();
    await c.fill(id('composer'), 'Backed up from Chromium, edited');
    await c.press(id('composer'), 'Enter');
    await ff.waitForText(f, id('message-edited'), '');
    await ff.waitForText(f, id('message'), 'Backed up from Chromium, edited');
    await f.screenshot({ path: `${SCREENSHOTS}/firefox-message-actions.png` });
    await ff.clickInMessage(f, 'Firefox answers', id('message-delete'));
    await f.locator(id('delete-confirm-yes')).click();
    await c.locator(`${id('message')}[data-deleted]`).waitFor({ timeout: 15_000 });
    await expect(c.locator(id('message'), { hasText: 'Firefox answers' }).count()).resolves.toBe(0);
    await c.screenshot({ path: `${SCREENSHOTS}/chromium-message-deleted.png` });
  });

  it('an invite link opened in a Firefox tab never reaches the server: the extension previews it, and joins once confirmed', async () => {
    await c.click(id('room-back'));
    await createRoom(c, 'Linked room', 'ephemeral');
    const link = await createInviteLink(c, { label: 'For Firefox' });
    await c.click(id('invite-close')); // the sheet covers the chat until closed
    const roomId = link.split('/')[4];
    expect(roomId).toMatch(/^[0-9a-f]{32}$/);
    const linkPath = new URL(link).pathname;
    expect(await joinPageHits()).not.toHaveProperty(linkPath);

    const fox = running(firefox, 'Firefox');
    const tab = await fox.browser.newPage();
    await tab.setViewport({ width: 400, height: 820 });
    // The extension redirects the link to its own page before any request: wait for the tab, not for goto.
    tab.goto(link, { timeout: 0 }).catch(() => undefined);
    const expected = `${fox.origin}/sidepanel.html`;
    // The tab shows the link's preview; only the person's Join joins.
    await ff.confirmLinkPreview(tab, 'Linked room');
    await tab.waitForSelector(enabledComposer, { timeout: 30_000 });
    // The document's own address: navigations to moz-extension pages do not reach puppeteer's `tab.url()`.
    await expect(tab.evaluate(() => location.href)).resolves.toBe(expected);
    await ff.waitForText(tab, id('room-name'), 'Linked room');
    // The party server's page for the link (which could read the #secret) was never requested.
    expect(await joinPageHits()).not.toHaveProperty(linkPath);

    await ff.send(tab, 'Firefox came in through the link');
    await expectMessage(c, 'Firefox came in through the link');
    await send(c, 'Welcome, link follower');
    await ff.expectMessage(tab, 'Welcome, link follower');
    await tab.screenshot({ path: `${SCREENSHOTS}/firefox-link-joined.png` });
  });

  it('after a Firefox restart on the same profile, the history is intact and new messages arrive', async () => {
    await running(firefox, 'Firefox').close();
    firefox = null;
    f = await (await launchFirefox()).openPanel();
    await ff.unlock(f, FOX_PASSPHRASE);

    await ff.openRoom(f, 'Fox den');
    await ff.expectMessage(f, 'Hello from Firefox');
    await ff.expectMessage(f, 'Chromium says hi in the fox den');

    await f.locator(id('room-back')).click();
    await ff.openRoom(f, 'Chrome backup');
    await ff.expectMessage(f, 'Backed up from Chromium');
    await ff.expectMessage(f, 'Backed up from Firefox');
    const texts = await f.$$eval(id('message'), (rows) => rows.map((row) => row.textContent ?? ''));
    expect(['Backed up from Chromium', 'Backed up from Firefox'].map((text) => texts.findIndex((t) => t.includes(text)))).toEqual([0, 1]);

    // Chromium is still in the link room; back in the backup room it writes, and the restarted Firefox reads it live.
    await c.click(id('room-back'));
    await c.locator(id('room-item'), { hasText: 'Chrome backup' }).click();
    await c.locator(enabledComposer).waitFor({ timeout: 30_000 });
    await send(c, 'Welcome back, Firefox');
    await ff.expectMessage(f, 'Welcome back, Firefox');
    await ff.send(f, 'Firefox is back');
    await expectMessage(c, 'Firefox is back');
    await f.screenshot({ path: `${SCREENSHOTS}/firefox-after-restart.png` });
  });

  it('Firefox and Chromium see the same safety number, Firefox marks Chris verified, and Chromium makes Fiona an admin', async () => {
    // Both are in the backup room (Chris's, where Chris is the admin and Fiona a member).
    await ff.waitForText(f, id('room-name'), 'Chrome backup');
    if (!(await f.$(id('members-panel')))) await f.locator(id('members-open')).click();
    await ff.waitInRow(f, id('member'), 'Chris', id('safety-number-open'));
    // Fiona is no admin here: no role buttons, no invite form, no invite-link button.
    expect(await f.$$(id('member-promote'))).toHaveLength(0);
    expect(await f.$(id('invite-contact-input'))).toBeNull();
    expect(await f.$(id('invite-open'))).toBeNull();

    await ff.clickInRow(f, id('member'), 'Chris', id('safety-number-open'));
    await f.waitForFunction(
      (selector: string) => /^(\d{5} ){11}\d{5}$/.test(document.querySelector(selector)?.textContent?.trim() ?? ''),
      { timeout: 15_000, polling: 200 },
      id('safety-number'),
    );
    const seenByFiona = await ff.textOf(f, id('safety-number'));

    if (!(await c.locator(id('members-panel')).isVisible())) await c.click(id('members-open'));
    await c.locator(id('member'), { hasText: 'Fiona' }).locator(id('safety-number-open')).click({ timeout: 15_000 });
    await c.waitForFunction((selector) => /^(\d{5} ){11}\d{5}$/.test(document.querySelector(selector)?.textContent?.trim() ?? ''), id('safety-number'), {
      timeout: 15_000,
    });
    const seenByChris = ((await c.locator(id('safety-number')).textContent()) ?? '').trim();
    expect(seenByFiona.replace(/\s/g, '')).toMatch(/^\d{60}$/);
    expect(seenByChris).toBe(seenByFiona);
    await c.click(id('safety-close'));

    // Firefox marks Chris verified; the sheet says so, and his row gets the badge once the sheet is closed.
    await f.locator(id('verify-toggle')).click();
    await ff.waitForText(f, id('safety-verify'), 'Clear verification', 15_000);
    await f.screenshot({ path: `${SCREENSHOTS}/firefox-safety-number.png` });
    await f.locator(id('safety-close')).click();
    await ff.waitInRow(f, id('member'), 'Chris', id('member-verified-badge'), 15_000);
    expect(await f.$$(id('member-verified-badge'))).toHaveLength(1);
    // Chris has not verified Fiona: the mark is Firefox's own.
    expect(await c.locator(id('member-verified-badge')).count()).toBe(0);

    // Chromium (the room's admin) makes Fiona an admin, confirming in the panel; Firefox sees the line and the rights.
    const fionaRow = c.locator(id('member'), { hasText: 'Fiona' });
    await fionaRow.locator(id('member-promote')).click({ timeout: 15_000 });
    await fionaRow.locator(id('member-role-confirm')).waitFor();
    await fionaRow.locator(id('member-role-yes')).click();
    await c.locator(`${id('room-event')}[data-event="promoted"]`, { hasText: 'Chris made Fiona an admin' }).waitFor({ timeout: 15_000 });
    await ff.waitForText(f, `${id('room-event')}[data-event="promoted"]`, 'Chris made Fiona an admin');
    await ff.waitInRow(f, id('member'), 'Fiona', '.role.admin', 15_000);
    await f.waitForSelector(id('invite-contact-input'), { timeout: 15_000 });
    await f.waitForSelector(id('invite-open'), { timeout: 15_000 });
    await f.screenshot({ path: `${SCREENSHOTS}/firefox-promoted.png` });
  });
});
