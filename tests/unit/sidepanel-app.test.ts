import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import en from '@/locales/en';
import { setLocale } from '@/utils/i18n';
import { openRoomRequest } from '@/utils/storage-items';
import { openSettings, sidePanelMounter } from './support/side-panel';
import { FakeBackend, fakeFingerprint } from './support/fake-backend';

const { mounted, mountSidePanel } = sidePanelMounter();

function byTestId(wrapper: VueWrapper, testId: string) {
  return wrapper.find(`[data-testid="${testId}"]`);
}

function allByTestId(wrapper: VueWrapper, testId: string) {
  return wrapper.findAll(`[data-testid="${testId}"]`);
}

async function fillOnboarding(wrapper: VueWrapper, name: string, passphrase: string, confirmation: string) {
  await byTestId(wrapper, 'onboard-name').setValue(name);
  const [first, second] = allByTestId(wrapper, 'onboard-passphrase');
  await first?.setValue(passphrase);
  await second?.setValue(confirmation);
}

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

describe('onboarding', () => {
  it('shows the form with every passphrase field under the same test id and the host prefilled', async () => {
    const fake = new FakeBackend();
    fake.host = 'party.example.com';
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'onboard-name').exists()).toBe(true);
    expect(allByTestId(wrapper, 'onboard-passphrase')).toHaveLength(2);
    expect((byTestId(wrapper, 'onboard-host').element as HTMLInputElement).value).toBe('party.example.com');
  });

  it.each([
    ['an empty name', '  ', 'long enough', 'long enough', en['onboard.nameRequired']],
    ['a short passphrase', 'Alice', 'short', 'short', 'Use a passphrase of at least 8 characters.'],
    ['a mismatched confirmation', 'Alice', 'long enough', 'long enougH', en['onboard.passphraseMismatch']],
  ])('rejects %s without calling the background', async (_case, name, passphrase, confirmation, message) => {
    const fake = new FakeBackend();
    const { wrapper } = await mountSidePanel(fake);
    await fillOnboarding(wrapper, name, passphrase, confirmation);
    await byTestId(wrapper, 'onboard-submit').trigger('click');
    await flushPromises();
    expect(wrapper.text()).toContain(message);
    expect(fake.callsOf('onboard')).toEqual([]);
  });

  it('creates the identity, shows a busy state meanwhile, then the room list', async () => {
    const fake = new FakeBackend();
    const { wrapper } = await mountSidePanel(fake);
    await fillOnboarding(wrapper, ' Alice ', 'long enough', 'long enough');
    await byTestId(wrapper, 'onboard-host').setValue('chat.example.com');
    const release = fake.hold('onboard');
    await byTestId(wrapper, 'onboard-submit').trigger('submit');
    await flushPromises();

    expect(byTestId(wrapper, 'onboard-submit').attributes('disabled')).toBeDefined();
    expect(wrapper.text()).toContain(en['onboard.busy']);

    release();
    await flushPromises();
    expect(fake.callsOf('onboard')).toEqual([{ name: 'Alice', passphrase: 'long enough', host: 'chat.example.com' }]);
    expect(byTestId(wrapper, 'onboard-name').exists()).toBe(false);
    expect(byTestId(wrapper, 'room-create-name').exists()).toBe(true);
    await openSettings(wrapper);
    expect(byTestId(wrapper, 'contact-code').text()).toBe(fake.fingerprint.toUpperCase().match(/.{4}/g)?.join(' '));
  });
});

describe('unlock', () => {
  it('shows the wrong-passphrase text, then unlocks', async () => {
    const fake = new FakeBackend().setUp({ passphrase: 'right passphrase', phase: 'locked' });
    const { wrapper } = await mountSidePanel(fake);

    await byTestId(wrapper, 'unlock-passphrase').setValue('nope nope');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain(en['error.wrong-passphrase']);

    await byTestId(wrapper, 'unlock-passphrase').setValue('right passphrase');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'unlock-passphrase').exists()).toBe(false);
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(true);
  });

  it('locks again from the settings view, and unlocking leads back to the room list', async () => {
    const fake = new FakeBackend().setUp({ passphrase: 'right passphrase' });
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'lock').exists()).toBe(false);
    await openSettings(wrapper);
    await byTestId(wrapper, 'lock').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'unlock-passphrase').exists()).toBe(true);

    await byTestId(wrapper, 'unlock-passphrase').setValue('right passphrase');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(true);
    expect(byTestId(wrapper, 'settings-view').exists()).toBe(false);
  });
});

describe('room list', () => {
  it('shows each room with its mode, unread count and last message, and opens it on click', async () => {
    const fake = new FakeBackend().setUp();
    fake.addRoom({ name: 'Quiet', mode: 'ephemeral' });
    const busy = fake.addRoom({ name: 'Busy', mode: 'backup' });
    fake.receive(busy.summary.id, { fromName: 'Bob', text: 'are you there?' });
    fake.receive(busy.summary.id, { fromName: 'Bob', text: 'hello?' });
    const { wrapper } = await mountSidePanel(fake);

    const items = allByTestId(wrapper, 'room-item');
    expect(items.map((i) => i.find('.name').text())).toEqual(['Quiet', 'Busy']);
    expect(items[1]?.text()).toContain('Backup');
    expect(items[1]?.text()).toContain('hello?');
    expect(items[1]?.find('[data-testid="room-unread"]').text()).toBe('2');
    expect(items[0]?.find('[data-testid="room-unread"]').exists()).toBe(false);

    await items[1]?.trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('Busy');
    expect(allByTestId(wrapper, 'message').map((m) => m.text())).toEqual([
      expect.stringContaining('are you there?'),
      expect.stringContaining('hello?'),
    ]);
    expect(fake.callsOf('markRead')).toEqual([{ roomId: busy.summary.id }]);

    await byTestId(wrapper, 'room-back').trigger('click');
    expect(allByTestId(wrapper, 'room-item')).toHaveLength(2);
  });

  it.each(['ephemeral', 'backup'] as const)('creates a %s room and opens it', async (mode) => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    const select = byTestId(wrapper, 'room-create-mode');
    expect(select.element.tagName).toBe('SELECT');
    expect(select.findAll('option').map((o) => o.attributes('value'))).toEqual(['ephemeral', 'backup']);

    await byTestId(wrapper, 'room-create-name').setValue('Weekend plans');
    await select.setValue(mode);
    await byTestId(wrapper, 'room-create-submit').trigger('submit');
    await flushPromises();

    expect(fake.callsOf('createRoom')).toEqual([{ name: 'Weekend plans', mode }]);
    expect(byTestId(wrapper, 'room-name').text()).toBe('Weekend plans');
    expect(byTestId(wrapper, 'composer').exists()).toBe(true);
  });

  it('copies the contact code', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    const writeText = vi.spyOn(navigator.clipboard, 'writeText').mockResolvedValue();
    await openSettings(wrapper);
    await byTestId(wrapper, 'contact-copy').trigger('click');
    await flushPromises();
    expect(writeText).toHaveBeenCalledWith(byTestId(wrapper, 'contact-code').text());
    expect(byTestId(wrapper, 'contact-copy').text()).toBe('Copied');
  });

  it('saves a new server address', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    await openSettings(wrapper);
    await byTestId(wrapper, 'settings-host').setValue('relay.example.org');
    await byTestId(wrapper, 'settings-host-save').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('setHost')).toEqual([{ host: 'relay.example.org' }]);
    expect(wrapper.text()).toContain('Saved');
  });
});

describe('room view', () => {
  async function openRoom(fake: FakeBackend, roomId: string) {
    const mountedPanel = await mountSidePanel(fake);
    await mountedPanel.store.openRoom(roomId);
    await flushPromises();
    return mountedPanel;
  }

  it('sends a message with the button: it appears with status, then turns sent', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    const send = byTestId(wrapper, 'send');
    expect(send.attributes('disabled')).toBeDefined();

    await byTestId(wrapper, 'composer').setValue('hello team');
    expect(send.attributes('disabled')).toBeUndefined();
    await send.trigger('click');
    await flushPromises();

    const messages = allByTestId(wrapper, 'message');
    expect(messages).toHaveLength(1);
    expect(messages[0]?.text()).toContain('hello team');
    expect(messages[0]?.text()).toContain('Alice');
    expect(messages[0]?.text()).toContain('Sending…');
    expect(messages[0]?.classes()).toContain('mine');
    expect((byTestId(wrapper, 'composer').element as HTMLTextAreaElement).value).toBe('');

    fake.deliverPending();
    await flushPromises();
    expect(allByTestId(wrapper, 'message')).toHaveLength(1);
    expect(allByTestId(wrapper, 'message')[0]?.text()).toContain('Sent');
  });

  it.each([
    ['Enter sends', { shiftKey: false }, 1],
    ['Shift+Enter does not send', { shiftKey: true }, 0],
    ['Enter while composing does not send', { isComposing: true }, 0],
  ])('%s', async (_case, modifiers, sent) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    const composer = byTestId(wrapper, 'composer');
    await composer.setValue('line one');
    await composer.trigger('keydown', { key: 'Enter', ...modifiers });
    await flushPromises();
    expect(fake.callsOf('sendMessage')).toHaveLength(sent);
    expect(allByTestId(wrapper, 'message')).toHaveLength(sent);
  });

  it('keeps the text and shows the error when sending fails', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.failNext('sendMessage', 'offline');
    await byTestId(wrapper, 'composer').setValue('do not lose me');
    await byTestId(wrapper, 'send').trigger('click');
    await flushPromises();
    expect((byTestId(wrapper, 'composer').element as HTMLTextAreaElement).value).toBe('do not lose me');
    expect(wrapper.text()).toContain(en['error.offline']);
    expect(allByTestId(wrapper, 'message')).toHaveLength(0);
  });

  it('shows others’ messages on the left with sender and time', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    const received = fake.receive(room.summary.id, { fromName: 'Bob', text: 'hi from Bob' });
    await flushPromises();
    const message = allByTestId(wrapper, 'message')[0];
    expect(message?.classes()).not.toContain('mine');
    expect(message?.text()).toContain('Bob');
    expect(message?.text()).toContain('hi from Bob');
    expect(message?.find('time').attributes('datetime')).toBe(new Date(received.ts).toISOString());
  });

  it('waits for the room key instead of offering the composer', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Invited', hasKey: false, myRole: 'member' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(wrapper.text()).toContain('Waiting for the room key…');
    expect(byTestId(wrapper, 'composer').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'send').attributes('disabled')).toBeDefined();
  });

  it('lists members with role, online state and (you)', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [{ name: 'Bob', fingerprint: fakeFingerprint('b') }] });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(allByTestId(wrapper, 'member')).toHaveLength(0);
    await byTestId(wrapper, 'members-open').trigger('click');
    const members = allByTestId(wrapper, 'member');
    expect(members.map((m) => m.text())).toEqual([
      expect.stringMatching(/Alice.*\(you\).*Admin/),
      expect.stringMatching(/^Bob.*Member/),
    ]);
  });

  it('flags a member no admin signed in', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({
      name: 'Team',
      others: [
        { name: 'Bob', fingerprint: fakeFingerprint('b') },
        { name: 'Mallory', fingerprint: fakeFingerprint('d'), verified: false },
      ],
    });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    const flagged = allByTestId(wrapper, 'member').filter((m) => m.find('[data-testid="member-unverified"]').exists());
    expect(flagged.map((m) => m.find('.name').text())).toEqual(['Mallory']);
  });

  it.each([
    ['admin', true],
    ['member', false],
  ] as const)('as %s the invite form is shown: %s', async (myRole, shown) => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    expect(byTestId(wrapper, 'invite-contact-input').exists()).toBe(shown);
    expect(byTestId(wrapper, 'invite-contact-submit').exists()).toBe(shown);
  });

  it('invites by contact code and adds the member', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const code = fake.addContact({ name: 'Carol', fingerprint: fakeFingerprint('c') });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    await byTestId(wrapper, 'invite-contact-input').setValue(code);
    await byTestId(wrapper, 'invite-contact-submit').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('inviteContact')).toEqual([{ roomId: room.summary.id, code }]);
    expect(wrapper.text()).toContain('Carol was added to the room.');
    expect(allByTestId(wrapper, 'member')).toHaveLength(2);
    expect((byTestId(wrapper, 'invite-contact-input').element as HTMLInputElement).value).toBe('');
  });

  it('shows the translated error when the contact code is unknown', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    await byTestId(wrapper, 'invite-contact-input').setValue('0000 1111');
    await byTestId(wrapper, 'invite-contact-submit').trigger('submit');
    await flushPromises();
    expect(wrapper.find('.invite [data-testid="error"]').text()).toBe(en['error.contact-not-found']);
  });

  it('renders in Traditional Chinese when the locale is zh-TW', async () => {
    setLocale('zh-TW');
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', hasKey: false });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(wrapper.text()).toContain('正在等待聊天室金鑰');
    expect(byTestId(wrapper, 'send').text()).toBe('送出');
  });
});

describe('openRoomRequest', () => {
  it('opens the requested room on start and clears the request', async () => {
    const fake = new FakeBackend().setUp();
    fake.addRoom({ name: 'First' });
    const wanted = fake.addRoom({ name: 'From popup' });
    await openRoomRequest.setValue(wanted.summary.id);
    const { wrapper } = await mountSidePanel(fake);
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('From popup');
    expect(await openRoomRequest.getValue()).toBeNull();
  });

  it('opens a room requested while the panel is open', async () => {
    const fake = new FakeBackend().setUp();
    const wanted = fake.addRoom({ name: 'Later' });
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'room-name').exists()).toBe(false);
    await openRoomRequest.setValue(wanted.summary.id);
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('Later');
  });

  it('waits for unlock before opening the requested room', async () => {
    const fake = new FakeBackend().setUp({ phase: 'locked', passphrase: 'right passphrase' });
    const wanted = fake.addRoom({ name: 'After unlock' });
    await openRoomRequest.setValue(wanted.summary.id);
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'unlock-passphrase').setValue('right passphrase');
    await byTestId(wrapper, 'unlock-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('After unlock');
  });
});
