import { inject } from 'vitest';
import { AUTH_CONTEXT, MAX_FRAME_CHARS, PARTY_ROOM } from '@/shared/constants';
import { generateIdentity, readPublicKey, sealKeyEnvelope, sealWithGek, signDetached, unlockPrivateKey, type PrivateKey } from '@/shared/crypto';
import { sealMessage } from '@/shared/message-envelope';
import { randomBytes, randomHex, toBase64, utf8 } from '@/shared/encoding';
import { authChallengeText } from '@/shared/protocol';
import { createClient, identityKeyOf, roomOfTwo, roomKeyOf, until, type TestClient, invite } from '../helpers/node-client';
import { rawSocket, signIn } from '../helpers/raw-socket';

const host = inject('partyHost');

async function identity(name: string): Promise<{ fp: string; key: PrivateKey }> {
  const generated = await generateIdentity(name, 'passphrase-for-tests');
  return { fp: generated.fingerprint, key: await unlockPrivateKey(generated.encryptedPrivateKey, 'passphrase-for-tests') };
}

describe('the room server admits only members and survives bad input', () => {
  let alice: TestClient;
  let bob: TestClient;
  let roomId: string;

  beforeAll(async () => {
    ({ alice, bob, roomId } = await roomOfTwo(host, 'Security', 'ephemeral'));
  });

  afterAll(() => {
    alice.chat.closeAll();
    bob.chat.closeAll();
  });

  it('refuses a non-member that signs the challenge correctly, and relays it nothing', async () => {
    const mallory = await identity('Mallory');
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, mallory.fp, mallory.key);
    expect(await socket.next('error')).toMatchObject({ code: 'not-member' });
    expect(await socket.closed).toBe(4003);
    await alice.chat.sendMessage(roomId, 'members only');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.text === 'members only'), 'bob receives');
    expect(socket.frames.map((f) => f.type)).toEqual(['challenge', 'error']);
  });

  it('refuses a connection that claims a member fingerprint but signs with another key', async () => {
    const mallory = await identity('Mallory');
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, alice.chat.fingerprint ?? '', mallory.key);
    expect(await socket.next('error')).toMatchObject({ code: 'auth-failed' });
    expect(await socket.closed).toBe(4001);
  });

  it('refuses a replayed auth signature (the nonce is fresh per connection)', async () => {
    const first = await rawSocket(host, PARTY_ROOM, roomId);
    const second = await rawSocket(host, PARTY_ROOM, roomId);
    const challenge = await first.next('challenge');
    await second.next('challenge');
    const key = await identityKeyOf(alice);
    const sig = await signDetached(key, utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, roomId, String(challenge.nonce))));
    second.send({ type: 'auth', fp: alice.chat.fingerprint, sig });
    expect(await second.next('error')).toMatchObject({ code: 'auth-failed' });
    first.send({ type: 'auth', fp: alice.chat.fingerprint, sig });
    expect(await first.next('welcome')).toMatchObject({ room: roomId, you: alice.chat.fingerprint });
    first.close();
  });

  it('rejects a message whose signed sender is not the member who sent it (forged sender)', async () => {
    const carol = createClient(host);
    await carol.chat.onboard('Carol', 'carol passphrase');
    await invite(alice, roomId, carol);
    await until(async () => (await carol.chat.getState()).rooms.find((r) => r.id === roomId)?.hasKey, 'carol holds the key');
    const gek = await roomKeyOf(carol, roomId);
    const carolKey = await identityKeyOf(carol);
    carol.chat.closeAll();

    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, carol.chat.fingerprint ?? '', carolKey);
    await socket.next('welcome');
    // In both formats: v1 (Carol signs the header her envelope will carry, so it decrypts) and the older OpenPGP one.
    for (const format of ['v1', 'openpgp'] as const) {
      const before = bob.rejected.length;
      const id = randomHex(16);
      const forged = { v: 1, t: 'text', room: roomId, epoch: 0, from: alice.chat.fingerprint, dev: '0123456789abcdef', ctr: 999, id, ts: Date.now(), text: `I am Alice, send money (${format})` };
      const header = { room: roomId, epoch: 0, from: carol.chat.fingerprint ?? '', dev: forged.dev, ctr: forged.ctr, id };
      const bytes = utf8(JSON.stringify(forged));
      socket.send({ type: 'msg', id, epoch: 0, ct: format === 'v1' ? await sealMessage(gek, header, bytes, carolKey) : await sealWithGek(gek, bytes, carolKey) });
      expect(await socket.next('ack')).toMatchObject({ id });
      await until(() => bob.rejected.slice(before).some((r) => r.includes('forged sender')), `bob rejects the forgery (${format})`);
    }
    expect((await bob.chat.listMessages(roomId)).some((m) => m.text.includes('send money'))).toBe(false);
    socket.close();
  });

  it('keeps the room key it holds when another member sends a different one for the same epoch', async () => {
    const dave = createClient(host);
    await dave.chat.onboard('Dave', 'dave passphrase');
    await invite(alice, roomId, dave);
    await until(async () => (await dave.chat.getState()).rooms.find((r) => r.id === roomId)?.hasKey, 'dave holds the key');
    const daveKey = await identityKeyOf(dave);
    dave.chat.closeAll();
    const bobsKey = toBase64(await roomKeyOf(bob, roomId));
    const bobPublic = ((await (await fetch(`http://${host}/parties/directory/${bob.chat.fingerprint}`)).json()) as { publicKey: string }).publicKey;

    // Dave, a member, tries to move Bob onto a key of Dave's choosing (to read or split what Bob sends).
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, dave.chat.fingerprint ?? '', daveKey);
    await socket.next('welcome');
    const swapped = { v: 1, t: 'room-key', room: roomId, epoch: 0, from: dave.chat.fingerprint, to: bob.chat.fingerprint, gek: toBase64(randomBytes(32)), name: 'x', mode: 'ephemeral' };
    socket.send({ type: 'keys', keys: [{ to: bob.chat.fingerprint, epoch: 0, ct: await sealKeyEnvelope(utf8(JSON.stringify(swapped)), await readPublicKey(bobPublic), daveKey) }] });
    await until(() => bob.rejected.some((r) => r.includes('different room key for epoch 0')), 'bob refuses the swapped key');
    expect(toBase64(await roomKeyOf(bob, roomId))).toBe(bobsKey);
    await alice.chat.sendMessage(roomId, 'still on the same key');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.text === 'still on the same key'), 'bob still reads the room');
    socket.close();
  });

  it('rejects a message whose signature does not verify with the sender key', async () => {
    const mallory = await identity('Mallory');
    const gek = await roomKeyOf(bob, roomId);
    const aliceKey = await identityKeyOf(alice);
    // Alice's connection sends a payload signed by someone else: a member with the GEK cannot impersonate.
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, alice.chat.fingerprint ?? '', aliceKey);
    await socket.next('welcome');
    for (const format of ['v1', 'openpgp'] as const) {
      const before = bob.rejected.length;
      const id = randomHex(16);
      const payload = { v: 1, t: 'text', room: roomId, epoch: 0, from: alice.chat.fingerprint ?? '', dev: '0123456789abcdef', ctr: 1000, id, ts: Date.now(), text: 'signed by mallory' };
      const bytes = utf8(JSON.stringify(payload));
      socket.send({ type: 'msg', id, epoch: 0, ct: format === 'v1' ? await sealMessage(gek, payload, bytes, mallory.key) : await sealWithGek(gek, bytes, mallory.key) });
      await socket.next('ack');
      await until(() => bob.rejected.slice(before).some((r) => r.includes('signature does not verify')), `bob rejects the bad signature (${format})`);
    }
    expect((await bob.chat.listMessages(roomId)).some((m) => m.text === 'signed by mallory')).toBe(false);
    socket.close();
  });

  it('answers bad frames with error frames, counts them, rate-limits, and keeps serving', async () => {
    const aliceKey = await identityKeyOf(alice);
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    socket.send({ type: 'msg', id: randomHex(16), epoch: 0, ct: 'AAAA' });
    expect(await socket.next('error')).toMatchObject({ code: 'not-authenticated' });
    await signIn(socket, roomId, alice.chat.fingerprint ?? '', aliceKey);
    await socket.next('welcome');
    const cases: Array<[string, string]> = [
      ['{not json', 'bad-frame'],
      [JSON.stringify({ type: 'nope' }), 'bad-frame'],
      [JSON.stringify({ type: 'msg', id: 'short', epoch: 0, ct: 'AAAA' }), 'bad-frame'],
      [JSON.stringify({ type: 'msg', id: randomHex(16), epoch: 0, ct: 'A'.repeat(MAX_FRAME_CHARS + 10) }), 'too-large'],
      [JSON.stringify({ type: 'msg', id: randomHex(16), epoch: 7, ct: toBase64(utf8('x')) }), 'bad-epoch'],
      [JSON.stringify({ type: 'append', record: { body: '{"v":1}', sig: 'AAAA' }, keys: [{ to: 'a'.repeat(40), epoch: 0, ct: 'AAAA' }] }), 'bad-record'],
    ];
    for (const [text, code] of cases) {
      socket.sendText(text);
      expect(await socket.next('error')).toMatchObject({ code });
    }
    for (let i = 0; i < 120; i++) socket.send({ type: 'ping' });
    expect(await socket.next('error')).toMatchObject({ code: 'rate-limited' });
    socket.close();

    const after = await alice.chat.sendMessage(roomId, 'still serving');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === after.id), 'room still relays');
  });

  it('drops a replayed envelope (same message id) and never shows it twice', async () => {
    const sent = await alice.chat.sendMessage(roomId, 'only once');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === sent.id), 'bob receives');
    const frame = alice.frames.find((f) => f.includes(sent.id) && f.includes('"type":"msg"'));
    const aliceKey = await identityKeyOf(alice);
    // The test before spends Alice's frame allowance on purpose (120 pings), and her own client spends what refills
    // while it recovers: replay on a fresh connection until the server takes the frame (it acks the stored id).
    const ack = await until(async () => {
      const socket = await rawSocket(host, PARTY_ROOM, roomId);
      try {
        await signIn(socket, roomId, alice.chat.fingerprint ?? '', aliceKey);
        await socket.next('welcome');
        socket.sendText(frame ?? '');
        const answer = await until(() => socket.frames.find((f) => f.type === 'ack' || (f.type === 'error' && f.code === 'rate-limited')), 'an ack, or rate-limited');
        return answer.type === 'ack' ? answer : null;
      } finally {
        socket.close();
      }
    }, 'the server takes the replayed frame');
    expect(ack).toMatchObject({ id: sent.id });
    const marker = await alice.chat.sendMessage(roomId, 'marker');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === marker.id), 'marker arrives');
    expect((await bob.chat.listMessages(roomId)).filter((m) => m.id === sent.id)).toHaveLength(1);
  });

  it('delivers the key to an invitee who was offline, on their next connection', async () => {
    const dave = createClient(host);
    await dave.chat.onboard('Dave', 'dave passphrase');
    const code = (await dave.chat.getState()).me?.contactCode ?? '';
    dave.chat.closeAll();
    await alice.chat.inviteContact(roomId, code);
    await alice.chat.sendMessage(roomId, 'welcome Dave');

    const back = createClient(host, { local: dave.local, session: dave.session });
    await until(async () => (await back.chat.getState()).invitations.find((i) => i.room === roomId), 'the invitation, on the next connection');
    await back.chat.decideInvitation(roomId, 'accept');
    const room = await until(async () => (await back.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'dave gets the key');
    expect(room.name).toBe('Security');
    expect((await back.chat.getRoom(roomId)).members.some((m) => m.name === 'Dave' && m.me)).toBe(true);
    const hi = await back.chat.sendMessage(roomId, 'hi from Dave');
    await until(async () => (await alice.chat.listMessages(roomId)).some((m) => m.id === hi.id), 'alice hears dave');
    back.chat.closeAll();
  });

  it('gives clear errors for contact codes that are invalid, unknown, or already members', async () => {
    await expect(alice.chat.inviteContact(roomId, 'not a code')).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(alice.chat.inviteContact(roomId, 'ab'.repeat(20))).rejects.toMatchObject({ code: 'contact-not-found' });
    await expect(alice.chat.inviteContact(roomId, (await bob.chat.getState()).me?.contactCode ?? '')).rejects.toMatchObject({ code: 'already-member' });
    const carolLike = createClient(host);
    await carolLike.chat.onboard('Erin', 'erin passphrase');
    await expect(bob.chat.inviteContact(roomId, (await carolLike.chat.getState()).me?.contactCode ?? '')).rejects.toMatchObject({ code: 'not-admin' });
    carolLike.chat.closeAll();
  });
});
