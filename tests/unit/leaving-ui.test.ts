/**
 * Leaving a room (issue 13, bug 3), through the side panel with the fake background: leaving ends on
 * the room list with no error.
 */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import App from '@/entrypoints/sidepanel/App.vue';
import en from '@/locales/en';
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
