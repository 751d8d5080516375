/**
 * Roles end to end: two Chromium profiles with the built extension. The room's creator (Alice) promotes a member
 * (Bob) from the members panel, confirming in the panel's own dialog; both see the chat line "Alice made Bob an
 * admin", and Bob can now do what only admins can: the invite-by-contact form and the invite-link button appear for
 * him, and the server accepts an invite link he creates.
 */
import { inject } from 'vitest';
import { launchWithExtension, newProfileDir, type ExtensionBrowser } from '../helpers/browser';
import { acceptInvitation, createInviteLink, createRoom, enabledComposer, id, onboard, shortCode } from './support/flows';

const host = inject('partyHost');
const extensionDir = inject('extensionDir');
const chromiumPath = inject('chromiumPath');

describe('roles between two browser profiles', () => {
  let alice: ExtensionBrowser;
  let bob: ExtensionBrowser;

  beforeAll(async () => {
    alice = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('roles-alice') });
    bob = await launchWithExtension({ chromiumPath, extensionDir, userDataDir: newProfileDir('roles-bob') });
  });

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
  });

  it('an admin promotes a member, both see the chat line, and the new admin can invite', async () => {
    const a = await alice.openPanel();
    const b = await bob.openPanel();
    await onboard(a, 'Alice', 'alice-roles-passphrase', host);
    const bobCode = await onboard(b, 'Bob', 'bob-roles-passphrase', host);

    await createRoom(a, 'Roles room', 'ephemeral');
    await a.click(id('members-open'));
    await a.fill(id('invite-contact-input'), bobCode);
    await a.click(id('invite-contact-submit'));
    await a.locator(id('member'), { hasText: shortCode(bobCode) }).waitFor({ timeout: 15_000 });
    await acceptInvitation(b, 'Alice');
    // Once Bob is in, his sealed profile names him in Alice's list.
    const bobRow = a.locator(id('member'), { hasText: 'Bob' });
    await bobRow.waitFor({ timeout: 20_000 });
    await b.locator(id('room-item'), { hasText: 'Roles room' }).click({ timeout: 20_000 });
    await b.locator(enabledComposer).waitFor({ timeout: 20_000 });
    await b.locator(`${id('room-connection')}.online`).waitFor({ timeout: 20_000 });
    await b.click(id('members-open'));
    await b.locator(id('member'), { hasText: 'Alice' }).waitFor({ timeout: 15_000 });

    // Bob is a plain member: no invite button, no invite form, no role buttons.
    expect(await b.locator(id('invite-open')).count()).toBe(0);
    expect(await b.locator(id('invite-contact-input')).count()).toBe(0);
    expect(await b.locator(id('member-promote')).count()).toBe(0);
    await expect(b.locator(id('member'), { hasText: 'Bob' }).textContent()).resolves.toContain('Member');

    // Alice promotes Bob; nothing happens until she confirms.
    await bobRow.locator(id('member-promote')).click({ timeout: 15_000 });
    const confirm = bobRow.locator(id('member-role-confirm'));
    await confirm.waitFor();
    await expect(confirm.textContent()).resolves.toContain('Make Bob an admin?');
    expect(await b.locator(id('room-event'), { hasText: 'made Bob an admin' }).count()).toBe(0);
    await confirm.locator(id('member-role-yes')).click();

    const line = 'Alice made Bob an admin';
    await a.locator(`${id('room-event')}[data-event="promoted"]`, { hasText: line }).waitFor({ timeout: 15_000 });
    await bobRow.locator('.role.admin').waitFor({ timeout: 15_000 });
    expect(await bobRow.locator(id('member-promote')).count()).toBe(0);

    // Bob sees the line and is now an admin himself.
    await b.locator(`${id('room-event')}[data-event="promoted"]`, { hasText: line }).waitFor({ timeout: 20_000 });
    await b.locator(id('member'), { hasText: 'Bob' }).locator('.role.admin').waitFor({ timeout: 15_000 });
    await b.locator(id('invite-contact-input')).waitFor({ timeout: 15_000 });
    await b.locator(id('invite-open')).waitFor({ timeout: 15_000 });
    // The creator keeps her admin rights: the new admin is offered no way to take them away.
    expect(await b.locator(id('member'), { hasText: 'Alice' }).locator(id('member-demote')).count()).toBe(0);

    // An admin-only action the server checks: Bob creates an invite link.
    const link = await createInviteLink(b, { label: 'From Bob' });
    expect(link).toMatch(/\/join\/[0-9a-f]{32}/);
  });
});
