/**
 * Contacts in the UI (issue 10, item 3): each other member's safety number (60 digits and a QR code), marking
 * them verified (a badge in the members panel and on their messages), and the key-change warning in the room,
 * in English and Traditional Chinese, with the fake backend.
 */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { formatSafetyNumber, safetyNumber } from '@/shared/safety';
import { setLocale } from '@/utils/i18n';
import { FakeBackend, fakeFingerprint } from './support/fake-backend';
import { sidePanelMounter } from './support/side-panel';

const { mounted, mountSidePanel } = sidePanelMounter();
const bob = { fingerprint: fakeFingerprint('b'), name: 'Bob' };

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) {
    await flushPromises();
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function openRoom(fake: FakeBackend, roomId: string) {
  const { wrapper, store } = await mountSidePanel(fake);
  await store.openRoom(roomId);
  await flushPromises();
  return wrapper;
}

describe('safety numbers in the members panel', () => {
  it('shows the 60 digits and a QR code for another member, and marks them verified', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [bob] });
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'hi', from: bob.fingerprint });
    const wrapper = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    await flushPromises();

    // One button per other member, none for us.
    expect(wrapper.findAll('[data-testid="safety-number-open"]')).toHaveLength(1);
    expect(byTestId(wrapper, 'member-verified-badge').exists()).toBe(false);
    await byTestId(wrapper, 'safety-number-open').trigger('click');
    await until(() => /\d{5}/.test(byTestId(wrapper, 'safety-number').text()));

    const expected = formatSafetyNumber(await safetyNumber(fake.fingerprint, bob.fingerprint));
    expect(byTestId(wrapper, 'safety-number').text().replace(/\s+/g, ' ')).toBe(expected);
    const qr = byTestId(wrapper, 'safety-number-qr');
    expect(qr.element.tagName.toLowerCase()).toBe('svg');
    expect(qr.find('path').attributes('d')).toMatch(/^M/);

    expect(byTestId(wrapper, 'safety-verify').text()).toBe(en['safety.verify']);
    await byTestId(wrapper, 'verify-toggle').trigger('click');
    await flushPromises();
    expect(fake.callsOf('setContactVerified')).toEqual([{ roomId: room.summary.id, fingerprint: bob.fingerprint, verified: true }]);
    expect(byTestId(wrapper, 'safety-verify').text()).toBe(en['safety.unverify']);
    expect(byTestId(wrapper, 'member-verified-badge').exists()).toBe(true);
    expect(byTestId(wrapper, 'sender-verified').exists()).toBe(true);

    await byTestId(wrapper, 'verify-toggle').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'member-verified-badge').exists()).toBe(false);
  });

  it.each([
    ['en', en],
    ['zh-TW', zhTW],
  ] as const)('warns in the room when a member’s key changed or someone presents as a contact (%s)', async (locale, texts) => {
    setLocale(locale);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [bob, { fingerprint: fakeFingerprint('c1'), name: 'Carol' }] });
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'trust me', from: bob.fingerprint });
    room.members = room.members.map((m) =>
      m.fingerprint === bob.fingerprint ? { ...m, keyWarning: { kind: 'key-changed', of: null } } : m.name === 'Carol' ? { ...m, keyWarning: { kind: 'lookalike', of: 'Carol' } } : m,
    );
    const wrapper = await openRoom(fake, room.summary.id);
    const warning = byTestId(wrapper, 'key-change-warning');
    expect(warning.exists()).toBe(true);
    expect(warning.attributes('role')).toBe('alert');
    expect(warning.text()).toContain(texts['keys.changed'].replace('{name}', 'Bob'));
    expect(warning.text()).toContain(texts['keys.lookalike'].replace('{name}', 'Carol').replace('{of}', 'Carol'));
    // Each flagged person is a `key-changed` line (DESIGN.md), also by their name in the members panel.
    expect(wrapper.findAll('[data-testid="key-change-warning"] [data-testid="key-changed"]').map((w) => w.attributes('data-kind'))).toEqual(['key-changed', 'lookalike']);
    expect(byTestId(wrapper, 'message').find('[data-testid="key-changed"]').exists()).toBe(true);
    await byTestId(wrapper, 'members-open').trigger('click');
    await flushPromises();
    expect(wrapper.findAll('[data-testid="member"] [data-testid="key-changed"]')).toHaveLength(2);
  });
});
