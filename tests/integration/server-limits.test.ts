/**
 * Server limits a hostile connection cannot turn against others (issue 9, attacks 6 and 8), and raw-socket checks
 * of what a removed member and a link joiner with someone else's proof actually receive.
 */
import * as openpgp from 'openpgp';
import { inject } from 'vitest';
import {
  AUTH_CONTEXT,
  MAX_CONNECTIONS_PER_IDENTITY,
  MAX_ESCROW_FETCHES_PER_LINK,
  MAX_PENDING_REQUESTS,
  PARTY_DIRECTORY,
  PARTY_ROOM,
} from '@/shared/constants';
import { signDetached, type PrivateKey } from '@/shared/crypto';
import { randomHex, utf8 } from '@/shared/encoding';
import { deriveLinkKeys, newLinkId, newLinkSecret, parseLink, signJoinProof } from '@/shared/links';
import { createJoinRecord, DEFAULT_SETTINGS } from '@/shared/membership';
import { authChallengeText } from '@/shared/protocol';
import type { CreateLinkOptions } from '@/utils/protocol-map';
import { identityKeyOf, until, type TestClient, onboardedClient, invite, storedRoom } from '../helpers/node-client';
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

describe('what one room can cost its host: the caps, each with a clear error', () => {
  const everyone: TestClient[] = [];
  afterAll(() => everyone.forEach((c) => c.chat.closeAll()));

  async function roomOf(name: string, mode: 'ephemeral' | 'backup'): Promise<{ admin: TestClient; roomId: string }> {
    const admin = await onboarded(name);
    everyone.push(admin);
    const roomId = (await admin.chat.createRoom(`${name}'s room`, mode)).id;
    await until(async () => (await summary(admin, roomId))?.connected, `${name} connected`);
    return { admin, roomId };
  }

  it("refuses a message past the backup's cap with backup-full, keeps it in the sender's outbox, and sends it once an admin allows more", async () => {
    const { admin: ada, roomId } = await roomOf('Ada', 'backup');
    const bo = await onboarded('Bo');
    everyone.push(bo);
    await invite(ada, roomId, bo);
    await until(async () => (await summary(bo, roomId))?.hasKey && (await summary(bo, roomId))?.connected, 'bo joined');

    // Only an admin sets the cap (a signed settings record, checked by the server and every client).
    await expect(bo.chat.setRoomSettings(roomId, { ...DEFAULT_SETTINGS, backupLimit: 1 })).rejects.toMatchObject({ code: 'not-admin' });
    await ada.chat.setRoomSettings(roomId, { ...DEFAULT_SETTINGS, backupLimit: 2 });
    await until(async () => (await bo.chat.getRoom(roomId)).settings.backupLimit === 2, 'bo sees the cap');

    for (const text of ['one', 'two']) {
      const sent = await bo.chat.sendMessage(roomId, text);
      await until(async () => (await bo.chat.listMessages(roomId)).find((m) => m.id === sent.id)?.status === 'sent', `${text} stored`);
    }
    // The third is refused: the sender is told why, and the message waits in its outbox (not lost, not shown as sent).
    const third = await bo.chat.sendMessage(roomId, 'three');
    await until(async () => (await summary(bo, roomId))?.backupFull, "bo's room says the backup is full");
    expect((await storedRoom(bo, roomId)).outbox.map((o) => o.id)).toEqual([third.id]);
    expect((await bo.chat.listMessages(roomId)).find((m) => m.id === third.id)?.status).toBe('sending');

    // On the wire: a specific error code, naming the message it refused.
    const socket = await memberSocket(roomId, bo);
    const id = randomHex(16);
    socket.send({ type: 'msg', id, epoch: 0, ct: 'AAAA' });
    expect(await socket.next('error')).toMatchObject({ code: 'backup-full', ref: id });
    socket.close();

    // An admin lets the backup hold more: the waiting message goes out by itself, and the notice clears.
    await ada.chat.setRoomSettings(roomId, { ...DEFAULT_SETTINGS, backupLimit: 3 });
    await until(async () => (await bo.chat.listMessages(roomId)).find((m) => m.id === third.id)?.status === 'sent', 'the third message is stored');
    expect((await summary(bo, roomId))?.backupFull).toBe(false);
    expect((await storedRoom(bo, roomId)).outbox).toEqual([]);
    await until(async () => (await ada.chat.listMessages(roomId)).some((m) => m.id === third.id), 'ada receives it');
  });

  it(`keeps at most ${MAX_PENDING_REQUESTS} join requests waiting, and tells the next asker why it was refused`, async () => {
    const { admin: ada, roomId } = await roomOf('Ada', 'ephemeral');
    // Two links, so that no link's own ceiling on joins is what stops them.
    const links = [];
    for (let i = 0; i < 2; i++) links.push(await ada.chat.createLink(roomId, linkOptions({ approval: true, escrow: false })));
    const secrets = links.map((l) => parseLink(l.url ?? '')?.secret ?? new Uint8Array());
    const askers = await Promise.all(Array.from({ length: MAX_PENDING_REQUESTS }, () => stranger()));
    for (let i = 0; i < askers.length; i++) {
      const link = i % 2;
      const socket = await rawJoin(roomId, links[link]?.id ?? '', secrets[link] ?? new Uint8Array(), askers[i] as Stranger, from(`10.1.${Math.floor(i / 200)}.${i % 200}`));
      await socket.next('join-pending');
      socket.close();
    }
    const late = await stranger();
    expect(await refusal(await rawJoin(roomId, links[0]?.id ?? '', secrets[0] ?? new Uint8Array(), late, from('10.2.0.1')))).toMatchObject({
      code: 'requests-full',
      message: expect.stringContaining(`${MAX_PENDING_REQUESTS} requests`),
      close: 4010,
    });
    // A real client is told the same, in words it can show.
    const cy = await onboarded('Cy');
    everyone.push(cy);
    await cy.chat.joinByLink(links[1]?.url ?? '');
    const failed = await until(async () => {
      const room = await summary(cy, roomId);
      return room?.joinState === 'failed' ? room : null;
    }, "cy's join fails");
    expect(failed.joinError?.code).toBe('requests-full');
  });

  it(`lets one identity hold ${MAX_CONNECTIONS_PER_IDENTITY} connections to a room and refuses one more with close code 4030`, async () => {
    const { admin: dee, roomId } = await roomOf('Dee', 'ephemeral');
    // Dee's client holds one; raw sockets take the rest.
    const held: RawSocket[] = [];
    for (let i = 1; i < MAX_CONNECTIONS_PER_IDENTITY; i++) held.push(await memberSocket(roomId, dee, from(`198.51.100.${100 + i}`)));
    const extra = await rawSocket(host, PARTY_ROOM, roomId, from('198.51.100.99'));
    await signIn(extra, roomId, dee.chat.fingerprint ?? '', await identityKeyOf(dee));
    expect(await extra.next('error')).toMatchObject({ code: 'too-many-connections', message: expect.stringContaining(`${MAX_CONNECTIONS_PER_IDENTITY} connections`) });
    expect(await extra.closed).toBe(4030);
    expect(extra.frames.some((f) => f.type === 'welcome')).toBe(false);
    // Another member is not affected, and once one of Dee's connections closes, a new one gets in.
    const eve = await onboarded('Eve');
    everyone.push(eve);
    await invite(dee, roomId, eve);
    await until(async () => (await summary(eve, roomId))?.connected, 'eve connected');
    held.pop()?.close();
    await until(async () => {
      const socket = await rawSocket(host, PARTY_ROOM, roomId, from('198.51.100.98'));
      await signIn(socket, roomId, dee.chat.fingerprint ?? '', await identityKeyOf(dee));
      const answer = await until(() => socket.frames.find((f) => f.type === 'welcome' || f.type === 'error'), 'an answer');
      if (answer.type === 'welcome') held.push(socket);
      return answer.type === 'welcome';
    }, 'a connection in place of the closed one');
    held.forEach((s) => s.close());
  });

  it(`hands an escrow link's key out at most ${MAX_ESCROW_FETCHES_PER_LINK} times an hour, then refuses joins on it with link-busy`, async () => {
    const { admin: fay, roomId } = await roomOf('Fay', 'ephemeral');
    const link = await fay.chat.createLink(roomId, linkOptions({ escrow: true }));
    const secret = parseLink(link.url ?? '')?.secret ?? new Uint8Array();
    const joiners = await Promise.all(Array.from({ length: MAX_ESCROW_FETCHES_PER_LINK }, () => stranger()));
    for (let i = 0; i < joiners.length; i++) {
      const socket = await rawJoin(roomId, link.id, secret, joiners[i] as Stranger, from(`10.3.0.${i + 1}`));
      expect(await socket.next('escrow')).toMatchObject({ link: link.id });
      socket.close();
    }
    const late = await stranger();
    expect(await refusal(await rawJoin(roomId, link.id, secret, late, from('10.3.1.1')))).toMatchObject({ code: 'link-busy', close: 4010 });
    expect((await fay.chat.getRoom(roomId)).members.some((m) => m.fingerprint === late.fp)).toBe(false);
    // Another escrow link of the room is not affected; a real client on the busy one is told why.
    const other = await fay.chat.createLink(roomId, linkOptions({ escrow: true }));
    const next = await stranger();
    const socket = await rawJoin(roomId, other.id, parseLink(other.url ?? '')?.secret ?? new Uint8Array(), next, from('10.3.1.2'));
    expect(await socket.next('escrow')).toMatchObject({ link: other.id });
    socket.close();
    const gus = await onboarded('Gus');
    everyone.push(gus);
    await gus.chat.joinByLink(link.url ?? '');
    const failed = await until(async () => {
      const room = await summary(gus, roomId);
      return room?.joinState === 'failed' ? room : null;
    }, "gus's join fails");
    expect(failed.joinError?.code).toBe('link-busy');
  });
});
