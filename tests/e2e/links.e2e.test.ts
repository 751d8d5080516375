/**
 * Invite links end to end: real Chromium profiles with the built extension, against the real party
 * server. (a) An escrow link lets someone join and chat while the only admin's browser is closed;
 * the link is opened in a tab and the extension redirects it to its own page before any request is
 * made, so the server's `/join/…` page (which could read the `#secret`) never loads; the tab shows the link's preview
 * and joins only once the person confirms. (b) A web page that redirects to an invite link joins nothing: the person
 * sees the preview, and only their Join sends the request. (c) An approval link: the joiner waits, the admin approves
 * from the request banner, and both chat. (d) A link revoked after its preview is refused with a clear reason on Join,
 * and a reset turns every link off.
 */
import { mkdirSync } from 'node:fs';
import { inject } from 'vitest';
import en from '../../locales/en';
import { launchFresh, launchWithExtension, type ExtensionBrowser } from '../helpers/browser';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { confirmLinkPreview, createInviteLink, createRoom, enabledComposer, expectMessage, id, onboard, openPanel, PANEL_VIEWPORT, send, unlock } from './support/flows';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

const SCREENSHOTS = 'test-results';

const launched: ExtensionBrowser[] = [];

async function launch(userDataDir: string): Promise<ExtensionBrowser> {
  const browser = await launchWithExtension({ chromiumPath, extensionDir, userDataDir });
  launched.push(browser);
  return browser;
}

/** A browser with a new profile (one more try if the extension's worker was slow to start), closed after the test. */
async function launchNew(name: string): Promise<ExtensionBrowser> {
  const browser = await launchFresh(name, { chromiumPath, extensionDir });
  launched.push(browser);
  return browser;
}

beforeAll(() => mkdirSync(SCREENSHOTS, { recursive: true }));

/** Alice and Carol, each in a new browser profile with an identity, their panels open (`a`, `c`). */
async function aliceAndCarol(tag: string) {
  const alice = await launchNew(`${tag}-alice`);
  const carol = await launchNew(`${tag}-carol`);
  const a = await openPanel(alice);
  const c = await openPanel(carol);
  await onboard(a, 'Alice', `alice-${tag}-passphrase`, host);
  await onboard(c, 'Carol', `carol-${tag}-passphrase`, host);
  return { alice, carol, a, c };
}

/** How often the party server was asked for each `/join/…` page (its test-only counter). */
async function joinPageHits(): Promise<Record<string, number>> {
  const res = await fetch(`http://${host}/__test/join-page-hits`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, number>;
}

/** A web page on its own origin whose script sends the visitor to `target` at once, as any site could. */
async function redirectingPage(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Cute cats</title><script>location.replace(${JSON.stringify(target)});</script>`);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cats`,
    close: () => {
      server.closeAllConnections(); // the browser keeps its connection alive, which close() would wait for
      return new Promise((done) => server.close(() => done()));
    },
  };
}

afterEach(async () => {
  for (const browser of launched.splice(0)) await browser.close().catch(() => undefined);
});

describe('invite links through the built extension', () => {
  it('escrow link while the admin is away: the link opened in a tab is previewed, joins once confirmed, chats, and the admin reads it later', async () => {
    let alice = await launchNew('links-alice');
    const aliceDir = alice.userDataDir;
    const carol = await launchNew('links-carol');

    const a = await openPanel(alice);
    await onboard(a, 'Alice', 'alice-links-passphrase', host);
    await createRoom(a, 'Escrow room', 'backup');
    const link = await createInviteLink(a, { escrow: true, label: 'Friends', screenshot: `${SCREENSHOTS}/links-invite-panel-escrow.png` });
    expect(link).toMatch(new RegExp(`^http://${host.replace(/\./g, '\\.')}/join/[0-9a-f]{32}/[0-9a-f]{32}#[A-Za-z0-9_-]+$`));
    await alice.close();

    const c = await openPanel(carol);
    await onboard(c, 'Carol', 'carol-links-passphrase', host);

    // Opening the link in a new tab: the extension redirects it to its own page before the request is made,
    // which hands the link to the background and turns the tab into the panel.
    const linkPath = new URL(link).pathname;
    expect(await joinPageHits()).not.toHaveProperty(linkPath);
    const tab = await carol.context.newPage();
    await tab.setViewportSize(PANEL_VIEWPORT);
    const visited: string[] = [];
    tab.on('framenavigated', (frame) => {
      if (frame === tab.mainFrame()) visited.push(frame.url());
    });
    await tab.goto(link).catch(() => undefined); // the redirect and the hand-over may abort this navigation
    await tab.waitForURL(/sidepanel\.html/, { timeout: 20_000 });
    expect(tab.url()).toBe(`chrome-extension://${carol.extensionId}/sidepanel.html`);
    // The preview: the room's name and who invited, read from the link itself; nothing is joined before Join.
    await tab.locator(id('join-preview-name'), { hasText: 'Escrow room' }).waitFor({ timeout: 20_000 });
    await expect(tab.locator(id('join-preview-by')).textContent()).resolves.toContain('Alice');
    await expect(tab.locator(id('join-preview-approval')).textContent()).resolves.toBe(en['preview.noApproval']);
    await tab.screenshot({ path: `${SCREENSHOTS}/links-preview-captured.png` });
    await confirmLinkPreview(tab, 'Escrow room');
    await tab.locator(enabledComposer).waitFor({ timeout: 30_000 });
    await expect(tab.locator(id('room-name')).textContent()).resolves.toBe('Escrow room');
    // The party server's page for the link was never requested, and the tab never showed the server's origin.
    expect(await joinPageHits()).not.toHaveProperty(linkPath);
    expect(visited.length).toBeGreaterThan(0);
    expect(visited.filter((url) => !url.startsWith(`chrome-extension://${carol.extensionId}/`))).toEqual([]);
    await send(tab, 'Carol joined while Alice was away');

    alice = await launch(aliceDir);
    const again = await openPanel(alice);
    await unlock(again, 'alice-links-passphrase');
    await again.locator(id('room-item'), { hasText: 'Escrow room' }).click();
    await expectMessage(again, 'Carol joined while Alice was away', 30_000);
    await expect(again.locator(id('message'), { hasText: 'Carol joined while Alice was away' }).first().textContent()).resolves.toContain('Carol');

    // And Alice is back in the conversation.
    await send(again, 'Welcome, Carol');
    await expectMessage(tab, 'Welcome, Carol');
    await again.click(id('members-open'));
    await again.locator(id('member'), { hasText: 'Carol' }).waitFor();
    await expect(again.locator(`${id('member')} ${id('member-unverified')}`).count()).resolves.toBe(0);
  });

  it('a web page that redirects to an invite link joins nothing: the person sees the preview, and only Join sends the request', async () => {
    const { a, carol } = await aliceAndCarol('redirect');
    await createRoom(a, 'Trap room', 'ephemeral');
    const link = await createInviteLink(a, { approval: true });
    await a.click(id('invite-close')); // close the sheet: requests show under the header

    // Any web page: it sends its visitor on to the invite link without asking.
    const page = await redirectingPage(link);
    try {
      const tab = await carol.context.newPage();
      await tab.setViewportSize(PANEL_VIEWPORT);
      await tab.goto(page.url, { waitUntil: 'commit' }).catch(() => undefined); // the page's redirect, then the extension's, replace this navigation
      await tab.waitForURL(/sidepanel\.html/, { timeout: 20_000 });
      await tab.locator(id('join-preview-name'), { hasText: 'Trap room' }).waitFor({ timeout: 20_000 });
      await expect(tab.locator(id('join-preview-approval')).textContent()).resolves.toBe(en['preview.approval']);
      // Carol has not said yes: the room has not heard of her, and she holds no room.
      await expect(a.locator(id('join-request')).waitFor({ timeout: 4_000 })).rejects.toThrow();
      await expect(tab.locator(id('room-item')).count()).resolves.toBe(0);

      await confirmLinkPreview(tab, 'Trap room');
      await tab.locator(`${id('join-status')}[data-state="pending-approval"]`).waitFor({ timeout: 20_000 });
      await a.locator(id('join-request'), { hasText: 'Carol' }).waitFor({ timeout: 20_000 });
    } finally {
      await page.close();
    }
  });

  it('approval link: the joiner waits, the admin approves, and they chat both ways', async () => {
    const { a, c } = await aliceAndCarol('approve');

    await createRoom(a, 'Approval room', 'ephemeral');
    await a.click(id('invite-open'));
    await a.check(id('invite-approval'));
    await expect(a.isDisabled(id('invite-escrow'))).resolves.toBe(true);
    await expect(a.isChecked(id('invite-escrow'))).resolves.toBe(false);
    await expect(a.locator(id('invite-escrow-note')).isVisible()).resolves.toBe(true);
    await a.fill(id('invite-label'), 'Book club');
    await a.screenshot({ path: `${SCREENSHOTS}/links-invite-panel-approval.png` });
    await a.click(id('invite-create'));
    await a.locator(id('invite-link')).waitFor({ timeout: 20_000 });
    await a.locator(id('invite-link-item')).first().waitFor();
    await a.screenshot({ path: `${SCREENSHOTS}/links-invite-panel-created.png` });
    const link = await a.locator(id('invite-link')).inputValue();
    await a.click(id('invite-close')); // close the sheet: requests show under the header

    await c.fill(id('join-link-input'), link);
    await c.screenshot({ path: `${SCREENSHOTS}/links-join-form.png` });
    await c.click(id('join-submit'));
    await expect(c.locator(id('join-preview-approval')).textContent({ timeout: 20_000 })).resolves.toBe(en['preview.approval']);
    await confirmLinkPreview(c, 'Approval room');
    await c.locator(`${id('join-status')}[data-state="pending-approval"]`).waitFor({ timeout: 20_000 });
    await expect(c.locator(id('join-status')).textContent()).resolves.toContain('Waiting for an admin to approve your request');
    await c.screenshot({ path: `${SCREENSHOTS}/links-join-status-pending.png` });

    const request = a.locator(id('join-request'), { hasText: 'Carol' });
    await request.waitFor({ timeout: 20_000 });
    await expect(request.textContent()).resolves.toContain('Book club');
    await a.screenshot({ path: `${SCREENSHOTS}/links-join-request.png` });
    await request.locator(id('join-approve')).click();
    await a.locator(id('join-request')).waitFor({ state: 'detached', timeout: 20_000 });

    await c.locator(enabledComposer).waitFor({ timeout: 30_000 });
    await expect(c.locator(id('join-status')).count()).resolves.toBe(0);
    await expect(c.locator(id('room-name')).textContent()).resolves.toBe('Approval room');

    await send(c, 'Thanks for letting me in');
    await expectMessage(a, 'Thanks for letting me in');
    await send(a, 'Welcome to the book club');
    await expectMessage(c, 'Welcome to the book club');
    await c.screenshot({ path: `${SCREENSHOTS}/links-carol-chatting.png` });
  });

  it('a link revoked after its preview: Join is refused with the reason; reset turns every link off', async () => {
    const { a, c } = await aliceAndCarol('revoke');

    await createRoom(a, 'Closed room', 'ephemeral');
    const revoked = await createInviteLink(a, { label: 'Revoked soon' });
    // Carol looks at the link while it still works, and has not said yes when it is revoked.
    await c.fill(id('join-link-input'), revoked);
    await c.click(id('join-submit'));
    await c.locator(id('join-preview-name'), { hasText: 'Closed room' }).waitFor({ timeout: 20_000 });
    await a.locator(id('invite-link-item'), { hasText: 'Revoked soon' }).locator(id('invite-revoke')).click();
    await a.locator(`${id('invite-link-item')}[data-active="false"]`, { hasText: 'Revoked soon' }).waitFor({ timeout: 20_000 });
    await expect(a.locator(id('invite-link')).count()).resolves.toBe(0);

    await a.fill(id('invite-label'), 'Reset soon');
    await a.click(id('invite-create'));
    await a.locator(`${id('invite-link-item')}[data-active="true"]`, { hasText: 'Reset soon' }).waitFor({ timeout: 20_000 });
    await a.click(id('invite-reset'));
    await a.click(id('invite-reset-confirm'));
    await a.locator(`${id('invite-link-item')}[data-active="false"]`, { hasText: 'Reset soon' }).waitFor({ timeout: 20_000 });
    await expect(a.locator(`${id('invite-link-item')}[data-active="true"]`).count()).resolves.toBe(0);
    await a.screenshot({ path: `${SCREENSHOTS}/links-invite-panel-after-reset.png` });

    await c.click(id('join-confirm'));
    await c.locator(`${id('join-status')}[data-state="failed"]`).waitFor({ timeout: 20_000 });
    await expect(c.locator(id('join-status-error')).textContent()).resolves.toBe(en['error.link-invalid']);
    await c.screenshot({ path: `${SCREENSHOTS}/links-join-status-failed.png` });
    await c.click(id('join-status-back'));
    await expect(c.locator(id('room-join-state')).textContent()).resolves.toBe(en['join.short.failed']);

    // Pasted again, the revoked link cannot even be previewed.
    await c.fill(id('join-link-input'), revoked);
    await c.click(id('join-submit'));
    await expect(c.locator('.join [data-testid="error"]').textContent({ timeout: 20_000 })).resolves.toBe(en['error.link-invalid']);
  });
});
