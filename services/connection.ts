/**
 * One authenticated connection to a party room (a chat room or our directory entry): answers the
 * server's challenge, validates every inbound frame, sends a heartbeat (keeps an MV3 worker alive),
 * reconnects after drops and stops for good when the server refuses us.
 */
import PartySocket from 'partysocket';
import type { z } from 'zod';
import { HEARTBEAT_MS, MAX_SERVER_FRAME_CHARS } from '@/shared/constants';
import type { ErrorFrame } from '@/shared/protocol';
import { parseFrame } from '@/shared/protocol';

/** The part of a (Partykit) reconnecting WebSocket this module uses. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  reconnect(): void;
  addEventListener(type: 'open' | 'close' | 'message' | 'error', listener: (event: { data?: unknown; code?: number }) => void): void;
  readonly readyState: number;
}

export interface SocketTarget {
  host: string;
  secure: boolean;
  party: string;
  room: string;
}

export type SocketFactory = (target: SocketTarget) => SocketLike;

/** Reconnecting PartyKit sockets; `WebSocket` is passed where the runtime has none (Node 20). */
export function partySocketFactory(options: { minReconnectionDelay: number; maxReconnectionDelay: number; WebSocket?: unknown }): SocketFactory {
  return (target) =>
    new PartySocket({
      host: target.host,
      party: target.party,
      room: target.room,
      protocol: target.secure ? 'wss' : 'ws',
      ...options,
    }) as unknown as SocketLike;
}

export type ConnectionStatus = 'connecting' | 'ready' | 'refused' | 'closed';

/** Error codes after which retrying cannot help. */
const FATAL = new Set(['not-member', 'auth-failed', 'no-room', 'room-exists', 'link-invalid', 'link-expired', 'link-used-up', 'join-denied', 'banned', 'stale-head', 'removed']);

/** What the server's challenge frame carries. */
export interface Challenge {
  nonce: string;
  /** The room's chain head, for a joiner to extend. */
  head?: string | null;
}

export interface ConnectionOptions<In extends { type: string }> {
  target: SocketTarget;
  openSocket: SocketFactory;
  schema: z.ZodType<In>;
  /** Builds the auth frame for a challenge (signs its nonce). */
  authenticate(challenge: Challenge): Promise<unknown>;
  onFrame(frame: In): void | Promise<void>;
  onStatus?(status: ConnectionStatus, error?: ErrorFrame): void;
  heartbeatMs?: number;
}

export class PartyConnection<In extends { type: string }> {
  status: ConnectionStatus = 'connecting';
  private readonly socket: SocketLike;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Frames are handled one at a time, in order. */
  private inbound: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<(ok: boolean) => void>();
  /** True from the server's welcome until the socket drops; `status` turns 'ready' only once the welcome is handled. */
  private authenticated = false;

  constructor(private readonly options: ConnectionOptions<In>) {
    this.socket = options.openSocket(options.target);
    this.socket.addEventListener('message', (event) => {
      this.inbound = this.inbound.then(() => this.receive(event.data)).catch((error) => console.error('frame handler failed', error));
    });
    this.socket.addEventListener('close', () => {
      this.authenticated = false;
      if (this.status === 'ready') this.setStatus('connecting');
    });
    this.heartbeat = setInterval(() => this.send({ type: 'ping' }), options.heartbeatMs ?? HEARTBEAT_MS);
  }

  /** Resolves once authenticated, or with false after `timeoutMs` or a refusal. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        resolve(ok);
      };
      this.waiters.add(finish);
    });
  }

  /** Sends a frame if authenticated; false otherwise (the caller keeps it for later). */
  send(frame: unknown): boolean {
    if (!this.authenticated || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Reconnects now, e.g. after a refusal that the caller has since fixed. */
  retry(): void {
    if (this.status === 'closed') return;
    this.setStatus('connecting');
    this.socket.reconnect();
  }

  close(): void {
    this.authenticated = false;
    this.setStatus('closed');
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.socket.close(1000, 'closed by client');
  }

  private async receive(data: unknown): Promise<void> {
    if (this.status === 'closed') return;
    const parsed = parseFrame(this.options.schema, data, MAX_SERVER_FRAME_CHARS);
    if (!parsed.ok) {
      console.warn('ignoring invalid frame from server:', parsed.message);
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'challenge') {
      this.socket.send(JSON.stringify(await this.options.authenticate(frame as unknown as Challenge)));
      return;
    }
    if (frame.type === 'welcome') {
      this.authenticated = true;
      await this.options.onFrame(frame);
      if (this.authenticated) this.setStatus('ready');
      return;
    }
    if (frame.type === 'error') {
      const error = frame as unknown as ErrorFrame;
      // A member connection is never refused after its welcome; a guest (joining) connection can be, e.g. when denied.
      if (FATAL.has(error.code) && (this.status !== 'ready' || ['join-denied', 'banned', 'removed'].includes(error.code))) {
        this.setStatus('refused', error);
        this.socket.close(1000, error.code);
        return;
      }
    }
    await this.options.onFrame(frame);
  }

  private setStatus(status: ConnectionStatus, error?: ErrorFrame): void {
    if (this.status === 'closed' && status !== 'closed') return;
    this.status = status;
    if (status !== 'connecting') for (const finish of [...this.waiters]) finish(status === 'ready');
    this.options.onStatus?.(status, error);
  }
}
