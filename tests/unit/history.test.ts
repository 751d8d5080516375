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

  it('hands out the envelopes after a sequence number, oldest first, up to a limit', async () => {
    const history = new History(memoryStore<LocalItems>(), await importVaultKey(randomBytes(32)));
    const r = room();
    for (let i = 1; i <= 250; i++) await history.append(r, message(i));
    expect((await history.envelopesSince(r, 240, 500)).map((e) => e.seq)).toEqual([241, 242, 243, 244, 245, 246, 247, 248, 249, 250]);
    expect((await history.envelopesSince(r, 0, 3)).map((e) => e.seq)).toEqual([248, 249, 250]);
    expect(await history.firstSeq(r)).toBe(1);
  });
});
