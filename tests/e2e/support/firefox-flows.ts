/**
 * The side-panel steps of flows.ts for a puppeteer page (Firefox over WebDriver BiDi). Same testids,
 * same waits: every step waits for what a person would see, never for a fixed time.
 */
import type { Page } from 'puppeteer-core';
import { enabledComposer, id, shortCode } from './flows';

/** Waits until an element matching `selector` contains `text`. */
export async function waitForText(page: Page, selector: string, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (sel: string, wanted: string) => [...document.querySelectorAll(sel)].some((el) => (el.textContent ?? '').includes(wanted)),
    { timeout, polling: 200 },
    selector,
    text,
  );
}

/** Clicks the first element matching `selector` whose text contains `text` (e.g. a room in the list). */
export async function clickWithText(page: Page, selector: string, text: string, timeout = 20_000): Promise<void> {
  await waitForText(page, selector, text, timeout);
  const clicked = await page.$$eval(
    selector,
    (elements, wanted) => {
      const target = elements.find((el) => (el.textContent ?? '').includes(wanted as string)) as HTMLElement | undefined;
      target?.click();
      return !!target;
    },
    text,
  );
  if (!clicked) throw new Error(`no ${selector} with "${text}" to click`);
}

/**
 * Clicks `inner` inside the first `rowSelector` element whose text contains `text`, once it is there (e.g. a
 * button in a members-panel row). A DOM click, so it needs no hover.
 */
export async function clickInRow(page: Page, rowSelector: string, text: string, inner: string, timeout = 20_000): Promise<void> {
  await waitInRow(page, rowSelector, text, inner, timeout);
  const clicked = await page.evaluate(
    (rows: string, wanted: string, within: string) => {
      const row = [...document.querySelectorAll(rows)].find((r) => (r.textContent ?? '').includes(wanted) && r.querySelector(within));
      const target = row?.querySelector(within) as HTMLElement | null | undefined;
      target?.click();
      return !!target;
    },
    rowSelector,
    text,
    inner,
  );
  if (!clicked) throw new Error(`no ${inner} in a ${rowSelector} with "${text}" to click`);
}

/** Waits until a `rowSelector` element whose text contains `text` holds an element matching `inner`. */
export async function waitInRow(page: Page, rowSelector: string, text: string, inner: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (rows: string, wanted: string, within: string) =>
      [...document.querySelectorAll(rows)].some((row) => (row.textContent ?? '').includes(wanted) && row.querySelector(within)),
    { timeout, polling: 200 },
    rowSelector,
    text,
    inner,
  );
}

/**
 * Clicks `selector` inside the message row whose text contains `text`, once it is there (a row's actions only
 * show on hover; a DOM click needs none).
 */
export async function clickInMessage(page: Page, text: string, selector: string, timeout = 20_000): Promise<void> {
  await clickInRow(page, id('message'), text, selector, timeout);
}

export async function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => (el.textContent ?? '').trim());
}

/** The preview of an invite link: waits until it names `roomName`, then joins with `join-confirm` (see flows.ts). */
export async function confirmLinkPreview(page: Page, roomName: string): Promise<void> {
  await waitForText(page, id('join-preview-name'), roomName);
  await page.locator(id('join-confirm')).click();
}

/** Creates an identity on a fresh profile; resolves the contact code. */
export async function onboard(page: Page, name: string, passphrase: string, host: string): Promise<string> {
  await page.locator(id('onboard-name')).fill(name);
  for (const field of await page.$$(id('onboard-passphrase'))) await field.type(passphrase);
  await page.locator(id('onboard-host')).fill(host);
  await page.locator(id('onboard-submit')).click();
  await page.waitForSelector(id('settings-open'), { timeout: 30_000 });
  // The contact code is in the settings view, reached from the home screen's gear.
  await page.locator(id('settings-open')).click();
  await page.waitForSelector(id('contact-code'));
  const code = await textOf(page, id('contact-code'));
  await page.locator(id('settings-back')).click();
  await page.waitForSelector(id('home-rooms'));
  return code;
}

/** Unlocks after a browser restart and waits for the room list. */
export async function unlock(page: Page, passphrase: string): Promise<void> {
  await page.waitForSelector(id('unlock-passphrase'), { timeout: 15_000 });
  await page.locator(id('unlock-passphrase')).fill(passphrase);
  await page.locator(id('unlock-submit')).click();
  await page.waitForSelector(id('home-rooms'), { timeout: 30_000 });
}

/** Creates a room from the home view and waits until it is open, usable and connected. */
export async function createRoom(page: Page, name: string, mode: 'ephemeral' | 'backup'): Promise<void> {
  await page.locator(id('room-create-name')).fill(name);
  await page.select(id('room-create-mode'), mode);
  await page.locator(id('room-create-submit')).click();
  await page.waitForSelector(enabledComposer, { timeout: 20_000 });
  await page.waitForSelector(`${id('room-connection')}.online`, { timeout: 20_000 });
}

/** Opens a room from the room list and waits until it can be written in. */
export async function openRoom(page: Page, name: string, timeout = 20_000): Promise<void> {
  await clickWithText(page, id('room-item'), name, timeout);
  await page.waitForSelector(enabledComposer, { timeout: 30_000 });
  await waitForText(page, id('room-name'), name);
}

/** Invites a person into the open room by contact code (members panel) and waits until they are listed. */
/** Invites by contact code; waits for the new member's row, listed by `name` if we know them, else by their code. */
export async function inviteByContact(page: Page, code: string, name?: string): Promise<void> {
  await page.locator(id('members-open')).click();
  await page.locator(id('invite-contact-input')).fill(code);
  await page.locator(id('invite-contact-submit')).click();
  await waitForText(page, id('member'), name ?? shortCode(code));
}

/** Sends a message from the open room and waits until the server has acknowledged it. */
export async function send(page: Page, text: string): Promise<void> {
  await page.locator(id('composer')).fill(text);
  await page.locator(id('send')).click();
  await waitForText(page, `${id('message')}[data-status="sent"]`, text, 15_000);
}

/** Waits for a message with `text` in the open room. */
export async function expectMessage(page: Page, text: string, timeout = 20_000): Promise<void> {
  await waitForText(page, id('message'), text, timeout);
}
