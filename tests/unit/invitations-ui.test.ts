/** Invitation requests on the home view: "Mallory invited you to …", with accept, decline and block. */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import type { InvitationView } from '@/utils/protocol-map';
import { setLocale, t } from '@/utils/i18n';
import { sidePanelMounter } from './support/side-panel';
import { contactCodeOf, FakeBackend, fakeFingerprint, fakeId } from './support/fake-backend';

const { mounted, mountSidePanel } = sidePanelMounter();

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.findAll(`[data-testid="${testId}"]`);

function invitation(name: string, roomName: string | null, by = fakeFingerprint(name[0]?.toLowerCase() ?? 'f')): InvitationView {
  return { room: fakeId(), by, name, contactCode: contactCodeOf(by), roomName, ts: Date.UTC(2025, 0, 15, 9, 0) };
}

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

describe('invitation requests', () => {
  it('shows nothing while there are none', async () => {
    const { wrapper } = await mountSidePanel(new FakeBackend().setUp());
    expect(byTestId(wrapper, 'invitation-requests')).toHaveLength(0);
  });

  it('says who invited to which room, and accepting joins it', async () => {
    const fake = new FakeBackend().setUp();
    const request = invitation('Mallory', 'Book club');
    fake.invitations = [request, invitation('Eve', null)];
    const { wrapper, store } = await mountSidePanel(fake);

    const texts = byTestId(wrapper, 'invitation-text').map((w) => w.text());
    expect(texts).toEqual([t('invitations.from', { name: 'Mallory', room: 'Book club' }), t('invitations.fromUnnamed', { name: 'Eve' })]);
    expect(texts[0]).toBe('Mallory invited you to “Book club”');

    await byTestId(wrapper, 'invitation-accept')[0]?.trigger('click');
    await flushPromises();
    expect(fake.callsOf('decideInvitation')).toEqual([{ roomId: request.room, decision: 'accept' }]);
    expect(store.rooms.map((r) => r.id)).toContain(request.room);
    expect(byTestId(wrapper, 'invitation')).toHaveLength(1);
  });

  it('declining drops only that one; blocking drops every invitation from that person', async () => {
    const fake = new FakeBackend().setUp();
    const mallory = fakeFingerprint('m');
    const [first, second, other] = [invitation('Mallory', 'One', mallory), invitation('Mallory', 'Two', mallory), invitation('Eve', 'Three')];
    fake.invitations = [first, second, other];
    const { wrapper, store } = await mountSidePanel(fake);

    await byTestId(wrapper, 'invitation-decline')[2]?.trigger('click');
    await flushPromises();
    expect(fake.callsOf('decideInvitation')).toEqual([{ roomId: other.room, decision: 'decline' }]);
    expect(byTestId(wrapper, 'invitation').map((w) => w.attributes('data-room'))).toEqual([first.room, second.room]);

    await byTestId(wrapper, 'invitation-block')[0]?.trigger('click');
    await flushPromises();
    expect(fake.callsOf('decideInvitation').at(-1)).toEqual({ roomId: first.room, decision: 'block' });
    expect(byTestId(wrapper, 'invitation-requests')).toHaveLength(0);
    expect(store.rooms).toEqual([]);
  });

  it('shows a failed answer, in Traditional Chinese too', async () => {
    setLocale('zh-TW');
    const fake = new FakeBackend().setUp();
    fake.invitations = [invitation('Mallory', '讀書會')];
    fake.failNext('decideInvitation', 'offline', 'not connected');
    const { wrapper } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'invitation-text')[0]?.text()).toBe('Mallory 邀請你加入「讀書會」');
    await byTestId(wrapper, 'invitation-accept')[0]?.trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="invitation-requests"] .error').exists()).toBe(true);
    expect(byTestId(wrapper, 'invitation')).toHaveLength(1);
  });
});
