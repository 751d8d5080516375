/**
 * One authenticated connection to a party room (a chat room or our directory entry): answers the
 * server's challenge, validates every inbound frame, sends a heartbeat (keeps an MV3 worker alive),
 * reconnects after drops and stops for good when the server refuses us.
 */
import PartySocket from 'partysocket';
import type { z } from 'zod';
import { CONNECTION_LIMIT_RETRY_MS, HEARTBEAT_MS, MAX_SERVER_FRAME_CHARS } from '@/shared/constants';
import type {
  AuthFrame,
  DirectoryAuthFrame,
  DirectoryClientFrame,
  DirectoryServerFrame,
  ErrorFrame,
  JoinFrame,
  PingFrame,
  RoomClientFrame,
  RoomServerFrame,
} from '@/shared/protocol';
import { parseFrame } from '@/shared/protocol';
import type { ConnectionState } from '@/utils/protocol-map';
import { Pacer } from './pacer';

/** The part of a (Partykit) reconnecting WebSocket this module uses. */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  reconnect(): void;
  addEventListener(type: 'open' | 'close' | 'message' | 'error', listener: (event: { data?: unknown; code?: number }) => void): void;
  readonly readyState: number;
  /** After a close: how long the socket waits before its next try (absent: unknown). */
  nextRetryDelayMs?(): number;
}

export interface SocketTarget {
  host: string;
  secure: boolean;
  party: string;
  room: string;
}

export type SocketFactory = (target: SocketTarget) => SocketLike;

/** How much longer PartySocket waits after each failed try, up to its maximum. */
const RECONNECT_GROWTH = 1.3;

/** Reconnecting PartyKit sockets; `WebSocket` is passed where the runtime has none (Node 20). */
export function partySocketFactory(options: { minReconnectionDelay: number; maxReconnectionDelay: number; WebSocket?: unknown }): SocketFactory {
  return (target) => {
    const socket = new PartySocket({
      host: target.host,
      party: target.party,
      room: target.room,
      protocol: target.secure ? 'wss' : 'ws',
      reconnectionDelayGrowFactor: RECONNECT_GROWTH,
      ...options,
    });
    // PartySocket counts its tries before it announces a close, and waits this long before the one it counted.
    const nextRetryDelayMs = () =>
      socket.retryCount > 0 ? Math.min(options.minReconnectionDelay * RECONNECT_GROWTH ** (socket.retryCount - 1), options.maxReconnectionDelay) : 0;
    return Object.assign(socket, { nextRetryDelayMs }) as unknown as SocketLike;
  };
}

export type ConnectionStatus = 'connecting' | 'ready' | 'refused' | 'closed';

/**
 * What the UI is told of a connection (none: offline): signed in; still trying, or trying again after a drop (the
 * socket reconnects by itself, with backoff); or not trying any more (refused for good, or closed).
 */
export function connectionState(status: ConnectionStatus | undefined): ConnectionState {
  if (status === 'ready') return 'connected';
  return status === 'connecting' ? 'reconnecting' : 'offline';
}

/** Error codes after which retrying cannot help. */
const FATAL = new Set([
  'not-member',
  'auth-failed',
  'no-room',
  'room-exists',
  'link-invalid',
  'link-expired',
  'link-used-up',
  'link-busy',
  'requests-full',
  'join-denied',
  'banned',
  'stale-head',
  'removed',
]);

/**
 * Refusals while signing in after which retrying soon cannot help, but later can: the socket is closed (no reconnect
 * at the socket's own quick pace) and opened again after CONNECTION_LIMIT_RETRY_MS.
 */
const RETRY_LATER = new Set(['too-many-connections']);

/** What the server's challenge frame carries. */
export interface Challenge {
  nonce: string;
  /** The room's chain head, for a joiner to extend. */
  head?: string | null;
}

/** Frames a server sends: a room's or the directory's. */
export type ServerFrame = RoomServerFrame | DirectoryServerFrame;
/** Frames a client sends: to a room or to the directory. */
export type ClientFrame = RoomClientFrame | DirectoryClientFrame;
/** The frames that answer a challenge: a member's auth, a link joiner's join, or a directory sign-in. */
export type AnswerFrame = AuthFrame | JoinFrame | DirectoryAuthFrame;

/** The one heartbeat frame; both client protocols have it. */
const PING: PingFrame = { type: 'ping' };

export interface ConnectionOptions<In extends ServerFrame, Out extends ClientFrame> {
  target: SocketTarget;
  openSocket: SocketFactory;
  schema: z.ZodType<In>;
  /** Builds the auth (or join) frame for a challenge (signs its nonce). */
  authenticate(challenge: Challenge): Promise<Extract<Out, AnswerFrame>>;
  onFrame(frame: In): void | Promise<void>;
  onStatus?(status: ConnectionStatus, error?: ErrorFrame): void;
  heartbeatMs?: number;
  /** The wait after a refusal that retrying later can fix (CONNECTION_LIMIT_RETRY_MS unless set). */
  retryLaterMs?: number;
}

/**
 * `In` is what the server sends (validated by `schema`), `Out` what we send it: `PartyConnection<RoomServerFrame,
 * RoomClientFrame>` for a room, `PartyConnection<DirectoryServerFrame, DirectoryClientFrame>` for the directory.
 */
export class PartyConnection<In extends ServerFrame, Out extends ClientFrame> {
  status: ConnectionStatus = 'connecting';
  /** While reconnecting: when the socket tries next (ms since the epoch), if it says; null otherwise. */
  retryAt: number | null = null;
  private readonly socket: SocketLike;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Frames are handled one at a time, in order. */
  private inbound: Promise<void> = Promise.resolve();
  private readonly waiters = new Set<(ok: boolean) => void>();
  /** True from the server's welcome until the socket drops; `status` turns 'ready' only once the welcome is handled. */
  private authenticated = false;
  /** Set while waiting to reconnect after a RETRY_LATER refusal. */
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Counts the socket's opens and closes: a frame belongs to the connection it arrived on. An answer to a challenge
   * that arrives after that connection dropped is not sent (the socket would carry it to the next connection, whose
   * server refuses it as auth-failed, and the room would stay disconnected for good).
   */
  private changes = 0;
  /** Frames wait here rather than go over the server's rate (which would drop them). */
  private readonly retryLaterMs: number;
  private readonly pacer = new Pacer((data) => {
    if (!this.authenticated || this.socket.readyState !== 1) return false;
    this.socket.send(data);
    return true;
  });

  constructor(private readonly options: ConnectionOptions<In, Out>) {
    this.retryLaterMs = options.retryLaterMs ?? CONNECTION_LIMIT_RETRY_MS;
    this.socket = options.openSocket(options.target);
    this.socket.addEventListener('message', (event) => {
      const generation = this.changes;
      this.inbound = this.inbound.then(() => this.receive(event.data, generation)).catch((error) => console.error('frame handler failed', error));
    });
    this.socket.addEventListener('open', () => this.changes++);
    this.socket.addEventListener('close', () => {
      this.changes++;
      this.authenticated = false;
      this.pacer.clear();
      if (this.status !== 'ready' && this.status !== 'connecting') return;
      const delay = this.socket.nextRetryDelayMs?.();
      this.retryAt = delay === undefined ? null : Date.now() + delay;
      // Told again after every failed try, so the UI can say when the next one is.
      this.setStatus('connecting');
    });
    this.heartbeat = setInterval(() => this.write(PING), options.heartbeatMs ?? HEARTBEAT_MS);
  }

  /** Changes with every open and close of the underlying socket: which connection (of this reconnecting one) is current. */
  get generation(): number {
    return this.changes;
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

  /**
   * Sends a frame if authenticated, at once or, over the server's rate, shortly after (in order); false otherwise
   * (the caller keeps it for later).
   */
  send(frame: Out): boolean {
    return this.write(frame);
  }

  private write(frame: Out | PingFrame): boolean {
    if (!this.authenticated || this.socket.readyState !== 1) return false;
    this.pacer.send(JSON.stringify(frame));
    return true;
  }

  /** Resolves once every frame received so far has been handled (the challenge answered, handlers finished). */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.inbound;
      await seen;
    } while (seen !== this.inbound);
  }

  /** Reconnects now, e.g. after a refusal that the caller has since fixed. */
  retry(): void {
    if (this.status === 'closed') return;
    this.clearRetryTimer();
    this.setStatus('connecting');
    this.socket.reconnect();
  }

  close(): void {
    this.authenticated = false;
    this.pacer.clear();
    this.setStatus('closed');
    this.clearRetryTimer();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.socket.close(1000, 'closed by client');
  }

  private async receive(data: unknown, generation: number): Promise<void> {
    if (this.status === 'closed') return;
    const parsed = parseFrame(this.options.schema, data, MAX_SERVER_FRAME_CHARS);
    if (!parsed.ok) {
      console.warn('ignoring invalid frame from server:', parsed.message);
      return;
    }
    const frame: In = parsed.frame;
    // The same frame seen as the union of both servers' frames, which narrows by `type` (a bare `In` does not).
    const known: ServerFrame = frame;
    if (known.type === 'challenge') {
      const answer: AnswerFrame = await this.options.authenticate(known);
      if (generation === this.changes && this.socket.readyState === 1) this.socket.send(JSON.stringify(answer));
      return;
    }
    if (known.type === 'welcome') {
      this.authenticated = true;
      this.retryAt = null;
      await this.options.onFrame(frame);
      if (this.authenticated) this.setStatus('ready');
      return;
    }
    if (known.type === 'error') {
      const error: ErrorFrame = known;
      // A member connection is never refused after its welcome; a guest (joining) connection can be, e.g. when denied.
      if (FATAL.has(error.code) && (this.status !== 'ready' || ['join-denied', 'banned', 'removed'].includes(error.code))) {
        this.setStatus('refused', error);
        this.socket.close(1000, error.code);
        return;
      }
      if (RETRY_LATER.has(error.code) && this.status !== 'ready') {
        // Closed by us, so the socket does not reconnect at its own pace (every few seconds at most); we do, later.
        this.socket.close(1000, error.code);
        this.clearRetryTimer();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (this.status !== 'closed') this.socket.reconnect();
        }, this.retryLaterMs);
      }
    }
    await this.options.onFrame(frame);
  }

  private clearRetryTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setStatus(status: ConnectionStatus, error?: ErrorFrame): void {
    if (this.status === 'closed' && status !== 'closed') return;
    this.status = status;
    if (status !== 'connecting') for (const finish of [...this.waiters]) finish(status === 'ready');
    this.options.onStatus?.(status, error);
  }
}
