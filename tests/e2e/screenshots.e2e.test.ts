/**
 * The README's screenshots, taken from the built extension in real Chromium against the real party
 * server, at the side panel's size: the room list and the settings view, a chat, the invite-link
 * sheet, a join request, the joiner's side in Traditional Chinese (a browser set to zh-TW), and the
 * toolbar popup. Each is taken once what it shows is checked: the connection state is readable beside
 * a long room name, the sheet leaves the chat in place, the popup's long name is whole beside its badges.
 *
 * Writes test-results/screenshots/*.png; with SCREENSHOTS=docs, docs/screenshots/*.png (committed, referenced from
 * README.md), so a plain `npm test` leaves the committed ones as they are.
 */
import { mkdirSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { inject } from 'vitest';
import en from '../../locales/en';
import zhTW from '../../locales/zh-TW';
import { launchFresh, type ExtensionBrowser } from '../helpers/browser';
import { confirmLinkPreview, createInviteLink, createRoom, enabledComposer, expectMessage, id, onboard, openPanel, openSettings, send } from './support/flows';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

const SCREENSHOTS = process.env.SCREENSHOTS === 'docs' ? 'docs/screenshots' : 'test-results/screenshots';
const ROOM = 'Weekend hiking crew — Alps 2026';
/** The popup's own width (entrypoints/popup/App.vue). */
const POPUP_WIDTH = 320;

const launched: ExtensionBrowser[] = [];

async function launchNew(name: string, locale?: string): Promise<ExtensionBrowser> {
  const browser = await launchFresh(name, { chromiumPath, extensionDir, ...(locale ? { locale } : {}) });
  launched.push(browser);
  return browser;
}

const shot = (page: Page | Locator, name: string) => page.screenshot({ path: `${SCREENSHOTS}/${name}.png` });

/** Whether an element shows all of its text (nothing cut off with an ellipsis). */
const whole = (locator: Locator) => locator.evaluate((el) => el.scrollWidth <= el.clientWidth);

beforeAll(() => mkdirSync(SCREENSHOTS, { recursive: true }));

afterAll(async () => {
  for (const browser of launched.splice(0)) await browser.close().catch(() => undefined);
});

describe('README screenshots from the built extension', () => {
  it('room, invite sheet, join request, zh-TW, home, settings and popup', { timeout: 300_000 }, async () => {
    const [alice, carol, bob] = await Promise.all([launchNew('shots-alice'), launchNew('shots-carol', 'zh-TW'), launchNew('shots-bob')]);
    const [a, c, b] = await Promise.all([openPanel(alice), openPanel(carol), openPanel(bob)]);
    await Promise.all([
      onboard(a, 'Alice', 'alice-shots-passphrase', host),
      onboard(c, '陳嘉玲', 'carol-shots-passphrase', host),
      onboard(b, 'Bob', 'bob-shots-passphrase', host),
    ]);

    // An invite link that needs approval, in the sheet over the (still empty) chat.
    await createRoom(a, ROOM, 'backup');
    const link = await createInviteLink(a, { approval: true, label: 'Hiking friends' });
    await expect(a.locator(id('invite-panel')).isVisible()).resolves.toBe(true);
    await expect(a.locator(id('composer')).count()).resolves.toBe(1);
    await shot(a, 'invite-sheet');
    await a.click(id('invite-close'));
    await a.locator(id('invite-panel')).waitFor({ state: 'detached' });

    // Carol, whose browser speaks Traditional Chinese, asks to join; Alice sees the request.
    await c.fill(id('join-link-input'), link);
    await c.click(id('join-submit'));
    await c.locator(id('join-preview-name'), { hasText: ROOM }).waitFor({ timeout: 20_000 });
    await shot(c, 'join-preview-zh-TW');
    await confirmLinkPreview(c, ROOM);
    await c.locator(`${id('join-status')}[data-state="pending-approval"]`).waitFor({ timeout: 20_000 });
    await expect(c.locator(id('join-status')).textContent()).resolves.toContain(zhTW['join.state.pending-approval']);
    await shot(c, 'join-pending-zh-TW');
    const request = a.locator(id('join-request'), { hasText: '陳嘉玲' });
    await request.waitFor({ timeout: 20_000 });
    await expect(request.textContent()).resolves.toContain('Hiking friends');
    await shot(a, 'join-request');
    await request.locator(id('join-approve')).click();
    await c.locator(enabledComposer).waitFor({ timeout: 30_000 });

    await send(a, 'Welcome! We leave Saturday at 7 from the station.');
    await expectMessage(c, 'Welcome!');
    await send(c, '好的，我會帶地圖和熱茶。See you there!');
    await expectMessage(a, '我會帶地圖');
    await send(a, 'Perfect. Bob brings the rope.');
    await expectMessage(c, 'Bob brings the rope');
    // Message actions as people use them: Carol answers the first message and reacts to the last.
    const welcome = c.locator(id('message'), { hasText: 'Welcome!' }).first();
    await welcome.hover();
    await welcome.locator(id('message-reply')).click();
    await send(c, '幾點集合？7 點嗎？');
    await a.locator(id('message'), { hasText: '幾點集合' }).first().locator(id('message-quote'), { hasText: 'Welcome!' }).waitFor({ timeout: 20_000 });
    const rope = c.locator(id('message'), { hasText: 'Bob brings the rope' }).first();
    await rope.hover();
    await rope.locator(id('message-react')).click();
    await rope.locator(`${id('reaction-choice')}[data-emoji="👍"]`).click();
    await a.locator(id('message'), { hasText: 'Bob brings the rope' }).first().locator(`${id('reaction')}[data-emoji="👍"]`).waitFor({ timeout: 20_000 });
    await c.mouse.move(0, 0);

    // A long name and every header button: the name gives way, the connection state stays whole.
    const state = a.locator(id('room-connection'));
    await expect(state.textContent()).resolves.toBe(en['chat.connected']);
    await expect(whole(state)).resolves.toBe(true);
    await shot(a, 'side-panel-chat');
    await expect(c.locator(id('room-connection')).textContent()).resolves.toBe(zhTW['chat.connected']);
    await expect(whole(c.locator(id('room-connection')))).resolves.toBe(true);
    await shot(c, 'side-panel-chat-zh-TW');

    // Back on Alice's room list: a message she has not read, and Bob asking to join.
    await a.click(id('room-back'));
    await send(c, '明天見！');
    await b.fill(id('join-link-input'), link);
    await b.click(id('join-submit'));
    await confirmLinkPreview(b, ROOM);
    const item = a.locator(id('room-item'), { hasText: ROOM });
    await item.locator(id('room-requests')).waitFor({ timeout: 20_000 });
    await item.locator(id('room-unread')).waitFor({ timeout: 20_000 });
    await shot(a, 'home');
    await openSettings(a);
    await expect(a.locator(id('contact-code')).isVisible()).resolves.toBe(true);
    await shot(a, 'settings');

    // The toolbar popup (its page, at the popup's width): the long name is whole, the badges wrap below it.
    const popup = await alice.context.newPage();
    await popup.setViewportSize({ width: POPUP_WIDTH, height: 400 });
    await popup.goto(`chrome-extension://${alice.extensionId}/popup.html`);
    const row = popup.locator(id('popup-room'), { hasText: ROOM });
    await row.locator(id('popup-room-requests')).waitFor({ timeout: 20_000 });
    await row.locator(id('popup-room-unread')).waitFor();
    const name = row.locator('.name');
    await expect(whole(name)).resolves.toBe(true);
    const [nameBox, badgesBox] = await Promise.all([name.boundingBox(), row.locator('.badges').boundingBox()]);
    expect(nameBox && badgesBox && badgesBox.y >= nameBox.y + nameBox.height - 1).toBe(true);
    await shot(popup.locator('main.popup'), 'popup');
  });
});
