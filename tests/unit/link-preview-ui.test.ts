/** The invite link preview: what a link says before joining, and the person's yes or no. */
import { flushPromises, mount } from '@vue/test-utils';
import LinkPreview from '@/components/LinkPreview.vue';
import en from '@/locales/en';
import { setLocale } from '@/utils/i18n';
import type { LinkPreviewView, Result } from '@/utils/protocol-map';

beforeEach(() => setLocale('en'));

const url = `http://localhost:1999/join/${'a'.repeat(32)}/${'b'.repeat(32)}#secret`;
const sealed: LinkPreviewView = { roomId: 'a'.repeat(32), roomName: 'Book club', createdBy: 'Alice', approval: true, members: 3, sealed: true, member: false };

function mountWith(answer: Result<LinkPreviewView> | Promise<Result<LinkPreviewView>>, props: { busy?: boolean } = {}) {
  const load = vi.fn(() => Promise.resolve(answer));
  const wrapper = mount(LinkPreview, { props: { url, load, busy: props.busy ?? false, error: null } });
  return { wrapper, load };
}

describe('link preview', () => {
  it('asks for the link and shows the room, who invited, approval and the server-claimed member count', async () => {
    const { wrapper, load } = mountWith({ ok: true, value: sealed });
    expect(wrapper.find('[data-testid="join-preview"]').attributes('data-state')).toBe('loading');
    expect(wrapper.find('[data-testid="join-confirm"]').attributes('disabled')).toBeDefined();
    await flushPromises();
    expect(load).toHaveBeenCalledWith(url);
    const preview = wrapper.find('[data-testid="join-preview"]');
    expect(preview.attributes('data-state')).toBe('ready');
    expect(wrapper.find('[data-testid="join-preview-name"]').text()).toBe('Book club');
    expect(wrapper.find('[data-testid="join-preview-by"]').text()).toContain('Alice');
    expect(wrapper.find('[data-testid="join-preview-approval"]').text()).toBe(en['preview.approval']);
    expect(wrapper.find('[data-testid="join-preview-members"]').text()).toContain('3');
    expect(wrapper.find('[data-testid="join-preview-members"]').text()).toContain('server');
    expect(wrapper.find('[data-testid="join-preview-unsealed"]').exists()).toBe(false);
  });

  it('confirms or dismisses with the link', async () => {
    const { wrapper } = mountWith({ ok: true, value: { ...sealed, approval: false } });
    await flushPromises();
    expect(wrapper.find('[data-testid="join-preview-approval"]').text()).toBe(en['preview.noApproval']);
    await wrapper.find('[data-testid="join-confirm"]').trigger('click');
    await wrapper.find('[data-testid="join-dismiss"]').trigger('click');
    expect(wrapper.emitted('confirm')).toEqual([[url]]);
    expect(wrapper.emitted('dismiss')).toEqual([[url]]);
  });

  it('says so when a link carries no sealed preview: name unknown, the rest only as the server says', async () => {
    const { wrapper } = mountWith({ ok: true, value: { ...sealed, roomName: null, createdBy: null, sealed: false } });
    await flushPromises();
    expect(wrapper.find('[data-testid="join-preview-name"]').text()).toBe(en['preview.unnamed']);
    expect(wrapper.find('[data-testid="join-preview-by"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="join-preview-unsealed"]').text()).toBe(en['preview.unsealed']);
    expect(wrapper.find('[data-testid="join-confirm"]').attributes('disabled')).toBeUndefined();
  });

  it('shows why a link cannot be previewed (a forged preview, say) and offers only dismissing', async () => {
    const { wrapper } = mountWith({ ok: false, error: { code: 'preview-forged', message: 'forged' } });
    await flushPromises();
    expect(wrapper.find('[data-testid="join-preview"]').attributes('data-state')).toBe('failed');
    expect(wrapper.find('[data-testid="join-preview-error"]').text()).toBe(en['error.preview-forged']);
    expect(wrapper.find('[data-testid="join-confirm"]').exists()).toBe(false);
    await wrapper.find('[data-testid="join-dismiss"]').trigger('click');
    expect(wrapper.emitted('dismiss')).toEqual([[url]]);
  });

  it('a room we are already in offers to open it', async () => {
    const { wrapper } = mountWith({ ok: true, value: { ...sealed, member: true, createdBy: null, sealed: false } });
    await flushPromises();
    expect(wrapper.find('[data-testid="join-preview-member"]').text()).toBe(en['preview.member']);
    expect(wrapper.find('[data-testid="join-confirm"]').text()).toBe(en['preview.open']);
    expect(wrapper.find('[data-testid="join-preview-unsealed"]').exists()).toBe(false);
  });

  it('asks again for another link, and disables the buttons while joining', async () => {
    const { wrapper, load } = mountWith({ ok: true, value: sealed }, { busy: true });
    await flushPromises();
    expect(wrapper.find('[data-testid="join-confirm"]').attributes('disabled')).toBeDefined();
    const other = url.replace('b'.repeat(32), 'c'.repeat(32));
    await wrapper.setProps({ url: other });
    await flushPromises();
    expect(load).toHaveBeenLastCalledWith(other);
  });
});
