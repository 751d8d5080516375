/** Per-connection bookkeeping both parties share: the auth nonce, a token-bucket rate limit, error frames. */
import * as openpgp from 'openpgp';
import type * as Party from 'partykit/server';
import { MAX_CONNECTIONS_PER_IDENTITY, NONCE_BYTES, RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND } from '../shared/constants';
import type { PublicKey } from '../shared/crypto';
import { fromBase64, randomHex } from '../shared/encoding';
import type { ErrorCode, ErrorFrame } from '../shared/protocol';

/** Errors after which a connection is closed: a client this broken is not worth serving. */
const MAX_ERRORS_PER_CONNECTION = 50;
/** Connections not signed in yet (answering the challenge, or waiting on a join request) from one client address. */
export const MAX_UNAUTHENTICATED_PER_ADDRESS = 16;
/** Connections still answering the challenge in one room or directory entry, from all addresses together. */
export const MAX_HANDSHAKES = 128;
/** A connection that has neither signed in nor asked to join by then is closed, so idle sockets cannot hold the slots above. */
export const HANDSHAKE_DEADLINE_MS = 30_000;
/** Most distinct keys a KeyedBuckets remembers; past it, buckets that are full again are forgotten. */
const MAX_KEYED_BUCKETS = 10_000;

/** A token bucket: `capacity` tokens, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.refilledAt = now;
  }

  /** Whether the bucket has refilled to capacity by `now` (it is then the same as a new one). */
  isFull(now = Date.now()): boolean {
    return this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond >= this.capacity;
  }

  /** Its tokens and when they were counted (see KeyedBuckets.snapshot). */
  snapshot(): [tokens: number, at: number] {
    return [this.tokens, this.refilledAt];
  }

  /** Sets its tokens as a snapshot counted them (never above capacity). */
  restore([tokens, at]: [number, number]): this {
    this.tokens = Math.min(this.capacity, tokens);
    this.refilledAt = at;
    return this;
  }

  /** Takes one token; false when empty. */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Token buckets by key (an identity, an address, a link), made on first use and forgotten once full again. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
  ) {}

  /** Takes one token from `key`'s bucket; false when it is empty. */
  take(key: string, now = Date.now()): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYED_BUCKETS) this.prune(now);
      bucket = new TokenBucket(this.capacity, this.perSecond, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /**
   * The buckets not full at `now` (a full one is the same as none), at most `max` of the emptiest, as key, tokens and
   * time: what a party stores so that a limit over minutes holds across a wake from hibernation.
   */
  snapshot(now = Date.now(), max = 500): Array<[key: string, tokens: number, at: number]> {
    const drained = [...this.buckets].filter(([, bucket]) => !bucket.isFull(now));
    const level = ([, bucket]: [string, TokenBucket]) => {
      const [tokens, at] = bucket.snapshot();
      return tokens + ((now - at) / 1000) * this.perSecond;
    };
    drained.sort((a, b) => level(a) - level(b));
    return drained.slice(0, max).map(([key, bucket]) => [key, ...bucket.snapshot()]);
  }

  /** Takes the buckets of a snapshot (see `snapshot`). */
  load(entries: Array<[string, number, number]>): void {
    for (const [key, tokens, at] of entries) this.buckets.set(key, new TokenBucket(this.capacity, this.perSecond, at).restore([tokens, at]));
  }

  /** Forgets the buckets that have refilled (a new one is the same); if none has, the oldest half. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
    if (this.buckets.size < MAX_KEYED_BUCKETS) return;
    let drop = this.buckets.size / 2;
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}

/**
 * The client address of a WebSocket upgrade or request: Cloudflare's `CF-Connecting-IP` (set by Cloudflare, not by
 * the client, in a deployment). Without it (a local `partykit dev`) every client shares the address ''.
 */
export function clientAddress(req: Request | undefined): string {
  return req?.headers.get('CF-Connecting-IP')?.trim().toLowerCase() ?? '';
}

export interface Peer {
  conn: Party.Connection;
  /** The client address the connection came from (see `clientAddress`). */
  address: string;
  nonce: string;
  /** Fingerprint once authenticated as a member, else null. */
  fp: string | null;
  /** Fingerprint of a non-member waiting on a join request, else null. */
  guest: string | null;
  /** Frames' rate; in memory only, so a wake from hibernation refills it. */
  bucket: TokenBucket;
  errors: number;
  /** A digest of the presence frame this connection last learned the online set from (see `presenceTag`), so a broadcast skips those that know it. */
  told: string | null;
  /** The non-member link frames this connection has sent ('join', 'preview': one of each per connection). */
  asked: string[];
  /** When (ms) the connection is closed unless it has signed in or asked to join by then; null once it has. */
  deadline: number | null;
  /** The timer that enforces `deadline` while the server stays in memory (a wake re-arms it from `deadline`). */
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * What a connection's attachment keeps of its Peer, so that a server woken from hibernation (a fresh instance, the
 * same open sockets) knows every connection as it was: who it signed in as, its challenge, what it was told. Small
 * (a few hundred bytes; Cloudflare allows 2,048 per attachment). The rate bucket is not kept: a wake refills it.
 */
export interface PeerState {
  v: 1;
  address: string;
  nonce: string;
  fp: string | null;
  guest: string | null;
  errors: number;
  told: string | null;
  asked: string[];
  deadline: number | null;
}

/** A Peer's attachment (see PeerState). */
export function peerState(peer: Peer): PeerState {
  const { address, nonce, fp, guest, errors, told, asked, deadline } = peer;
  return { v: 1, address, nonce, fp, guest, errors, told, asked, deadline };
}

/** The PeerState in an attachment, or null when it holds none (or one of another shape). */
export function readPeerState(value: unknown): PeerState | null {
  if (!value || typeof value !== 'object') return null;
  const s = value as Partial<PeerState>;
  const text = (v: unknown): v is string => typeof v === 'string';
  const textOrNull = (v: unknown): v is string | null => v === null || text(v);
  if (s.v !== 1 || !text(s.address) || !text(s.nonce) || !textOrNull(s.fp) || !textOrNull(s.guest) || !textOrNull(s.told)) return null;
  if (typeof s.errors !== 'number' || !Array.isArray(s.asked) || !s.asked.every(text) || !(s.deadline === null || typeof s.deadline === 'number')) return null;
  return { v: 1, address: s.address, nonce: s.nonce, fp: s.fp, guest: s.guest, errors: s.errors, told: s.told, asked: [...s.asked], deadline: s.deadline };
}

/**
 * A short digest of a presence frame's text (53-bit, cyrb53), what a connection's state keeps of what it was told:
 * the frame itself (every online fingerprint) would not fit an attachment.
 */
export function presenceTag(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * The connections of a party, in memory: rebuilt from the open connections' attachments (`restore`) when a
 * hibernated server wakes, and saved to its attachment (`save`) whenever a kept field changes.
 */
export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  /** Authenticated member connections, kept up to date on admission and close so a relay iterates them without filtering. */
  readonly members = new Set<Peer>();
  /** Open member connections per fingerprint; its keys are the members online. */
  private readonly connections = new Map<string, number>();
  /** Frames of each signed-in identity, across all its connections (one member's ten tabs do not get ten times the rate). */
  private readonly identities = new KeyedBuckets(RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND);
  /** Error frames sent since the server started (exposed for tests and logs). */
  errorCount = 0;

  /**
   * Registers a new connection from `address`. Over the caps on connections not signed in (per address, and
   * still answering the challenge overall) it is refused: sent a `rate-limited` error and closed, and null is
   * returned. An admitted one that has neither signed in nor asked to join within HANDSHAKE_DEADLINE_MS is closed.
   */
  add(conn: Party.Connection, address = '', now = Date.now()): Peer | null {
    const peer = newPeer(conn, { v: 1, address, nonce: randomHex(NONCE_BYTES), fp: null, guest: null, errors: 0, told: null, asked: [], deadline: now + HANDSHAKE_DEADLINE_MS });
    let fromAddress = 0;
    let handshakes = 0;
    for (const p of this.peers.values()) {
      if (p.fp !== null) continue;
      if (p.address === address) fromAddress++;
      if (p.guest === null) handshakes++;
    }
    if (fromAddress >= MAX_UNAUTHENTICATED_PER_ADDRESS || handshakes >= MAX_HANDSHAKES) {
      this.fail(peer, 'rate-limited', 'too many connections are signing in; try again shortly', { close: CLOSE.busy });
      return null;
    }
    this.peers.set(conn.id, peer);
    this.save(peer);
    this.armDeadline(peer, now);
    return peer;
  }

  /**
   * Rebuilds the table from the open connections and their attachments, as a server woken from hibernation must:
   * members are members again (their count per identity too), guests wait on, and a connection whose handshake
   * deadline passed meanwhile is closed. A connection without a state (it had not been registered) is closed.
   */
  restore(conns: Iterable<Party.Connection>, now = Date.now()): void {
    for (const conn of conns) {
      if (this.peers.has(conn.id)) continue;
      const state = readPeerState(conn.state);
      if (!state) {
        try {
          conn.close(CLOSE.authFailed, 'not-authenticated');
        } catch {
          // already closed
        }
        continue;
      }
      const peer = newPeer(conn, state);
      this.peers.set(conn.id, peer);
      if (peer.fp !== null) {
        this.members.add(peer);
        this.connections.set(peer.fp, (this.connections.get(peer.fp) ?? 0) + 1);
      } else if (!this.overdue(peer, now)) {
        this.armDeadline(peer, now);
      }
    }
  }

  /** Keeps a peer's state in its connection's attachment (see PeerState); call after changing a kept field. */
  save(peer: Peer): void {
    try {
      peer.conn.setState(peerState(peer));
    } catch {
      // closed meanwhile: nothing to keep
    }
  }

  /** Stops every timer (what a hibernating server holds none of); the table is not used after. */
  dispose(): void {
    for (const peer of this.peers.values()) this.clearDeadline(peer);
  }

  get(conn: Party.Connection): Peer | undefined {
    return this.peers.get(conn.id);
  }

  /** Forgets a closed connection; `wentOffline` when it was its member's last one. */
  remove(conn: Party.Connection): { peer: Peer | undefined; wentOffline: boolean } {
    const peer = this.peers.get(conn.id);
    if (!peer) return { peer, wentOffline: false };
    this.peers.delete(conn.id);
    this.clearDeadline(peer);
    return { peer, wentOffline: this.unauthenticate(peer) };
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }

  /**
   * Makes an open connection a member connection of `fp`. Returns whether `fp` just came online (its first
   * connection), or null when the connection has closed meanwhile (it is then left alone) or `fp` already holds
   * MAX_CONNECTIONS_PER_IDENTITY connections (it is then refused and closed).
   */
  authenticate(peer: Peer, fp: string): boolean | null {
    if (this.peers.get(peer.conn.id) !== peer) return null;
    if (peer.fp === fp) return false;
    if ((this.connections.get(fp) ?? 0) >= MAX_CONNECTIONS_PER_IDENTITY) {
      const message = `this identity already has ${MAX_CONNECTIONS_PER_IDENTITY} connections open here; close a tab or device and try again`;
      this.fail(peer, 'too-many-connections', message, { close: CLOSE.tooManyConnections });
      return null;
    }
    this.clearDeadline(peer);
    peer.deadline = null;
    this.unauthenticate(peer);
    peer.fp = fp;
    peer.guest = null;
    this.members.add(peer);
    const count = this.connections.get(fp) ?? 0;
    this.connections.set(fp, count + 1);
    this.save(peer);
    return count === 0;
  }

  /** A connection waits on a join request as `fp`: no handshake deadline holds it any more. */
  wait(peer: Peer, fp: string): void {
    this.clearDeadline(peer);
    peer.deadline = null;
    peer.guest = fp;
    this.save(peer);
  }

  private armDeadline(peer: Peer, now: number): void {
    if (peer.deadline === null) return;
    peer.timer = setTimeout(
      () => {
        peer.timer = null;
        if (this.peers.get(peer.conn.id) === peer) this.overdue(peer, peer.deadline ?? 0);
      },
      Math.max(0, peer.deadline - now),
    );
  }

  private clearDeadline(peer: Peer): void {
    if (peer.timer) clearTimeout(peer.timer);
    peer.timer = null;
  }

  /** Closes a connection that has neither signed in nor asked to join by its deadline; true if it was. */
  private overdue(peer: Peer, now: number): boolean {
    if (peer.fp !== null || peer.guest !== null || peer.deadline === null || now < peer.deadline) return false;
    this.fail(peer, 'not-authenticated', 'sign in sooner after connecting', { close: CLOSE.authFailed });
    return true;
  }

  /** Makes a member connection an unauthenticated one again; true when that was its member's last connection. */
  unauthenticate(peer: Peer): boolean {
    const fp = peer.fp;
    if (fp === null) return false;
    peer.fp = null;
    peer.told = null;
    this.members.delete(peer);
    this.save(peer);
    const count = (this.connections.get(fp) ?? 1) - 1;
    if (count > 0) {
      this.connections.set(fp, count);
      return false;
    }
    this.connections.delete(fp);
    return true;
  }

  /** Whether `fp` has an open member connection. */
  isOnline(fp: string): boolean {
    return this.connections.has(fp);
  }

  /** The members online, sorted (one entry per member however many connections it has). */
  online(): string[] {
    return [...this.connections.keys()].sort();
  }

  /**
   * Whether a frame from `peer` may be handled: not past its handshake deadline (checked here too, as a woken
   * server's timer may not have run yet), and within the rate of the connection and of the identity it signed in
   * as. When not, the connection has been sent an error (and closed, past the deadline).
   */
  admit(peer: Peer, now = Date.now()): boolean {
    if (this.overdue(peer, now)) return false;
    if (peer.bucket.take(now) && (peer.fp === null || this.identities.take(peer.fp, now))) return true;
    this.fail(peer, 'rate-limited', 'too many frames; slow down');
    return false;
  }

  /** Sends an error frame, counts it, and closes the connection when `close` is set or it misbehaves too often. */
  fail(peer: Peer, code: ErrorCode, message: string, options: { ref?: string; close?: number } = {}): void {
    this.errorCount++;
    peer.errors++;
    const frame: ErrorFrame = { type: 'error', code, message, ref: options.ref || undefined }; // no ref: left out of the text
    sendText(peer.conn, JSON.stringify(frame));
    try {
      if (options.close) peer.conn.close(options.close, code);
      else if (peer.errors >= MAX_ERRORS_PER_CONNECTION) peer.conn.close(4008, 'too many errors');
      else if (this.peers.get(peer.conn.id) === peer) this.save(peer);
    } catch {
      // already closed
    }
  }
}

function newPeer(conn: Party.Connection, state: PeerState): Peer {
  const { address, nonce, fp, guest, errors, told, asked, deadline } = state;
  return { conn, address, nonce, fp, guest, errors, told, asked, deadline, bucket: new TokenBucket(RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND), timer: null };
}

/** Sends unless the socket already closed (a peer that just left must not fail the frame being handled for everyone else). */
export function sendText(conn: Party.Connection, text: string): void {
  try {
    conn.send(text);
  } catch {
    // closed meanwhile: nothing to deliver
  }
}

export const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
};

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...CORS_HEADERS } });
}

/** The answer to a CORS preflight for a URL that serves `methods` cross-origin: 204, no body (a 204 cannot have one). */
export function preflight(methods: string): Response {
  return new Response(null, { status: 204, headers: { ...CORS_HEADERS, 'Access-Control-Allow-Methods': methods, 'Access-Control-Max-Age': '86400' } });
}

/**
 * WebSocket close codes the client understands (`busy`: over a rate or connection limit; retrying later helps;
 * `tooManyConnections`: the identity holds MAX_CONNECTIONS_PER_IDENTITY connections already; retry once one closed).
 */
export const CLOSE = { authFailed: 4001, notMember: 4003, noRoom: 4004, roomExists: 4009, linkRefused: 4010, removed: 4011, busy: 4029, tooManyConnections: 4030 } as const;

/**
 * Checks a member's signature over a connection's challenge: the detached OpenPGP signature (base64, one
 * signature packet) must verify with `signer` or one of its subkeys, which must be valid at the signature's
 * creation time. The same checks as `openpgp.verify` on a detached signature (the ones shared/crypto.ts
 * `verifyDetached` relies on) through openpgp's own packet code, without its message and stream machinery:
 * that machinery's garbage was most of the memory an admitted connection cost the server (see BENCHMARKS.md).
 */
export async function verifyChallenge(signer: PublicKey, challenge: Uint8Array, sig: string): Promise<boolean> {
  try {
    const body = signaturePacketBody(fromBase64(sig));
    if (!body) return false;
    const signature = new openpgp.SignaturePacket();
    signature.read(body);
    const { binary, text } = openpgp.enums.signature;
    if ((signature.signatureType !== binary && signature.signatureType !== text) || !signature.created) return false;
    const signing = signer.getKeys(signature.issuerKeyID)[0];
    if (!signing) return false;
    const literal = new openpgp.LiteralDataPacket() as unknown as { setBytes(bytes: Uint8Array, format: openpgp.enums.literal): void };
    literal.setBytes(challenge, openpgp.enums.literal.binary);
    // Throws unless the signature verifies, is not from the future or expired, and uses an accepted hash.
    await signature.verify(signing.keyPacket, signature.signatureType, literal, new Date(), true);
    if (signing.getCreationTime() > signature.created) return false;
    // Throws unless the (sub)key was valid for signing (not expired or revoked) when it signed.
    await signer.getSigningKey(signing.getKeyID(), signature.created);
    return true;
  } catch {
    return false;
  }
}

/** The body of `bytes` if they are exactly one OpenPGP signature packet (tag 2, old or new header format), else null. */
function signaturePacketBody(bytes: Uint8Array): Uint8Array | null {
  const at = (i: number) => bytes[i] ?? 0;
  const be = (i: number, n: number) => {
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + at(i + k);
    return v;
  };
  const header = at(0);
  let start: number;
  let length: number;
  if ((header & 0xc0) === 0xc0) {
    // New format: tag in the low six bits; one-, two- or five-octet length (partial lengths are not for signatures).
    if ((header & 0x3f) !== 2) return null;
    const first = at(1);
    if (first < 192) [start, length] = [2, first];
    else if (first < 224) [start, length] = [3, ((first - 192) << 8) + at(2) + 192];
    else if (first === 255) [start, length] = [6, be(2, 4)];
    else return null;
  } else if ((header & 0xc0) === 0x80) {
    // Old format: tag in bits 5–2, length type in bits 1–0 (3, indeterminate, is refused).
    if (((header >> 2) & 0x0f) !== 2) return null;
    const type = header & 3;
    if (type === 3) return null;
    const octets = 1 << type;
    [start, length] = [1 + octets, be(1, octets)];
  } else {
    return null;
  }
  return start + length === bytes.length ? bytes.subarray(start) : null;
}
