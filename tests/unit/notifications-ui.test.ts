/** The notification settings in the side panel: the per-room mute toggle in the room header, the text-preview toggle by the server address. */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { setLocale, t } from '@/utils/i18n';
import { openSettings, sidePanelMounter } from './support/side-panel';
import { FakeBackend } from './support/fake-backend';

const { mounted, mountSidePanel } = sidePanelMounter();

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

describe('muting a room', () => {
  it('the header toggle mutes and unmutes the open room, and says which it is', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper, store } = await mountSidePanel(fake);
    await store.openRoom(room.summary.id);
    await flushPromises();

    const toggle = () => byTestId(wrapper, 'room-mute');
    expect(toggle().attributes('aria-pressed')).toBe('false');
    expect(toggle().attributes('aria-label')).toBe(t('notify.mute'));

    await toggle().trigger('click');
    await flushPromises();
    expect(fake.callsOf('setRoomMuted')).toEqual([{ roomId: room.summary.id, muted: true }]);
    expect(toggle().attributes('aria-pressed')).toBe('true');
    expect(toggle().attributes('aria-label')).toBe(t('notify.unmute'));
    expect(store.rooms.find((r) => r.id === room.summary.id)?.muted).toBe(true);

    await toggle().trigger('click');
    await flushPromises();
    expect(fake.callsOf('setRoomMuted')).toEqual([
      { roomId: room.summary.id, muted: true },
      { roomId: room.summary.id, muted: false },
    ]);
    expect(toggle().attributes('aria-pressed')).toBe('false');
  });

  it('a muted room shows as muted when opened', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    room.summary = { ...room.summary, muted: true };
    const { wrapper, store } = await mountSidePanel(fake);
    await store.openRoom(room.summary.id);
    await flushPromises();
    expect(byTestId(wrapper, 'room-mute').attributes('aria-pressed')).toBe('true');
  });
});

describe('message text in notifications', () => {
  it('is off by default; the checkbox by the server address turns it on and off', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, store } = await mountSidePanel(fake);
    await openSettings(wrapper);
    const box = () => byTestId(wrapper, 'settings-notification-previews');
    expect((box().element as HTMLInputElement).checked).toBe(false);
    expect(wrapper.text()).toContain(t('settings.notificationPreviews'));

    await box().setValue(true);
    await flushPromises();
    expect(fake.callsOf('setNotificationPreviews')).toEqual([{ enabled: true }]);
    expect(store.notificationPreviews).toBe(true);
    expect((box().element as HTMLInputElement).checked).toBe(true);

    await box().setValue(false);
    await flushPromises();
    expect(fake.callsOf('setNotificationPreviews')).toEqual([{ enabled: true }, { enabled: false }]);
    expect(store.notificationPreviews).toBe(false);
  });

  it('a failed change leaves the box as stored and says why', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, store } = await mountSidePanel(fake);
    await openSettings(wrapper);
    fake.failNext('setNotificationPreviews', 'internal');
    const box = () => byTestId(wrapper, 'settings-notification-previews');
    await box().setValue(true);
    await flushPromises();
    expect(store.notificationPreviews).toBe(false);
    expect((box().element as HTMLInputElement).checked).toBe(false);
    expect(wrapper.text()).toContain(t('error.internal'));
  });

  it('shows the stored setting', async () => {
    const fake = new FakeBackend().setUp();
    fake.notificationPreviews = true;
    const { wrapper } = await mountSidePanel(fake);
    await openSettings(wrapper);
    expect((byTestId(wrapper, 'settings-notification-previews').element as HTMLInputElement).checked).toBe(true);
  });
});

describe('telling the background which room is in view', () => {
  it('reports the open room while the page is visible and focused, and none otherwise', async () => {
    const focused = vi.spyOn(document, 'hasFocus').mockReturnValue(true);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper, store } = await mountSidePanel(fake);
    expect(fake.viewing.at(-1) ?? null).toBeNull();

    await store.openRoom(room.summary.id);
    await flushPromises();
    expect(fake.viewing.at(-1)).toBe(room.summary.id);

    focused.mockReturnValue(false);
    window.dispatchEvent(new Event('blur'));
    await flushPromises();
    expect(fake.viewing.at(-1)).toBeNull();

    focused.mockReturnValue(true);
    window.dispatchEvent(new Event('focus'));
    await flushPromises();
    expect(fake.viewing.at(-1)).toBe(room.summary.id);

    await byTestId(wrapper, 'room-back').trigger('click');
    await flushPromises();
    expect(fake.viewing.at(-1)).toBeNull();

    await store.openRoom(room.summary.id);
    await flushPromises();
    expect(fake.viewing.at(-1)).toBe(room.summary.id);
    wrapper.unmount();
    mounted.splice(mounted.indexOf(wrapper), 1);
    expect(fake.viewing.at(-1)).toBeNull();
    focused.mockRestore();
  });
});
