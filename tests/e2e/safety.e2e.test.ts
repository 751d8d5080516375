/**
 * Contacts and safety numbers end to end (issue 10, item 3): two Chromium profiles with the built extension, in a
 * room together, open each other's safety number, see the same 60 digits (and a QR code) on both sides, mark each
 * other verified, and the verified badge shows in each one's members panel.
 */
import { inject } from 'vitest';
import type { Page } from 'playwright-core';
import { launchWithExtension, newProfileDir, type ExtensionBrowser } from '../helpers/browser';
import { acceptInvitation, createRoom, enabledComposer, id, onboard, shortCode } from './support/flows';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

/** Opens the safety number with the member named `name` from the open room's members panel; resolves its digits. */
async function safetyNumberWith(page: Page, name: string): Promise<string> {
  const row = page.locator(id('member'), { hasText: name });
  await row.locator(id('safety-number-open')).click();
  const number = page.locator(id('safety-number'));
  await page.waitForFunction((selector) => /^(\d{5} ){11}\d{5}$/.test(document.querySelector(selector)?.textContent?.trim() ?? ''), id('safety-number'), { timeout: 15_000 });
  await page.locator(`svg${id('safety-number-qr')} path`).waitFor();
  return ((await number.textContent()) ?? '').trim();
}

/** Marks the member whose safety number is open verified, closes the sheet, and waits for their badge. */
async function markVerified(page: Page, name: string): Promise<void> {
  await page.click(id('verify-toggle'));
  await page.locator(id('safety-verify'), { hasText: 'Clear verification' }).waitFor({ timeout: 15_000 });
  await page.click(id('safety-close'));
  await page.locator(id('member'), { hasText: name }).locator(id('member-verified-badge')).waitFor({ timeout: 15_000 });
}

describe('safety numbers between two browser profiles', () => {
  let alice: ExtensionBrowser;
  let bob: ExtensionBrowser;

  beforeAll(async () => {
    alice = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('safety-alice') });
    bob = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('safety-bob') });
  });

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
  });

  it('two profiles compare safety numbers (equal on both sides) and mark each other verified', async () => {
    const a = await alice.openPanel();
    const b = await bob.openPanel();
    await onboard(a, 'Alice', 'alice-safety-passphrase', host);
    const bobCode = await onboard(b, 'Bob', 'bob-safety-passphrase', host);

    await createRoom(a, 'Safety room', 'ephemeral');
    await a.click(id('members-open'));
    await a.fill(id('invite-contact-input'), bobCode);
    await a.click(id('invite-contact-submit'));
    // Bob's key carries no name: Alice lists him by his contact code until his profile reaches the room.
    await a.locator(id('member'), { hasText: shortCode(bobCode) }).waitFor({ timeout: 15_000 });
    await acceptInvitation(b, 'Alice');
    await b.locator(id('room-item'), { hasText: 'Safety room' }).click({ timeout: 20_000 });
    await b.locator(enabledComposer).waitFor({ timeout: 20_000 });
    await b.click(id('members-open'));

    // Neither is verified yet; our own row has no safety number.
    expect(await a.locator(id('member-verified-badge')).count()).toBe(0);
    expect(await a.locator(id('member'), { hasText: 'Alice' }).locator(id('safety-number-open')).count()).toBe(0);

    const seenByAlice = await safetyNumberWith(a, 'Bob');
    const seenByBob = await safetyNumberWith(b, 'Alice');
    expect(seenByAlice.replace(/\s/g, '')).toMatch(/^\d{60}$/);
    expect(seenByBob).toBe(seenByAlice);

    await markVerified(a, 'Bob');
    await markVerified(b, 'Alice');
    // The other side's mark is theirs alone: each sees only the one they set.
    expect(await a.locator(id('member-verified-badge')).count()).toBe(1);
    expect(await b.locator(id('member-verified-badge')).count()).toBe(1);
    expect(await a.locator(id('key-change-warning')).count()).toBe(0);
  });
});
