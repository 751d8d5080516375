/**
 * The room modules without a server: real keys and a real signed chain, a fake socket factory whose
 * sockets record what the client sends and deliver what a test says the server sent. A room is opened
 * through `connectRoom`, signed in (challenge → auth) and welcomed, as the real server would.
 */
import * as openpgp from 'openpgp';
import type { SocketFactory, SocketLike } from '@/services/connection';
import type { LocalItems, RoomRecord, SessionItems } from '@/services/records';
import { openContext, type RoomContext } from '@/services/room/context';
import { RoomRegistry } from '@/services/room/registry';
import { connectRoom } from '@/services/room/router';
import { emptyRoom, type RoomSession } from '@/services/room/session';
import { importVaultKey } from '@/services/sealed';
import { memoryStore } from '@/services/store';
import type { Unlocked } from '@/services/vault';
import { generateGek, sealWithGek, type PrivateKey } from '@/shared/crypto';
import { randomBytes, randomHex, toBase64, utf8 } from '@/shared/encoding';
import { sealMessage } from '@/shared/message-envelope';
import type { MessageHeader } from '@/shared/message-seal';
import { createAddRecord, createGenesis, verifyChain } from '@/shared/membership';
import type { TextPayload } from '@/shared/payloads';
import type { Envelope, RoomClientFrame, RoomMode, RoomServerFrame, SignedRecord } from '@/shared/protocol';
import type { PushEvent } from '@/utils/protocol-map';

export interface Person {
  name: string;
  fingerprint: string;
  publicKey: string;
  privateKey: PrivateKey;
}

/** A person with a real (unprotected, fast to make) Curve25519 key. */
export async function person(name: string): Promise<Person> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name }], format: 'object' });
  return { name, fingerprint: privateKey.getFingerprint(), publicKey: privateKey.toPublic().armor(), privateKey };
}

type Listener = (event: { data?: unknown; code?: number }) => void;

/** A socket that is always open: what the client sends is kept (parsed), and `deliver` plays a server frame. */
export class FakeSocket implements SocketLike {
  readonly readyState = 1;
  readonly sent: RoomClientFrame[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  send(data: string): void {
    this.sent.push(JSON.parse(data) as RoomClientFrame);
  }

  close(): void {}

  reconnect(): void {}

  addEventListener(type: 'open' | 'close' | 'message' | 'error', listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  deliver(frame: RoomServerFrame): void {
    for (const listener of this.listeners.get('message') ?? []) listener({ data: JSON.stringify(frame) });
  }

  /** Frames of one type the client sent. */
  sentOf<T extends RoomClientFrame['type']>(type: T): Array<Extract<RoomClientFrame, { type: T }>> {
    return this.sent.filter((f): f is Extract<RoomClientFrame, { type: T }> => f.type === type);
  }
}

export function fakeSocketFactory(): { factory: SocketFactory; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    factory: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
  };
}

/** The message formats a fixture seals: v1 (shared/message-seal.ts, what the extension sends) or the older OpenPGP one. */
export type SealFormat = 'v1' | 'openpgp';

export interface RoomFixture {
  ctx: RoomContext;
  s: RoomSession;
  socket: FakeSocket;
  me: Person;
  /** The room's admin (made the genesis); `others[0]`. */
  admin: Person;
  others: Person[];
  gek: Uint8Array;
  chain: SignedRecord[];
  rejected: string[];
  events: PushEvent[];
  /** The sealed room records and history pages, as storage.local would hold them. */
  local: ReturnType<typeof memoryStore<LocalItems>>;
  /** Waits for everything queued in the room (frames are handled in its queue). */
  settle(): Promise<void>;
  /** An envelope as the server would relay it, sealed and signed by `from` with the room key. */
  /**
   * A text from `from`, sealed in format v1 (or the older OpenPGP format) with any payload field chosen. The signed
   * header (room, epoch, sender, id) is what the envelope will say unless `header` chooses otherwise, so a forged
   * payload field reaches the receiver's payload checks instead of failing to decrypt.
   */
  envelope(
    from: Person,
    overrides?: Partial<TextPayload>,
    options?: { seq?: number; envelope?: Partial<Envelope>; gek?: Uint8Array; format?: SealFormat; header?: Partial<MessageHeader> },
  ): Promise<Envelope>;
}

let seqCounter = 0;

/**
 * A room made by `others[0]` (admin) with every other person added, where `me` is a member holding the key
 * of epoch 0; opened, signed in and welcomed through a fake socket.
 */
export async function roomFixture(options: { me: Person; others: Person[]; mode?: RoomMode; online?: string[]; now?: () => number }): Promise<RoomFixture> {
  const { me, others } = options;
  const admin = others[0] ?? me;
  const mode = options.mode ?? 'ephemeral';
  const roomId = randomHex(16);
  const chain: SignedRecord[] = [await createGenesis(roomId, mode, admin.privateKey)];
  for (const p of [...others.slice(1), me].filter((p) => p !== admin)) {
    chain.push(await createAddRecord(await verifyChain(roomId, chain), { fingerprint: p.fingerprint, publicKey: p.publicKey, role: 'member' }, admin.privateKey));
  }
  const gek = generateGek();
  const local = memoryStore<LocalItems>();
  const session = memoryStore<SessionItems>();
  const rejected: string[] = [];
  const events: PushEvent[] = [];
  const { factory, sockets } = fakeSocketFactory();
  const unlocked: Unlocked = {
    identity: { name: me.name, fingerprint: me.fingerprint, publicKey: me.publicKey, encryptedPrivateKey: '', vaultKey: '', createdAt: 0 },
    privateKey: me.privateKey,
    vaultKey: await importVaultKey(randomBytes(32)),
  };
  const ctx = await openContext(
    { local, session, openSocket: factory, fetch: () => Promise.reject(new Error('no fetch in unit tests')), defaultHost: 'localhost:1999', emit: (e) => events.push(e), onRejected: (_room, reason) => rejected.push(reason), confirmTimeoutMs: 1_000 },
    unlocked,
    { now: options.now ?? Date.now, host: () => ({ host: 'localhost:1999', secure: false }), scheduleSweep: () => undefined },
  );
  const registry = new RoomRegistry(local);
  const record: RoomRecord = { ...emptyRoom(roomId, mode, Date.now()), name: 'Fixture', keys: { '0': toBase64(gek) } };
  const s = registry.add(ctx, record);
  connectRoom(ctx, s);
  const socket = sockets[0];
  if (!socket) throw new Error('connectRoom opened no socket');
  const settle = async () => {
    // A delivered frame goes through the connection's inbound chain (which awaits the room's queue for it).
    await s.conn?.idle();
    await s.settled();
  };
  socket.deliver({ type: 'challenge', nonce: randomHex(16), room: roomId, head: null });
  await settle();
  if (!socket.sentOf('auth').length) throw new Error('the client did not answer the challenge');
  const online = options.online ?? [me.fingerprint];
  socket.deliver({ type: 'welcome', room: roomId, mode, epoch: 0, seq: 0, you: me.fingerprint, chain, online, needKeys: [], requests: [], rotationDue: false });
  await settle();
  if (s.conn?.status !== 'ready') throw new Error(`the room did not become ready: ${rejected.join('; ')}`);
  socket.sent.length = 0;

  const counters = new Map<string, number>();
  const envelope: RoomFixture['envelope'] = async (from, overrides = {}, opts = {}) => {
    const ctr = overrides.ctr ?? (counters.get(from.fingerprint) ?? 0) + 1;
    counters.set(from.fingerprint, Math.max(ctr, counters.get(from.fingerprint) ?? 0));
    const payload: TextPayload = { v: 1, t: 'text', room: roomId, epoch: 0, from: from.fingerprint, dev: '00000000000000d1', ctr, id: randomHex(16), ts: Date.now(), text: 'hello', ...overrides };
    const env = { seq: opts.seq ?? ++seqCounter, id: payload.id, epoch: payload.epoch, from: from.fingerprint, ts: payload.ts, ...opts.envelope };
    const bytes = utf8(JSON.stringify(payload));
    const header: MessageHeader = { room: roomId, epoch: env.epoch, from: env.from, dev: payload.dev, ctr: payload.ctr, id: env.id, ...opts.header };
    const ct = opts.format === 'openpgp' ? await sealWithGek(opts.gek ?? gek, bytes, from.privateKey) : await sealMessage(opts.gek ?? gek, header, bytes, from.privateKey);
    return { ...env, ct, ...(opts.envelope?.ct ? { ct: opts.envelope.ct } : {}) };
  };
  return { ctx, s, socket, me, admin, others, gek, chain, rejected, events, local, settle, envelope };
}
