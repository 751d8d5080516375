/** Mounting the real side panel against the fake backend, and keeping every wrapper a test mounts so it can be unmounted after. */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import App from '@/entrypoints/sidepanel/App.vue';
import { useAppStore } from '@/stores/app';
import type { FakeBackend } from './fake-backend';

export function sidePanelMounter(): {
  /** Wrappers to unmount after each test (tests may push their own). */
  mounted: VueWrapper[];
  mountSidePanel(fake: FakeBackend): Promise<{ wrapper: VueWrapper; store: ReturnType<typeof useAppStore> }>;
} {
  const mounted: VueWrapper[] = [];
  return {
    mounted,
    async mountSidePanel(fake) {
      const pinia = createPinia();
      const store = useAppStore(pinia);
      await store.init(fake);
      const wrapper = mount(App, { global: { plugins: [pinia] }, attachTo: document.body });
      mounted.push(wrapper);
      await flushPromises();
      return { wrapper, store };
    },
  };
}

/** From the home screen: opens the settings view (contact code, server, notifications, export, Lock) with its gear. */
export async function openSettings(wrapper: VueWrapper): Promise<void> {
  await wrapper.find('[data-testid="settings-open"]').trigger('click');
  await flushPromises();
}
