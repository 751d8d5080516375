/** A small typed key-value store: the background's only view of persistence, so tests can hand in memory. */

export interface KeyValueStore<M> {
  get<K extends keyof M & string>(key: K): Promise<M[K] | undefined>;
  set<K extends keyof M & string>(key: K, value: M[K]): Promise<void>;
  remove(key: keyof M & string): Promise<void>;
  clear(): Promise<void>;
}

/** An in-memory store (tests, and Node clients); values are deep-copied like real storage does. */
export function memoryStore<M>(): KeyValueStore<M> & { size(): number; dump(): Record<string, unknown> } {
  const data = new Map<string, string>();
  return {
    async get(key) {
      const text = data.get(key);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async set(key, value) {
      data.set(key, JSON.stringify(value));
    },
    async remove(key) {
      data.delete(key);
    },
    async clear() {
      data.clear();
    },
    size: () => data.size,
    dump: () => Object.fromEntries([...data].map(([k, v]) => [k, JSON.parse(v)])),
  };
}
