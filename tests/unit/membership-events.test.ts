/**
 * Membership changes shown in the chat (issue 13): a line per join, add, approval, removal, leave and link
 * permission, once per record, for live chain frames and for records that arrived while away, never for
 * the history a newcomer's first welcome shows. Real keys and signed records, through the room fixture.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RoomEvent } from '@/services/records';
import { deriveLinkKeys, newLinkId, newLinkSecret, signJoinProof } from '@/shared/links';
import { createAddRecord, createJoinRecord, createRecord, verifyChain } from '@/shared/membership';
import type { SignedRecord } from '@/shared/protocol';
import { person, roomFixture, type Person, type RoomFixture } from './support/room-fixture';

let alice: Person, bob: Person, carol: Person, dan: Person, erin: Person, fay: Person;

beforeAll(async () => {
  [alice, bob, carol, dan, erin, fay] = await Promise.all([person('Alice'), person('Bob'), person('Carol'), person('Dan'), person('Erin'), person('Fay')]);
});

async function storedEvents(f: RoomFixture): Promise<RoomEvent[]> {
  const history = await f.s.edit((r) => f.ctx.history.list(r, 100));
  return history.filter((m) => m.kind === 'event').flatMap((m) => (m.event ? [m.event] : []));
}

/** What each event line says, as (change, member name, by name). */
function lines(events: RoomEvent[]): Array<[string, string, string]> {
  return events.map((e) => (e.type === 'member' ? [e.change, e.memberName, e.byName] : ['settings', '', e.byName]));
}

/** Records after `chain`, each signed on top of the ones before it: Alice's open and approval links, then every change. */
async function changes(roomId: string, chain: SignedRecord[]): Promise<SignedRecord[]> {
  const out: SignedRecord[] = [];
  const next = async (make: (roster: Awaited<ReturnType<typeof verifyChain>>) => Promise<SignedRecord>) => {
    out.push(await make(await verifyChain(roomId, [...chain, ...out])));
  };
  const openSecret = newLinkSecret();
  const openKeys = await deriveLinkKeys(openSecret);
  const open = newLinkId();
  const approval = newLinkId();
  const approvalKeys = await deriveLinkKeys(newLinkSecret());
  await next((r) => createRecord<'link'>(r, { kind: 'link', link: open, pub: openKeys.publicKey, approval: false, escrow: true, expires: null, uses: null, label: null }, alice.privateKey));
  await next((r) => createRecord<'link'>(r, { kind: 'link', link: approval, pub: approvalKeys.publicKey, approval: true, escrow: false, expires: null, uses: null, label: null }, alice.privateKey));
  await next(async (r) => {
    const proof = await signJoinProof(openKeys, roomId, open, dan.fingerprint);
    return createJoinRecord({ room: roomId, head: r.head, member: dan.fingerprint, key: dan.publicKey, link: open, proof }, dan.privateKey);
  });
  await next((r) => createAddRecord(r, { fingerprint: erin.fingerprint, publicKey: erin.publicKey, role: 'member' }, alice.privateKey));
  await next((r) => createAddRecord(r, { fingerprint: fay.fingerprint, publicKey: fay.publicKey, role: 'member', via: approval }, alice.privateKey));
  await next((r) => createRecord<'grant'>(r, { kind: 'grant', member: carol.fingerprint, canCreateLinks: true }, alice.privateKey));
  await next((r) => createRecord<'grant'>(r, { kind: 'grant', member: carol.fingerprint, canCreateLinks: false }, alice.privateKey));
  await next((r) => createRecord<'remove'>(r, { kind: 'remove', member: carol.fingerprint }, alice.privateKey));
  await next((r) => createRecord<'leave'>(r, { kind: 'leave', member: dan.fingerprint }, dan.privateKey));
  await next((r) => createRecord<'role'>(r, { kind: 'role', member: erin.fingerprint, role: 'admin' }, alice.privateKey));
  await next((r) => createRecord<'role'>(r, { kind: 'role', member: erin.fingerprint, role: 'member' }, alice.privateKey));
  await next((r) => createRecord<'leave'>(r, { kind: 'leave', member: alice.fingerprint, successor: erin.fingerprint }, alice.privateKey));
  return out;
}

const EXPECTED: Array<[string, string, string]> = [
  ['joined', 'Dan', 'Dan'],
  ['added', 'Erin', 'Alice'],
  ['approved', 'Fay', 'Alice'],
  ['links-allowed', 'Carol', 'Alice'],
  ['links-denied', 'Carol', 'Alice'],
  ['removed', 'Carol', 'Alice'],
  ['left', 'Dan', 'Dan'],
  ['promoted', 'Erin', 'Alice'],
  ['demoted', 'Erin', 'Alice'],
  ['left-successor', 'Erin', 'Alice'],
];

describe('membership changes in the chat', () => {
  it('a newcomer’s first welcome shows no line for the chain’s history', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    expect(f.chain.length).toBe(3);
    expect(await storedEvents(f)).toEqual([]);
    expect(f.events.filter((e) => e.type === 'message')).toEqual([]);
  });

  it('live chain frames: one line per join, add, approval, link permission, removal and leave, with the names', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const records = await changes(f.s.id, f.chain);
    // One frame per record, as the server relays them.
    for (const record of records) {
      f.socket.deliver({ type: 'chain', records: [record] });
      await f.settle();
    }
    expect(f.rejected).toEqual([]);
    expect(lines(await storedEvents(f))).toEqual(EXPECTED);
    // The UI was told of each line as it arrived, as an event row.
    const pushed = f.events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
    expect(pushed.map((m) => [m.kind, m.event?.type === 'member' ? m.event.change : m.event?.type])).toEqual(EXPECTED.map(([change]) => ['event', change]));
    const removal = pushed.find((m) => m.event?.type === 'member' && m.event.change === 'removed');
    expect(removal?.event).toMatchObject({ member: carol.fingerprint, by: alice.fingerprint });
    expect(removal?.from).toBe(alice.fingerprint);
  });

  it('records that arrived while away: one line each on the next welcome, and none again on the one after', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const records = await changes(f.s.id, f.chain);
    const chain = [...f.chain, ...records];
    const welcome = () => f.socket.deliver({ type: 'welcome', room: f.s.id, mode: 'ephemeral', epoch: 0, seq: 0, you: bob.fingerprint, chain, online: [bob.fingerprint], needKeys: [], requests: [], rotationDue: false });
    welcome();
    await f.settle();
    expect(f.rejected).toEqual([]);
    expect(lines(await storedEvents(f))).toEqual(EXPECTED);
    welcome();
    await f.settle();
    expect(lines(await storedEvents(f))).toEqual(EXPECTED);
  });

  it('a record that is not a membership change (a link) shows no line', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const [link] = await changes(f.s.id, f.chain);
    f.socket.deliver({ type: 'chain', records: link ? [link] : [] });
    await f.settle();
    expect(f.s.record.chain.length).toBe(4);
    expect(await storedEvents(f)).toEqual([]);
  });

  it('a lying server relays an add no admin signed: no line, no member, the change is flagged', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    // Carol is a member, not an admin: the record verifies as hers but she may not add anyone.
    const forged = await createAddRecord(await verifyChain(f.s.id, f.chain), { fingerprint: erin.fingerprint, publicKey: erin.publicKey, role: 'member' }, carol.privateKey);
    f.socket.deliver({ type: 'chain', records: [forged] });
    await f.settle();
    expect(await storedEvents(f)).toEqual([]);
    expect(f.s.roster?.members.has(erin.fingerprint)).toBe(false);
    expect(f.s.record.chain).toEqual(f.chain);
    expect(f.rejected.join('\n')).toMatch(/membership record rejected/);
  });
});
