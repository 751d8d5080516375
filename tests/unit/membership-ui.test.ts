/**
 * Membership made visible in the UI (issue 13): membership changes as event lines in the chat, a
 * confirmation before Remove, and a key tag telling apart members who share a display name; in English
 * and Traditional Chinese, with the fake backend.
 */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import MembersPanel from '@/components/MembersPanel.vue';
import { collidingNameTags } from '@/components/member-events';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { setLocale } from '@/utils/i18n';
import type { MemberChange, MemberView } from '@/utils/protocol-map';
import { FakeBackend, fakeFingerprint } from './support/fake-backend';
import { sidePanelMounter } from './support/side-panel';

const { mounted, mountSidePanel } = sidePanelMounter();

async function openRoom(fake: FakeBackend, roomId: string) {
  const { wrapper, store } = await mountSidePanel(fake);
  await store.openRoom(roomId);
  await flushPromises();
  return { wrapper, store };
}

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);
const allByTestId = (wrapper: VueWrapper, testId: string) => wrapper.findAll(`[data-testid="${testId}"]`);

const bob = { fingerprint: fakeFingerprint('b'), name: 'Bob' };
const otherBob = { fingerprint: fakeFingerprint('c1'), name: 'Bob' };
const carol = { fingerprint: fakeFingerprint('d'), name: 'Carol' };
const alice = { fingerprint: fakeFingerprint('a'), name: 'Alice' };

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

describe('membership changes in the chat', () => {
  const changes: MemberChange[] = ['joined', 'added', 'approved', 'removed', 'left', 'links-allowed', 'links-denied', 'promoted', 'demoted', 'left-successor'];
  it.each([
    [
      'en',
      [
        'Carol joined through an invite link',
        'Alice added Carol',
        'Alice approved Carol’s request to join',
        'Alice removed Carol',
        'Carol left the room',
        'Alice allowed Carol to create invite links',
        'Alice stopped Carol from creating invite links',
        'Alice made Carol an admin',
        'Alice took Carol’s admin rights away',
        'Alice left the room and made Carol an admin',
      ],
    ],
    [
      'zh-TW',
      [
        'Carol 透過邀請連結加入了聊天室',
        'Alice 新增了 Carol',
        'Alice 核准了 Carol 的加入請求',
        'Alice 移除了 Carol',
        'Carol 離開了聊天室',
        'Alice 允許 Carol 建立邀請連結',
        'Alice 不再允許 Carol 建立邀請連結',
        'Alice 將 Carol 設為管理員',
        'Alice 取消了 Carol 的管理員權限',
        'Alice 離開了聊天室，並將 Carol 設為管理員',
      ],
    ],
  ] as const)('renders each kind as an event line in %s', async (locale, expected) => {
    setLocale(locale);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [carol] });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.receive(room.summary.id, { fromName: 'Carol', text: 'hi', from: carol.fingerprint });
    for (const change of changes) fake.changeMembership(room.summary.id, change, carol, change === 'joined' || change === 'left' ? carol : alice);
    await flushPromises();

    const events = allByTestId(wrapper, 'room-event');
    expect(events.map((e) => e.findAll('.sentence').map((line) => line.text()))).toEqual(expected.map((line) => [line]));
    expect(events.map((e) => e.attributes('data-event'))).toEqual(changes);
    expect(allByTestId(wrapper, 'message').map((m) => m.text())).toEqual([expect.stringContaining('hi')]);
  });

  it('names "someone" and "an admin" when the event has no names', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.changeMembership(room.summary.id, 'removed', { fingerprint: carol.fingerprint, name: '' }, { fingerprint: alice.fingerprint, name: '' });
    await flushPromises();
    expect(byTestId(wrapper, 'room-event').text()).toContain(`${en['event.someone']} removed ${en['event.someoneMember']}`);
  });
});

const member = (over: Partial<MemberView>): MemberView => ({
  fingerprint: 'a'.repeat(40), name: 'Ann', role: 'member', online: true, me: false, contactCode: 'AAAA', verified: true, canCreateLinks: false, creator: false, ...over,
});

function panel(members: MemberView[], actionBusy = false) {
  return mount(MembersPanel, { props: { members, isAdmin: true, inviteBusy: false, inviteError: null, invite: async () => null, actionBusy } });
}

describe('remove asks for a confirmation', () => {
  const members = [member({ me: true, role: 'admin', name: 'Me', fingerprint: 'f'.repeat(40) }), member({ name: 'Ann' }), member({ name: 'Cy', fingerprint: 'c'.repeat(40) })];

  it.each([
    ['en', en],
    ['zh-TW', zhTW],
  ] as const)('asks first in %s; cancel sends nothing, confirm sends one removal', async (locale, texts) => {
    setLocale(locale);
    const wrapper = panel(members);
    const [annRemove, cyRemove] = wrapper.findAll('[data-testid="member-remove"]');
    await annRemove?.trigger('click');
    expect(wrapper.emitted('action')).toBeUndefined();
    const confirm = wrapper.get('[data-testid="member-remove-confirm"]');
    expect(confirm.text()).toContain(texts['members.removeConfirm'].replace('{name}', 'Ann'));
    expect(wrapper.get('[data-testid="member-remove-yes"]').text()).toBe(texts['members.removeConfirmYes']);
    expect(wrapper.get('[data-testid="member-remove-cancel"]').text()).toBe(texts['members.removeCancel']);

    await wrapper.get('[data-testid="member-remove-cancel"]').trigger('click');
    expect(wrapper.find('[data-testid="member-remove-confirm"]').exists()).toBe(false);
    expect(wrapper.emitted('action')).toBeUndefined();

    // One confirmation at a time: asking about Cy replaces the question about Ann.
    await annRemove?.trigger('click');
    await cyRemove?.trigger('click');
    expect(wrapper.findAll('[data-testid="member-remove-confirm"]')).toHaveLength(1);
    expect(wrapper.get('[data-testid="member-remove-confirm"]').text()).toContain('Cy');
    await wrapper.get('[data-testid="member-remove-yes"]').trigger('click');
    expect(wrapper.emitted('action')).toEqual([['remove', 'c'.repeat(40)]]);
    expect(wrapper.find('[data-testid="member-remove-confirm"]').exists()).toBe(false);
  });

  it('in the side panel, only the confirmation removes the member', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [bob] });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'members-open').trigger('click');
    await byTestId(wrapper, 'member-remove').trigger('click');
    await byTestId(wrapper, 'member-remove-cancel').trigger('click');
    await flushPromises();
    expect(fake.calls.filter((c) => c.type === 'removeMember')).toEqual([]);
    await byTestId(wrapper, 'member-remove').trigger('click');
    await byTestId(wrapper, 'member-remove-yes').trigger('click');
    await flushPromises();
    expect(fake.calls.filter((c) => c.type === 'removeMember').map((c) => c.data)).toEqual([{ roomId: room.summary.id, fingerprint: bob.fingerprint }]);
    expect(allByTestId(wrapper, 'member').map((m) => m.text())).not.toContainEqual(expect.stringContaining('Bob'));
  });
});

describe('members who share a display name', () => {
  it('tags only the names that collide (case and spaces aside), with the first four groups of the contact code', () => {
    const tags = collidingNameTags([bob, { ...otherBob, name: ' bob ' }, carol]);
    expect([...tags]).toEqual([
      [bob.fingerprint, 'BBBB BBBB BBBB BBBB'],
      [otherBob.fingerprint, 'C1C1 C1C1 C1C1 C1C1'],
    ]);
  });

  it.each([
    ['en', en],
    ['zh-TW', zhTW],
  ] as const)('shows the tag in the members panel (%s)', (locale, texts) => {
    setLocale(locale);
    const wrapper = panel([member({ me: true, name: 'Me', fingerprint: 'f'.repeat(40) }), member({ ...bob }), member({ ...otherBob }), member({ ...carol })]);
    const rows = wrapper.findAll('[data-testid="member"]');
    expect(rows.map((r) => r.find('[data-testid="member-tag"]').exists())).toEqual([false, true, true, false]);
    const tag = rows[1]?.get('[data-testid="member-tag"]');
    expect(tag?.text()).toBe('BBBB BBBB BBBB BBBB');
    expect(tag?.attributes('title')).toBe(texts['members.tag'].replace('{tag}', 'BBBB BBBB BBBB BBBB'));
    expect(rows[2]?.get('[data-testid="member-tag"]').text()).toBe('C1C1 C1C1 C1C1 C1C1');
  });

  it('shows the tag on message sender names in the chat, only for names that collide', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [bob, otherBob, carol] });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'one', from: bob.fingerprint });
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'two', from: otherBob.fingerprint });
    fake.receive(room.summary.id, { fromName: 'Carol', text: 'three', from: carol.fingerprint });
    await flushPromises();
    const rows = allByTestId(wrapper, 'message');
    expect(rows.map((r) => r.find('[data-testid="sender-tag"]').exists() ? r.get('[data-testid="sender-tag"]').text() : null)).toEqual([
      'BBBB BBBB BBBB BBBB',
      'C1C1 C1C1 C1C1 C1C1',
      null,
    ]);
  });
});
