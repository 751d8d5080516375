/**
 * Drives the room server over its real wire protocol from Node: identities, a room created with a
 * signed genesis record, members added with admin-signed `append` records, authenticated sockets,
 * and `msg` frames. Used by the relay, memory and long-room benchmarks.
 */
import * as openpgp from 'openpgp';
import WebSocket from 'ws';
import { AUTH_CONTEXT, PARTY_ROOM, RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND } from '../shared/constants';
import { signDetached, type PrivateKey } from '../shared/crypto';
import { randomHex, utf8 } from '../shared/encoding';
import { applyRecord, createAddRecord, createGenesis, type Roster } from '../shared/membership';
import { authChallengeText, type RoomMode, type SignedRecord } from '../shared/protocol';
import { sleep } from './stats';

export interface Identity {
  name: string;
  fp: string;
  key: PrivateKey;
  publicKey: string;
}

/**
 * A curve25519 identity like the product's (`generateIdentity`), minus the passphrase (Argon2 only
 * protects the stored private key; it changes nothing about signing or encryption). `aeadProtect`
 * matters: it makes the key advertise SEIPDv2/GCM, so envelopes to it are built as the product's are.
 */
export async function makeIdentity(name: string): Promise<Identity> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [{ name }],
    format: 'object',
    config: { aeadProtect: true },
  });
  return { name, fp: privateKey.getFingerprint(), key: privateKey, publicKey: publicKey.armor() };
}

export async function makeIdentities(prefix: string, count: number): Promise<Identity[]> {
  const out: Identity[] = [];
  for (let i = 0; i < count; i++) out.push(await makeIdentity(`${prefix} ${i + 1}`));
  return out;
}

/** A client-side token bucket kept a little under the server's, so setup traffic is never rate-limited. */
export class Pacer {
  private tokens: number;
  private at = Date.now();
  constructor(
    private readonly capacity = RATE_LIMIT_BURST - 10,
    private readonly perSecond = RATE_LIMIT_PER_SECOND * 0.8,
  ) {
    this.tokens = capacity;
  }
  async take(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    }
  }
}

export type Frame = Record<string, unknown> & { type: string };

/** A WebSocket that keeps parsed control frames and hands raw `msg` frames to a fast-path hook. */
export class BenchSocket {
  readonly frames: Frame[] = [];
  private readonly waiters = new Set<() => void>();
  /** Raw hook for every text frame (the relay benchmark reads ids without parsing JSON); true = consumed. */
  onRaw: ((data: Buffer) => boolean) | null = null;
  /** When set, frames of these types are not parsed or kept (relay traffic). */
  skipTypes = new Set<string>();
  /** Frames and bytes received, by frame type (sniffed). */
  readonly received = new Map<string, { frames: number; bytes: number }>();
  readonly closed: Promise<number>;
  /** The close code once the socket has closed, else null. */
  closeCode: number | null = null;

  private constructor(
    readonly ws: WebSocket,
    skip: readonly string[],
  ) {
    for (const type of skip) this.skipTypes.add(type);
    ws.on('message', (data: Buffer) => {
      if (this.onRaw?.(data)) return;
      // Cheap type sniff: every frame starts with {"type":"…".
      const head = data.toString('latin1', 0, 24);
      const type = /^\{"type":"([a-z-]+)"/.exec(head)?.[1] ?? 'other';
      const count = this.received.get(type);
      if (count) {
        count.frames++;
        count.bytes += data.length;
      } else this.received.set(type, { frames: 1, bytes: data.length });
      if (this.skipTypes.has(type)) return;
      try {
        this.frames.push(JSON.parse(data.toString('utf8')) as Frame);
      } catch {
        this.frames.push({ type: 'unparsed', text: data.toString('utf8') });
      }
      for (const wake of [...this.waiters]) wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        for (const wake of [...this.waiters]) wake();
        resolve(code);
      }),
    );
    ws.on('error', () => undefined);
  }

  /** `skip`: frame types never parsed or kept (bulk traffic such as `msg` and `presence`). */
  static open(url: string, timeoutMs = 15_000, skip: readonly string[] = []): Promise<BenchSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const socket = new BenchSocket(ws, skip);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`websocket ${url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  /** The next frame of `type` (consumed), waiting up to `timeoutMs`. An error frame fails fast. */
  async next(type: string, timeoutMs = 15_000, match: (f: Frame) => boolean = () => true): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type && match(f));
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame;
      const error = this.frames.find((f) => f.type === 'error');
      if (error && type !== 'error') throw new Error(`server error while waiting for ${type}: ${JSON.stringify(error)}`);
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms (have: ${this.frames.map((f) => f.type).join(',')})`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 200));
        this.waiters.add(wake);
      });
    }
  }

  /** Drops every kept frame (e.g. presence updates from setup). */
  clear(): void {
    this.frames.length = 0;
  }

  close(): void {
    try {
      this.ws.close();
    } catch {
      // already closed
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export function roomUrl(host: string, room: string): string {
  return `ws://${host}/parties/${PARTY_ROOM}/${room}`;
}

/** Opens a socket to the room and authenticates `who` (optionally creating the room with `genesis`). */
export async function connectMember(
  host: string,
  room: string,
  who: Identity,
  options: { genesis?: SignedRecord; skip?: readonly string[]; timeoutMs?: number } = {},
): Promise<BenchSocket> {
  const { genesis, skip = [], timeoutMs = 20_000 } = options;
  const socket = await BenchSocket.open(roomUrl(host, room), timeoutMs, skip);
  try {
    const challenge = await socket.next('challenge', timeoutMs);
    const sig = await signDetached(who.key, utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, room, String(challenge.nonce))));
    socket.send({ type: 'auth', fp: who.fp, sig, ...(genesis ? { genesis } : {}) });
    await socket.next('welcome', timeoutMs);
    return socket;
  } catch (error) {
    socket.terminate();
    throw error;
  }
}

export interface CreatedRoom {
  id: string;
  roster: Roster;
  /** The admin's authenticated socket (kept open; close it if the admin should not receive relays). */
  admin: BenchSocket;
}

/**
 * Creates a room as `admin` and adds `members` one admin-signed record at a time, waiting for the
 * server to relay each record back. `keyFor` builds each member's key envelope ciphertext (base64);
 * by default a placeholder, since bench-only members never read the room key.
 */
export async function createRoom(
  host: string,
  admin: Identity,
  members: Identity[],
  options: { mode?: RoomMode; keyFor?: (member: Identity) => Promise<string>; roomId?: string } = {},
): Promise<CreatedRoom> {
  const id = options.roomId ?? randomHex(16);
  const genesis = await createGenesis(id, options.mode ?? 'ephemeral', admin.key);
  let roster = await applyRecord(null, genesis, id);
  const socket = await connectMember(host, id, admin, { genesis, skip: ['presence'] });
  const pacer = new Pacer();
  await pacer.take(); // the auth frame
  try {
    for (const member of members) {
      const record = await createAddRecord(roster, { fingerprint: member.fp, publicKey: member.publicKey, role: 'member' }, admin.key);
      const ct = options.keyFor ? await options.keyFor(member) : 'AAAA';
      await pacer.take();
      socket.send({ type: 'append', record, keys: [{ to: member.fp, epoch: 0, ct }] });
      await socket.next('chain', 20_000, (f) => Array.isArray(f.records) && (f.records as SignedRecord[]).some((r) => r.body === record.body));
      roster = await applyRecord(roster, record, id);
    }
  } catch (error) {
    socket.terminate();
    throw error;
  }
  socket.clear();
  return { id, roster, admin: socket };
}

/** Retries a connection attempt that the server dropped (1006 under load) or that timed out; at most `attempts`. */
async function retrying<T>(attempt: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= attempts || /server error/.test(String(error))) throw error;
      await sleep(200 * i);
    }
  }
}

/** Connects many members concurrently (bounded), each authenticated. */
export async function connectAll(host: string, room: string, who: Identity[], skip: readonly string[] = [], concurrency = 16): Promise<BenchSocket[]> {
  const out: BenchSocket[] = new Array(who.length);
  let next = 0;
  const worker = async () => {
    while (next < who.length) {
      const i = next++;
      out[i] = await retrying(() => connectMember(host, room, who[i] as Identity, { skip }));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, who.length) }, worker));
  } catch (error) {
    for (const s of out) s?.terminate();
    throw error;
  }
  return out;
}

/** Opens plain (unauthenticated) sockets, for relays without a protocol. */
export async function openAll(url: string, count: number, skip: readonly string[] = [], concurrency = 16): Promise<BenchSocket[]> {
  const out: BenchSocket[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await retrying(() => BenchSocket.open(url, 15_000, skip));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error) {
    for (const s of out) s?.terminate();
    throw error;
  }
  return out;
}
