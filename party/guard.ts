/** Per-connection bookkeeping both parties share: the auth nonce, a token-bucket rate limit, error frames. */
import type * as Party from 'partykit/server';
import { NONCE_BYTES, RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND } from '../shared/constants';
import { randomHex } from '../shared/encoding';
import type { ErrorCode } from '../shared/protocol';

/** Errors after which a connection is closed: a client this broken is not worth serving. */
const MAX_ERRORS_PER_CONNECTION = 50;

/** A token bucket: `capacity` tokens, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
  ) {
    this.tokens = capacity;
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

export interface Peer {
  conn: Party.Connection;
  nonce: string;
  /** Fingerprint once authenticated as a member, else null. */
  fp: string | null;
  /** Fingerprint of a non-member waiting on a join request, else null. */
  guest: string | null;
  bucket: TokenBucket;
  errors: number;
}

export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  /** Error frames sent since the room started (exposed for tests and logs). */
  errorCount = 0;

  add(conn: Party.Connection): Peer {
    const peer: Peer = { conn, nonce: randomHex(NONCE_BYTES), fp: null, guest: null, bucket: new TokenBucket(RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND), errors: 0 };
    this.peers.set(conn.id, peer);
    return peer;
  }

  get(conn: Party.Connection): Peer | undefined {
    return this.peers.get(conn.id);
  }

  remove(conn: Party.Connection): Peer | undefined {
    const peer = this.peers.get(conn.id);
    this.peers.delete(conn.id);
    return peer;
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }

  authenticated(): Peer[] {
    return this.all().filter((p) => p.fp !== null);
  }

  online(): string[] {
    return [...new Set(this.authenticated().map((p) => p.fp as string))];
  }

  /** Takes one token; false when the connection is over its rate. */
  admit(peer: Peer): boolean {
    return peer.bucket.take();
  }

  /** Sends an error frame, counts it, and closes the connection when `close` is set or it misbehaves too often. */
  fail(peer: Peer, code: ErrorCode, message: string, options: { ref?: string; close?: number } = {}): void {
    this.errorCount++;
    peer.errors++;
    send(peer.conn, { type: 'error', code, message, ...(options.ref ? { ref: options.ref } : {}) });
    try {
      if (options.close) peer.conn.close(options.close, code);
      else if (peer.errors >= MAX_ERRORS_PER_CONNECTION) peer.conn.close(4008, 'too many errors');
    } catch {
      // already closed
    }
  }
}

export function send(conn: Party.Connection, frame: unknown): void {
  sendText(conn, JSON.stringify(frame));
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

/** WebSocket close codes the client understands. */
export const CLOSE = { authFailed: 4001, notMember: 4003, noRoom: 4004, roomExists: 4009, linkRefused: 4010, removed: 4011 } as const;
