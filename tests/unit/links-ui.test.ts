/**
 * The invite-link UI against the fake backend: the invite panel (options, create, copy, list, revoke,
 * reset), joining by a pasted link, the join status per state, and join requests for admins.
 */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import PopupApp from '@/entrypoints/popup/App.vue';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { useAppStore } from '@/stores/app';
import { roomFromSearch } from '@/composables/useRoomFromUrl';
import { setLocale } from '@/utils/i18n';
import type { JoinState, UserErrorCode } from '@/utils/protocol-map';
import { contactCodeOf, FakeBackend, fakeFingerprint, fakeId } from './support/fake-backend';
import { sidePanelMounter } from './support/side-panel';

const { mounted, mountSidePanel } = sidePanelMounter();

async function openRoom(fake: FakeBackend, roomId: string) {
  const panel = await mountSidePanel(fake);
  await panel.store.openRoom(roomId);
  await flushPromises();
  return panel;
}

async function openInvitePanel(fake: FakeBackend, roomId: string) {
  const panel = await openRoom(fake, roomId);
  await byTestId(panel.wrapper, 'invite-open').trigger('click');
  await flushPromises();
  return panel;
}

function byTestId(wrapper: VueWrapper, testId: string) {
  return wrapper.find(`[data-testid="${testId}"]`);
}

function allByTestId(wrapper: VueWrapper, testId: string) {
  return wrapper.findAll(`[data-testid="${testId}"]`);
}

function checkbox(wrapper: VueWrapper, testId: string): HTMLInputElement {
  return byTestId(wrapper, testId).element as HTMLInputElement;
}

/** A link in the fake's format for `roomId` on `host`. */
function linkFor(host: string, roomId: string): string {
  return `http://${host}/join/${roomId}/${fakeId()}#${'k'.repeat(43)}`;
}

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
  vi.restoreAllMocks();
  window.history.replaceState(null, '', '/');
});

describe('invite panel', () => {
  it.each([
    ['admin', true],
    ['member', false],
  ] as const)('as %s the Invite button is shown: %s', async (myRole, shown) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'invite-open').exists()).toBe(shown);
  });

  it('opens from the header, loads the room’s links, and closes again', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.addLink(room.summary.id, { label: 'Old link' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    expect(fake.callsOf('listLinks')).toEqual([{ roomId: room.summary.id }]);
    expect(byTestId(wrapper, 'invite-open').attributes('aria-expanded')).toBe('true');
    expect(allByTestId(wrapper, 'invite-link-item').map((i) => i.find('.label').text())).toEqual(['Old link']);

    await byTestId(wrapper, 'invite-open').trigger('click');
    expect(byTestId(wrapper, 'invite-panel').exists()).toBe(false);
  });

  it('is a sheet over the chat, which stays in place, and Close, Escape or a click beside it close it', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'still here' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);

    const sheet = byTestId(wrapper, 'invite-panel');
    expect(sheet.attributes('role')).toBe('dialog');
    expect(sheet.attributes('aria-modal')).toBe('true');
    expect(sheet.attributes('aria-label')).toBe(en['invite.link.title']);
    expect(sheet.attributes('id')).toBe(byTestId(wrapper, 'invite-open').attributes('aria-controls'));
    expect(document.activeElement).toBe(sheet.element);
    // Over the chat, not in the column above it: the backdrop covers the room view (position: relative).
    const backdrop = sheet.element.parentElement;
    expect(backdrop?.classList.contains('sheet-backdrop')).toBe(true);
    expect(backdrop?.parentElement?.classList.contains('room-view')).toBe(true);
    expect(byTestId(wrapper, 'message').text()).toContain('still here');
    expect(byTestId(wrapper, 'composer').exists()).toBe(true);

    await byTestId(wrapper, 'invite-close').trigger('click');
    expect(byTestId(wrapper, 'invite-panel').exists()).toBe(false);
    expect(byTestId(wrapper, 'message').text()).toContain('still here');

    // The focus goes to the sheet while it is open and back to the button that opened it.
    const opener = byTestId(wrapper, 'invite-open').element as HTMLButtonElement;
    opener.focus();
    await byTestId(wrapper, 'invite-open').trigger('click');
    await flushPromises();
    expect(document.activeElement).toBe(byTestId(wrapper, 'invite-panel').element);
    await byTestId(wrapper, 'invite-close').trigger('click');
    await flushPromises();
    expect(document.activeElement).toBe(opener);

    await byTestId(wrapper, 'invite-open').trigger('click');
    await flushPromises();
    await byTestId(wrapper, 'invite-label').trigger('keydown', { key: 'Escape' });
    expect(byTestId(wrapper, 'invite-panel').exists()).toBe(false);

    await byTestId(wrapper, 'invite-open').trigger('click');
    await flushPromises();
    await byTestId(wrapper, 'invite-panel').find('h2').trigger('click');
    expect(byTestId(wrapper, 'invite-panel').exists()).toBe(true);
    await wrapper.find('.sheet-backdrop').trigger('click');
    expect(byTestId(wrapper, 'invite-panel').exists()).toBe(false);
  });

  it('unchecks and disables the server-held key when approval is required, and says why', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    expect(wrapper.text()).toContain(en['invite.link.approval']);
    expect(wrapper.text()).toContain(en['invite.link.escrow']);

    await byTestId(wrapper, 'invite-escrow').setValue(true);
    expect(checkbox(wrapper, 'invite-escrow').checked).toBe(true);
    expect(byTestId(wrapper, 'invite-escrow-note').exists()).toBe(false);

    await byTestId(wrapper, 'invite-approval').setValue(true);
    expect(checkbox(wrapper, 'invite-escrow').checked).toBe(false);
    expect(checkbox(wrapper, 'invite-escrow').disabled).toBe(true);
    expect(byTestId(wrapper, 'invite-escrow-note').text()).toBe(en['invite.link.escrowNotNeeded']);
    expect(byTestId(wrapper, 'invite-escrow-note').isVisible()).toBe(true);

    await byTestId(wrapper, 'invite-approval').setValue(false);
    expect(checkbox(wrapper, 'invite-escrow').disabled).toBe(false);
    expect(byTestId(wrapper, 'invite-escrow-note').exists()).toBe(false);
  });

  it('offers 1 hour, 1 day, 7 days and never as expiry', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    const select = byTestId(wrapper, 'invite-expiry');
    expect(select.element.tagName).toBe('SELECT');
    expect(select.findAll('option').map((o) => [o.attributes('value'), o.text()])).toEqual([
      ['3600000', '1 hour'],
      ['86400000', '1 day'],
      ['604800000', '7 days'],
      ['never', 'Never'],
    ]);
    expect((byTestId(wrapper, 'invite-uses').element as HTMLInputElement).type).toBe('number');
  });

  it('creates an escrow link with expiry, use limit and label, shows it and copies it', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    expect(byTestId(wrapper, 'invite-link').exists()).toBe(false);

    await byTestId(wrapper, 'invite-escrow').setValue(true);
    await byTestId(wrapper, 'invite-expiry').setValue('86400000');
    await byTestId(wrapper, 'invite-uses').setValue('10');
    await byTestId(wrapper, 'invite-label').setValue('  Hiking group ');
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();

    expect(fake.callsOf('createLink')).toEqual([
      {
        roomId: room.summary.id,
        options: { approval: false, escrow: true, expiresInMs: 86_400_000, maxUses: 10, label: 'Hiking group' },
      },
    ]);
    const created = fake.room(room.summary.id).links[0];
    const input = byTestId(wrapper, 'invite-link').element as HTMLInputElement;
    expect(input.value).toBe(created?.url);
    expect(input.value).toMatch(/^http:\/\/localhost:1999\/join\/[0-9a-f]{32}\/[0-9a-f]{32}#/);
    expect(input.readOnly).toBe(true);

    const item = allByTestId(wrapper, 'invite-link-item')[0];
    expect(item?.text()).toContain('Hiking group');
    expect(item?.find('[data-testid="invite-link-escrow"]').exists()).toBe(true);
    expect(item?.find('[data-testid="invite-link-approval"]').exists()).toBe(false);
    expect(item?.find('[data-testid="invite-link-uses"]').text()).toBe('0 / 10 uses');

    const writeText = vi.spyOn(navigator.clipboard, 'writeText').mockResolvedValue();
    await byTestId(wrapper, 'invite-copy').trigger('click');
    await flushPromises();
    expect(writeText).toHaveBeenCalledWith(created?.url);
    expect(byTestId(wrapper, 'invite-copy').text()).toBe('Copied');
  });

  it('creates an approval link without escrow, never expiring and unlimited', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    await byTestId(wrapper, 'invite-escrow').setValue(true);
    await byTestId(wrapper, 'invite-approval').setValue(true);
    await byTestId(wrapper, 'invite-expiry').setValue('never');
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('createLink')).toEqual([
      { roomId: room.summary.id, options: { approval: true, escrow: false, expiresInMs: null, maxUses: null, label: '' } },
    ]);
    const item = allByTestId(wrapper, 'invite-link-item')[0];
    expect(item?.find('[data-testid="invite-link-approval"]').exists()).toBe(true);
    expect(item?.find('[data-testid="invite-link-expiry"]').text()).toBe('Never expires');
    expect(item?.find('[data-testid="invite-link-uses"]').text()).toBe('0 uses');
  });

  it.each(['0', '2.5', '-3'])('refuses the use limit %s without calling the background', async (uses) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    await byTestId(wrapper, 'invite-uses').setValue(uses);
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('createLink')).toEqual([]);
    expect(byTestId(wrapper, 'invite-uses-invalid').text()).toBe(en['invite.link.usesInvalid']);
  });

  it.each<UserErrorCode>(['escrow-with-approval', 'no-key', 'offline'])('shows the translated %s error when creating fails', async (code) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    fake.failNext('createLink', code);
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();
    expect(wrapper.find('.create [data-testid="error"]').text()).toBe(en[`error.${code}`]);
    expect(byTestId(wrapper, 'invite-link').exists()).toBe(false);
  });

  it('lists links with label, badges, uses, expiry and why inactive ones stopped', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const id = room.summary.id;
    // The panel tells expired links apart by the real clock.
    const past = Date.now() - 1000;
    fake.addLink(id, { label: 'Limited', maxUses: 10, uses: 3, expires: Date.now() + 86_400_000, approval: true });
    fake.addLink(id, { label: 'Open', uses: 3, escrow: true });
    fake.addLink(id, { label: 'Gone', active: false });
    fake.addLink(id, { label: 'Old', active: false, expires: past });
    fake.addLink(id, { label: 'Full', active: false, maxUses: 2, uses: 2 });
    fake.addLink(id, { label: null, uses: 1 });
    const { wrapper } = await openInvitePanel(fake, id);

    const items = allByTestId(wrapper, 'invite-link-item');
    const texts = items.map((i) => i.text());
    expect(texts[0]).toContain('3 / 10 uses');
    expect(texts[0]).toContain('Approval');
    expect(texts[0]).toMatch(/Expires .*20\d\d/);
    expect(texts[1]).toContain('3 uses');
    expect(texts[1]).toContain('Server key');
    expect(texts[1]).toContain('Never expires');
    expect(items.map((i) => i.find('[data-testid="invite-link-status"]').exists() ? i.find('[data-testid="invite-link-status"]').text() : null)).toEqual([
      null,
      null,
      'Revoked',
      'Expired',
      'Used up',
      null,
    ]);
    expect(texts[5]).toContain(en['invite.link.noLabel']);
    expect(texts[5]).toContain('1 use');
    expect(items.map((i) => i.find('[data-testid="invite-revoke"]').exists())).toEqual([true, true, false, false, false, true]);
  });

  it('lets a member an admin allowed create a link, without offering to revoke it (only admins can)', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole: 'member' });
    fake.room(room.summary.id).canCreateLinks = true;
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('createLink')).toHaveLength(1);
    expect(byTestId(wrapper, 'invite-link').exists()).toBe(true);
    expect(allByTestId(wrapper, 'invite-link-item')).toHaveLength(1);
    expect(byTestId(wrapper, 'invite-revoke').exists()).toBe(false);
    expect(byTestId(wrapper, 'invite-reset').exists()).toBe(false);
  });

  it('revokes one link', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const keep = fake.addLink(room.summary.id, { label: 'Keep' });
    const doomed = fake.addLink(room.summary.id, { label: 'Doomed' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);

    await allByTestId(wrapper, 'invite-link-item')[1]?.find('[data-testid="invite-revoke"]').trigger('click');
    await flushPromises();
    expect(fake.callsOf('revokeLink')).toEqual([{ roomId: room.summary.id, linkId: doomed.id }]);
    const items = allByTestId(wrapper, 'invite-link-item');
    expect(items.map((i) => i.attributes('data-active'))).toEqual(['true', 'false']);
    expect(items[1]?.text()).toContain('Revoked');
    expect(keep.active).toBe(true);
  });

  it('resets all links only after confirming', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.addLink(room.summary.id, { label: 'One' });
    fake.addLink(room.summary.id, { label: 'Two' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);

    await byTestId(wrapper, 'invite-reset').trigger('click');
    expect(fake.callsOf('resetLinks')).toEqual([]);
    expect(wrapper.text()).toContain(en['invite.link.resetConfirmText']);
    await byTestId(wrapper, 'invite-reset-cancel').trigger('click');
    expect(byTestId(wrapper, 'invite-reset-confirm').exists()).toBe(false);

    await byTestId(wrapper, 'invite-reset').trigger('click');
    await byTestId(wrapper, 'invite-reset-confirm').trigger('click');
    await flushPromises();
    expect(fake.callsOf('resetLinks')).toEqual([{ roomId: room.summary.id }]);
    expect(allByTestId(wrapper, 'invite-link-item').map((i) => i.attributes('data-active'))).toEqual(['false', 'false']);
    expect(wrapper.text()).toContain(en['invite.link.resetDone']);
  });

  it('hides the created link once it has been reset', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    await byTestId(wrapper, 'invite-create').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'invite-link').exists()).toBe(true);
    await byTestId(wrapper, 'invite-reset').trigger('click');
    await byTestId(wrapper, 'invite-reset-confirm').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'invite-link').exists()).toBe(false);
  });

  it('renders in Traditional Chinese', async () => {
    setLocale('zh-TW');
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.addLink(room.summary.id, { maxUses: 5, uses: 2 });
    const { wrapper } = await openInvitePanel(fake, room.summary.id);
    expect(byTestId(wrapper, 'invite-open').text()).toBe(zhTW['invite.link.open']);
    expect(wrapper.text()).toContain(zhTW['invite.link.approval']);
    expect(byTestId(wrapper, 'invite-link-uses').text()).toBe('已使用 2 / 5 次');
    await byTestId(wrapper, 'invite-approval').setValue(true);
    expect(byTestId(wrapper, 'invite-escrow-note').text()).toBe(zhTW['invite.link.escrowNotNeeded']);
  });
});

describe('join by link', () => {
  it('previews a pasted link, joins only once confirmed, and opens the room at its join status', async () => {
    const fake = new FakeBackend().setUp();
    fake.linkPreview = { roomName: 'Hiking club', createdBy: 'Alice', approval: true, members: 4 };
    const { wrapper } = await mountSidePanel(fake);
    const roomId = fakeId();
    const url = linkFor(fake.host, roomId);
    await byTestId(wrapper, 'join-link-input').setValue(`  ${url} `);
    await byTestId(wrapper, 'join-submit').trigger('submit');
    await flushPromises();

    expect(fake.callsOf('previewLink')).toEqual([{ url }]);
    expect(fake.callsOf('joinByLink')).toEqual([]);
    expect(byTestId(wrapper, 'join-preview-name').text()).toBe('Hiking club');
    expect(byTestId(wrapper, 'join-preview-by').text()).toContain('Alice');
    expect(byTestId(wrapper, 'join-preview-approval').text()).toBe(en['preview.approval']);
    await byTestId(wrapper, 'join-confirm').trigger('click');
    await flushPromises();

    expect(fake.callsOf('joinByLink')).toEqual([{ url }]);
    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('joining');
    expect(byTestId(wrapper, 'join-status').text()).toContain('Joining…');
    expect(byTestId(wrapper, 'room-name').text()).toBe(en['join.unnamedRoom']);
    expect(byTestId(wrapper, 'composer').exists()).toBe(false);
  });

  it('dismissing a pasted link forgets it and joins nothing', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'join-link-input').setValue(linkFor(fake.host, fakeId()));
    await byTestId(wrapper, 'join-submit').trigger('submit');
    await flushPromises();
    await byTestId(wrapper, 'join-dismiss').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'join-preview').exists()).toBe(false);
    expect((byTestId(wrapper, 'join-link-input').element as HTMLInputElement).value).toBe('');
    expect(fake.callsOf('joinByLink')).toEqual([]);
  });

  it('keeps the button disabled until something is pasted', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'join-submit').attributes('disabled')).toBeDefined();
    await byTestId(wrapper, 'join-link-input').setValue('x');
    expect(byTestId(wrapper, 'join-submit').attributes('disabled')).toBeUndefined();
  });

  it.each([
    ['not a link', 'https://example.com/hello', 'not-a-link'],
    ['a link for another server', `http://elsewhere.example:1999/join/${'a'.repeat(32)}/${'b'.repeat(32)}#${'k'.repeat(43)}`, 'other-server'],
  ] as const)('explains %s and stays on the list', async (_case, url, code) => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'join-link-input').setValue(url);
    await byTestId(wrapper, 'join-submit').trigger('submit');
    await flushPromises();
    expect(wrapper.find('.join [data-testid="error"]').text()).toBe(en[`error.${code}`]);
    expect(byTestId(wrapper, 'room-item').exists()).toBe(false);
    expect((byTestId(wrapper, 'join-link-input').element as HTMLInputElement).value).toBe(url);
  });

  it('opens a room already joined instead of joining again', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Already here' });
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'join-link-input').setValue(linkFor(fake.host, room.summary.id));
    await byTestId(wrapper, 'join-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('Already here');
    expect(byTestId(wrapper, 'composer').exists()).toBe(true);
  });
});

describe('a link opened in a tab (captured)', () => {
  it('waits for the unlock, then shows the preview; only Join joins', async () => {
    const fake = new FakeBackend().setUp({ phase: 'locked', passphrase: 'right passphrase' });
    const roomId = fakeId();
    const url = linkFor(fake.host, roomId);
    fake.capturedLink = url;
    fake.linkPreview = { roomName: 'Captured room', createdBy: 'Bob', approval: false, members: 7 };
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'join-preview').exists()).toBe(false);
    await byTestId(wrapper, 'unlock-passphrase').setValue('right passphrase');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();

    expect(byTestId(wrapper, 'join-preview-name').text()).toBe('Captured room');
    expect(byTestId(wrapper, 'join-preview-approval').text()).toBe(en['preview.noApproval']);
    expect(byTestId(wrapper, 'join-preview-members').text()).toContain('7');
    expect(fake.callsOf('joinByLink')).toEqual([]);
    await byTestId(wrapper, 'join-confirm').trigger('click');
    await flushPromises();
    expect(fake.callsOf('joinByLink')).toEqual([{ url }]);
    expect(byTestId(wrapper, 'join-preview').exists()).toBe(false);
    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('joining');
  });

  it('dismissing forgets the link and shows the room list', async () => {
    const fake = new FakeBackend().setUp();
    const url = linkFor(fake.host, fakeId());
    fake.capturedLink = url;
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'join-dismiss').trigger('click');
    await flushPromises();
    expect(fake.callsOf('dismissLink')).toEqual([{ url }]);
    expect(fake.callsOf('joinByLink')).toEqual([]);
    expect(byTestId(wrapper, 'join-preview').exists()).toBe(false);
    expect(byTestId(wrapper, 'join-link-input').exists()).toBe(true);
  });

  it('a preview that does not match the link is refused, and Join is not offered', async () => {
    const fake = new FakeBackend().setUp();
    fake.capturedLink = linkFor(fake.host, fakeId());
    fake.failNext('previewLink', 'preview-forged', 'forged');
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'join-preview-error').text()).toBe(en['error.preview-forged']);
    expect(byTestId(wrapper, 'join-confirm').exists()).toBe(false);
  });
});

describe('join status', () => {
  async function joining(state: JoinState, error: { code: UserErrorCode; message: string } | null = null) {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: '', myRole: 'member', hasKey: false });
    room.summary = { ...room.summary, joinState: state, joinError: error };
    return { fake, room, ...(await openRoom(fake, room.summary.id)) };
  }

  it.each<[JoinState, string]>([
    ['joining', 'Joining…'],
    ['pending-approval', 'Waiting for an admin to approve your request'],
    ['waiting-member', 'You’re in. Waiting for a member to come online to hand over the room key…'],
  ])('%s: shows “%s” instead of the chat', async (state, text) => {
    const { wrapper } = await joining(state);
    const status = byTestId(wrapper, 'join-status');
    expect(status.attributes('data-state')).toBe(state);
    expect(byTestId(wrapper, 'join-status-title').text()).toBe(text);
    expect(byTestId(wrapper, 'composer').exists()).toBe(false);
    expect(byTestId(wrapper, 'message-list').exists()).toBe(false);
    expect(byTestId(wrapper, 'join-status-back').exists()).toBe(false);
  });

  it.each<UserErrorCode>(['join-denied', 'link-expired', 'link-used-up', 'link-invalid', 'banned'])(
    'failed (%s): shows the reason and a way back',
    async (code) => {
      const { wrapper } = await joining('failed', { code, message: 'detail' });
      expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('failed');
      expect(byTestId(wrapper, 'join-status-error').text()).toBe(en[`error.${code}`]);
      await byTestId(wrapper, 'join-status-back').trigger('click');
      expect(byTestId(wrapper, 'join-status').exists()).toBe(false);
      expect(allByTestId(wrapper, 'room-item')).toHaveLength(1);
    },
  );

  it('follows pushed states until the key arrives, then shows the chat', async () => {
    const { fake, room, wrapper } = await joining('joining');
    fake.setJoinState(room.summary.id, 'pending-approval');
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('pending-approval');

    fake.setJoinState(room.summary.id, 'waiting-member');
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('waiting-member');

    fake.setJoinState(room.summary.id, null, null, 'Hiking');
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').exists()).toBe(false);
    expect(byTestId(wrapper, 'room-name').text()).toBe('Hiking');
    expect(byTestId(wrapper, 'composer').attributes('disabled')).toBeUndefined();
  });

  it('shows the state in the room list too', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: '', myRole: 'member', hasKey: false });
    room.summary = { ...room.summary, joinState: 'pending-approval' };
    fake.addRoom({ name: 'Normal' });
    const { wrapper } = await mountSidePanel(fake);
    const items = allByTestId(wrapper, 'room-item');
    expect(items[0]?.find('[data-testid="room-join-state"]').text()).toBe(en['join.short.pending-approval']);
    expect(items[0]?.find('.name').text()).toBe(en['join.unnamedRoom']);
    expect(items[1]?.find('[data-testid="room-join-state"]').exists()).toBe(false);
  });

  it('renders in Traditional Chinese', async () => {
    setLocale('zh-TW');
    const { wrapper } = await joining('pending-approval');
    expect(byTestId(wrapper, 'join-status-title').text()).toBe(zhTW['join.state.pending-approval']);
  });
});

describe('opening the room named in the address', () => {
  it('reads only a room id from ?room=', () => {
    expect(roomFromSearch(`?room=${'a'.repeat(32)}`)).toBe('a'.repeat(32));
    expect(roomFromSearch('?room=nope')).toBeNull();
    expect(roomFromSearch('')).toBeNull();
  });

  it('opens the room once it appears in the list, and only once', async () => {
    const fake = new FakeBackend().setUp({ phase: 'locked', passphrase: 'right passphrase' });
    const roomId = fakeId();
    window.history.replaceState(null, '', `/sidepanel.html?room=${roomId}`);
    const { wrapper } = await mountSidePanel(fake);

    await byTestId(wrapper, 'unlock-passphrase').setValue('right passphrase');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'room-item').exists()).toBe(false);

    // The room appears (joined in another window, say).
    const room = fake.addRoom({ id: roomId, name: '', myRole: 'member', hasKey: false });
    room.summary = { ...room.summary, joinState: 'joining' };
    fake.emit({ type: 'state' });
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('joining');

    fake.setJoinState(roomId, 'failed', { code: 'link-expired', message: 'expired' });
    await flushPromises();
    await byTestId(wrapper, 'join-status-back').trigger('click');
    fake.emit({ type: 'state' });
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').exists()).toBe(false);
    expect(byTestId(wrapper, 'room-item').exists()).toBe(true);
  });
});

describe('join requests', () => {
  const carol = { name: 'Carol', fingerprint: fakeFingerprint('c'), linkLabel: 'Hiking group' };

  it('shows each pending request with name, short contact code, link label and time', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, carol);
    fake.askToJoin(room.summary.id, { name: 'Dave', fingerprint: fakeFingerprint('d'), linkLabel: null });
    const { wrapper } = await openRoom(fake, room.summary.id);

    const requests = allByTestId(wrapper, 'join-request');
    expect(requests).toHaveLength(2);
    expect(requests[0]?.text()).toContain('Carol');
    expect(requests[0]?.text()).toContain('CCCC CCCC…');
    expect(requests[0]?.find('code').attributes('title')).toBe(contactCodeOf(carol.fingerprint));
    expect(requests[0]?.text()).toContain('via “Hiking group”');
    expect(requests[0]?.find('time').exists()).toBe(true);
    expect(requests[1]?.text()).toContain(en['requests.viaUnlabelled']);
    // Visible without opening any panel, next to the chat.
    expect(byTestId(wrapper, 'members-panel').exists()).toBe(false);
    expect(byTestId(wrapper, 'composer').exists()).toBe(true);
  });

  it.each([
    ['join-approve', 'approveRequest'],
    ['join-deny', 'denyRequest'],
    ['join-ban', 'banRequester'],
  ] as const)('%s calls %s and removes the request', async (button, request) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, carol);
    const { wrapper, store } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, button).trigger('click');
    await flushPromises();
    expect(fake.callsOf(request)).toEqual([{ roomId: room.summary.id, fingerprint: carol.fingerprint }]);
    expect(byTestId(wrapper, 'join-request').exists()).toBe(false);
    expect(store.rooms.find((r) => r.id === room.summary.id)?.requests).toBe(0);
    if (button === 'join-approve') expect(store.roomDetail?.members.map((m) => m.name)).toContain('Carol');
  });

  it('keeps the request and shows why when deciding fails', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, carol);
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.failNext('approveRequest', 'offline');
    await byTestId(wrapper, 'join-approve').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'join-request').exists()).toBe(true);
    expect(wrapper.find('[data-testid="join-requests"] [data-testid="error"] span').text()).toBe(en['error.offline']);
  });

  it('disables the buttons while a decision is on its way', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, carol);
    const { wrapper } = await openRoom(fake, room.summary.id);
    const release = fake.hold('approveRequest');
    await byTestId(wrapper, 'join-approve').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'join-deny').attributes('disabled')).toBeDefined();
    release();
    await flushPromises();
    expect(byTestId(wrapper, 'join-request').exists()).toBe(false);
  });

  it('appears in the open room when a join-request event is pushed', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'join-request').exists()).toBe(false);
    const before = fake.callsOf('getRoom').length;
    fake.askToJoin(room.summary.id, carol);
    await flushPromises();
    expect(fake.callsOf('getRoom').length).toBeGreaterThan(before);
    expect(byTestId(wrapper, 'join-request').text()).toContain('Carol');
  });

  it('badges the room in the room list', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.addRoom({ name: 'Quiet' });
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'room-requests').exists()).toBe(false);
    fake.askToJoin(room.summary.id, carol);
    fake.askToJoin(room.summary.id, { name: 'Dave', fingerprint: fakeFingerprint('d') });
    await flushPromises();
    const items = allByTestId(wrapper, 'room-item');
    expect(items[0]?.find('[data-testid="room-requests"]').text()).toBe('2 to approve');
    expect(items[1]?.find('[data-testid="room-requests"]').exists()).toBe(false);
  });

  it('counts requests in the popup', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, carol);
    const pinia = createPinia();
    await useAppStore(pinia).init(fake);
    const wrapper = mount(PopupApp, { global: { plugins: [pinia] } });
    mounted.push(wrapper);
    await flushPromises();
    expect(byTestId(wrapper, 'popup-room-requests').text()).toBe('1 to approve');
    expect(byTestId(wrapper, 'popup-room-requests').attributes('aria-label')).toBe('Join requests: 1');
  });
});
