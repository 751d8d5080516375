/**
 * Rooms hibernate (issue 12, part 4): a room woken from hibernation keeps admitting, relaying and enforcing its
 * limits with the sockets that stayed open. `partykit dev` cannot force a hibernation, so the room's test hook
 * simulates one (see `hibernate` in party/room.ts): it drops every field the room holds in memory and wakes it as
 * Cloudflare does, `onStart` over the same storage and the same open sockets with their attachments.
 */
import { inject } from 'vitest';
import { AUTH_CONTEXT, MAX_CONNECTIONS_PER_IDENTITY, PARTY_DIRECTORY, PARTY_ROOM } from '@/shared/constants';
import { signDetached } from '@/shared/crypto';
import { randomHex, utf8 } from '@/shared/encoding';
import { newLinkId } from '@/shared/links';
import { authChallengeText } from '@/shared/protocol';
import { noticeFields, postNotice, publishedIdentity, signedNotice, signInDirectory } from '../helpers/adversary/forged-invite';
import { identityKeyOf, invite, onboardedClient, until, type TestClient } from '../helpers/node-client';
import { rawSocket, signIn, type RawSocket } from '../helpers/raw-socket';

const host = inject('partyHost');

/** A member's connection spoken by hand, signed in, so the test sees every frame the server sends it. */
async function memberSocket(roomId: string, client: TestClient): Promise<RawSocket> {
  const socket = await rawSocket(host, PARTY_ROOM, roomId);
  await signIn(socket, roomId, client.chat.fingerprint ?? '', await identityKeyOf(client));
  await socket.next('welcome');
  return socket;
}

/** Simulates a hibernation and a wake of the room; resolves with what the woken room rebuilt. */
async function hibernate(roomId: string, party = PARTY_ROOM, leave?: string): Promise<{ peers: number; members: number; presenceDue: boolean }> {
  // The directory takes invitations by POST, so its test hooks are PUT.
  const method = party === PARTY_DIRECTORY ? 'PUT' : 'POST';
  const res = await fetch(`http://${host}/parties/${party}/${roomId}`, { method, body: JSON.stringify({ hook: 'hibernate', leave }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { peers: number; members: number; presenceDue: boolean };
}

const msg = (id: string) => ({ type: 'msg', id, epoch: 0, ct: 'AAAA' });
const ids = (socket: RawSocket) => socket.frames.filter((f) => f.type === 'msg').map((f) => f.id);
/** The online set a member connection was last told (in its welcome or a presence frame), as text. */
const online = (socket: RawSocket) => String(socket.frames.filter((f) => f.type === 'presence' || f.type === 'welcome').at(-1)?.online);

describe('a room woken from hibernation', () => {
  let ann: TestClient;
  let bob: TestClient;
  let carl: TestClient;
  let roomId: string;
  const sockets: RawSocket[] = [];
  const open = <T extends RawSocket>(socket: T): T => (sockets.push(socket), socket);

  beforeAll(async () => {
    [ann, bob, carl] = await Promise.all(['Ann', 'Bob', 'Carl'].map((name) => onboardedClient(host, name))) as [TestClient, TestClient, TestClient];
    roomId = (await ann.chat.createRoom('Sleepy', 'ephemeral')).id;
    await until(async () => (await ann.chat.getRoom(roomId)).connected, 'ann connected');
    for (const invitee of [bob, carl]) {
      await invite(ann, roomId, invitee);
      await until(async () => (await invitee.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'the invitee holds the key');
    }
    // Bob and Carl speak by hand from here on (Ann's client stays, to remove Carl later).
    bob.chat.closeAll();
    carl.chat.closeAll();
  });

  afterAll(() => {
    sockets.forEach((s) => s.close());
    [ann, bob, carl].forEach((c) => c?.chat.closeAll());
  });

  it('keeps relaying, deduplicating, admitting and enforcing its limits with the same open sockets', async () => {
    const fingerprint = (c: TestClient) => c.chat.fingerprint ?? '';
    const [annFp, bobFp, carlFp] = [fingerprint(ann), fingerprint(bob), fingerprint(carl)];
    const a1 = open(await memberSocket(roomId, ann));
    const b1 = open(await memberSocket(roomId, bob));
    const c1 = open(await memberSocket(roomId, carl));
    // Bob holds every connection an identity may have.
    for (let i = 1; i < MAX_CONNECTIONS_PER_IDENTITY; i++) open(await memberSocket(roomId, bob));
    // Two connections that have not signed in: one will sign in after the wake, with the challenge it got before.
    const late = open(await rawSocket(host, PARTY_ROOM, roomId));
    const lateChallenge = await late.next('challenge');
    const idle = open(await rawSocket(host, PARTY_ROOM, roomId));
    await idle.next('challenge');
    await until(() => online(a1) === String([annFp, bobFp, carlFp].sort()), 'everyone online');

    const id1 = randomHex(16);
    a1.send(msg(id1));
    const ack1 = await a1.next('ack');
    expect(await b1.next('msg')).toMatchObject({ id: id1, seq: ack1.seq });

    const woken = await hibernate(roomId);
    // Every open socket is a peer again, the two not signed in are not members, and the online set they were told stands.
    expect(woken.peers - woken.members).toBe(2);
    expect(woken.members).toBeGreaterThanOrEqual(3 + MAX_CONNECTIONS_PER_IDENTITY - 1);
    expect(woken.presenceDue).toBe(false);

    // Members still relay to each other.
    const id2 = randomHex(16);
    b1.send(msg(id2));
    const ack2 = await b1.next('ack');
    expect(ack2.seq).toBeGreaterThan(Number(ack1.seq));
    expect(await a1.next('msg')).toMatchObject({ id: id2, seq: ack2.seq, from: bobFp });
    await until(() => ids(c1).includes(id2), 'carl receives it too');

    // An id relayed before the wake is acknowledged again, not relayed twice.
    a1.send(msg(id1));
    expect(await a1.next('ack')).toEqual(ack1);
    const id3 = randomHex(16);
    a1.send(msg(id3));
    await a1.next('ack');
    await until(() => ids(b1).includes(id3), 'bob receives the next message');
    expect(ids(b1)).toEqual([id1, id3]);

    // A connection that had not signed in still cannot send…
    const id4 = randomHex(16);
    idle.send(msg(id4));
    expect(await idle.next('error')).toMatchObject({ code: 'not-authenticated' });
    // …and signs in with the challenge it was given before the wake.
    const sig = await signDetached(await identityKeyOf(carl), utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, roomId, String(lateChallenge.nonce))));
    late.send({ type: 'auth', fp: carlFp, sig });
    expect(await late.next('welcome')).toMatchObject({ you: carlFp });

    // The connection cap per identity still holds (Bob has all of his open).
    const ninth = open(await rawSocket(host, PARTY_ROOM, roomId));
    await signIn(ninth, roomId, bobFp, await identityKeyOf(bob));
    expect(await ninth.next('error')).toMatchObject({ code: 'too-many-connections' });
    expect(await ninth.closed).toBe(4030);

    // A second hibernation in a row: still deduplicated (from what the first wake loaded and stored again).
    expect((await hibernate(roomId)).presenceDue).toBe(false);
    a1.send(msg(id1));
    expect(await a1.next('ack')).toEqual(ack1);
    expect(ids(c1)).not.toContain(id4);

    // The rate limit still applies (the bucket is full again after a wake, so a burst past it is refused).
    for (let i = 0; i < 100; i++) b1.send({ type: 'ping' });
    expect(await b1.next('error')).toMatchObject({ code: 'rate-limited' });

    // A member removed after the wake is cut off on every connection and refused when it comes back; presence follows.
    await ann.chat.removeMember(roomId, carlFp);
    expect(await c1.next('error')).toMatchObject({ code: 'removed' });
    expect(await c1.closed).toBe(4011);
    expect(await late.closed).toBe(4011);
    await until(() => online(a1) === String([annFp, bobFp].sort()), 'carl offline');
    await hibernate(roomId);
    const back = open(await rawSocket(host, PARTY_ROOM, roomId));
    await signIn(back, roomId, carlFp, await identityKeyOf(carl));
    expect(await back.next('error')).toMatchObject({ code: 'not-member' });
    expect(await back.closed).toBe(4003);

    // A member whose every socket closes while the room sleeps: the woken room tells the others it went offline.
    expect(await hibernate(roomId, PARTY_ROOM, bobFp)).toMatchObject({ presenceDue: true });
    expect(await b1.closed).toBe(1001);
    await until(() => online(a1) === String([annFp]), 'bob offline');

    // The connection that never signed in is closed at its handshake deadline, which survived both wakes.
    expect(await idle.closed).toBe(4001);
    expect(idle.frames.at(-1)).toMatchObject({ type: 'error', code: 'not-authenticated', message: 'sign in sooner after connecting' });
  }, 90_000);

  it('keeps the limits on non-members that count over minutes (link previews per address)', async () => {
    const address = { 'CF-Connecting-IP': '203.0.113.91' };
    /** One preview with a wrong proof from `address`, on a connection of its own: the error code it gets. */
    const preview = async (headers = address) => {
      const socket = open(await rawSocket(host, PARTY_ROOM, roomId, headers));
      await socket.next('challenge');
      socket.send({ type: 'preview', link: newLinkId(), proof: 'A'.repeat(86) + '==' });
      const { code } = await socket.next('error');
      await socket.closed;
      return code;
    };
    /** Previews until one is refused for the rate: the codes of those answered before it. */
    const untilLimited = async (max: number) => {
      const codes: unknown[] = [];
      for (let code = await preview(); code !== 'rate-limited'; code = await preview()) {
        codes.push(code);
        if (codes.length > max) break;
      }
      return codes;
    };
    expect(await untilLimited(40)).toContain('link-invalid');
    await hibernate(roomId);
    // A wake does not refill the address's allowance (20 a minute; a fresh one would answer 20 more).
    expect((await untilLimited(20)).length).toBeLessThanOrEqual(2);
    expect(await preview({ 'CF-Connecting-IP': '198.51.100.91' })).toBe('link-invalid');
  });
});

describe('a directory entry woken from hibernation', () => {
  it('still hands invitations to its signed-in owner, and a socket that never signed in still cannot act', async () => {
    const [owner, sender] = await Promise.all([publishedIdentity(host, 'Owner'), publishedIdentity(host, 'Sender')]);
    const { socket } = await signInDirectory(host, owner);
    const stranger = await rawSocket(host, PARTY_DIRECTORY, owner.fp);
    await stranger.next('challenge');
    try {
      expect(await hibernate(owner.fp, PARTY_DIRECTORY)).toMatchObject({ members: 1 });
      const fields = noticeFields(owner.fp, sender.fp);
      expect((await postNotice(host, owner.fp, await signedNotice(sender.key, fields))).status).toBe(202);
      expect((await socket.next('invite')).invite).toMatchObject({ room: fields.room, by: sender.fp });
      stranger.send({ type: 'invite-ack', room: fields.room });
      expect(await stranger.next('error')).toMatchObject({ code: 'not-authenticated' });
    } finally {
      socket.close();
      stranger.close();
    }
  });
});
