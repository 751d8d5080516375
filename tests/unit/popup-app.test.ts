import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import App from '@/entrypoints/popup/App.vue';
import en from '@/locales/en';
import { useAppStore } from '@/stores/app';
import { setLocale } from '@/utils/i18n';
import type { Phase } from '@/utils/protocol-map';
import { openRoomRequest } from '@/utils/storage-items';
import { FakeBackend, fakeFingerprint } from './support/fake-backend';
import { styleOf } from './support/sfc-style';

let windowId: number | undefined;
const mounted: VueWrapper[] = [];

async function mountPopup(fake: FakeBackend) {
  const pinia = createPinia();
  await useAppStore(pinia).init(fake);
  const wrapper = mount(App, { global: { plugins: [pinia] } });
  mounted.push(wrapper);
  await flushPromises();
  return wrapper;
}

beforeEach(async () => {
  fakeBrowser.reset();
  setLocale('en');
  windowId = (await fakeBrowser.windows.create({ focused: true }))?.id;
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
  vi.restoreAllMocks();
});

it('lists rooms with their unread counts', async () => {
  const fake = new FakeBackend().setUp();
  fake.addRoom({ name: 'Quiet' });
  const busy = fake.addRoom({ name: 'Busy' });
  fake.receive(busy.summary.id, { fromName: 'Bob', text: 'ping' });
  const wrapper = await mountPopup(fake);

  const rooms = wrapper.findAll('[data-testid="popup-room"]');
  expect(rooms.map((r) => r.find('.name').text())).toEqual(['Quiet', 'Busy']);
  expect(rooms[0]?.find('[data-testid="popup-room-unread"]').exists()).toBe(false);
  expect(rooms[1]?.find('[data-testid="popup-room-unread"]').text()).toBe('1');
});

it('opens the side panel at a room in the popup’s window, then closes', async () => {
  const fake = new FakeBackend().setUp();
  const room = fake.addRoom({ name: 'Team' });
  const open = vi.spyOn(fakeBrowser.sidePanel, 'open').mockResolvedValue();
  const close = vi.spyOn(window, 'close').mockImplementation(() => {});
  const wrapper = await mountPopup(fake);

  await wrapper.find('[data-testid="popup-room"]').trigger('click');
  expect(open).toHaveBeenCalledWith({ windowId });
  await flushPromises();
  expect(await openRoomRequest.getValue()).toBe(room.summary.id);
  expect(close).toHaveBeenCalled();
});

it('opens the side panel without a room from the Open button', async () => {
  const fake = new FakeBackend().setUp();
  const open = vi.spyOn(fakeBrowser.sidePanel, 'open').mockResolvedValue();
  vi.spyOn(window, 'close').mockImplementation(() => {});
  const wrapper = await mountPopup(fake);

  await wrapper.find('[data-testid="popup-open"]').trigger('click');
  expect(open).toHaveBeenCalledWith({ windowId });
  expect(await openRoomRequest.getValue()).toBeNull();
});

it('shows why opening failed and stays open', async () => {
  const fake = new FakeBackend().setUp();
  vi.spyOn(fakeBrowser.sidePanel, 'open').mockRejectedValue(new Error('no side panel here'));
  const close = vi.spyOn(window, 'close').mockImplementation(() => {});
  const wrapper = await mountPopup(fake);

  await wrapper.find('[data-testid="popup-open"]').trigger('click');
  await flushPromises();
  expect(wrapper.text()).toContain(en['error.internal']);
  expect(close).not.toHaveBeenCalled();
});

it.each<[Phase, string]>([
  ['locked', en['popup.locked']],
  ['onboard', en['popup.onboard']],
])('when %s, says so and offers to open the chat', async (phase, text) => {
  const fake = new FakeBackend().setUp({ phase });
  const wrapper = await mountPopup(fake);
  expect(wrapper.text()).toContain(text);
  expect(wrapper.find('[data-testid="popup-room"]').exists()).toBe(false);
  expect(wrapper.find('[data-testid="popup-open"]').exists()).toBe(true);
});

describe('a long room name with every badge', () => {
  const LONG_NAME = 'The weekend hiking and climbing crew of the northern valleys';

  it('keeps the name in its own element, whole, with the badges in a box of their own after it', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: LONG_NAME, mode: 'backup' });
    fake.askToJoin(room.summary.id, { name: 'Carol', fingerprint: fakeFingerprint('carol') });
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'ping' });
    const wrapper = await mountPopup(fake);

    const item = wrapper.get('[data-testid="popup-room"]');
    const name = item.get('.name');
    expect(name.text()).toBe(LONG_NAME);
    expect(name.attributes('title')).toBe(LONG_NAME);
    const badges = item.get('.badges');
    expect([...item.element.children]).toEqual([name.element, badges.element]);
    for (const testId of ['popup-room-requests', 'popup-room-unread']) expect(badges.find(`[data-testid="${testId}"]`).exists(), testId).toBe(true);
    expect(badges.find('.mode-badge').text()).toBe(en['room.mode.backup']);
    expect(name.find('.badges, .mode-badge, [data-testid="popup-room-unread"]').exists()).toBe(false);
  });

  it('lays out so: the row wraps, the name grows and may shrink to an ellipsis, the badges never shrink and wrap among themselves', () => {
    const POPUP = 'entrypoints/popup/App.vue';
    expect(styleOf(POPUP, '.room')).toMatchObject({ display: 'flex', 'flex-wrap': 'wrap' });
    expect(styleOf(POPUP, '.name')).toMatchObject({ flex: '1 1 auto', 'min-width': '0', 'text-overflow': 'ellipsis', 'white-space': 'nowrap' });
    expect(styleOf(POPUP, '.badges')).toMatchObject({ flex: 'none', display: 'flex', 'flex-wrap': 'wrap', 'max-width': '100%' });
    for (const badge of ['.requests', '.missing', '.unread']) expect(styleOf('components/RoomBadges.vue', badge), badge).toMatchObject({ flex: 'none' });
  });
});
