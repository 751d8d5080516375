import { mount } from '@vue/test-utils';
import MembersPanel from '@/components/MembersPanel.vue';
import type { MemberView } from '@/utils/protocol-map';

const member = (over: Partial<MemberView>): MemberView => ({
  fingerprint: 'a'.repeat(40), name: 'Ann', role: 'member', online: true, me: false, contactCode: 'AAAA', verified: true, canCreateLinks: false, creator: false, ...over,
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
  });

  it('offers Promote for members and Demote for admins but the creator, each only after a confirmation', async () => {
    const wrapper = mount(MembersPanel, {
      props: {
        members: [
          member({ me: true, role: 'admin', name: 'Me', fingerprint: 'f'.repeat(40) }),
          member({}),
          member({ fingerprint: 'd'.repeat(40), name: 'Dee', role: 'admin', canCreateLinks: true }),
          member({ fingerprint: 'e'.repeat(40), name: 'Eve', role: 'admin', canCreateLinks: true, creator: true }),
        ],
        isAdmin: true, inviteBusy: false, inviteError: null, invite: async () => null,
      },
    });
    expect(wrapper.findAll('[data-testid="member-promote"]')).toHaveLength(1);
    // Dee can be demoted; Eve created the room, so no other admin can.
    expect(wrapper.findAll('[data-testid="member-demote"]')).toHaveLength(1);
    await wrapper.get('[data-testid="member-promote"]').trigger('click');
    expect(wrapper.get('[data-testid="member-role-confirm"]').text()).toContain('Make Ann an admin?');
    await wrapper.get('[data-testid="member-role-cancel"]').trigger('click');
    expect(wrapper.emitted('action')).toBeUndefined();
    await wrapper.get('[data-testid="member-promote"]').trigger('click');
    await wrapper.get('[data-testid="member-role-yes"]').trigger('click');
    await wrapper.get('[data-testid="member-demote"]').trigger('click');
    expect(wrapper.get('[data-testid="member-role-confirm"]').text()).toContain('Dee');
    await wrapper.get('[data-testid="member-role-yes"]').trigger('click');
    expect(wrapper.emitted('action')).toEqual([
      ['promote', 'a'.repeat(40)],
      ['demote', 'd'.repeat(40)],
    ]);
  });

  it('asks the last admin to pick a successor before leaving; others leave as before', async () => {
    const wrapper = panel(true);
    await wrapper.get('[data-testid="room-leave"]').trigger('click');
    expect(wrapper.emitted('leave')).toBeUndefined();
    const dialog = wrapper.get('[data-testid="leave-successor-dialog"]');
    expect(dialog.text()).toContain('You are the last admin');
    // Only verified members can take over.
    const options = wrapper.findAll('[data-testid="leave-successor"] option').map((o) => o.attributes('value'));
    expect(options).toEqual(['a'.repeat(40)]);
    await wrapper.get('[data-testid="leave-successor"]').setValue('a'.repeat(40));
    await wrapper.get('[data-testid="leave-successor-yes"]').trigger('click');
    expect(wrapper.emitted('leave')).toEqual([['a'.repeat(40)]]);

    const member = panel(false);
    await member.get('[data-testid="room-leave"]').trigger('click');
    expect(member.find('[data-testid="leave-successor-dialog"]').exists()).toBe(false);
    expect(member.emitted('leave')).toEqual([[]]);
  });

  it('shows members none of the admin controls, but lets them leave', () => {
    const wrapper = panel(false);
    expect(wrapper.find('[data-testid="member-remove"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="member-links"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="unban"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="room-leave"]').exists()).toBe(true);
  });
});
