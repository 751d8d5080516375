import { inject } from 'vitest';
import type { Page } from 'playwright-core';
import { launchWithExtension, newProfileDir, type ExtensionBrowser } from '../helpers/browser';
import { acceptInvitation, onboard, shortCode } from './support/flows';
import { checkSealVectors, EXPECTED_VECTORS } from './support/seal-vectors';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

const id = (testid: string) => `[data-testid="${testid}"]`;

async function expectMessage(page: Page, text: string): Promise<void> {
  await page.locator(id('message'), { hasText: text }).first().waitFor({ timeout: 15_000 });
}

describe('two browser profiles chat through the built extension', () => {
  let alice: ExtensionBrowser;
  let bob: ExtensionBrowser;
  const aliceDir = newProfileDir('alice');

  beforeAll(async () => {
    alice = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: aliceDir });
    bob = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('bob') });
  });

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
  });

  it('checks the message seal test vectors in an extension page, on Chromium’s WebCrypto', async () => {
    const page = await alice.openPanel();
    expect(await checkSealVectors((code) => page.evaluate(code))).toEqual(EXPECTED_VECTORS);
    await page.close();
  });

  it('onboards, creates a room, invites by contact code, chats both ways, and keeps history across a restart', async () => {
    const a = await alice.openPanel();
    const b = await bob.openPanel();
    await onboard(a, 'Alice', 'alice-e2e-passphrase', host);
    const bobCode = await onboard(b, 'Bob', 'bob-e2e-passphrase', host);
    expect(bobCode.replace(/\s/g, '')).toMatch(/^[0-9A-F]{40}$/i);

    await a.fill(id('room-create-name'), 'E2E room');
    await a.selectOption(id('room-create-mode'), 'ephemeral');
    await a.click(id('room-create-submit'));
    await a.locator(id('composer')).waitFor();

    await a.click(id('members-open'));
    await a.fill(id('invite-contact-input'), bobCode);
    await a.click(id('invite-contact-submit'));
    // Bob's key carries no name: Alice lists him by his contact code until his profile reaches the room.
    await a.locator(id('member'), { hasText: shortCode(bobCode) }).waitFor({ timeout: 15_000 });

    // Alice is no contact of Bob's yet: her invitation waits on Bob's home view until he accepts it.
    await acceptInvitation(b, 'Alice');
    const bobsRoom = b.locator(id('room-item'), { hasText: 'E2E room' });
    await bobsRoom.waitFor({ timeout: 20_000 });
    await bobsRoom.click();
    await b.locator(`${id('composer')}:not([disabled])`).waitFor({ timeout: 20_000 });

    await a.fill(id('composer'), 'Hello from Alice');
    await a.click(id('send'));
    await expectMessage(b, 'Hello from Alice');
    await expect(b.locator(id('message'), { hasText: 'Hello from Alice' }).first().textContent()).resolves.toContain('Alice');

    await b.fill(id('composer'), 'Hi Alice, Bob here');
    await b.press(id('composer'), 'Enter');
    await expectMessage(a, 'Hi Alice, Bob here');

    await alice.close();
    alice = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: aliceDir });
    const again = await alice.openPanel();
    await again.locator(id('unlock-passphrase')).waitFor({ timeout: 15_000 });
    await again.fill(id('unlock-passphrase'), 'alice-e2e-passphrase');
    await again.click(id('unlock-submit'));
    await again.locator(id('room-item'), { hasText: 'E2E room' }).click();
    await expectMessage(again, 'Hello from Alice');
    await expectMessage(again, 'Hi Alice, Bob here');

    await b.fill(id('composer'), 'Welcome back');
    await b.click(id('send'));
    await expectMessage(again, 'Welcome back');
    await again.screenshot({ path: 'test-results/e2e-alice-after-restart.png' });

    // Message actions, as people use them: Bob replies to Alice's message and reacts to it; she edits it, then deletes it.
    const row = (page: Page, text: string) => page.locator(id('message'), { hasText: text }).first();
    await row(b, 'Hello from Alice').hover();
    await row(b, 'Hello from Alice').locator(id('message-reply')).click();
    await b.locator(id('composer-reply'), { hasText: 'Alice' }).waitFor();
    await b.fill(id('composer'), 'Answering that');
    await b.press(id('composer'), 'Enter');
    await row(again, 'Answering that').locator(id('message-quote'), { hasText: 'Hello from Alice' }).waitFor({ timeout: 15_000 });

    await row(b, 'Hello from Alice').hover();
    await row(b, 'Hello from Alice').locator(id('message-react')).click();
    await row(b, 'Hello from Alice').locator(`${id('reaction-choice')}[data-emoji="👍"]`).click();
    await row(again, 'Hello from Alice').locator(`${id('reaction')}[data-emoji="👍"]`).waitFor({ timeout: 15_000 });

    await row(again, 'Hello from Alice').hover();
    await row(again, 'Hello from Alice').locator(id('message-edit')).click();
    await again.fill(id('composer'), 'Hello from Alice (edited)');
    await again.press(id('composer'), 'Enter');
    await row(b, 'Hello from Alice (edited)').locator(id('message-edited')).waitFor({ timeout: 15_000 });

    await row(again, 'Hello from Alice (edited)').hover();
    await row(again, 'Hello from Alice (edited)').locator(id('message-delete')).click();
    await again.click(id('delete-confirm-yes'));
    await b.locator(`${id('message')}[data-deleted]`, { hasText: 'This message was deleted' }).waitFor({ timeout: 15_000 });
    await expect(b.locator(id('message'), { hasText: 'Hello from Alice (edited)' }).count()).resolves.toBe(0);
    // The quote in Bob's reply goes too.
    await row(b, 'Answering that').locator(id('message-quote'), { hasText: 'This message was deleted' }).waitFor({ timeout: 15_000 });
  });
});
