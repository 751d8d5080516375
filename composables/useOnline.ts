/** Whether the browser thinks it has a network (`navigator.onLine`), kept up to date by its `online` and `offline` events. */
import { onScopeDispose, readonly, ref, type Ref } from 'vue';

export function useOnline(): Readonly<Ref<boolean>> {
  const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
  const update = (): void => {
    online.value = navigator.onLine;
  };
  window.addEventListener('online', update);
  window.addEventListener('offline', update);
  onScopeDispose(() => {
    window.removeEventListener('online', update);
    window.removeEventListener('offline', update);
  });
  return readonly(online);
}
