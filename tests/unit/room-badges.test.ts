import { mount } from '@vue/test-utils';
import RoomBadges from '@/components/RoomBadges.vue';
import { setLocale } from '@/utils/i18n';

beforeEach(() => setLocale('en'));

describe('room badges', () => {
  it.each<[string, { requests: number; missing: number; unread: number }, 'room' | 'popup-room', boolean, string[]]>([
    ['nothing when every count is 0', { requests: 0, missing: 0, unread: 0 }, 'room', true, []],
    ['every counter in the room list', { requests: 2, missing: 3, unread: 4 }, 'room', true, ['room-requests:2 to approve', 'room-missing:3 missing', 'room-unread:4']],
    ['no missing count in the popup', { requests: 1, missing: 3, unread: 5 }, 'popup-room', false, ['popup-room-requests:1 to approve', 'popup-room-unread:5']],
  ])('shows %s', (_name, room, testidPrefix, showMissing, expected) => {
    const wrapper = mount(RoomBadges, { props: { room, testidPrefix, showMissing } });
    expect(wrapper.findAll('[data-testid]').map((badge) => `${badge.attributes('data-testid')}:${badge.text()}`)).toEqual(expected);
  });
});
