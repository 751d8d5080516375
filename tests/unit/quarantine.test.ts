/**
 * Stored items that cannot be read (bad ciphertext, truncated JSON, the wrong shape) are moved aside and reported,
 * never breaking the room or the extension (services/quarantine.ts). Each case starts from the committed store
 * fixture (tests/fixtures/store-v1.json) with one item damaged.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { History } from '@/services/history';
import { MAX_QUARANTINED, Quarantine } from '@/services/quarantine';
import type { LocalItems, QuarantineEntry, RoomRecord, SessionItems } from '@/services/records';
import { seal, unseal, type Sealed } from '@/services/sealed';
import { memoryStore } from '@/services/store';
import { Vault } from '@/services/vault';
import { fromBase64, randomBytes, toBase64, utf8 } from '@/shared/encoding';
import type { PushEvent } from '@/utils/protocol-map';
import { failingAfter, serviceOver, storeOf, STORE_V1, type MemoryStore } from './support/stored';

const { backup, ephemeral } = STORE_V1.rooms;
const BACKUP_PAGE = `page:${backup}:0` as const;
let vaultKey: CryptoKey;

beforeAll(async () => {
  vaultKey = (await new Vault(await storeOf(STORE_V1.local), memoryStore<SessionItems>()).unlock(STORE_V1.passphrase)).vaultKey;
});

/** Seals `text` as is (not JSON-encoded) under `key`, the way a value cut short on its way to storage would look. */
async function sealRaw(text: string, key: string): Promise<Sealed> {
  const iv = randomBytes(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource, additionalData: utf8(key) as BufferSource }, vaultKey, utf8(text) as BufferSource);
  return { iv: toBase64(iv), ct: toBase64(new Uint8Array(ct)) };
}

/** The same sealed value with one byte of its ciphertext flipped. */
function damaged(sealed: Sealed): Sealed {
  const ct = fromBase64(sealed.ct);
  ct[5] = (ct[5] ?? 0) ^ 0xff;
  return { iv: sealed.iv, ct: toBase64(ct) };
}

async function fixtureStore(): Promise<MemoryStore> {
  return storeOf(STORE_V1.local);
}

async function opened<T>(local: MemoryStore, key: keyof LocalItems & string): Promise<T> {
  return unseal<T>(vaultKey, (await local.get(key)) as Sealed, key);
}

async function unlocked(local: MemoryStore, events: PushEvent[] = []) {
  const chat = serviceOver(local, { events });
  const state = await chat.unlock(STORE_V1.passphrase);
  return { chat, state };
}

async function asideOf(local: MemoryStore): Promise<QuarantineEntry[]> {
  return (await local.get('quarantine')) ?? [];
}

describe('a history page that cannot be read', () => {
  it('with bad ciphertext is moved aside: the room opens, says a message could not be read, and takes new messages', async () => {
    const local = await fixtureStore();
    const stored = (await local.get(BACKUP_PAGE)) as Sealed;
    await local.set(BACKUP_PAGE, damaged(stored));
    const events: PushEvent[] = [];
    const { chat } = await unlocked(local, events);

    expect(await chat.listMessages(backup)).toEqual([]);
    expect((await chat.getState()).rooms.find((r) => r.id === backup)?.unreadable).toBe(1);
    expect(events).toContainEqual({ type: 'summary', room: expect.objectContaining({ id: backup, unreadable: 1 }) });
    const [entry] = await asideOf(local);
    expect(entry).toMatchObject({ from: BACKUP_PAGE, room: backup, count: 1, reason: expect.stringMatching(/does not open/) });
    expect(await local.get(entry?.key ?? 'quarantine:')).toEqual({ stored: damaged(stored) });
    expect(await local.get(BACKUP_PAGE)).toBeUndefined();

    // The other room is untouched, and the damaged one goes on.
    expect((await chat.listMessages(ephemeral)).some((m) => m.text === 'first in ephemeral')).toBe(true);
    const sent = await chat.sendMessage(backup, 'still here');
    await chat.settled();
    expect((await chat.listMessages(backup)).map((m) => m.id)).toEqual([sent.id]);
    expect(await asideOf(local)).toHaveLength(1);
    chat.closeAll();
  });

  it('holding truncated JSON is moved aside, and the notice is gone once dismissed, also after a restart', async () => {
    const local = await fixtureStore();
    const json = JSON.stringify(await opened<unknown[]>(local, BACKUP_PAGE));
    await local.set(BACKUP_PAGE, await sealRaw(json.slice(0, json.length / 2), BACKUP_PAGE));
    const { chat } = await unlocked(local);
    expect(await chat.listMessages(backup)).toEqual([]);
    expect((await asideOf(local))[0]?.reason).toMatch(/not valid JSON/);
    expect((await chat.getState()).rooms.find((r) => r.id === backup)?.unreadable).toBe(1);

    expect((await chat.dismissUnreadable(backup)).unreadable).toBe(0);
    chat.closeAll();
    const { state, chat: again } = await unlocked(local);
    expect(state.rooms.find((r) => r.id === backup)?.unreadable).toBe(0);
    expect((await asideOf(local))[0]).toMatchObject({ from: BACKUP_PAGE, dismissed: true });
    again.closeAll();
  });

  it('with messages of the wrong shape keeps the others: only those are moved aside, sealed again', async () => {
    const local = await fixtureStore();
    const page = await opened<Array<Record<string, unknown>>>(local, BACKUP_PAGE);
    const texts = page.filter((m) => m.kind === 'text');
    const [first, second] = texts;
    if (!first || !second) throw new Error('the fixture has texts');
    const broken = page.map((m) => (m.id === first.id ? { ...m, text: 42 } : m.id === second.id ? { ...m, kind: 'poem' } : m));
    await local.set(BACKUP_PAGE, await seal(vaultKey, broken, BACKUP_PAGE));
    const { chat } = await unlocked(local);

    expect((await chat.listMessages(backup)).filter((m) => m.kind === 'text').map((m) => m.text)).toEqual(['an answer from Bob']);
    expect((await chat.getState()).rooms.find((r) => r.id === backup)?.unreadable).toBe(2);
    const [entry] = await asideOf(local);
    expect(entry).toMatchObject({ from: BACKUP_PAGE, count: 2, reason: expect.stringMatching(/wrong shape: text/) });
    const aside = await local.get(entry?.key ?? 'quarantine:');
    expect(JSON.stringify(aside)).not.toContain('no typo here');
    if (!aside || !('resealed' in aside) || !entry) throw new Error('the aside copy is sealed again');
    expect((await unseal<Array<{ id: string }>>(vaultKey, aside.resealed, entry.key)).map((m) => m.id)).toEqual([first.id, second.id]);
    expect((await opened<unknown[]>(local, BACKUP_PAGE)).length).toBe(page.length - 2);
    chat.closeAll();
  });

  it('that is not a list at all is moved aside whole', async () => {
    const local = await fixtureStore();
    await local.set(BACKUP_PAGE, await seal(vaultKey, { messages: 'gone' }, BACKUP_PAGE));
    const { chat } = await unlocked(local);
    expect(await chat.listMessages(backup)).toEqual([]);
    expect((await asideOf(local))[0]?.reason).toMatch(/not a list/);
    chat.closeAll();
  });
});

describe('a room record that cannot be read', () => {
  it.each([
    ['bad ciphertext', async (local: MemoryStore, key: `room:${string}`) => damaged((await local.get(key)) as Sealed), /does not open/],
    ['truncated JSON', async (_local: MemoryStore, key: `room:${string}`) => sealRaw('{"id":"', key), /not valid JSON/],
    [
      'the wrong shape',
      async (local: MemoryStore, key: `room:${string}`) => seal(vaultKey, { ...(await opened<object>(local, key)), keys: 'none' }, key),
      /wrong shape: keys/,
    ],
  ])('(%s) is moved aside; the extension unlocks and the other room opens', async (_kind, damage, reason) => {
    const local = await fixtureStore();
    const key = `room:${ephemeral}` as const;
    const stored = await local.get(key);
    await local.set(key, await damage(local, key));
    const { chat, state } = await unlocked(local);
    expect(state.phase).toBe('ready');
    expect(state.rooms.map((r) => r.id)).toEqual([backup]);
    expect((await chat.listMessages(backup)).some((m) => m.text === 'first in backup')).toBe(true);
    expect((await asideOf(local))[0]).toMatchObject({ from: key, room: ephemeral, reason: expect.stringMatching(reason) });
    expect(await local.get(key)).toBeUndefined();
    expect(stored).toBeDefined();
    // The home screen says so until dismissed; the page notice of the other room is not affected.
    expect(state.unreadableRooms).toBe(1);
    expect(state.rooms[0]?.unreadable).toBe(0);
    expect((await chat.dismissUnreadableRooms()).unreadableRooms).toBe(0);
    chat.closeAll();
    const { state: again, chat: restarted } = await unlocked(local);
    expect(again.unreadableRooms).toBe(0);
    restarted.closeAll();
  });
});

describe('the contacts and invitations books', () => {
  it('when they cannot be read are moved aside: the extension unlocks, rooms pin their members again', async () => {
    const local = await fixtureStore();
    await local.set('contacts', damaged((await local.get('contacts')) as Sealed));
    await local.set('invitations', await sealRaw('{"requests":[{"room"', 'invitations'));
    const { chat, state } = await unlocked(local);
    expect(state.phase).toBe('ready');
    expect(state.invitations).toEqual([]);
    expect(state.rooms).toHaveLength(2);
    expect((await asideOf(local)).map((e) => [e.from, e.room])).toEqual([
      ['contacts', null],
      ['invitations', null],
    ]);
    const bob = (await chat.getRoom(backup)).members.find((m) => m.name === 'Bob');
    expect(bob?.contactVerified).toBeFalsy();
    await chat.settled();
    await expect.poll(async () => (await local.get('contacts')) !== undefined).toBe(true);
    chat.closeAll();
  });

  it('of the wrong shape are moved aside too', async () => {
    const local = await fixtureStore();
    await local.set('contacts', await seal(vaultKey, { contacts: [{ fingerprint: 7 }] }, 'contacts'));
    await local.set('invitations', await seal(vaultKey, { requests: 'none' }, 'invitations'));
    const { state, chat } = await unlocked(local);
    expect(state.phase).toBe('ready');
    expect((await asideOf(local)).map((e) => e.reason)).toEqual([expect.stringMatching(/wrong shape: contacts/), expect.stringMatching(/wrong shape: requests/)]);
    chat.closeAll();
  });
});

describe('the quarantine', () => {
  it('when storage refuses the copy leaves the page where it is, and the room still reads', async () => {
    const local = await fixtureStore();
    const record = await opened<RoomRecord>(local, `room:${backup}`);
    const bad = damaged((await local.get(BACKUP_PAGE)) as Sealed);
    await local.set(BACKUP_PAGE, bad);
    const full = failingAfter(local, 0);
    const history = new History(full, vaultKey, new Quarantine(full, () => 1));
    expect(await history.list(record, 10)).toEqual([]);
    expect(await local.get(BACKUP_PAGE)).toEqual(bad);
    expect(await local.get('quarantine')).toBeUndefined();
  });

  it(`keeps the newest ${MAX_QUARANTINED} items, deleting older ones`, async () => {
    const local = memoryStore<LocalItems>();
    let now = 0;
    const q = new Quarantine(local, () => ++now);
    for (let i = 0; i < MAX_QUARANTINED + 5; i++) await q.put({ from: `page:r:${i}`, room: 'r', count: 1, reason: 'test' }, { stored: i });
    const list = (await local.get('quarantine')) ?? [];
    expect(list).toHaveLength(MAX_QUARANTINED);
    expect(list[0]?.from).toBe('page:r:5');
    expect(await local.get('quarantine:page:r:0:1')).toBeUndefined();
    expect(await local.get('quarantine:page:r:5:6')).toEqual({ stored: 5 });
    expect(q.unreadable('r')).toBe(MAX_QUARANTINED);
  });
});

describe('plain items of the wrong shape', () => {
  it('settings and a room index that are not what the code writes do not stop the start or the unlock', async () => {
    const local = await fixtureStore();
    await local.set('settings', { host: 42, notificationPreviews: 'yes' } as never);
    await local.set('roomIndex', [backup, 7, { id: ephemeral }] as never);
    const chat = serviceOver(local);
    const locked = await chat.getState();
    expect(locked).toMatchObject({ phase: 'locked', host: 'localhost:1999', notificationPreviews: false });
    const state = await chat.unlock(STORE_V1.passphrase);
    expect(state.rooms.map((r) => r.id)).toEqual([backup]);
    chat.closeAll();

    await local.set('settings', 'localhost:1999' as never);
    await local.set('roomIndex', { rooms: [backup] } as never);
    const again = serviceOver(local);
    expect((await again.unlock(STORE_V1.passphrase)).rooms).toEqual([]);
    again.closeAll();
  });
});
