import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import App from '@/entrypoints/popup/App.vue';
import en from '@/locales/en';
import { useAppStore } from '@/stores/app';
import { setLocale } from '@/utils/i18n';
import type { Phase } from '@/utils/protocol-map';
import { openRoomRequest } from '@/utils/storage-items';
import { FakeBackend } from './support/fake-backend';

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
