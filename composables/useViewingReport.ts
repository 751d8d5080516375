/**
 * Tells the background which room this page shows while the page is visible and focused, so messages
 * of that room do not raise a browser notification (services/notify-policy.ts). Any other time: none.
 */
import { onScopeDispose, ref, watchEffect } from 'vue';
import type { AppStore } from '@/stores/app';

/** Wires the open room and the page's visibility and focus to `store.reportViewing`; call from a component's setup. */
export function useViewingReport(store: AppStore, doc: Document = document, win: Window = window): void {
  const seen = ref(false);
  const check = () => (seen.value = doc.visibilityState === 'visible' && doc.hasFocus());
  check();
  const events = ['focus', 'blur', 'pagehide', 'pageshow'] as const;
  for (const name of events) win.addEventListener(name, check);
  doc.addEventListener('visibilitychange', check);
  watchEffect(() => store.reportViewing(seen.value && store.phase === 'ready' ? store.currentRoomId : null));
  onScopeDispose(() => {
    for (const name of events) win.removeEventListener(name, check);
    doc.removeEventListener('visibilitychange', check);
    store.reportViewing(null);
  });
}
