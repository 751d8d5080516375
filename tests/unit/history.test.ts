import { History, HISTORY_PAGE_SIZE } from '@/services/history';
import { importVaultKey } from '@/services/sealed';
import { memoryStore } from '@/services/store';
import { randomBytes } from '@/shared/encoding';
import type { LocalItems, RoomRecord, StoredMessage } from '@/services/records';

function room(): RoomRecord {
  return {
    id: 'r'.repeat(32), name: 'n', mode: 'ephemeral', createdAt: 0, keys: {}, chain: [], pendingGenesis: null, myCtr: 0, peerCtr: {}, missing: {},
    lastSeq: 0, oldestLoaded: null, unread: 0, lastText: null, lastTs: null, pages: 0, pageExpiry: [], outbox: [], joining: null, linkSecrets: {}, removed: false,
  };
}

function message(i: number, expiresAt: number | null = null): StoredMessage {
  return {
    id: i.toString(16).padStart(32, '0'), from: 'f'.repeat(40), fromName: 'F', text: `m${i}`, ts: i, seq: i, mine: false, status: 'received',
    kind: 'text', event: null, env: { seq: i, id: i.toString(16).padStart(32, '0'), epoch: 0, from: 'f'.repeat(40), ts: i, ct: 'AAAA' }, expiresAt,
  };
}

describe('local history', () => {
  it('pages messages, lists the newest or those before an id, and seals every page', async () => {
    const local = memoryStore<LocalItems>();
    const history = new History(local, await importVaultKey(randomBytes(32)));
    const r = room();
    for (let i = 1; i <= HISTORY_PAGE_SIZE * 2 + 5; i++) await history.append(r, message(i));
    expect(r.pages).toBe(3);
    const n = HISTORY_PAGE_SIZE * 2 + 5;
    expect((await history.list(r, 3)).map((m) => m.text)).toEqual([`m${n - 2}`, `m${n - 1}`, `m${n}`]);
    // Across a page boundary, and many pages at once (read together).
    const p = HISTORY_PAGE_SIZE;
    expect((await history.list(r, 2, message(p + 1).id)).map((m) => m.text)).toEqual([`m${p - 1}`, `m${p}`]);
    expect((await history.list(r, 500)).map((m) => m.text)).toEqual(Array.from({ length: n }, (_, i) => `m${i + 1}`));
    expect((await history.list(r, p + 7)).map((m) => m.text)).toEqual(Array.from({ length: p + 7 }, (_, i) => `m${n - p - 6 + i}`));
    expect(JSON.stringify(local.dump())).not.toContain('"text"'); // every page is sealed
    const fresh = new History(local, await importVaultKey(randomBytes(32)));
    await expect(fresh.list(r, 1)).rejects.toThrow();
  });

  it('updates a recent message in place', async () => {
    const history = new History(memoryStore<LocalItems>(), await importVaultKey(randomBytes(32)));
    const r = room();
    await history.append(r, { ...message(1), status: 'sending', seq: null });
    expect(await history.update(r, message(1).id, { status: 'sent', seq: 9 })).toMatchObject({ status: 'sent', seq: 9 });
    expect((await history.list(r, 1))[0]).toMatchObject({ status: 'sent', seq: 9 });
  });

  it('deletes only expired messages and only reads pages with something due', async () => {
    const local = memoryStore<LocalItems>();
    const history = new History(local, await importVaultKey(randomBytes(32)));
    const r = room();
    for (let i = 1; i <= HISTORY_PAGE_SIZE + 10; i++) await history.append(r, message(i, i <= 5 ? 1000 : i > HISTORY_PAGE_SIZE ? 5000 : null));
    expect(r.pageExpiry).toEqual([1000, 5000]);
    expect(await history.removeExpired(r, 999)).toEqual([]);
    const removed = await history.removeExpired(r, 1000);
    expect(removed).toHaveLength(5);
    expect(r.pageExpiry).toEqual([null, 5000]);
    expect((await history.list(r, 500)).map((m) => m.text)).not.toContain('m3');
    expect(await history.removeExpired(r, 5000)).toHaveLength(10);
    expect(await history.list(r, 500)).toHaveLength(HISTORY_PAGE_SIZE - 5);
  });

  it('hands out the envelopes after a sequence number in pages from the newest, each oldest first, saying where the next starts', async () => {
    const history = new History(memoryStore<LocalItems>(), await importVaultKey(randomBytes(32)));
    const r = room();
    for (let i = 1; i <= 250; i++) await history.append(r, message(i));
    const seqs = (page: { envelopes: Array<{ seq: number }> }) => page.envelopes.map((e) => e.seq);
    const all = await history.syncPage(r, { since: 240 }, 500);
    expect(seqs(all)).toEqual([241, 242, 243, 244, 245, 246, 247, 248, 249, 250]);
    expect(all.next).toBeNull();
    const first = await history.syncPage(r, { since: 0 }, 3);
    expect(seqs(first)).toEqual([248, 249, 250]);
    expect(first).toMatchObject({ next: 248, held: 250 });
    const second = await history.syncPage(r, { since: 0, before: 248 }, 3);
    expect(seqs(second)).toEqual([245, 246, 247]);
    expect(second.next).toBe(245);
    const last = await history.syncPage(r, { since: 0, before: 3 }, 3);
    expect(seqs(last)).toEqual([1, 2]);
    expect(last.next).toBeNull();
    // Paging the whole range hands over every envelope exactly once.
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await history.syncPage(r, { since: 10, ...(before ? { before } : {}) }, 40);
      seen.push(...seqs(page));
      if (page.next === null) break;
      before = page.next;
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 240 }, (_, i) => i + 11));
    expect(await history.firstSeq(r)).toBe(1);
  });

  it('pages by sequence number even where stored order differs (our own messages get theirs when acknowledged)', async () => {
    const history = new History(memoryStore<LocalItems>(), await importVaultKey(randomBytes(32)));
    const r = room();
    // Stored in this order; seq 100 was stored long before the messages numbered below it.
    const order = [100, ...Array.from({ length: 60 }, (_, i) => i + 1)];
    for (const seq of order) await history.append(r, message(seq));
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await history.syncPage(r, { since: 0, ...(before ? { before } : {}) }, 10);
      seen.push(...page.envelopes.map((e) => e.seq));
      if (page.next === null) break;
      before = page.next;
    }
    expect(seen.sort((a, b) => a - b)).toEqual([...order].sort((a, b) => a - b));
  });
});

describe('local history when storage is full', () => {
  /** A store whose writes throw a quota error while `full` (Chrome's words). */
  function fillingStore() {
    const inner = memoryStore<LocalItems>();
    const state = { full: false };
    const store: typeof inner = {
      ...inner,
      async set(key, value) {
        if (state.full) throw new Error('QUOTA_BYTES quota exceeded');
        return inner.set(key, value);
      },
    };
    return { store, state, inner };
  }

  it('keeps what is stored, shows the unwritten message, and writes it first once there is room (also across a new page)', async () => {
    const { store, state, inner } = fillingStore();
    const key = await importVaultKey(randomBytes(32));
    const history = new History(store, key);
    const r = room();
    for (let i = 1; i <= HISTORY_PAGE_SIZE; i++) await history.append(r, message(i));
    const stored = JSON.stringify(inner.dump());

    state.full = true;
    // The page is full: the next message starts page 1, and the write fails.
    await expect(history.append(r, message(HISTORY_PAGE_SIZE + 1))).rejects.toThrow(/quota/u);
    expect(JSON.stringify(inner.dump())).toBe(stored);
    expect((await history.list(r, 1)).map((m) => m.text)).toEqual([`m${HISTORY_PAGE_SIZE + 1}`]);
    await expect(history.flush(r)).rejects.toThrow(/quota/u);

    state.full = false;
    await history.flush(r);
    const reread = new History(store, key);
    expect((await reread.list(r, 500)).map((m) => m.text)).toEqual(Array.from({ length: HISTORY_PAGE_SIZE + 1 }, (_, i) => `m${i + 1}`));
  });

  it('writes an unwritten newest page before starting the next one', async () => {
    const { store, state } = fillingStore();
    const key = await importVaultKey(randomBytes(32));
    const history = new History(store, key);
    const r = room();
    for (let i = 1; i < HISTORY_PAGE_SIZE; i++) await history.append(r, message(i));
    state.full = true;
    await expect(history.append(r, message(HISTORY_PAGE_SIZE))).rejects.toThrow(/quota/u);
    state.full = false;
    await history.append(r, message(HISTORY_PAGE_SIZE + 1));
    const reread = new History(store, key);
    expect((await reread.list(r, 500)).map((m) => m.text)).toEqual(Array.from({ length: HISTORY_PAGE_SIZE + 1 }, (_, i) => `m${i + 1}`));
  });
});

describe('quota errors', () => {
  it('are recognised in Chrome’s and Firefox’s words and shown as storage full', async () => {
    const { isQuotaError, toUserError } = await import('@/services/errors');
    expect(isQuotaError(new Error('Resource::kQuotaBytes quota exceeded'))).toBe(true);
    expect(isQuotaError(new Error('QUOTA_BYTES quota exceeded'))).toBe(true);
    expect(isQuotaError(new DOMException('The quota has been exceeded.', 'QuotaExceededError'))).toBe(true);
    expect(isQuotaError(Object.assign(new Error('full'), { name: 'QuotaExceededError' }))).toBe(true);
    expect(isQuotaError(new Error('network down'))).toBe(false);
    expect(isQuotaError('quota')).toBe(false);
    expect(toUserError(new Error('QUOTA_BYTES quota exceeded'))).toEqual({ code: 'storage-full', message: 'QUOTA_BYTES quota exceeded' });
  });
});
