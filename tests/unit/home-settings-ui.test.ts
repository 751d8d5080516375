/** The home screen leads with the rooms; server, notifications, contact code, export and Lock live in the settings view behind the gear. */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { setLocale } from '@/utils/i18n';
import { openRoomRequest } from '@/utils/storage-items';
import { openSettings, sidePanelMounter } from './support/side-panel';
import { FakeBackend } from './support/fake-backend';

const { mounted, mountSidePanel } = sidePanelMounter();

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);

/** What the settings view holds and the home screen no longer shows. */
const SETTINGS_ONLY = ['contact-code', 'settings-host', 'settings-notification-previews', 'export-identity', 'lock'];

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

describe('home screen', () => {
  it('leads with the room list, then joining by link and creating a room; settings are behind the gear', async () => {
    const fake = new FakeBackend().setUp({ name: 'Alice' });
    fake.addRoom({ name: 'Team' });
    const { wrapper } = await mountSidePanel(fake);

    const sections = wrapper.findAll('.home > section');
    expect(sections[0]?.attributes('data-testid')).toBe('home-rooms');
    expect(sections[0]?.find('[data-testid="room-item"]').text()).toContain('Team');
    const order = ['home-rooms', 'join-link-input', 'room-create-name'].map((testId) =>
      sections.findIndex((section) => section.attributes('data-testid') === testId || section.find(`[data-testid="${testId}"]`).exists()),
    );
    expect(order).toEqual([0, 1, 2]);

    for (const testId of SETTINGS_ONLY) expect(byTestId(wrapper, testId).exists(), testId).toBe(false);
    expect(byTestId(wrapper, 'settings-open').attributes('aria-label')).toBe(en['settings.open']);
  });
});

describe('settings view', () => {
  it('opens from the gear with profile, contact code, server, notifications, export and Lock, and goes back', async () => {
    const fake = new FakeBackend().setUp({ name: 'Alice' });
    fake.addRoom({ name: 'Team' });
    const { wrapper } = await mountSidePanel(fake);

    await openSettings(wrapper);
    expect(byTestId(wrapper, 'settings-view').exists()).toBe(true);
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(false);
    for (const testId of SETTINGS_ONLY) expect(byTestId(wrapper, testId).exists(), testId).toBe(true);
    expect(byTestId(wrapper, 'settings-name').text()).toBe('Alice');
    expect(byTestId(wrapper, 'settings-view').find('h1').text()).toBe(en['settings.title']);

    await byTestId(wrapper, 'settings-back').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'settings-view').exists()).toBe(false);
    expect(byTestId(wrapper, 'room-item').text()).toContain('Team');
  });

  it('gives way to a room opened from the popup, and closing the room leads home', async () => {
    const fake = new FakeBackend().setUp();
    const wanted = fake.addRoom({ name: 'From popup' });
    const { wrapper } = await mountSidePanel(fake);
    await openSettings(wrapper);

    await openRoomRequest.setValue(wanted.summary.id);
    await flushPromises();
    expect(byTestId(wrapper, 'room-name').text()).toBe('From popup');

    await byTestId(wrapper, 'room-back').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(true);
    expect(byTestId(wrapper, 'settings-view').exists()).toBe(false);
  });

  it('speaks Traditional Chinese', async () => {
    setLocale('zh-TW');
    const fake = new FakeBackend().setUp();
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'settings-open').attributes('title')).toBe(zhTW['settings.open']);
    await openSettings(wrapper);
    expect(byTestId(wrapper, 'settings-view').text()).toContain(zhTW['settings.lockHint']);
    expect(byTestId(wrapper, 'settings-view').text()).toContain(zhTW['settings.server']);
  });
});
