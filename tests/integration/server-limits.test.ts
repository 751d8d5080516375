/**
 * Server limits a hostile connection cannot turn against others (issue 9, attacks 6 and 8), and raw-socket checks
 * of what a removed member and a link joiner with someone else's proof actually receive.
 */
import * as openpgp from 'openpgp';
import { inject } from 'vitest';
import { AUTH_CONTEXT, PARTY_DIRECTORY, PARTY_ROOM } from '@/shared/constants';
import { signDetached, type PrivateKey } from '@/shared/crypto';
import { utf8 } from '@/shared/encoding';
import { deriveLinkKeys, newLinkId, newLinkSecret, parseLink, signJoinProof } from '@/shared/links';
import { createJoinRecord } from '@/shared/membership';
import { authChallengeText } from '@/shared/protocol';
import type { CreateLinkOptions } from '@/utils/protocol-map';
import { identityKeyOf, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';
import { rawSocket, signIn, type RawSocket } from '../helpers/raw-socket';

const host = inject('partyHost');

const linkOptions = (o: Partial<CreateLinkOptions>): CreateLinkOptions => ({ approval: false, escrow: true, expiresInMs: null, maxUses: null, label: '', ...o });

/** A client address as Cloudflare names it to the worker (`partykit dev` passes the header through). */
const from = (address: string) => ({ 'CF-Connecting-IP': address });

const onboarded = (name: string): Promise<TestClient> => onboardedClient(host, name);

async function summary(client: TestClient, roomId: string) {
  return (await client.chat.getState()).rooms.find((r) => r.id === roomId);
}

interface Stranger {
  fp: string;
  key: PrivateKey;
  armored: string;
}

/** A fresh identity that is nobody's contact (no passphrase: these tests never store it). */
async function stranger(): Promise<Stranger> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'Stranger' }], format: 'object' });
  return { fp: privateKey.getFingerprint(), key: privateKey, armored: privateKey.toPublic().armor() };
}

/**
 * Opens a raw socket and sends a `join` for `link`, signed correctly as `who`, with a proof made from `secret`
 * (a wrong secret for the attacks). Resolves with the socket once the frame is sent.
 */
async function rawJoin(roomId: string, link: string, secret: Uint8Array, who: Stranger, headers: Record<string, string> = {}): Promise<RawSocket> {
  const socket = await rawSocket(host, PARTY_ROOM, roomId, headers);
  const challenge = await socket.next('challenge');
  const sig = await signDetached(who.key, utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, roomId, String(challenge.nonce))));
  const proof = await signJoinProof(await deriveLinkKeys(secret), roomId, link, who.fp);
  const record = await createJoinRecord({ room: roomId, head: String(challenge.head), member: who.fp, key: who.armored, link, proof }, who.key);
  socket.send({ type: 'join', fp: who.fp, sig, key: who.armored, link, proof, record });
  return socket;
}

/** What a refused joiner learns: the error frame's code and text, and the close code. */
async function refusal(socket: RawSocket): Promise<{ code: unknown; message: unknown; close: number }> {
  const error = await socket.next('error');
  return { code: error.code, message: error.message, close: await socket.closed };
}

/** A member's second connection spoken by hand, so the test sees every frame the server sends it. */
async function memberSocket(roomId: string, client: TestClient, headers: Record<string, string> = {}): Promise<RawSocket> {
  const socket = await rawSocket(host, PARTY_ROOM, roomId, headers);
  await signIn(socket, roomId, client.chat.fingerprint ?? '', await identityKeyOf(client));
  await socket.next('welcome');
  return socket;
}

describe('server limits a hostile connection cannot turn against others', () => {
  let ann: TestClient;
  let roomId: string;
  const everyone: TestClient[] = [];

  beforeAll(async () => {
    ann = await onboarded('Ann');
    everyone.push(ann);
    roomId = (await ann.chat.createRoom('Limits', 'ephemeral')).id;
    await until(async () => (await summary(ann, roomId))?.connected, 'ann connected');
  });

  afterAll(() => everyone.forEach((c) => c.chat.closeAll()));

  it('answers a wrong proof the same whether the link is active, revoked, expired, used up or unknown', async () => {
    const active = await ann.chat.createLink(roomId, linkOptions({}));
    const revoked = await ann.chat.createLink(roomId, linkOptions({}));
    await ann.chat.revokeLink(roomId, revoked.id);
    const expired = await ann.chat.createLink(roomId, linkOptions({ expiresInMs: 1 }));
    const usedUp = await ann.chat.createLink(roomId, linkOptions({ maxUses: 1 }));
    const first = await onboarded('First');
    everyone.push(first);
    await first.chat.joinByLink(usedUp.url ?? '');
    await until(async () => (await summary(first, roomId))?.hasKey, 'the one use of the link is taken');

    const mallory = await stranger();
    const answers: Record<string, Awaited<ReturnType<typeof refusal>>> = {};
    for (const [name, link] of Object.entries({ active: active.id, revoked: revoked.id, expired: expired.id, usedUp: usedUp.id, unknown: newLinkId() })) {
      answers[name] = await refusal(await rawJoin(roomId, link, newLinkSecret(), mallory));
    }
    expect(answers.active).toMatchObject({ code: 'link-invalid', close: 4010 });
    for (const name of ['revoked', 'expired', 'usedUp', 'unknown']) expect({ [name]: answers[name] }).toEqual({ [name]: answers.active });

    // Someone who holds the secret still learns why a link cannot be used.
    const late = await stranger();
    const secret = parseLink(usedUp.url ?? '')?.secret ?? new Uint8Array();
    expect(await refusal(await rawJoin(roomId, usedUp.id, secret, late))).toMatchObject({ code: 'link-used-up', close: 4010 });
  });

  it('lets an honest joiner in after another address sent junk joins on the same link', async () => {
    const link = await ann.chat.createLink(roomId, linkOptions({}));
    const mallory = await stranger();
    // Junk from one address: wrong proofs, one connection each (each is refused and closed), more than the link allowed in a minute before.
    for (let i = 0; i < 15; i++) await refusal(await rawJoin(roomId, link.id, newLinkSecret(), mallory, from('203.0.113.66')));
    const honest = await stranger();
    const secret = parseLink(link.url ?? '')?.secret ?? new Uint8Array();
    const socket = await rawJoin(roomId, link.id, secret, honest, from('198.51.100.7'));
    const welcome = await socket.next('welcome');
    expect(welcome.you).toBe(honest.fp);
    expect(await socket.next('escrow')).toMatchObject({ link: link.id });
    socket.close();
    await until(async () => (await ann.chat.getRoom(roomId)).members.some((m) => m.fingerprint === honest.fp), 'ann sees the new member');
  });

  it('limits join attempts per address, per connection and per identity, not per link', async () => {
    const link = await ann.chat.createLink(roomId, linkOptions({ approval: true, escrow: false }));
    const secret = parseLink(link.url ?? '')?.secret ?? new Uint8Array();
    const mallory = await stranger();
    // One address that keeps trying is slowed down…
    const answers: unknown[] = [];
    for (let i = 0; i < 40 && !answers.includes('rate-limited'); i++) {
      answers.push((await refusal(await rawJoin(roomId, link.id, newLinkSecret(), mallory, from('203.0.113.67')))).code);
    }
    expect(answers).toContain('rate-limited');
    // …one identity that holds the secret and keeps asking (a connection each) is slowed down too…
    const pest = await stranger();
    const codes: unknown[] = [];
    for (let i = 0; i < 30 && !codes.includes('rate-limited'); i++) {
      const socket = await rawJoin(roomId, link.id, secret, pest, from(`192.0.2.${i + 1}`));
      const first = await until(() => socket.frames.find((f) => f.type === 'error' || f.type === 'join-pending'), 'an answer');
      codes.push(first.type === 'error' ? first.code : first.type);
      socket.close();
    }
    expect(codes[0]).toBe('join-pending');
    expect(codes).toContain('rate-limited');
    // …while someone else from another address is answered as before.
    const honest = await stranger();
    const socket = await rawJoin(roomId, link.id, secret, honest, from('198.51.100.8'));
    expect(await socket.next('join-pending')).toMatchObject({ reason: 'approval' });
    socket.close();
  });

  it('rate-limits a member per identity: more connections do not give more frames', async () => {
    const sockets = await Promise.all([1, 2, 3, 4].map((i) => memberSocket(roomId, ann, from(`198.51.100.${20 + i}`))));
    // 4 × 40 frames at once: each connection stays under its own burst (60), the identity does not.
    for (let i = 0; i < 40; i++) for (const socket of sockets) socket.send({ type: 'ping' });
    const limited = await until(() => sockets.find((s) => s.frames.some((f) => f.type === 'error' && f.code === 'rate-limited')), 'a rate-limited error');
    expect(limited).toBeDefined();
    sockets.forEach((s) => s.close());
  });

  it('caps the connections still signing in per address, and others still get in', async () => {
    const crowd: RawSocket[] = [];
    let refused: RawSocket | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const socket = await rawSocket(host, PARTY_ROOM, roomId, from('203.0.113.68'));
      await until(() => socket.frames.length > 0, 'a first frame');
      if (socket.frames[0]?.type === 'error') refused = socket;
      else crowd.push(socket);
    }
    expect(refused?.frames[0]).toMatchObject({ code: 'rate-limited' });
    expect(await refused?.closed).toBe(4029);
    // Another address is not affected.
    const other = await rawSocket(host, PARTY_ROOM, roomId, from('198.51.100.9'));
    expect(await other.next('challenge')).toMatchObject({ room: roomId });
    other.close();
    crowd.forEach((s) => s.close());
  });

  it('answers CORS preflights: 204 with CORS headers on the directory, 405 on rooms (no cross-origin HTTP use)', async () => {
    const dir = await fetch(`http://${host}/parties/${PARTY_DIRECTORY}/${'a'.repeat(40)}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'GET' },
    });
    expect(dir.status).toBe(204);
    expect(dir.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(dir.headers.get('Access-Control-Allow-Methods')).toContain('GET');
    const room = await fetch(`http://${host}/parties/${PARTY_ROOM}/${roomId}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST' },
    });
    expect(room.status).toBe(405);
    expect(room.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('what a removed member and a joiner with a foreign proof receive, on the wire', () => {
  it('sends a removed member a removed error, closes it, and relays it nothing afterwards', async () => {
    const [ada, bo, cy] = await Promise.all([onboarded('Ada'), onboarded('Bo'), onboarded('Cy')]);
    const roomId = (await ada.chat.createRoom('Cut off', 'ephemeral')).id;
    await until(async () => (await summary(ada, roomId))?.connected, 'ada connected');
    for (const other of [bo, cy]) {
      await invite(ada, roomId, other);
      await until(async () => (await summary(other, roomId))?.hasKey && (await summary(other, roomId))?.connected, 'joined');
    }
    cy.chat.closeAll();
    const cySocket = await memberSocket(roomId, cy);
    const boSocket = await memberSocket(roomId, bo);

    await ada.chat.removeMember(roomId, cy.chat.fingerprint ?? '');
    expect(await cySocket.next('error')).toMatchObject({ code: 'removed' });
    expect(await cySocket.closed).toBe(4011);
    const removedAt = cySocket.frames.findIndex((f) => f.type === 'error' && f.code === 'removed');

    // Bo, still a member, sends at the epoch the room is at; only Bo's own ack comes back, and Ada's client receives it.
    const sent = await ada.chat.sendMessage(roomId, 'after Cy was removed');
    await until(() => boSocket.frames.some((f) => f.type === 'msg' && f.id === sent.id), 'bo receives the next message');
    expect(cySocket.frames.slice(removedAt).filter((f) => f.type === 'msg')).toEqual([]);
    boSocket.close();
    [ada, bo].forEach((c) => c.chat.closeAll());
  });

  it('refuses a join on an approval link with a proof from another secret, and no admin hears of it', async () => {
    const ada = await onboarded('Ada');
    const roomId = (await ada.chat.createRoom('Approval', 'ephemeral')).id;
    await until(async () => (await summary(ada, roomId))?.connected, 'ada connected');
    const link = await ada.chat.createLink(roomId, linkOptions({ approval: true, escrow: false }));
    const adminSocket = await memberSocket(roomId, ada);

    const mallory = await stranger();
    expect(await refusal(await rawJoin(roomId, link.id, newLinkSecret(), mallory))).toMatchObject({ code: 'link-invalid', close: 4010 });

    // An honest request after it does reach the admin: when it arrives, the forged one would have arrived before it.
    const honest = await stranger();
    const socket = await rawJoin(roomId, link.id, parseLink(link.url ?? '')?.secret ?? new Uint8Array(), honest);
    await socket.next('join-pending');
    const request = await adminSocket.next('join-request');
    expect((request.request as { fp: string }).fp).toBe(honest.fp);
    expect(adminSocket.frames.filter((f) => f.type === 'join-request').map((f) => (f.request as { fp: string }).fp)).toEqual([honest.fp]);
    const listed = await until(async () => {
      const fps = (await ada.chat.getRoom(roomId)).joinRequests.map((r) => r.fingerprint);
      return fps.includes(honest.fp) && fps;
    }, "ada's client lists the honest request");
    expect(listed).not.toContain(mallory.fp);
    socket.close();
    adminSocket.close();
    ada.chat.closeAll();
  });
});
