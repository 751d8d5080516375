/** Steps the end-to-end tests share: driving the side panel by its data-testids. */
import type { Page } from 'playwright-core';

/** A CSS selector for a data-testid. */
/**
 * How someone shows before their sealed profile reaches the room (keys carry no names): the first two groups of
 * their contact code (shared/crypto.ts `unnamed`), e.g. right after inviting them by contact code.
 */
export function shortCode(contactCode: string): string {
  return contactCode.trim().split(/\s+/).slice(0, 2).join(' ');
}

export const id = (testid: string): string => `[data-testid="${testid}"]`;

/** The composer once it can be typed into (the room key has arrived). */
export const enabledComposer = `${id('composer')}:not([disabled])`;

/** Creates an identity on a fresh profile; resolves the contact code. */
export async function onboard(page: Page, name: string, passphrase: string, host: string): Promise<string> {
  await page.fill(id('onboard-name'), name);
  for (const field of await page.locator(id('onboard-passphrase')).all()) await field.fill(passphrase);
  await page.fill(id('onboard-host'), host);
  await page.click(id('onboard-submit'));
  await page.locator(id('settings-open')).waitFor({ timeout: 30_000 });
  return readContactCode(page);
}

/** From the home screen: opens the settings view, reads the contact code, and goes back to the room list. */
export async function readContactCode(page: Page): Promise<string> {
  await openSettings(page);
  const code = ((await page.locator(id('contact-code')).textContent()) ?? '').trim();
  await page.click(id('settings-back'));
  await page.locator(id('home-rooms')).waitFor();
  return code;
}

/** From the home screen: opens the settings view (server, notifications, contact code, export, Lock). */
export async function openSettings(page: Page): Promise<void> {
  await page.click(id('settings-open'));
  await page.locator(id('settings-view')).waitFor();
}

/** Unlocks after a browser restart and waits for the room list. */
export async function unlock(page: Page, passphrase: string): Promise<void> {
  await page.locator(id('unlock-passphrase')).waitFor({ timeout: 15_000 });
  await page.fill(id('unlock-passphrase'), passphrase);
  await page.click(id('unlock-submit'));
  await page.locator(id('home-rooms')).waitFor({ timeout: 30_000 });
}

/** Creates a room from the home view and waits until it is open and usable. */
export async function createRoom(page: Page, name: string, mode: 'ephemeral' | 'backup'): Promise<void> {
  await page.fill(id('room-create-name'), name);
  await page.selectOption(id('room-create-mode'), mode);
  await page.click(id('room-create-submit'));
  await page.locator(enabledComposer).waitFor({ timeout: 20_000 });
  // Admin actions need the room verified and connected.
  await page.locator(`${id('room-connection')}.online`).waitFor({ timeout: 20_000 });
}

/** Creates an invite link in the open room through the invite panel; resolves the full link. */
export async function createInviteLink(
  page: Page,
  options: { approval?: boolean; escrow?: boolean; label?: string; screenshot?: string },
): Promise<string> {
  await page.click(id('invite-open'));
  await page.locator(id('invite-panel')).waitFor();
  if (options.approval) await page.check(id('invite-approval'));
  if (options.escrow) await page.check(id('invite-escrow'));
  if (options.label) await page.fill(id('invite-label'), options.label);
  await page.click(id('invite-create'));
  const link = page.locator(id('invite-link'));
  await link.waitFor({ timeout: 20_000 });
  await page.locator(id('invite-link-item')).first().waitFor();
  if (options.screenshot) await page.screenshot({ path: options.screenshot, fullPage: true });
  return link.inputValue();
}

/** On the home view: accepts the invitation from `name` (someone who is not a contact yet, so it waits as a request). */
export async function acceptInvitation(page: Page, name: string): Promise<void> {
  const request = page.locator(id('invitation'), { hasText: name });
  await request.waitFor({ timeout: 20_000 });
  await request.locator(id('invitation-accept')).click();
}

/**
 * An invite link's preview (pasted, or captured from a tab): waits until it names `roomName`, then joins with
 * `join-confirm`. Nothing reaches the room before that click.
 */
export async function confirmLinkPreview(page: Page, roomName: string): Promise<void> {
  await page.locator(id('join-preview-name'), { hasText: roomName }).waitFor({ timeout: 20_000 });
  await page.click(id('join-confirm'));
}

/** Sends a message from the open room and waits until the server has acknowledged it. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill(id('composer'), text);
  await page.click(id('send'));
  await page.locator(`${id('message')}[data-status="sent"]`, { hasText: text }).waitFor({ timeout: 15_000 });
}

/** Waits for a message with `text` in the open room. */
export async function expectMessage(page: Page, text: string, timeout = 20_000): Promise<void> {
  await page.locator(id('message'), { hasText: text }).first().waitFor({ timeout });
}

/** The side panel's usual size, so screenshots show what a person sees beside a page. */
export const PANEL_VIEWPORT = { width: 400, height: 820 };

/** Opens the side panel page as a tab sized like the side panel. */
export async function openPanel(browser: { openPanel(): Promise<Page> }): Promise<Page> {
  const page = await browser.openPanel();
  await page.setViewportSize(PANEL_VIEWPORT);
  return page;
}

/** From the home screen's settings view: exports the identity and resolves the exported text (also downloaded as a file). */
export async function exportIdentity(page: Page, passphrase: string): Promise<string> {
  await openSettings(page);
  await page.fill(id('export-passphrase'), passphrase);
  await page.click(id('export-submit'));
  const content = page.locator(id('export-content'));
  await content.waitFor({ timeout: 30_000 });
  return content.inputValue();
}

/** On a fresh profile's welcome screen: imports an exported identity and waits for the room list. */
export async function importIdentity(
  page: Page,
  input: { content: string; passphrase: string; host: string; screenshot?: string },
): Promise<void> {
  await page.click(id('import-open'));
  await page.fill(id('import-content'), input.content);
  await page.fill(id('import-passphrase'), input.passphrase);
  await page.fill(id('import-host'), input.host);
  if (input.screenshot) await page.screenshot({ path: input.screenshot, fullPage: true });
  await page.click(id('import-submit'));
  await page.locator(id('home-rooms')).waitFor({ timeout: 60_000 });
}
