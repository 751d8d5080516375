/**
 * Issue 9, attack 4: a member who joined later asks for `sync-request since 0`. We answer only with what the
 * room's settings let them read: messages sent after their join (by the signed payload time against the signed
 * time of their add/join record), unless the room shares earlier history.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readableSince } from '@/services/room/access';
import { randomHex } from '@/shared/encoding';
import { createAddRecord, createGenesis, createRecord, verifyChain, type RoomSettings } from '@/shared/membership';
import type { Envelope, SignedRecord } from '@/shared/protocol';
import { person, roomFixture, type Person, type RoomFixture } from './support/room-fixture';

const HOUR = 3_600_000;

/** Appends a record (signed by the room's admin) as the server would relay it. */
async function relay(f: RoomFixture, make: (chain: SignedRecord[]) => Promise<SignedRecord>): Promise<SignedRecord> {
  const chain = [...f.s.record.chain] as SignedRecord[];
  const record = await make(chain);
  f.socket.deliver({ type: 'chain', records: [record] });
  await f.settle();
  expect(f.s.record.chain.length).toBe(chain.length + 1);
  return record;
}

async function addMember(f: RoomFixture, newcomer: Person, ts: number): Promise<void> {
  await relay(f, async (chain) =>
    createAddRecord(await verifyChain(f.s.id, chain), { fingerprint: newcomer.fingerprint, publicKey: newcomer.publicKey, role: 'member' }, f.admin.privateKey, ts),
  );
}

async function setShareHistory(f: RoomFixture, shareHistory: boolean, ts: number): Promise<void> {
  const settings: RoomSettings = { disappearMs: null, shareHistory, retentionDays: null, retentionCount: null };
  await relay(f, async (chain) => createRecord<'settings'>(await verifyChain(f.s.id, chain), { kind: 'settings', settings }, f.admin.privateKey, ts));
}

/** Delivers messages live (signed payload `ts` chosen), as the server relays them. */
async function live(f: RoomFixture, messages: Array<{ from: Person; ts: number; text: string }>): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const { from, ts, text } of messages) {
    const envelope = await f.envelope(from, { ts, text });
    ids.set(envelope.id, text);
    f.socket.deliver({ type: 'msg', ...envelope });
    await f.settle();
  }
  expect(f.rejected).toEqual([]);
  return ids;
}

/** What we handed `to` in sync-replies after its `sync-request since 0`, as texts. */
async function answered(f: RoomFixture, to: Person, ids: Map<string, string>): Promise<string[]> {
  f.socket.sent.length = 0;
  f.socket.deliver({ type: 'sync-request', from: to.fingerprint, since: 0 });
  await f.settle();
  const replies = f.socket.sentOf('sync-reply');
  for (const reply of replies) expect(reply.to).toBe(to.fingerprint);
  return replies.flatMap((r) => r.messages).map((e: Envelope) => ids.get(e.id) ?? `unknown ${e.id}`);
}

describe('peer sync hands a member only what it may read (issue 9, attack 4)', () => {
  let alice: Person, bob: Person, carol: Person, dave: Person;
  beforeAll(async () => {
    [alice, bob, carol, dave] = await Promise.all([person('Alice'), person('Bob'), person('Carol'), person('Dave')]);
  });

  /** Bob (us) holds two messages from before Dave joined and two from after. */
  async function roomWithNewcomer(mode: 'ephemeral' | 'backup' = 'ephemeral') {
    const f = await roomFixture({ me: bob, others: [alice, carol], mode });
    const start = Date.now(); // after the fixture's chain was signed
    const before = await live(f, [
      { from: alice, ts: start + HOUR, text: 'before 1' },
      { from: carol, ts: start + 2 * HOUR, text: 'before 2' },
    ]);
    await addMember(f, dave, start + 3 * HOUR);
    const after = await live(f, [
      { from: alice, ts: start + 4 * HOUR, text: 'after 1' },
      { from: bob, ts: start + 5 * HOUR, text: 'after 2' },
    ]);
    return { f, start, ids: new Map([...before, ...after]) };
  }

  it.each(['ephemeral', 'backup'] as const)('%s room: a member who joined later gets only the messages sent after its join', async (mode) => {
    const { f, ids } = await roomWithNewcomer(mode);
    expect(await answered(f, dave, ids)).toEqual(['after 1', 'after 2']);
  });

  it('a member who was there all along gets everything', async () => {
    const { f, ids } = await roomWithNewcomer();
    expect(await answered(f, carol, ids)).toEqual(['before 1', 'before 2', 'after 1', 'after 2']);
  });

  it('with earlier history shared, the newcomer gets everything; turned off again, only what followed its join', async () => {
    const { f, start, ids } = await roomWithNewcomer();
    await setShareHistory(f, true, start + 6 * HOUR);
    expect(await answered(f, dave, ids)).toEqual(['before 1', 'before 2', 'after 1', 'after 2']);
    await setShareHistory(f, false, start + 7 * HOUR);
    expect(await answered(f, dave, ids)).toEqual(['after 1', 'after 2']);
  });

  it('a newcomer with nothing it may read gets no reply at all', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const start = Date.now();
    const ids = await live(f, [{ from: alice, ts: start + HOUR, text: 'before' }]);
    await addMember(f, dave, start + 2 * HOUR);
    expect(await answered(f, dave, ids)).toEqual([]);
    expect(f.socket.sentOf('sync-reply')).toEqual([]);
  });
});

describe('since when a member may read (readableSince)', () => {
  let alice: Person, carol: Person, dave: Person;
  beforeAll(async () => {
    [alice, carol, dave] = await Promise.all([person('Alice'), person('Carol'), person('Dave')]);
  });

  const T = 1_700_000_000_000;

  /** A chain signed by Alice (admin) from records made in order; each step gets the roster so far. */
  async function chainOf(steps: Array<(roster: Awaited<ReturnType<typeof verifyChain>>, room: string) => Promise<SignedRecord>>) {
    const room = randomHex(16);
    const chain: SignedRecord[] = [await createGenesis(room, 'ephemeral', alice.privateKey, T)];
    for (const step of steps) chain.push(await step(await verifyChain(room, chain), room));
    return { chain, roster: await verifyChain(room, chain) };
  }
  const add = (who: () => Person, ts: number) => (roster: Awaited<ReturnType<typeof verifyChain>>) =>
    createAddRecord(roster, { fingerprint: who().fingerprint, publicKey: who().publicKey, role: 'member' }, alice.privateKey, ts);

  it('is the signed time of the record that admitted the member; the creator, its genesis', async () => {
    const { chain, roster } = await chainOf([add(() => carol, T + 10), add(() => dave, T + 20)]);
    expect(readableSince(chain, roster, alice.fingerprint)).toBe(T);
    expect(readableSince(chain, roster, carol.fingerprint)).toBe(T + 10);
    expect(readableSince(chain, roster, dave.fingerprint)).toBe(T + 20);
  });

  it('is null for someone outside the membership, 0 for everyone when the room shares earlier history', async () => {
    const settings: RoomSettings = { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null };
    const { chain, roster } = await chainOf([add(() => carol, T + 10)]);
    expect(readableSince(chain, roster, dave.fingerprint)).toBeNull();
    const shared = await chainOf([add(() => carol, T + 10), (r) => createRecord<'settings'>(r, { kind: 'settings', settings }, alice.privateKey, T + 20)]);
    expect(readableSince(shared.chain, shared.roster, carol.fingerprint)).toBe(0);
    expect(readableSince(shared.chain, shared.roster, dave.fingerprint)).toBeNull();
  });

  it('is never earlier than a record before the admission (a backdated add or join gains nothing)', async () => {
    const { chain, roster } = await chainOf([add(() => carol, T + 50), add(() => dave, T - 1_000_000)]);
    expect(readableSince(chain, roster, dave.fingerprint)).toBe(T + 50);
  });

  it('takes the latest admission of a member who was removed and added again', async () => {
    const { chain, roster } = await chainOf([
      add(() => dave, T + 10),
      (r) => createRecord<'remove'>(r, { kind: 'remove', member: dave.fingerprint }, alice.privateKey, T + 20),
      add(() => dave, T + 30),
    ]);
    expect(readableSince(chain, roster, dave.fingerprint)).toBe(T + 30);
  });

  it("does not let a self-signed record's clock (a leave dated far ahead) push later members' admission", async () => {
    const { chain, roster } = await chainOf([
      add(() => carol, T + 10),
      (r) => createRecord<'leave'>(r, { kind: 'leave', member: carol.fingerprint }, carol.privateKey, T + 1_000_000_000),
      add(() => dave, T + 30),
    ]);
    expect(readableSince(chain, roster, dave.fingerprint)).toBe(T + 30);
  });
});
