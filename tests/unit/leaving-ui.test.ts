/**
 * Leaving a room and being removed from one (issue 13, bugs 3 and 4), through the side panel with the
 * fake background: leaving ends on the room list with no error, and a removed member sees only the
 * removed state (history readable, composer disabled with the reason, a way to remove the room).
 */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import App from '@/entrypoints/sidepanel/App.vue';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { useAppStore } from '@/stores/app';
import { setLocale } from '@/utils/i18n';
import { FakeBackend, fakeFingerprint } from './support/fake-backend';

const mounted: VueWrapper[] = [];

async function openRoomInPanel(fake: FakeBackend, roomId: string) {
  const pinia = createPinia();
  const store = useAppStore(pinia);
  await store.init(fake);
  const wrapper = mount(App, { global: { plugins: [pinia] }, attachTo: document.body });
  mounted.push(wrapper);
  await store.openRoom(roomId);
  await flushPromises();
  return { wrapper, store };
}

function byTestId(wrapper: VueWrapper, testId: string) {
  return wrapper.find(`[data-testid="${testId}"]`);
}

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
  vi.spyOn(window, 'confirm').mockReturnValue(true);
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
  vi.restoreAllMocks();
});

describe('leaving a room', () => {
  const bob = { name: 'Bob', fingerprint: fakeFingerprint('b') };

  it('returns to the room list without an error, even when the background’s events arrive before its answer', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole: 'member', others: [bob] });
    fake.addRoom({ name: 'Other' });
    const { wrapper, store } = await openRoomInPanel(fake, room.summary.id);

    await byTestId(wrapper, 'members-open').trigger('click');
    // The background leaves, forgets the room and tells every page (events) before this page hears back.
    const release = fake.holdReply('leaveRoom');
    await byTestId(wrapper, 'room-leave').trigger('click');
    await flushPromises();
    expect(fake.callsOf('leaveRoom')).toEqual([{ roomId: room.summary.id }]);
    release();
    await flushPromises();

    expect(store.currentRoomId).toBeNull();
    expect(wrapper.findAll('[data-testid="room-item"]').map((item) => item.text())).toEqual([expect.stringContaining('Other')]);
    expect(byTestId(wrapper, 'error').exists()).toBe(false);
    expect(wrapper.text()).not.toContain(en['error.no-room']);
    expect(store.lastError).toBeNull();
  });

  it('returns to the room list without an error when the answer comes first', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole: 'member', others: [bob] });
    const { wrapper, store } = await openRoomInPanel(fake, room.summary.id);

    expect(await store.leaveRoom(room.summary.id)).toBe(true);
    await flushPromises();

    expect(store.currentRoomId).toBeNull();
    expect(wrapper.findAll('[data-testid="room-item"]')).toHaveLength(0);
    expect(byTestId(wrapper, 'error').exists()).toBe(false);
  });

  it('shows no error when a re-read of the room started before leaving is answered after it', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole: 'member', others: [bob] });
    const { wrapper, store } = await openRoomInPanel(fake, room.summary.id);
    const releaseGetRoom = fake.hold('getRoom');
    fake.emit({ type: 'room', roomId: room.summary.id });
    await flushPromises();
    expect(fake.callsOf('getRoom')).toHaveLength(2);

    expect(await store.leaveRoom(room.summary.id)).toBe(true);
    releaseGetRoom();
    await flushPromises();

    expect(store.currentRoomId).toBeNull();
    expect(byTestId(wrapper, 'error').exists()).toBe(false);
    expect(store.lastError).toBeNull();
  });

  it('stays in the room and says why when leaving fails', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', myRole: 'member', others: [bob] });
    const { wrapper, store } = await openRoomInPanel(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    fake.failNext('leaveRoom', 'offline');
    await byTestId(wrapper, 'room-leave').trigger('click');
    await flushPromises();

    expect(store.currentRoomId).toBe(room.summary.id);
    expect(wrapper.text()).toContain(en['error.offline']);
  });
});

describe('removed from a room', () => {
  async function removedRoom() {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', mode: 'backup', myRole: 'member', others: [{ name: 'Bob', fingerprint: fakeFingerprint('b') }] });
    const roomId = room.summary.id;
    const { wrapper, store } = await openRoomInPanel(fake, roomId);
    fake.receive(roomId, { fromName: 'Bob', text: 'said before the removal' });
    fake.removeMe(roomId);
    await flushPromises();
    return { fake, roomId, wrapper, store };
  }

  it('shows only the removed state: history readable, composer disabled with the reason, no waiting for a key', async () => {
    const { wrapper } = await removedRoom();

    expect(byTestId(wrapper, 'room-removed').text()).toContain(en['error.removed']);
    expect(wrapper.findAll('[data-testid="message"]').map((m) => m.text())).toEqual([expect.stringContaining('said before the removal')]);
    expect(byTestId(wrapper, 'waiting-for-key').exists()).toBe(false);
    expect(wrapper.text()).not.toContain(en['chat.waitingForKey']);
    expect(byTestId(wrapper, 'composer').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'send').attributes('disabled')).toBeDefined();
    expect(byTestId(wrapper, 'composer-disabled').text()).toBe(en['chat.removedComposer']);
    // Earlier messages will never come from the server again: no promise that they load once connected.
    expect(byTestId(wrapper, 'older-offline').exists()).toBe(false);
    expect(byTestId(wrapper, 'invite-open').exists()).toBe(false);
  });

  it('removes the room from this browser from the removed notice, back to the list without an error', async () => {
    const { fake, roomId, wrapper, store } = await removedRoom();

    await byTestId(wrapper, 'room-removed-forget').trigger('click');
    await flushPromises();

    expect(fake.callsOf('forgetRoom')).toEqual([{ roomId }]);
    expect(store.currentRoomId).toBeNull();
    expect(wrapper.findAll('[data-testid="room-item"]')).toHaveLength(0);
    expect(byTestId(wrapper, 'error').exists()).toBe(false);
  });

  it('offers no Leave in the members panel (there is nothing left to leave)', async () => {
    const { wrapper } = await removedRoom();
    await byTestId(wrapper, 'members-open').trigger('click');
    expect(byTestId(wrapper, 'members-panel').exists()).toBe(true);
    expect(byTestId(wrapper, 'room-leave').exists()).toBe(false);
  });

  it('is translated', async () => {
    setLocale('zh-TW');
    const { wrapper } = await removedRoom();
    expect(byTestId(wrapper, 'room-removed').text()).toContain(zhTW['error.removed']);
    expect(byTestId(wrapper, 'composer-disabled').text()).toBe(zhTW['chat.removedComposer']);
    expect(byTestId(wrapper, 'room-removed-forget').text()).toBe(zhTW['room.removedForget']);
  });
});
