/** Stores for the stored-data tests: the committed fixture loaded into memory, a store that fails on cue, a ChatService over them. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ChatService } from '@/services/chat';
import type { StoreLayout } from '@/services/migrations';
import type { LocalItems, SessionItems } from '@/services/records';
import { memoryStore, type KeyValueStore } from '@/services/store';
import type { PushEvent } from '@/utils/protocol-map';
import { fakeSocketFactory } from './room-fixture';

export type MemoryStore = ReturnType<typeof memoryStore<LocalItems>>;

/** The fixture written by the release of store layout 1 (tests/fixtures/README.md). */
export const STORE_V1 = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../fixtures/store-v1.json'), 'utf8')) as {
  passphrase: string;
  rooms: { backup: string; ephemeral: string };
  local: Record<string, unknown>;
};

/** A memory store holding `items` (a fixture's `local`). */
export async function storeOf(items: Record<string, unknown>): Promise<MemoryStore> {
  const local = memoryStore<LocalItems>();
  for (const [key, value] of Object.entries(items)) await local.set(key as keyof LocalItems & string, structuredClone(value) as never);
  return local;
}

/** `inner`, but every write after the first `writes` throws (storage failing, or the worker killed mid-migration). */
export function failingAfter<M>(inner: KeyValueStore<M>, writes: number): KeyValueStore<M> & { writes: number } {
  const store = {
    writes: 0,
    get: inner.get.bind(inner),
    async set<K extends keyof M & string>(key: K, value: M[K]) {
      if (store.writes >= writes) throw new Error('storage failed');
      store.writes += 1;
      await inner.set(key, value);
    },
    remove: inner.remove.bind(inner),
    clear: inner.clear.bind(inner),
  };
  return store;
}

/** A ChatService over `local` with fake sockets and no network: what a (re)started background does with its storage. */
export function serviceOver(local: KeyValueStore<LocalItems>, options: { storeLayout?: StoreLayout; events?: PushEvent[]; rejected?: string[] } = {}): ChatService {
  return new ChatService({
    local,
    session: memoryStore<SessionItems>(),
    openSocket: fakeSocketFactory().factory,
    fetch: () => Promise.reject(new Error('no fetch in unit tests')),
    defaultHost: 'localhost:1999',
    storeLayout: options.storeLayout,
    emit: (e) => options.events?.push(e),
    onRejected: (_room, reason) => options.rejected?.push(reason),
  });
}
