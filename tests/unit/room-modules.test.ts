/**
 * The room modules (services/room/*) driven directly, without a server: frames go in through a fake
 * socket and `connectRoom`'s router; what the client sends back is read off the socket.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expiryFor, Sweeper } from '@/services/room/expiry';
import { maySendAt, maybeRotate, shareEarlierKeys } from '@/services/room/keys';
import { RoomSession } from '@/services/room/session';
import { unseal } from '@/services/sealed';
import { sendMessage } from '@/services/room/messages';
import { acceptCounter, missingCount, normalizeGaps } from '@/services/room/counters';
import { generateGek, readPublicKey, sealKeyEnvelope } from '@/shared/crypto';
import { randomHex, sha256Hex, toBase64, utf8 } from '@/shared/encoding';
import { deriveLinkKeys, newLinkId, newLinkSecret, signJoinProof } from '@/shared/links';
import { createAddRecord, createGenesis, createJoinRecord, createRecord, verifyChain, type RoomSettings } from '@/shared/membership';
import { roomKeyPayload } from '@/shared/payloads';
import type { Envelope, RoomServerFrame, SignedRecord } from '@/shared/protocol';
import type { LocalItems, RoomRecord } from '@/services/records';
import { beginJoin } from '@/services/room/links';
import { extendsChain } from '@/services/room/membership';
import { RoomRegistry } from '@/services/room/registry';
import { route } from '@/services/room/router';
import { emptyRoom } from '@/services/room/session';
import { memoryStore } from '@/services/store';
import { roomDetail } from '@/services/room/views';
import { readWith } from '../helpers/message-open';
import { person, roomFixture, type Person, type RoomFixture, type SealFormat } from './support/room-fixture';

describe('message counters', () => {
  it.each([
    { name: 'first message from a device sets its baseline', peer: undefined, missing: undefined, ctr: 7, accepted: true, after: 7, gaps: [] },
    { name: 'the next counter', peer: 3, missing: undefined, ctr: 4, accepted: true, after: 4, gaps: [] },
    { name: 'a duplicate', peer: 4, missing: undefined, ctr: 4, accepted: false, after: 4, gaps: [] },
    { name: 'a replay of an older counter', peer: 9, missing: undefined, ctr: 2, accepted: false, after: 9, gaps: [] },
    { name: 'a gap records what was skipped', peer: 3, missing: undefined, ctr: 7, accepted: true, after: 7, gaps: [[4, 6]] },
    { name: 'a missing one arriving late fills its gap', peer: 7, missing: [[4, 6]], ctr: 5, accepted: true, after: 7, gaps: [[4, 4], [6, 6]] },
    { name: 'the same late one twice', peer: 7, missing: [[4, 4], [6, 6]], ctr: 5, accepted: false, after: 7, gaps: [[4, 4], [6, 6]] },
    { name: 'the last of a gap closes it', peer: 7, missing: [[6, 6]], ctr: 6, accepted: true, after: 7, gaps: [] },
  ] as Array<{ name: string; peer?: number; missing?: Array<[number, number]>; ctr: number; accepted: boolean; after: number; gaps: Array<[number, number]> }>)('$name', ({ peer, missing, ctr, accepted, after, gaps }) => {
    const record: { peerCtr: Record<string, number>; missing: Record<string, Array<[number, number]>> } = { peerCtr: {}, missing: {} };
    if (peer !== undefined) record.peerCtr['a:d'] = peer;
    if (missing) record.missing['a:d'] = missing.map(([a, b]) => [a, b]);
    expect(acceptCounter(record, 'a:d', ctr)).toBe(accepted);
    expect(record.peerCtr['a:d']).toBe(after);
    expect(record.missing['a:d'] ?? []).toEqual(gaps);
  });

  it('a gap of any length is one range: 100,000 skipped counters all still count, and each is taken once', () => {
    const record = { peerCtr: { 'a:d': 1 }, missing: {} as Record<string, Array<[number, number]>> };
    expect(acceptCounter(record, 'a:d', 100_002)).toBe(true);
    expect(missingCount(record.missing['a:d'])).toBe(100_000);
    expect(acceptCounter(record, 'a:d', 2)).toBe(true);
    expect(acceptCounter(record, 'a:d', 2)).toBe(false);
    expect(missingCount(record.missing['a:d'])).toBe(99_999);
  });

  it('a device first seen in the middle (a member handing history newest first): older counters are new, the ones between become a gap', () => {
    const record = { peerCtr: {} as Record<string, number>, missing: {} as Record<string, Array<[number, number]>>, peerLow: undefined as Record<string, number> | undefined };
    expect(acceptCounter(record, 'a:d', 500)).toBe(true);
    expect(acceptCounter(record, 'a:d', 499)).toBe(true);
    expect(acceptCounter(record, 'a:d', 300)).toBe(true);
    expect(record.missing['a:d']).toEqual([[301, 498]]);
    expect(acceptCounter(record, 'a:d', 300)).toBe(false);
    expect(acceptCounter(record, 'a:d', 400)).toBe(true);
    expect(missingCount(record.missing['a:d'])).toBe(197);
  });

  it('gaps stored as a list of counters (before ranges) open as ranges', () => {
    const record = { missing: { 'a:d': [9, 4, 5, 6, 2] } as unknown as Record<string, Array<[number, number]>> };
    normalizeGaps(record);
    expect(record.missing['a:d']).toEqual([[2, 2], [4, 6], [9, 9]]);
  });
});

describe('taking in messages (ingest): the same checks for every source', () => {
  let alice: Person, bob: Person, carol: Person, mallory: Person;
  beforeAll(async () => {
    [alice, bob, carol, mallory] = await Promise.all([person('Alice'), person('Bob'), person('Carol'), person('Mallory')]);
  });

  type Case = { name: string; make: (f: RoomFixture, format: SealFormat) => Promise<Envelope>; shown: boolean; reason: RegExp | null };
  const cases: Case[] = [
    { name: 'a valid message from a member', make: (f, format) => f.envelope(alice, {}, { format }), shown: true, reason: null },
    { name: 'a payload naming another sender than its envelope', make: (f, format) => f.envelope(alice, { from: carol.fingerprint }, { format }), shown: false, reason: /does not match its envelope/ },
    { name: 'an envelope claiming a sender who did not sign it', make: (f, format) => f.envelope(carol, {}, { envelope: { from: alice.fingerprint }, format }), shown: false, reason: /message rejected/ },
    { name: 'a payload for another room', make: (f, format) => f.envelope(alice, { room: 'f'.repeat(32) }, { format }), shown: false, reason: /does not match its envelope/ },
    { name: 'a payload for another epoch than its envelope', make: (f, format) => f.envelope(alice, { epoch: 1 }, { envelope: { epoch: 0 }, format }), shown: false, reason: /does not match its envelope/ },
    { name: 'a payload whose id differs from its envelope', make: (f, format) => f.envelope(alice, {}, { envelope: { id: 'e'.repeat(32) }, format }), shown: false, reason: /does not match its envelope/ },
    { name: 'a sender outside the verified membership', make: (f, format) => f.envelope(mallory, {}, { format }), shown: false, reason: /not in the verified membership/ },
    { name: 'an epoch we hold no key for', make: (f, format) => f.envelope(alice, { epoch: 3 }, { format }), shown: false, reason: /no key for epoch 3/ },
    { name: 'sealed with another key', make: (f, format) => f.envelope(alice, {}, { gek: generateGek(), format }), shown: false, reason: /message rejected/ },
    // Format v1 binds the room, epoch, sender and id into the key and the additional data: a ciphertext sealed for
    // other ones does not decrypt under the envelope it arrives in.
    ...(['room', 'epoch', 'from', 'id'] as const).map((field): Case => ({
      name: `a v1 ciphertext sealed for another ${field} than its envelope`,
      make: (f, format) => f.envelope(alice, {}, { format, header: { [field]: field === 'epoch' ? 1 : 'c'.repeat(32) } }),
      shown: false,
      reason: /message rejected \(live\): the ciphertext cannot be decrypted/,
    })),
  ];
  const formats: SealFormat[] = ['v1', 'openpgp'];

  it.each(formats.flatMap((format) => cases.filter((c) => format === 'v1' || !c.name.startsWith('a v1')).map((c) => ({ ...c, format }))))('$name ($format)', async ({ make, shown, reason, format }) => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const envelope = await make(f, format);
    f.socket.deliver({ type: 'msg', ...envelope });
    await f.settle();
    const messages = f.events.filter((e) => e.type === 'message');
    expect(messages.length).toBe(shown ? 1 : 0);
    if (reason) expect(f.rejected.join('\n')).toMatch(reason);
    else expect(f.rejected).toEqual([]);
    const history = await f.s.edit((r) => f.ctx.history.list(r, 10));
    expect(history.length).toBe(shown ? 1 : 0);
  });

  it.each(['live', 'peer'] as const)('drops a replay of an earlier counter under a fresh id and seq (%s)', async (source) => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const first = await f.envelope(alice, { ctr: 1, text: 'once' });
    const replay = await f.envelope(alice, { ctr: 1, text: 'once, again' });
    for (const envelope of [first, replay]) {
      if (source === 'live') f.socket.deliver({ type: 'msg', ...envelope });
      else f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages: [envelope] });
      await f.settle();
    }
    const texts = (await f.s.edit((r) => f.ctx.history.list(r, 10))).map((m) => m.text);
    expect(texts).toEqual(['once']);
  });
});

describe('ephemeral sync pages (issue 11: a member who missed more than a page)', () => {
  let alice: Person, bob: Person, carol: Person;
  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([person('Alice'), person('Bob'), person('Carol')]);
  });

  it('asks the member who answered for the next page, below the last, until it says there is none', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol], mode: 'ephemeral' });
    f.s.serverSeq = 1000;
    const page = [await f.envelope(alice, { ctr: 900 }, { seq: 900 }), await f.envelope(alice, { ctr: 901 }, { seq: 901 })];
    f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages: page, page: { since: 0, next: 900, held: 700 } });
    await f.settle();
    expect(f.socket.sentOf('sync-request').at(-1)).toEqual({ type: 'sync-request', since: 0, before: 900, to: carol.fingerprint });
    // A page that does not go lower (a member trying to keep us asking) ends the transfer.
    const asked = f.socket.sentOf('sync-request').length;
    f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages: [], page: { since: 0, next: 950 } });
    await f.settle();
    expect(f.socket.sentOf('sync-request')).toHaveLength(asked);
  });

  it('what a member said it held and did not hand over shows as missing, senders unknown; capped by what the server says exists', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol], mode: 'ephemeral' });
    f.s.serverSeq = 40;
    const messages = await Promise.all(Array.from({ length: 10 }, (_, i) => f.envelope(alice, { ctr: i + 1 }, { seq: i + 1 })));
    f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages, page: { since: 0, next: null, held: 30 } });
    await f.settle();
    const detail = await roomDetail(f.ctx, f.s);
    expect(detail.gaps).toEqual([{ fingerprint: '', name: '', count: 20 }]);
    expect(detail.missing).toBe(20);
    // A member claiming to hold far more than exists cannot raise a bigger alarm than the server's own count allows.
    f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages: [], page: { since: 0, next: null, held: 100_000 } });
    await f.settle();
    expect((await roomDetail(f.ctx, f.s)).missing).toBe(40);
    // A member that hands over everything it held clears it.
    f.socket.deliver({ type: 'sync-reply', from: carol.fingerprint, messages, page: { since: 0, next: null, held: 10 } });
    await f.settle();
    expect((await roomDetail(f.ctx, f.s)).missing).toBe(0);
  });
});

describe('room keys (onKeys)', () => {
  let alice: Person, bob: Person, carol: Person, mallory: Person;
  beforeAll(async () => {
    [alice, bob, carol, mallory] = await Promise.all([person('Alice'), person('Bob'), person('Carol'), person('Mallory')]);
  });

  type Case = { name: string; from: () => Person; to: () => Person; epoch: number; audience: (f: RoomFixture) => Promise<{ to: string } | { head: string }>; gek: (f: RoomFixture) => Uint8Array; adopted: boolean; reason: RegExp | null };
  const cases: Case[] = [
    { name: 'a new epoch key for us, from a member', from: () => alice, to: () => bob, epoch: 1, audience: async () => ({ to: bob.fingerprint }), gek: () => generateGek(), adopted: true, reason: null },
    { name: 'a key for every member at our chain head', from: () => alice, to: () => bob, epoch: 1, audience: async (f) => ({ head: await sha256Hex(f.chain.at(-1)?.body ?? '') }), gek: () => generateGek(), adopted: true, reason: null },
    { name: 'a key for the members at a head from before we joined', from: () => alice, to: () => bob, epoch: 1, audience: async (f) => ({ head: await sha256Hex(f.chain[0]?.body ?? '') }), gek: () => generateGek(), adopted: false, reason: /does not match this room, epoch or recipient/ },
    { name: 'a key signed for someone else, re-wrapped to us', from: () => alice, to: () => bob, epoch: 1, audience: async () => ({ to: carol.fingerprint }), gek: () => generateGek(), adopted: false, reason: /does not match this room, epoch or recipient/ },
    { name: 'a key from outside the membership', from: () => mallory, to: () => bob, epoch: 1, audience: async () => ({ to: bob.fingerprint }), gek: () => generateGek(), adopted: false, reason: /outside the verified membership/ },
    { name: 'a different key for an epoch we already hold', from: () => carol, to: () => bob, epoch: 0, audience: async () => ({ to: bob.fingerprint }), gek: () => generateGek(), adopted: false, reason: /kept the one already held/ },
  ];

  it.each(cases)('$name', async ({ from, to, epoch, audience, gek, adopted, reason }) => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const key = toBase64(gek(f));
    const payload = roomKeyPayload({ room: f.s.id, epoch, from: from().fingerprint, gek: key, name: 'Fixture', mode: 'ephemeral' }, await audience(f));
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), await readPublicKey(to().publicKey), from().privateKey);
    const before = f.s.keyFor(epoch);
    f.socket.deliver({ type: 'keys', envelopes: [{ to: to().fingerprint, epoch, ct, kid: '0123456789abcdef', from: from().fingerprint }] });
    await f.settle();
    expect(f.s.keyFor(epoch)).toBe(adopted ? key : before);
    if (reason) expect(f.rejected.join('\n')).toMatch(reason);
    else expect(f.rejected).toEqual([]);
  });
});

describe('who starts the next key epoch after a removal (maybeRotate)', () => {
  let people: Person[];
  beforeAll(async () => {
    people = await Promise.all(['P1', 'P2', 'P3'].map((n) => person(n)));
    people.sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
  });
  // people[0] has the smallest fingerprint. Cases: [who I am, who removed (null: a leave), who is online besides me, do I rotate?]
  it.each([
    { name: 'the remover, when it is us', me: 2, remover: 2, online: [0, 1], rotates: true },
    { name: 'not us, when the remover is online', me: 0, remover: 2, online: [2], rotates: false },
    { name: 'us, the smallest fingerprint online, when the remover is offline', me: 0, remover: 2, online: [1], rotates: true },
    { name: 'not us, when a smaller fingerprint is online (a leave)', me: 1, remover: null, online: [0], rotates: false },
    { name: 'us, the smallest online, after a leave', me: 0, remover: null, online: [1, 2], rotates: true },
  ])('$name', async ({ me, remover, online, rotates }) => {
    const self = people[me] as Person;
    const f = await roomFixture({ me: self, others: people.filter((p) => p !== self) });
    f.s.online = new Set([self.fingerprint, ...online.map((i) => people[i]?.fingerprint ?? '')]);
    await f.s.run(() => maybeRotate(f.ctx, f.s, remover === null ? null : (people[remover]?.fingerprint ?? null)));
    const rotations = f.socket.sentOf('rotate');
    expect(rotations.length).toBe(rotates ? 1 : 0);
    if (rotates) {
      expect(rotations[0]?.epoch).toBe(1);
      expect(new Set(rotations[0]?.keys.map((k) => k.to))).toEqual(new Set(people.map((p) => p.fingerprint)));
    }
  });
});

describe('disappearing messages: the timer in force when a message was sent', () => {
  it.each([
    { name: 'before any timer', ts: 500, expires: null },
    { name: 'under a 30 s timer', ts: 1_500, expires: 31_500 },
    { name: 'after the timer changed to an hour', ts: 2_500, expires: 2_500 + 3_600_000 },
    { name: 'after the timer was turned off', ts: 3_500, expires: null },
  ])('$name', async ({ ts, expires }) => {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    const f = await roomFixture({ me: bob, others: [alice] });
    const chain = [...f.chain];
    for (const [at, ms] of [
      [1_000, 30_000],
      [2_000, 3_600_000],
      [3_000, null],
    ] as const) {
      const settings: RoomSettings = { disappearMs: ms, shareHistory: false, retentionDays: null, retentionCount: null };
      chain.push(await createRecord<'settings'>(await verifyChain(f.s.id, chain), { kind: 'settings', settings }, alice.privateKey, at));
    }
    f.s.adoptChain(chain, await verifyChain(f.s.id, chain));
    expect(expiryFor(f.s, ts)).toBe(expires);
  });
});

describe('the sweep deletes expired messages and tells the UI', () => {
  it('drops a disappeared message from the room preview, keeping the newest one left', async () => {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    let clock = 1_000_000;
    const f = await roomFixture({ me: bob, others: [alice], now: () => clock });
    const settings: RoomSettings = { disappearMs: 30_000, shareHistory: false, retentionDays: null, retentionCount: null };
    const chain = [...f.chain, await createRecord<'settings'>(await verifyChain(f.s.id, f.chain), { kind: 'settings', settings }, alice.privateKey, clock + 10_000)];
    f.s.adoptChain(chain, await verifyChain(f.s.id, chain));
    // One message before the timer (stays), one under it (disappears).
    for (const [text, ts] of [['stays', clock + 5_000], ['vanishes', clock + 20_000]] as const) {
      f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { text, ts })) });
      await f.settle();
    }
    expect(f.s.record.lastText).toBe('vanishes');
    clock += 60_000;
    const sweeper = new Sweeper(() => [f.s], f.ctx.history, () => clock, f.ctx.emit);
    await sweeper.sweep();
    sweeper.stop();
    expect(f.events.some((e) => e.type === 'expired' && e.ids.length === 1)).toBe(true);
    expect(f.s.record.lastText).toBe('stays');
    const pushed = f.events.filter((e) => e.type === 'summary').at(-1);
    expect(pushed?.type === 'summary' && pushed.room.lastText).toBe('stays');
  });
});

describe('missing messages under a disappearing timer', () => {
  async function timedRoom(clock: () => number) {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    const f = await roomFixture({ me: bob, others: [alice], now: clock });
    const settings: RoomSettings = { disappearMs: 30_000, shareHistory: false, retentionDays: null, retentionCount: null };
    const chain = [...f.chain, await createRecord<'settings'>(await verifyChain(f.s.id, f.chain), { kind: 'settings', settings }, alice.privateKey, 0)];
    f.s.adoptChain(chain, await verifyChain(f.s.id, chain));
    return { f, alice };
  }

  it('stops warning about a gap once the skipped messages would have disappeared anyway', async () => {
    let clock = 1_000_000;
    const { f, alice } = await timedRoom(() => clock);
    for (const ctr of [1, 5]) {
      f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { ctr, ts: clock })) });
      await f.settle();
      clock += 1_000;
    }
    expect(Object.values(f.s.record.missing)).toEqual([[[2, 4]]]);
    clock += 40_000;
    const sweeper = new Sweeper(() => [f.s], f.ctx.history, () => clock, f.ctx.emit);
    await sweeper.sweep();
    sweeper.stop();
    expect(f.s.record.missing).toEqual({});
  });

  it('never warns about a gap whose messages had disappeared before we noticed it', async () => {
    let clock = 1_000_000;
    const { f, alice } = await timedRoom(() => clock);
    f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { ctr: 1, ts: clock })) });
    await f.settle();
    clock += 5_000;
    const late = await f.envelope(alice, { ctr: 5, ts: clock });
    clock += 60_000; // it reaches us (e.g. from a peer) after its own timer and its predecessors' ran out
    f.socket.deliver({ type: 'msg', ...late });
    await f.settle();
    expect(f.s.record.missing).toEqual({});
  });

  it('keeps warning about a gap in a room without a timer', async () => {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    const f = await roomFixture({ me: bob, others: [alice] });
    for (const ctr of [1, 3]) {
      f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { ctr })) });
      await f.settle();
    }
    expect(Object.values(f.s.record.missing)).toEqual([[[2, 2]]]);
  });
});

describe('join requests an admin is shown (a lying server delivers them)', () => {
  it.each([
    { name: 'a request proving the link secret is listed', proofFrom: 'link', listed: true },
    { name: 'a request with a proof from another secret is ignored', proofFrom: 'other', listed: false },
  ] as const)('$name', async ({ proofFrom, listed }) => {
    const [alice, bob, dan] = await Promise.all([person('Alice'), person('Bob'), person('Dan')]);
    const f = await roomFixture({ me: alice, others: [bob] });
    // Bob, the admin, made an approval link; a request to join through it reaches Alice's client.
    const secret = newLinkSecret();
    const keys = await deriveLinkKeys(secret);
    const link = newLinkId();
    const record = await createRecord<'link'>(await verifyChain(f.s.id, f.chain), { kind: 'link', link, pub: keys.publicKey, approval: true, escrow: false, expires: null, uses: null, label: null }, bob.privateKey);
    const chain = [...f.chain, record];
    f.s.adoptChain(chain, await verifyChain(f.s.id, chain));
    const prover = proofFrom === 'link' ? keys : await deriveLinkKeys(newLinkSecret());
    const proof = await signJoinProof(prover, f.s.id, link, dan.fingerprint);
    f.socket.deliver({ type: 'join-request', request: { fp: dan.fingerprint, key: dan.publicKey, link, proof, ts: 1 } });
    await f.settle();
    expect(f.s.requests.has(dan.fingerprint)).toBe(listed);
    expect(f.events.some((e) => e.type === 'join-request')).toBe(listed);
    if (!listed) expect(f.rejected.join('\n')).toMatch(/join request ignored: no proof of the link secret/);
  });
});

describe('earlier epochs for a new member follow the room setting', () => {
  it.each([
    { shareHistory: false, epochs: [] },
    { shareHistory: true, epochs: [0] },
  ])('share earlier history $shareHistory: sends the keys of epochs $epochs', async ({ shareHistory, epochs }) => {
    const [alice, bob, carol] = await Promise.all([person('Alice'), person('Bob'), person('Carol')]);
    const f = await roomFixture({ me: bob, others: [alice] });
    const settings: RoomSettings = { disappearMs: null, shareHistory, retentionDays: null, retentionCount: null };
    const chain = [...f.chain, await createRecord<'settings'>(await verifyChain(f.s.id, f.chain), { kind: 'settings', settings }, alice.privateKey)];
    f.s.adoptChain(chain, await verifyChain(f.s.id, chain));
    f.s.adoptKey(1, toBase64(generateGek()));
    await shareEarlierKeys(f.ctx, f.s, carol.fingerprint, await readPublicKey(carol.publicKey));
    const sent = f.socket.sentOf('keys').flatMap((frame) => frame.keys);
    expect(sent.map((k) => k.epoch)).toEqual(epochs);
    expect(sent.every((k) => k.to === carol.fingerprint)).toBe(true);
  });
});

describe('the chain a link joiner or a member accepts (issue 9, attack 1)', () => {
  let alice: Person, lookalike: Person, joe: Person, bob: Person;
  beforeAll(async () => {
    // The server's own admin carries the real admin's display name.
    [alice, lookalike, joe, bob] = await Promise.all([person('Alice'), person('Alice'), person('Joe'), person('Bob')]);
  });

  /** A room of Alice's with an escrow link, and a look-alike room with the same id, a copy of the link record and Joe's join. */
  async function linkRooms(f: RoomFixture) {
    const roomId = randomHex(16);
    const secret = newLinkSecret();
    const linkKeys = await deriveLinkKeys(secret);
    const linkId = newLinkId();
    const linkFields = { kind: 'link', link: linkId, pub: linkKeys.publicKey, approval: false, escrow: true, expires: null, uses: null, label: null } as const;
    const build = async (admin: Person) => {
      const genesis = await createGenesis(roomId, 'ephemeral', admin.privateKey);
      const link = await createRecord<'link'>(await verifyChain(roomId, [genesis]), linkFields, admin.privateKey);
      const head = (await verifyChain(roomId, [genesis, link])).head;
      const proof = await signJoinProof(linkKeys, roomId, linkId, joe.fingerprint);
      const join = await createJoinRecord({ room: roomId, head, member: joe.fingerprint, key: joe.publicKey, link: linkId, proof }, joe.privateKey);
      return [genesis, link, join];
    };
    const [real, forged] = [await build(alice), await build(lookalike)];
    const pin = await sha256Hex(real[0]?.body ?? '');
    const s = new RoomRegistry(memoryStore<LocalItems>()).add(f.ctx, emptyRoom(roomId, 'ephemeral', Date.now()));
    beginJoin(s, { link: linkId, secret, genesis: pin });
    const welcome = (chain: SignedRecord[]): RoomServerFrame => ({ type: 'welcome', room: roomId, mode: 'ephemeral', epoch: 0, seq: 0, you: joe.fingerprint, chain, online: [], needKeys: [], requests: [], rotationDue: false });
    return { s, roomId, real, forged, welcome, linkId };
  }

  it('a joiner refuses a chain that does not start at the genesis its link pins, and takes no key from it', async () => {
    const f = await roomFixture({ me: joe, others: [bob] });
    const { s, roomId, forged, welcome, linkId } = await linkRooms(f);
    await route(f.ctx, s, welcome(forged));
    expect(f.rejected.join('\n')).toMatch(/does not start at the genesis the invite link names/);
    expect(s.roster).toBeNull();
    expect(s.record.chain).toEqual([]);
    expect(s.record.joining).toMatchObject({ state: 'failed', error: { code: 'room-forged' } });

    // The look-alike admin's key for us, and an escrow frame: neither is taken for a room whose chain was refused.
    const gek = toBase64(generateGek());
    const payload = roomKeyPayload({ room: roomId, epoch: 0, from: lookalike.fingerprint, gek, name: 'Team', mode: 'ephemeral' }, { to: joe.fingerprint });
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), await readPublicKey(joe.publicKey), lookalike.privateKey);
    await route(f.ctx, s, { type: 'keys', envelopes: [{ to: joe.fingerprint, epoch: 0, ct, kid: '0123456789abcdef', from: lookalike.fingerprint }] });
    await route(f.ctx, s, { type: 'escrow', link: linkId, epoch: 0, ct });
    expect(s.keyFor(0)).toBeUndefined();
    expect(f.rejected.join('\n')).toMatch(/escrowed key for a link we did not use/);
  });

  it('a joiner adopts the chain its link pins', async () => {
    const f = await roomFixture({ me: joe, others: [bob] });
    const { s, real, welcome } = await linkRooms(f);
    await route(f.ctx, s, welcome(real));
    expect(f.rejected).toEqual([]);
    expect(s.roster?.members.get(alice.fingerprint)?.role).toBe('admin');
    expect(s.record.joining).toMatchObject({ state: 'waiting-member', error: null });
  });

  it('a join stored before links pinned their room fails with its own error instead of trusting the server', async () => {
    const f = await roomFixture({ me: joe, others: [bob] });
    const { s, real, welcome } = await linkRooms(f);
    // What an older version stored: no genesis in the joining state.
    s.edit((r) => void (r.joining = { link: r.joining?.link ?? '', secret: r.joining?.secret ?? '', state: 'joining', error: null } as RoomRecord['joining']));
    await route(f.ctx, s, welcome(real));
    expect(s.roster).toBeNull();
    expect(s.record.joining).toMatchObject({ state: 'failed', error: { code: 'link-outdated' } });
  });

  it('extendsChain: only appends are accepted, a different genesis or history is not', async () => {
    const f = await roomFixture({ me: bob, others: [alice, joe] });
    const [genesis, ...rest] = f.chain;
    if (!genesis) throw new Error('no genesis');
    const otherGenesis = await createGenesis(f.s.id, 'ephemeral', lookalike.privateKey);
    const appended = await createRecord<'settings'>(await verifyChain(f.s.id, f.chain), { kind: 'settings', settings: f.s.requireRoster().settings }, alice.privateKey);
    expect(extendsChain(f.chain, f.chain)).toBe(true);
    expect(extendsChain(f.chain, [...f.chain, appended])).toBe(true);
    expect(extendsChain(f.chain, [otherGenesis, ...rest]), 'another genesis').toBe(false);
    expect(extendsChain(f.chain, [{ ...genesis, sig: rest[0]?.sig ?? '' }, ...rest]), 'the genesis with another signature').toBe(false);
    expect(extendsChain(f.chain, f.chain.slice(0, -1)), 'a rollback').toBe(false);
    expect(extendsChain(f.chain, [genesis, appended, ...rest]), 'another history').toBe(false);
  });

  it('a member refuses a welcome whose chain starts at another genesis, even one that lists it', async () => {
    const f = await roomFixture({ me: bob, others: [alice, joe] });
    const forged = [await createGenesis(f.s.id, 'ephemeral', lookalike.privateKey)];
    for (const p of [joe, bob]) forged.push(await createAddRecord(await verifyChain(f.s.id, forged), { fingerprint: p.fingerprint, publicKey: p.publicKey, role: 'member' }, lookalike.privateKey));
    const head = f.s.roster?.head;
    f.socket.deliver({ type: 'welcome', room: f.s.id, mode: 'ephemeral', epoch: 0, seq: 0, you: bob.fingerprint, chain: forged, online: [], needKeys: [], requests: [], rotationDue: false });
    await f.settle();
    expect(f.rejected.join('\n')).toMatch(/rewrites the one we verified before/);
    expect(f.s.record.chain).toEqual(f.chain);
    expect(f.s.roster?.head).toBe(head);
  });
});

describe('nothing goes out under a key a member who left holds (issue 9, attack 3)', () => {
  let alice: Person, bob: Person, carol: Person;
  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([person('Alice'), person('Bob'), person('Carol')]);
  });

  /** Alice (admin) moves the room to epoch 1 and hands Bob its key, as the server relays it. */
  async function nextEpoch(f: RoomFixture): Promise<Uint8Array> {
    const gek = generateGek();
    const payload = roomKeyPayload({ room: f.s.id, epoch: 1, from: alice.fingerprint, gek: toBase64(gek), name: 'Fixture', mode: 'ephemeral' }, { to: bob.fingerprint });
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), await readPublicKey(bob.publicKey), alice.privateKey);
    f.socket.deliver({ type: 'epoch', epoch: 1, rotationDue: false, by: alice.fingerprint });
    f.socket.deliver({ type: 'keys', envelopes: [{ to: bob.fingerprint, epoch: 1, ct, kid: '0123456789abcdef', from: alice.fingerprint }] });
    await f.settle();
    return gek;
  }

  async function opensWith(f: RoomFixture, gek: Uint8Array, frame: { id: string; epoch: number; ct: string } | undefined): Promise<boolean> {
    if (!frame) return false;
    const binding = { room: f.s.id, epoch: frame.epoch, from: bob.fingerprint, id: frame.id };
    return (await readWith(gek, frame.ct, binding, await readPublicKey(bob.publicKey))) !== null;
  }

  it('a message written right after a member left waits for the next key, then goes out under it only', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol], online: [bob.fingerprint, alice.fingerprint] });
    const leave = await createRecord<'leave'>(await verifyChain(f.s.id, f.chain), { kind: 'leave', member: carol.fingerprint }, carol.privateKey);
    f.socket.deliver({ type: 'chain', records: [leave] });
    await f.settle();
    const view = await sendMessage(f.ctx, f.s, 'after Carol left');
    expect(f.socket.sentOf('msg')).toEqual([]);
    expect(f.s.record.outbox.map((o) => o.id)).toEqual([view.id]);

    const gek = await nextEpoch(f);
    const sent = f.socket.sentOf('msg');
    expect(sent.map((m) => [m.id, m.epoch])).toEqual([[view.id, 1]]);
    expect(await opensWith(f, gek, sent[0])).toBe(true);
    expect(await opensWith(f, f.gek, sent[0])).toBe(false);
  });

  it('an unacknowledged message is not flushed under the old key by a welcome that says a rotation is due', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    const view = await sendMessage(f.ctx, f.s, 'before the server answered');
    f.socket.sent.length = 0;
    const leave = await createRecord<'leave'>(await verifyChain(f.s.id, f.chain), { kind: 'leave', member: carol.fingerprint }, carol.privateKey);
    const chain = [...f.chain, leave];
    const online = [bob.fingerprint, alice.fingerprint];
    f.socket.deliver({ type: 'welcome', room: f.s.id, mode: 'ephemeral', epoch: 0, seq: 0, you: bob.fingerprint, chain, online, needKeys: [], requests: [], rotationDue: true });
    await f.settle();
    expect(f.socket.sentOf('msg')).toEqual([]);

    await nextEpoch(f);
    expect(f.socket.sentOf('msg').map((m) => [m.id, m.epoch])).toEqual([[view.id, 1]]);
  });

  it('a welcome that keeps quiet about the rotation still does not flush under the old key when its chain shows a leave', async () => {
    const f = await roomFixture({ me: bob, others: [alice, carol] });
    await sendMessage(f.ctx, f.s, 'before the server answered');
    f.socket.sent.length = 0;
    const leave = await createRecord<'leave'>(await verifyChain(f.s.id, f.chain), { kind: 'leave', member: carol.fingerprint }, carol.privateKey);
    const online = [bob.fingerprint, alice.fingerprint];
    f.socket.deliver({ type: 'welcome', room: f.s.id, mode: 'ephemeral', epoch: 0, seq: 0, you: bob.fingerprint, chain: [...f.chain, leave], online, needKeys: [], requests: [], rotationDue: false });
    await f.settle();
    expect(f.socket.sentOf('msg')).toEqual([]);
  });
});

describe('who may start a key epoch, as a client checks it (issue 9, attack 7)', () => {
  let alice: Person, bob: Person, carol: Person, dave: Person;
  beforeAll(async () => {
    [alice, bob, carol, dave] = await Promise.all([person('Alice'), person('Bob'), person('Carol'), person('Dave')]);
  });

  it.each([
    { name: 'a member who is not an admin, with no departure in the chain', from: () => carol, departure: false, adopted: false },
    { name: 'a member who is not an admin, after a member left', from: () => carol, departure: true, adopted: true },
    { name: 'an admin, with no departure in the chain', from: () => alice, departure: false, adopted: true },
  ])('a key for epoch 1 from $name', async ({ from, departure, adopted }) => {
    const f = await roomFixture({ me: bob, others: [alice, carol, dave], online: [bob.fingerprint, alice.fingerprint, carol.fingerprint] });
    if (departure) {
      f.socket.deliver({ type: 'chain', records: [await createRecord<'leave'>(await verifyChain(f.s.id, f.chain), { kind: 'leave', member: dave.fingerprint }, dave.privateKey)] });
      await f.settle();
    }
    const key = toBase64(generateGek());
    const head = await sha256Hex(f.s.record.chain.at(-1)?.body ?? '');
    const payload = roomKeyPayload({ room: f.s.id, epoch: 1, from: from().fingerprint, gek: key, name: 'Fixture', mode: 'ephemeral' }, { head });
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), await readPublicKey(bob.publicKey), from().privateKey);
    f.socket.sent.length = 0;
    f.socket.deliver({ type: 'keys', envelopes: [{ to: bob.fingerprint, epoch: 1, ct, kid: '0123456789abcdef', from: from().fingerprint }] });
    await f.settle();
    expect(f.s.keyFor(1)).toBe(adopted ? key : undefined);
    expect(f.socket.sentOf('keys-ack').length).toBe(adopted ? 1 : 0);
    if (!adopted) expect(f.rejected.join('\n')).toMatch(/may not start a key epoch/);
  });
});

describe('a rotation nobody designated starts (messages wait for it since attack 3)', () => {
  it('is started by another member still here once the designated one stayed silent', async () => {
    const people = (await Promise.all(['Q1', 'Q2', 'Q3'].map((n) => person(n)))).sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
    const [silent, me, admin] = people as [Person, Person, Person];
    // `silent` has the smallest fingerprint and is online: it is designated, and never rotates.
    const f = await roomFixture({ me, others: [admin, silent], online: [me.fingerprint, silent.fingerprint] });
    f.socket.deliver({ type: 'epoch', epoch: 0, rotationDue: true });
    await f.settle();
    expect(f.socket.sentOf('rotate')).toEqual([]);
    const deadline = Date.now() + 10_000;
    while (!f.socket.sentOf('rotate').length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(f.socket.sentOf('rotate').map((r) => r.epoch)).toEqual([1]);
    f.s.dispose();
  });
});

describe('keys a departed member holds stay retired across a restart (issue 9, attack 3)', () => {
  it('a restarted worker still sends nothing under the old key, even if the next welcome keeps quiet', async () => {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    const f = await roomFixture({ me: bob, others: [alice] });
    expect(maySendAt(f.s, 0)).toBe(true);
    f.socket.deliver({ type: 'epoch', epoch: 0, rotationDue: true });
    await f.settle();
    expect(maySendAt(f.s, 0)).toBe(false);
    f.s.dispose();
    // The worker restarts: the room comes back from storage only.
    const key = `room:${f.s.id}` as const;
    const sealed = await f.local.get(key);
    if (!sealed) throw new Error('the room was not stored');
    const restarted = new RoomSession(await unseal<RoomRecord>(f.ctx.me.vaultKey, sealed, key), { persist: async () => undefined, onRejected: () => undefined });
    expect(maySendAt(restarted, 0)).toBe(false);
  });
});
