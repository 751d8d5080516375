import { mount } from '@vue/test-utils';
import MembersPanel from '@/components/MembersPanel.vue';
import type { MemberView } from '@/utils/protocol-map';

const member = (over: Partial<MemberView>): MemberView => ({
  fingerprint: 'a'.repeat(40), name: 'Ann', role: 'member', online: true, me: false, contactCode: 'AAAA', verified: true, canCreateLinks: false, ...over,
});

function panel(isAdmin: boolean) {
  return mount(MembersPanel, {
    props: {
      members: [member({ me: true, role: 'admin', name: 'Me', fingerprint: 'f'.repeat(40) }), member({}), member({ fingerprint: 'b'.repeat(40), name: 'Bad', verified: false })],
      isAdmin,
      inviteBusy: false,
      inviteError: null,
      invite: async () => null,
      banned: [{ fingerprint: 'c'.repeat(40), contactCode: 'CCCC' }],
    },
  });
}

describe('members panel', () => {
  it('gives admins remove, link permission and unban controls for verified others only', async () => {
    const wrapper = panel(true);
    expect(wrapper.findAll('[data-testid="member-remove"]')).toHaveLength(1);
    await wrapper.get('[data-testid="member-remove"]').trigger('click');
    await wrapper.get('[data-testid="member-remove-yes"]').trigger('click');
    await wrapper.get('[data-testid="member-links"]').trigger('change');
    await wrapper.get('[data-testid="unban"]').trigger('click');
    expect(wrapper.emitted('action')).toEqual([
      ['remove', 'a'.repeat(40)],
      ['allow-links', 'a'.repeat(40)],
      ['unban', 'c'.repeat(40)],
    ]);
    await wrapper.get('[data-testid="room-leave"]').trigger('click');
    expect(wrapper.emitted('leave')).toHaveLength(1);
  });

  it('shows members none of the admin controls, but lets them leave', () => {
    const wrapper = panel(false);
    expect(wrapper.find('[data-testid="member-remove"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="member-links"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="unban"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="room-leave"]').exists()).toBe(true);
  });
});
