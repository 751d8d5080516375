import { mount } from '@vue/test-utils';
import { h } from 'vue';
import FormField from '@/components/FormField.vue';
import OnboardingForm from '@/components/OnboardingForm.vue';
import en from '@/locales/en';
import { setLocale } from '@/utils/i18n';

function field(props: { hint?: string | null; error?: string | null; hiddenLabel?: boolean }) {
  return mount(FormField, {
    props: { id: 'f', label: 'Name', ...props },
    slots: { default: (control: Record<string, unknown>) => h('input', { ...control, 'data-testid': 'control' }) },
  });
}

/** The texts the control's `aria-describedby` points at, in order. */
function description(wrapper: ReturnType<typeof mount>, selector: string): string[] {
  const ids = wrapper.get(selector).attributes('aria-describedby')?.split(' ') ?? [];
  return ids.map((id) => wrapper.get(`#${id}`).text());
}

beforeEach(() => setLocale('en'));

describe('form field', () => {
  it.each<[string, { hint?: string | null; error?: string | null }, string[], string | undefined]>([
    ['a bare control', {}, [], undefined],
    ['a hint', { hint: 'Shown to others' }, ['Shown to others'], undefined],
    ['an error', { error: 'Required' }, ['Required'], 'true'],
    ['a hint and an error', { hint: 'Shown to others', error: 'Required' }, ['Shown to others', 'Required'], 'true'],
  ])('wires %s to the control', (_name, props, described, invalid) => {
    const wrapper = field(props);
    expect(wrapper.get('label').attributes('for')).toBe('f');
    expect(wrapper.get('[data-testid="control"]').attributes('id')).toBe('f');
    expect(description(wrapper, '[data-testid="control"]')).toEqual(described);
    expect(wrapper.get('[data-testid="control"]').attributes('aria-invalid')).toBe(invalid);
  });

  it('can hide its label from sight only', () => {
    expect(field({ hiddenLabel: true }).get('label').classes()).toContain('visually-hidden');
    expect(field({}).get('label').classes()).not.toContain('visually-hidden');
  });

  it('shows the onboarding problems only after a submit, each wired to its input', async () => {
    const wrapper = mount(OnboardingForm, { props: { defaultHost: 'localhost:1999', busy: false, error: null } });
    expect(wrapper.get('[data-testid="onboard-name"]').attributes('aria-invalid')).toBeUndefined();
    expect(description(wrapper, '[data-testid="onboard-host"]')).toEqual([en['onboard.hostHint']]);
    await wrapper.get('form').trigger('submit');
    expect(wrapper.get('[data-testid="onboard-name"]').attributes('aria-invalid')).toBe('true');
    expect(description(wrapper, '[data-testid="onboard-name"]')).toEqual([en['onboard.nameRequired']]);
    expect(wrapper.emitted('submit')).toBeUndefined();
  });
});
