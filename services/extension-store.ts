/** The background's key-value stores over the extension's `storage.local` and `storage.session` (wiring only). */
import { storage, type StorageItemKey } from 'wxt/utils/storage';
import type { KeyValueStore } from './store';

/** The background's stores, over `storage.local` and `storage.session`. */
export function extensionStore<M>(area: 'local' | 'session'): KeyValueStore<M> {
  const key = (k: string) => `${area}:${k}` as StorageItemKey;
  return {
    async get(k) {
      return (await storage.getItem(key(k))) ?? undefined;
    },
    async set(k, value) {
      await storage.setItem(key(k), value);
    },
    async remove(k) {
      await storage.removeItem(key(k));
    },
    async clear() {
      await storage.clear(area);
    },
  };
}
