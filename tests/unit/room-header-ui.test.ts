/** The room header in a crowded, narrow panel: the name gives way (ellipsis), the connection state never does. */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { setLocale } from '@/utils/i18n';
import { FakeBackend } from './support/fake-backend';
import { styleOf } from './support/sfc-style';
import { sidePanelMounter } from './support/side-panel';

const { mounted, mountSidePanel } = sidePanelMounter();

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);

const LONG_NAME = 'The weekend hiking and climbing crew of the northern valleys, 2026 season';
const HEADER = 'components/RoomHeader.vue';

/** An admin's room with a long name and the disappearing timer on: every button and badge in the header. */
async function crowdedRoom() {
  const fake = new FakeBackend().setUp();
  const room = fake.addRoom({ name: LONG_NAME, mode: 'backup' });
  fake.changeSettings(room.summary.id, { ...room.settings, disappearMs: 86_400_000 }, 'Alice');
  const panel = await mountSidePanel(fake);
  await panel.store.openRoom(room.summary.id);
  await flushPromises();
  return { fake, room, ...panel };
}

let onLine = true;

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
  onLine = true;
  vi.spyOn(navigator, 'onLine', 'get').mockImplementation(() => onLine);
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
  vi.restoreAllMocks();
});

describe('room header with a long name and every button', () => {
  it('shows the whole name on hover, and the state as a dot and a word on its own line', async () => {
    const { wrapper } = await crowdedRoom();
    for (const testId of ['invite-open', 'members-open', 'room-mute', 'room-settings-open', 'room-timer']) {
      expect(byTestId(wrapper, testId).exists(), testId).toBe(true);
    }
    const name = byTestId(wrapper, 'room-name');
    expect(name.text()).toBe(LONG_NAME);
    expect(name.attributes('title')).toBe(LONG_NAME);

    const state = byTestId(wrapper, 'room-connection');
    expect(state.find('.connection-text').text()).toBe(en['chat.connected']);
    expect(state.classes()).toContain('online');
    expect(state.attributes('data-state')).toBe('connected');
    expect(state.find('.dot').exists()).toBe(true);
    // Its own line: the meta row is the header's own grid item, not squeezed beside the name.
    const meta = state.element.parentElement;
    expect(meta?.classList.contains('meta')).toBe(true);
    expect(meta?.parentElement).toBe(wrapper.find('header.header').element);
    expect(name.element.contains(state.element)).toBe(false);
  });

  it('lays out so: name cut with an ellipsis, the state line as wide as name and buttons, the state never shrunk or hidden', () => {
    expect(styleOf(HEADER, '.header')).toMatchObject({
      display: 'grid',
      'grid-template-columns': 'auto minmax(0, 1fr) auto',
      'grid-template-areas': "'back name actions' '. meta meta'",
    });
    expect(styleOf(HEADER, 'h1')).toMatchObject({ 'grid-area': 'name', 'min-width': '0', 'text-overflow': 'ellipsis', 'white-space': 'nowrap' });
    expect(styleOf(HEADER, '.meta')).toMatchObject({ 'grid-area': 'meta', 'flex-wrap': 'wrap' });
    expect(styleOf(HEADER, '.connection')).toMatchObject({ flex: 'none', 'white-space': 'nowrap' });
    // Nothing hides the word in a narrow panel any more.
    expect(styleOf(HEADER, '.connection-text')).toEqual({});
    expect(styleOf(HEADER, '.crowded .connection-text')).toEqual({});
  });

  it('says Reconnecting… while the background is trying again, Offline when the browser is not online', async () => {
    const { wrapper, fake, room } = await crowdedRoom();
    const state = () => byTestId(wrapper, 'room-connection');

    fake.setConnection(room.summary.id, 'reconnecting');
    await flushPromises();
    expect(state().attributes('data-state')).toBe('reconnecting');
    expect(state().text()).toBe(en['chat.reconnecting']);
    expect(state().attributes('title')).toBe(en['chat.reconnectingHint']);
    expect(state().classes()).not.toContain('online');
    expect(state().find('.dot').classes()).toContain('reconnecting');
    expect(byTestId(wrapper, 'room-connection-retry').exists()).toBe(false);

    // When the background says when it tries next, the header counts down to it.
    fake.setConnection(room.summary.id, 'reconnecting', Date.now() + 12_000);
    await flushPromises();
    const retry = byTestId(wrapper, 'room-connection-retry');
    expect(retry.text()).toMatch(/^next try in 1[23] s$/u);
    setLocale('zh-TW');
    await flushPromises();
    expect(byTestId(wrapper, 'room-connection-retry').text()).toMatch(/^1[23] 秒後重試$/u);
    setLocale('en');

    onLine = false;
    window.dispatchEvent(new Event('offline'));
    await flushPromises();
    expect(state().attributes('data-state')).toBe('offline');
    expect(state().text()).toBe(en['chat.offline']);

    onLine = true;
    window.dispatchEvent(new Event('online'));
    fake.setConnected(room.summary.id, true);
    await flushPromises();
    expect(state().text()).toBe(en['chat.connected']);
  });

  it('says Offline when the background has stopped trying (the server refused the connection), also in the room list', async () => {
    const { wrapper, fake, room, store } = await crowdedRoom();
    fake.setConnection(room.summary.id, 'offline');
    await flushPromises();
    const state = byTestId(wrapper, 'room-connection');
    expect(state.attributes('data-state')).toBe('offline');
    expect(state.text()).toBe(en['chat.offline']);
    expect(state.attributes('title')).toBe(en['chat.offlineHint']);

    store.closeRoom();
    await flushPromises();
    const dot = byTestId(wrapper, 'room-item-connection');
    expect(dot.attributes('data-state')).toBe('offline');
    expect(dot.attributes('aria-label')).toBe(en['chat.offline']);
    fake.setConnection(room.summary.id, 'reconnecting');
    await flushPromises();
    expect(byTestId(wrapper, 'room-item-connection').attributes('data-state')).toBe('reconnecting');
    setLocale('zh-TW');
    await flushPromises();
    expect(byTestId(wrapper, 'room-item-connection').attributes('title')).toBe(zhTW['chat.reconnecting']);
  });

  it('says Offline once we are no longer in the room', async () => {
    const { wrapper, fake, room } = await crowdedRoom();
    fake.removeMe(room.summary.id);
    await flushPromises();
    expect(byTestId(wrapper, 'room-connection').attributes('data-state')).toBe('offline');
  });

  it('labels the icon buttons in Traditional Chinese', async () => {
    setLocale('zh-TW');
    const { wrapper } = await crowdedRoom();
    expect(byTestId(wrapper, 'invite-open').text()).toBe(zhTW['invite.link.open']);
    expect(byTestId(wrapper, 'members-open').attributes('aria-label')).toBe(zhTW['members.toggle'].replace('{count}', '1'));
    expect(byTestId(wrapper, 'room-connection').text()).toBe(zhTW['chat.connected']);
  });
});
