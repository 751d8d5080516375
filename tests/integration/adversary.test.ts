/**
 * Attacks the product already defends, run with the adversary harness: a lying server (a man-in-the-middle in
 * front of the real party server, which every ChatService here connects through) and a hostile member (real keys,
 * raw frames). Each test asserts the specific refusal, or the absence of what the attack was after.
 */
import { inject } from 'vitest';
import { formatContactCode, generateIdentity } from '@/shared/crypto';
import { fromBase64, randomBytes, randomHex, toBase64 } from '@/shared/encoding';
import { createRecord, verifyChain } from '@/shared/membership';
import type { RoomServerFrame, SignedRecord } from '@/shared/protocol';
import { hostileRoom, rejects, type HostileRoom } from '../helpers/adversary/hostile-room';
import type { LyingServer } from '../helpers/adversary/lying-server';
import { publishedKey, type MaliciousMember } from '../helpers/adversary/malicious-member';
import { identityKeyOf, storedRoom, until, type TestClient } from '../helpers/node-client';

const upstream = inject('partyHost');

async function texts(client: TestClient, roomId: string): Promise<string[]> {
  return (await client.chat.listMessages(roomId, 500)).filter((m) => m.kind === 'text').map((m) => m.text);
}

describe('a lying server and a hostile member, against defences that exist', () => {
  let proxy: LyingServer;
  let alice: TestClient;
  let bob: TestClient;
  let mallory: MaliciousMember;
  let roomId: string;
  let fp: { alice: string; bob: string };

  let stage: HostileRoom;

  beforeAll(async () => {
    stage = await hostileRoom(upstream, 'Adversary');
    ({ proxy, alice, bob, mallory, roomId, fp } = stage);
  });

  afterAll(() => stage?.stop());

  it.each(['rolled back to a stale welcome', 'forked by a validly signed record in place of one already verified'])(
    'refuses a membership chain the server %s on reconnect',
    async (lie) => {
      const first = await proxy.member(roomId, fp.bob);
      const stale = first.frames('to-client', 'welcome').at(-1);
      const staleWelcome = stale?.frame?.type === 'welcome' && 'chain' in stale.frame ? stale.frame : null;
      if (!stale || !staleWelcome) throw new Error('no welcome recorded for Bob');
      // The chain grows by one more record (a link) after that welcome.
      const length = (await storedRoom(bob, roomId)).chain.length;
      expect(length).toBeGreaterThanOrEqual(staleWelcome.chain.length);
      await alice.chat.createLink(roomId, { approval: false, escrow: false, expiresInMs: null, maxUses: null, label: '' });
      const known = await until(async () => {
        const chain = (await storedRoom(bob, roomId)).chain;
        return chain.length === length + 1 ? chain : null;
      }, 'bob verified the new record');

      let lied: unknown = stale.raw;
      if (lie.startsWith('forked')) {
        const base = known.slice(0, -1);
        const other = await createRecord<'link-revoke' | 'links-reset'>(await verifyChain(roomId, base), { kind: 'links-reset' }, await identityKeyOf(alice));
        lied = { ...staleWelcome, chain: [...base, other] };
      }
      const before = bob.rejected.length;
      const mark = proxy.seen.length;
      proxy.replace('to-client', (f, s) => f?.type === 'welcome' && s.conn.fp === fp.bob, () => lied, { times: 1 });
      first.close();

      await rejects(bob, 'rewrites the one we verified before', before);
      expect(proxy.seen.slice(mark).filter((s) => s.direction === 'to-client' && s.frame?.type === 'welcome' && s.conn.fp === fp.bob).map((s) => s.fate)).toEqual(['replaced']);
      expect((await storedRoom(bob, roomId)).chain.map((r) => r.body)).toEqual(known.map((r) => r.body));
    },
  );

  it.each([
    ['signed by a member who is no admin', 'record is not signed by an admin of the room'],
    ['claiming the admin as its signer', 'record signature does not verify'],
  ])('flags a member-add record the server injects, %s, and never sends that member a key', async (how, reason) => {
    const ghost = await generateIdentity('Ghost', 'ghost passphrase');
    const roster = await verifyChain(roomId, (await storedRoom(alice, roomId)).chain);
    const fields = { kind: 'add' as const, member: ghost.fingerprint, key: ghost.publicKey, role: 'member' as const };
    const forged: SignedRecord = how.startsWith('signed by a member')
      ? await mallory.signRecord<'add'>(fields, roster)
      : await mallory.signBody({ v: 1, room: roomId, prev: roster.head, by: fp.alice, ts: Date.now(), ...fields });
    const counts = { alice: alice.rejected.length, bob: bob.rejected.length };

    for (const victim of [fp.alice, fp.bob]) {
      const conn = await proxy.member(roomId, victim);
      conn.toClient({ type: 'chain', records: [forged] } satisfies RoomServerFrame);
      conn.toClient({ type: 'need-key', members: [ghost.fingerprint] } satisfies RoomServerFrame);
    }

    for (const [victim, from] of [[alice, counts.alice], [bob, counts.bob]] as const) {
      await rejects(victim, reason, from);
      await rejects(victim, 'the server asked us to hand the room key to someone no admin or link admitted', from);
      const shown = (await victim.chat.getRoom(roomId)).members.find((m) => m.fingerprint === ghost.fingerprint);
      expect(shown).toMatchObject({ verified: false });
      expect((await storedRoom(victim, roomId)).chain.some((r) => r.body === forged.body)).toBe(false);
    }
    // Both have handled the need-key frame (their room queues are past it) once a later message went through.
    const marker = await alice.chat.sendMessage(roomId, `after the ${how} injection`);
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === marker.id), 'bob receives the marker');
    const keysForGhost = proxy.frames('to-server', (f) => (f?.type === 'keys' || f?.type === 'rotate' || f?.type === 'append') && JSON.stringify(f).includes(ghost.fingerprint));
    expect(keysForGhost).toEqual([]);
  });

  /** Each attack on messages runs against format v1 (what the extension sends) and the older OpenPGP format (still opened). */
  const formats = ['v1', 'openpgp'] as const;

  it.each(
    formats.flatMap((format) => [
      ['the member who really signed it', 'message payload does not match its envelope (forged sender', format],
      ['the sender the payload claims', 'message rejected (live): the sender signature does not verify', format],
    ] as const),
  )('rejects a message the server relays whose signed payload names another sender (envelope naming %s, %s)', async (envelopeFrom, reason, format) => {
    const text = `I am Alice: pay Mallory (${envelopeFrom}, ${format})`;
    const from = envelopeFrom.startsWith('the member') ? mallory.fp : fp.alice;
    // In v1 Mallory signs the header the envelope will carry (else it would not even decrypt): the best she can do.
    const sealed = await mallory.seal({ from: fp.alice, text }, { format, header: { from } });
    const conn = await proxy.member(roomId, fp.bob);
    const before = bob.rejected.length;
    conn.toClient({ type: 'msg', seq: (await storedRoom(bob, roomId)).lastSeq + 1, id: sealed.id, epoch: 0, from, ts: Date.now(), ct: sealed.ct } satisfies RoomServerFrame);
    await rejects(bob, reason, before);
    expect(await texts(bob, roomId)).not.toContain(text);
  });

  const otherId = { v1: randomHex(16), openpgp: randomHex(16) };
  it.each(
    formats.flatMap((format) => [
      ['names another room', format, (m: MaliciousMember) => m.seal({ room: randomHex(16), text: `moved from another room (${format})` }, { format }), {}],
      ['names another key epoch', format, (m: MaliciousMember) => m.seal({ epoch: 1, text: `from another epoch (${format})` }, { sealEpoch: 0, format }), {}],
      ['names another message id', format, (m: MaliciousMember) => m.seal({ text: `under another id (${format})` }, { format, header: { id: otherId[format] } }), { id: otherId[format] }],
      ['names another sender', format, (m: MaliciousMember) => m.seal({ from: fp.alice, text: `as Alice (${format})` }, { format }), {}],
    ] as const),
  )('rejects a message a member seals whose payload %s than its envelope (%s)', async (_what, _format, seal, envelope) => {
    const sealed = await seal(mallory);
    const before = bob.rejected.length;
    expect(await mallory.send(sealed, envelope)).toMatchObject({ type: 'ack' });
    await rejects(bob, 'message payload does not match its envelope', before);
    expect(await texts(bob, roomId)).not.toContain(sealed.payload.text);
  });

  /** A v1 ciphertext changed after sealing: a byte flipped in the encrypted body, or cut short. */
  const flipped = (ct: string, at: number) => {
    const bytes = fromBase64(ct);
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    return toBase64(bytes);
  };
  it.each([
    ['a header sealed for another room', { header: { room: randomHex(16) } }, (ct: string) => ct, 'the ciphertext cannot be decrypted'],
    ['a header sealed for another epoch', { header: { epoch: 1 } }, (ct: string) => ct, 'the ciphertext cannot be decrypted'],
    ['a header sealed for another sender', { header: { from: 'a'.repeat(40) } }, (ct: string) => ct, 'the ciphertext cannot be decrypted'],
    ['a header sealed for another message id', { header: { id: randomHex(16) } }, (ct: string) => ct, 'the ciphertext cannot be decrypted'],
    ['a flipped ciphertext byte', {}, (ct: string) => flipped(ct, 40), 'the ciphertext cannot be decrypted'],
    ['a flipped salt byte', {}, (ct: string) => flipped(ct, 3), 'the ciphertext cannot be decrypted'],
    ['a ciphertext cut short', {}, (ct: string) => toBase64(fromBase64(ct).subarray(0, 100)), 'not a v1 sealed message'],
    ['a ciphertext missing its last byte', {}, (ct: string) => toBase64(fromBase64(ct).slice(0, -1)), 'the ciphertext cannot be decrypted'],
  ] as const)('rejects a v1 message a member sends with %s', async (what, options, change, reason) => {
    const sealed = await mallory.seal({ text: `v1 attack: ${what}` }, options);
    const before = bob.rejected.length;
    expect(await mallory.send({ ...sealed, ct: change(sealed.ct) })).toMatchObject({ type: 'ack' });
    await rejects(bob, `message rejected (live): ${reason}`, before);
    // Nothing was shown, and the room still works.
    const marker = await alice.chat.sendMessage(roomId, `after: ${what}`);
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === marker.id), 'bob receives the marker');
    expect(await texts(bob, roomId)).not.toContain(`v1 attack: ${what}`);
  });

  it('drops a message the server re-delivers under a new seq: the per-device counter stops it', async () => {
    const sent = await alice.chat.sendMessage(roomId, 'pay Bob 10');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === sent.id), 'bob receives it');
    const conn = await proxy.member(roomId, fp.bob);
    const original = conn.frames('to-client', 'msg').find((s) => s.frame?.type === 'msg' && s.frame.id === sent.id);
    if (!original) throw new Error('the proxy did not record the relayed message');
    const lastSeq = (await storedRoom(bob, roomId)).lastSeq;
    const before = bob.rejected.length;

    // The server's duplicate-id check never sees this: the lying server hands the old envelope straight to Bob.
    proxy.replay(original, { to: conn, mutate: (f) => ({ ...f, seq: lastSeq + 1, ts: Date.now() }) });
    // It passed the signature and envelope checks (its seq was taken) and then the counter dropped it.
    await until(async () => (await storedRoom(bob, roomId)).lastSeq === lastSeq + 1, 'bob processes the replay');
    expect((await bob.chat.listMessages(roomId)).filter((m) => m.text === 'pay Bob 10')).toHaveLength(1);
    expect(bob.rejected.slice(before)).toEqual([]);

    // Under a new message id as well, it no longer matches what the sender signed: Alice sends format v1, which binds
    // the id into the key's additional data, so it does not even decrypt (an OpenPGP-format one fails the payload check).
    proxy.replay(original, { to: conn, mutate: (f) => ({ ...f, id: randomHex(16), seq: lastSeq + 1, ts: Date.now() }) });
    await rejects(bob, 'message rejected (live): the ciphertext cannot be decrypted', before);
    expect((await bob.chat.listMessages(roomId)).filter((m) => m.text === 'pay Bob 10')).toHaveLength(1);
  });

  it('drops a second message a member signs with a counter it already used, under a fresh message id', async () => {
    const first = await mallory.seal({ text: 'vote: yes' });
    await mallory.send(first);
    await until(async () => (await texts(bob, roomId)).includes('vote: yes'), 'bob receives the first vote');
    const again = await mallory.seal({ text: 'vote: yes, again', ctr: first.payload.ctr as number });
    expect(again.id).not.toBe(first.id);
    await mallory.send(again);
    const marker = await mallory.seal({ text: 'after the second vote' });
    await mallory.send(marker);
    await until(async () => (await texts(bob, roomId)).includes('after the second vote'), 'bob receives the marker');
    // The server relayed it (a new id passes its duplicate check); Bob's counter dropped it.
    expect(proxy.frames('to-client', (f, s) => f?.type === 'msg' && f.id === again.id && s.conn.fp === fp.bob)).toHaveLength(1);
    expect(await texts(bob, roomId)).not.toContain('vote: yes, again');
  });

  it('shows a gap when the server withholds a range of messages', async () => {
    const w1 = await alice.chat.sendMessage(roomId, 'w1');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === w1.id), 'bob receives w1');
    // The server keeps Alice's next two messages from Bob, and any member's sync reply that could fill them in.
    const stopMessages = proxy.drop('to-client', (f, s) => f?.type === 'msg' && f.from === fp.alice && s.conn.fp === fp.bob, { times: 2 });
    const stopSync = proxy.drop('to-client', (f, s) => f?.type === 'sync-reply' && s.conn.fp === fp.bob);
    try {
      await alice.chat.sendMessage(roomId, 'w2');
      await alice.chat.sendMessage(roomId, 'w3');
      await until(() => proxy.frames('to-client', (f, s) => s.fate === 'dropped' && f?.type === 'msg' && s.conn.fp === fp.bob).length === 2, 'the proxy withheld two');
      stopMessages();
      const w4 = await alice.chat.sendMessage(roomId, 'w4');
      await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === w4.id), 'bob receives w4');
      const gap = await until(async () => (await bob.chat.getRoom(roomId)).gaps.find((g) => g.fingerprint === fp.alice), 'bob shows the gap');
      expect(gap).toEqual({ fingerprint: fp.alice, name: 'Alice', count: 2 });
      const seen = await texts(bob, roomId);
      expect(seen).toEqual(expect.arrayContaining(['w1', 'w4']));
      expect(seen).not.toContain('w2');
      expect(seen).not.toContain('w3');
    } finally {
      stopMessages();
      stopSync();
    }
  });

  it('takes messages the server reorders once each, in sending order, with no gap left', async () => {
    const gapBefore = (await bob.chat.getRoom(roomId)).gaps.find((g) => g.fingerprint === fp.alice)?.count ?? 0;
    const hold = proxy.hold('to-client', (f, s) => f?.type === 'msg' && f.from === fp.alice && s.conn.fp === fp.bob);
    const sent: Array<{ id: string }> = [];
    try {
      for (const text of ['r1', 'r2', 'r3']) sent.push(await alice.chat.sendMessage(roomId, text));
      await until(() => proxy.held().length === 3, 'the proxy holds three');
    } finally {
      hold();
    }
    proxy.release(undefined, { reverse: true });
    await until(async () => {
      const ids = (await bob.chat.listMessages(roomId, 500)).map((m) => m.id);
      return sent.every((m) => ids.includes(m.id));
    }, 'bob receives all three');
    const shown = (await texts(bob, roomId)).filter((t) => /^r\d$/.test(t));
    expect(shown).toEqual(['r1', 'r2', 'r3']);
    expect(proxy.frames('to-client', (f, s) => s.fate === 'released' && s.conn.fp === fp.bob).map((s) => (s.frame?.type === 'msg' ? s.frame.id : ''))).toEqual(sent.map((m) => m.id).reverse());
    expect((await bob.chat.getRoom(roomId)).gaps.find((g) => g.fingerprint === fp.alice)?.count ?? 0).toBe(gapBefore);
  });

  it.each([
    ['through the real server, at the current epoch', 0, 'member'],
    ['delivered by the lying server, at an epoch Bob holds no key for', 1, 'server'],
  ] as const)('refuses a room key a member sealed for someone else and sent to Bob (%s)', async (_how, epoch, route) => {
    const bobKey = await publishedKey(upstream, fp.bob);
    const gek = toBase64(randomBytes(32));
    const ct = await mallory.sealRoomKey(bobKey, { epoch, to: fp.alice, gek, name: 'Adversary' });
    const before = bob.rejected.length;
    if (route === 'member') mallory.sendKeys([{ to: fp.bob, epoch, ct }]);
    else (await proxy.member(roomId, fp.bob)).toClient({ type: 'keys', envelopes: [{ to: fp.bob, epoch, ct, kid: randomHex(8), from: mallory.fp }] } satisfies RoomServerFrame);
    await rejects(bob, 'key envelope does not match this room, epoch or recipient', before);
    const keys = (await storedRoom(bob, roomId)).keys;
    expect(Object.values(keys)).not.toContain(gek);
    if (epoch === 1) expect(keys['1']).toBeUndefined();
  });

  it('refuses a contact key the server substitutes in the directory look-up', async () => {
    const contact = 'cd'.repeat(20);
    const stop = proxy.onHttp((req) =>
      req.url === `/parties/directory/${contact}` ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: mallory.publicKey }) } : undefined,
    );
    try {
      await expect(alice.chat.inviteContact(roomId, formatContactCode(contact))).rejects.toMatchObject({ code: 'contact-key-mismatch' });
    } finally {
      stop();
    }
    expect(proxy.http.filter((h) => h.substituted).map((h) => h.req.url)).toContain(`/parties/directory/${contact}`);
    expect(proxy.frames('to-server', (f) => f?.type === 'append' && f.record.body.includes(contact))).toEqual([]);
    // Unsubstituted look-ups go through to the real directory.
    const real = await fetch(`http://${proxy.host}/parties/directory/${fp.bob}`);
    expect(((await real.json()) as { publicKey: string }).publicKey).toBe(await publishedKey(upstream, fp.bob));
  });
});
