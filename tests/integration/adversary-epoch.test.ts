/**
 * Issue 9, attacks 3 and 7, against a real `partykit dev` with the adversary harness: Alice (admin) and Bob
 * connect through a lying server that records everything they send (as a compromised server would store it);
 * Mallory is a hostile member on a raw socket with the room keys she was given.
 *
 * Attack 3: a member who left (or was removed) must not be able to read anything sent after, even if the
 * server keeps every frame and hands it over later: the server refuses messages at the old epoch while a
 * rotation is due, and a client never sends under a key the departed member holds (neither live, nor when
 * it flushes its outbox on reconnect); it waits for the next epoch's key and re-seals.
 *
 * Attack 7: only an admin, or anyone while a rotation is due, may start a key epoch; only the link's creator
 * or an admin may replace a link's escrowed key.
 */
import { inject } from 'vitest';
import { generateGek, sealWithGek, type PublicKey } from '@/shared/crypto';
import { fromBase64, toBase64, utf8 } from '@/shared/encoding';
import type { RoomClientFrame, RoomMode } from '@/shared/protocol';
import { startLyingServer, type LyingServer, type SeenFrame } from '../helpers/adversary/lying-server';
import { turnMalicious, type MaliciousMember } from '../helpers/adversary/malicious-member';
import { readWith } from '../helpers/message-open';
import { createClient, identityKeyOf, storedRoom, until, type TestClient, invite } from '../helpers/node-client';

const upstream = inject('partyHost');

type RoomName = 'rotate' | 'raw' | 'live' | 'escrow' | 'outbox';
const ROOMS: Array<[RoomName, RoomMode]> = [
  ['rotate', 'ephemeral'],
  ['raw', 'backup'],
  ['live', 'backup'],
  ['escrow', 'ephemeral'],
  ['outbox', 'backup'],
];

/** Whether any room key in `keys` opens the `msg` frame `frame` of `room` (signed by `signer`): what the holder of those keys can read. */
async function readableWith(keys: Record<string, string>, room: string, frame: { id: string; epoch: number; ct: string }, signer: PublicKey): Promise<boolean> {
  const binding = { room, epoch: frame.epoch, from: signer.getFingerprint(), id: frame.id };
  for (const gek of Object.values(keys)) {
    if ((await readWith(fromBase64(gek), frame.ct, binding, signer)) !== null) return true;
  }
  return false;
}

async function summary(client: TestClient, roomId: string) {
  return (await client.chat.getState()).rooms.find((r) => r.id === roomId);
}

/** The same browser started again (its storage kept), connecting to `server`. */
async function restart(client: TestClient, server: string): Promise<TestClient> {
  client.chat.closeAll();
  const again = createClient(server, { local: client.local, session: client.session });
  await again.chat.start();
  return again;
}

/** Waits for an error or an `epoch` frame on a raw socket, whichever comes first (a refused or an accepted rotation). */
function refusalOrEpoch(socket: { frames: Array<Record<string, unknown>> }, from: number): Promise<Record<string, unknown>> {
  return until(() => socket.frames.slice(from).find((f) => f.type === 'error' || f.type === 'epoch'), 'an error or an epoch frame');
}

describe('issue 9, attacks 3 and 7: key epochs after a member leaves', () => {
  let proxy: LyingServer;
  let alice: TestClient;
  let bob: TestClient;
  let bobKey: PublicKey;
  const ids = {} as Record<RoomName, string>;
  const mallory = {} as Record<RoomName, MaliciousMember>;
  let fp: { alice: string; bob: string };

  beforeAll(async () => {
    proxy = await startLyingServer(upstream);
    alice = createClient(proxy.host);
    bob = createClient(proxy.host);
    const malloryClient = createClient(upstream);
    await Promise.all([alice.chat.onboard('Alice', 'alice passphrase'), bob.chat.onboard('Bob', 'bob passphrase!'), malloryClient.chat.onboard('Mallory', 'mallory passphrase')]);
    fp = { alice: alice.chat.fingerprint ?? '', bob: bob.chat.fingerprint ?? '' };
    bobKey = (await identityKeyOf(bob)).toPublic();
    for (const [name, mode] of ROOMS) {
      const id = (await alice.chat.createRoom(`${name} room`, mode)).id;
      ids[name] = id;
      await until(async () => (await summary(alice, id))?.connected, 'alice connected');
      for (const invitee of [bob, malloryClient]) {
        await invite(alice, id, invitee);
        await until(async () => (await summary(invitee, id))?.hasKey && (await summary(invitee, id))?.connected, 'invitee holds the key');
      }
    }
    for (const [name] of ROOMS) {
      mallory[name] = await turnMalicious(malloryClient, ids[name], upstream);
      await mallory[name].connect();
    }
  });

  afterAll(async () => {
    for (const m of Object.values(mallory)) m.close();
    alice?.chat.closeAll();
    bob?.chat.closeAll();
    await proxy?.stop();
  });

  /** Every `msg` frame Bob sent for message `id` (what a server that keeps everything could hand over later). */
  function sentByBob(id: string, after = 0): Array<SeenFrame<'to-server'>> {
    return proxy.frames('to-server', (f, seen) => f?.type === 'msg' && f.id === id && seen.conn.fp === fp.bob && seen.n > after);
  }

  /** Nothing Bob sent for message `id` after frame number `after` opens with any key Mallory holds. */
  async function assertNeverReadableByMallory(room: RoomName, id: string, after = 0): Promise<void> {
    const sent = sentByBob(id, after);
    expect(sent.length).toBeGreaterThan(0);
    for (const seen of sent) {
      const frame = seen.frame as Extract<RoomClientFrame, { type: 'msg' }>;
      expect(await readableWith(mallory[room].keys, mallory[room].roomId, frame, bobKey), `Bob sent message ${id} at epoch ${frame.epoch}, under a key Mallory holds`).toBe(false);
    }
  }

  /** Mallory leaves by signing her own leave record on her raw socket; resolves once the server cut her off. */
  async function malloryLeaves(room: RoomName): Promise<void> {
    const m = mallory[room];
    await m.connect();
    m.append(await m.signRecord<'leave'>({ kind: 'leave', member: m.fp }));
    await m.socket?.closed;
  }

  it('attack 7: a member who is not an admin cannot start a key epoch when none is due', async () => {
    const m = mallory.rotate;
    const head = (await m.roster()).head;
    const gek = generateGek();
    const from = m.socket?.frames.length ?? 0;
    m.socket?.send({ type: 'rotate', epoch: 1, keys: [{ to: fp.bob, epoch: 1, ct: await m.sealRoomKey(bobKey, { epoch: 1, head, gek: toBase64(gek) }) }], escrows: [] });
    const answer = await refusalOrEpoch(m.socket ?? { frames: [] }, from);
    expect(answer).toMatchObject({ type: 'error', code: 'forbidden' });
    // The room stays at epoch 0: a new connection is welcomed there, and Bob never takes Mallory's key.
    expect(await m.connect()).toMatchObject({ epoch: 0, rotationDue: false });
    expect((await storedRoom(bob, ids.rotate)).keys['1']).toBeUndefined();
  });

  it('attack 3: the server refuses a message at the old epoch once a member left, and keeps nothing of it', async () => {
    const room = ids.raw;
    // Alice's client would start the next epoch at once; the lying server keeps its rotate frame, so the rotation stays due.
    const unhold = proxy.hold('to-server', (f, seen) => f?.type === 'rotate' && seen.conn.room === room);
    try {
      await bob.chat.leaveRoom(room);
      const m = mallory.raw;
      const welcome = await m.connect();
      expect(welcome).toMatchObject({ epoch: 0, rotationDue: true });
      const sealed = await m.seal({ text: 'sent after Bob left, under the key Bob holds' });
      const from = m.socket?.frames.length ?? 0;
      m.socket?.send({ type: 'msg', id: sealed.id, epoch: 0, ct: sealed.ct });
      const answer = await until(() => m.socket?.frames.slice(from).find((f) => f.type === 'error' || f.type === 'ack'), 'an error or an ack');
      expect(answer).toMatchObject({ type: 'error', code: 'bad-epoch', ref: sealed.id });
      m.socket?.send({ type: 'history', after: 0, limit: 100 });
      const page = await m.socket?.next('history');
      expect((page?.messages as Array<{ id: string }>).map((e) => e.id)).not.toContain(sealed.id);
    } finally {
      unhold();
      proxy.release(proxy.held().filter((h) => h.conn.room === room));
    }
  });

  it('attack 3: a message sent right after a member left goes out only under the next key', async () => {
    const room = ids.live;
    const chainLength = (await storedRoom(bob, room)).chain.length;
    // Bob's client gets no word of the new epoch (nor its key) until released.
    const unhold = proxy.hold('to-client', (f, seen) => (f?.type === 'epoch' || f?.type === 'keys') && seen.conn.room === room && seen.conn.fp === fp.bob);
    await malloryLeaves('live');
    await until(async () => (await storedRoom(bob, room)).chain.length === chainLength + 1, 'bob verified the leave record');
    const sent = await bob.chat.sendMessage(room, 'right after Mallory left');
    unhold();
    proxy.release(proxy.held().filter((h) => h.conn.room === room));
    await until(async () => (await bob.chat.listMessages(room)).find((m) => m.id === sent.id)?.status === 'sent', 'the server acknowledged it under the new key');
    await until(async () => (await alice.chat.listMessages(room)).some((m) => m.id === sent.id), 'alice reads it');
    await assertNeverReadableByMallory('live', sent.id);
    expect(sentByBob(sent.id).every((s) => (s.frame as { epoch: number }).epoch === 1)).toBe(true);
  });

  it('attack 7: a member who is not an admin cannot replace an admin\'s escrowed link key, even while a rotation is due', async () => {
    const room = ids.escrow;
    const link = await alice.chat.createLink(room, { approval: false, escrow: true, expiresInMs: null, maxUses: null, label: '' });
    const linkId = new URL(link.url ?? '').pathname.split('/').at(-1) ?? '';
    // Alice removes Bob and starts epoch 1; the lying server keeps her rotate frame until Mallory has tried.
    const unhold = proxy.hold('to-server', (f, seen) => f?.type === 'rotate' && seen.conn.room === room);
    const m = mallory.escrow;
    await m.connect();
    await alice.chat.removeMember(room, fp.bob);
    await until(() => proxy.held().some((h) => h.conn.room === room), 'alice sent her rotation');
    const from = m.socket?.frames.length ?? 0;
    const junk = await sealWithGek(generateGek(), utf8('not the room key'), m.key);
    m.socket?.send({ type: 'rotate', epoch: 1, keys: [], escrows: [{ link: linkId, epoch: 1, ct: junk }] });
    const answer = await refusalOrEpoch(m.socket ?? { frames: [] }, from);
    expect(answer).toMatchObject({ type: 'error', code: 'forbidden' });
    unhold();
    proxy.release(proxy.held().filter((h) => h.conn.room === room));
    await until(async () => (await storedRoom(alice, room)).keys['1'], 'alice started epoch 1');

    // With every member offline, a joiner still gets the key through the escrow Alice refreshed.
    alice.chat.closeAll();
    m.close();
    const dee = createClient(proxy.host);
    await dee.chat.onboard('Dee', 'dee passphrase');
    await dee.chat.joinByLink(link.url ?? '');
    await until(async () => (await summary(dee, room))?.hasKey, 'dee joins through the escrow');
    await until(async () => (await storedRoom(dee, room)).keys['1'], 'dee stored the epoch 1 key');
    expect((await storedRoom(dee, room)).keys['1']).toBe((await storedRoom(alice, room)).keys['1']);
    dee.chat.closeAll();
    alice = await restart(alice, proxy.host);
  });

  it('attack 3: a message waiting in the outbox is not flushed under the old key when its sender comes back', async () => {
    const room = ids.outbox;
    // The lying server swallows Bob's message: it stays in his outbox, unacknowledged.
    const undrop = proxy.drop('to-server', (f, seen) => f?.type === 'msg' && seen.conn.room === room);
    const waiting = await bob.chat.sendMessage(room, 'written before Mallory left, delivered after');
    await until(() => proxy.frames('to-server', (f) => f?.type === 'msg' && f.id === waiting.id).length, 'bob sent it once');
    alice.chat.closeAll();
    bob.chat.closeAll();
    undrop();
    await malloryLeaves('outbox');
    const left = proxy.frames('to-server').at(-1)?.n ?? 0;

    // Bob comes back alone: the rotation is due, and he must not flush his outbox at epoch 0 before it.
    bob = await restart(bob, proxy.host);
    await until(async () => (await bob.chat.listMessages(room)).find((m) => m.id === waiting.id)?.status === 'sent', 'the server acknowledged it under the new key', 20_000);
    await assertNeverReadableByMallory('outbox', waiting.id, left);
    alice = await restart(alice, proxy.host);
    await until(async () => (await alice.chat.listMessages(room)).some((m) => m.id === waiting.id), 'alice reads it from the backup', 20_000);
  });
});
