/**
 * A lying server for attack tests: a man-in-the-middle on a free loopback port in front of a real
 * `partykit dev`. Real clients (`createClient(proxy.host)`) connect to it instead of the server; per
 * WebSocket connection it forwards frames both ways, records everything, and lets a test script drop,
 * withhold (hold, then release in any order), replace or mutate frames, inject frames either way,
 * replay recorded frames, or take a connection over entirely (no upstream: the script plays the server).
 * Plain HTTP (the directory key look-up) is forwarded too, with hooks that may substitute the answer.
 *
 * Frames are parsed with the protocol schemas of their party and direction; `frame` is null for
 * anything that does not parse (which is forwarded untouched unless a rule says otherwise).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { MAX_SERVER_FRAME_CHARS, PARTY_DIRECTORY, PARTY_ROOM } from '@/shared/constants';
import {
  directoryClientFrameSchema,
  directoryServerFrameSchema,
  parseFrame,
  roomClientFrameSchema,
  roomServerFrameSchema,
  type DirectoryClientFrame,
  type DirectoryServerFrame,
  type RoomClientFrame,
  type RoomServerFrame,
} from '@/shared/protocol';
import { freePort } from '../party-server';

export type Direction = 'to-client' | 'to-server';
/** What a frame of each direction parses as (room or directory party). */
export type FrameOf<D extends Direction> = D extends 'to-client' ? RoomServerFrame | DirectoryServerFrame : RoomClientFrame | DirectoryClientFrame;
/** What became of a frame the proxy saw. */
export type Fate = 'forwarded' | 'dropped' | 'held' | 'replaced' | 'injected' | 'released' | 'replayed' | 'absorbed';

export interface SeenFrame<D extends Direction = Direction> {
  /** Order of arrival over the whole proxy. */
  n: number;
  conn: ProxiedConnection;
  direction: D;
  raw: string;
  /** The frame parsed against its party's schema for this direction; null if it does not parse. */
  frame: FrameOf<D> | null;
  at: number;
  fate: Fate;
  /** For a replaced frame: the text actually sent. */
  sent?: string;
}

/**
 * A rule sees each frame before it moves on. Return nothing (or 'pass') to let it through, 'drop' to lose it,
 * 'hold' to withhold it until `release`, or `{ replace }` with a frame (object or text) to send instead.
 */
export type Verdict = void | undefined | 'pass' | 'drop' | 'hold' | { replace: unknown };
export type Rule<D extends Direction> = (frame: FrameOf<D> | null, seen: SeenFrame<D>) => Verdict;
/** Matches a frame: by type, or with a predicate. */
export type Match<D extends Direction> = string | ((frame: FrameOf<D> | null, seen: SeenFrame<D>) => boolean);

export interface HttpExchange {
  method: string;
  /** Path and query, e.g. `/parties/directory/<fp>`. */
  url: string;
  headers: Record<string, string>;
  body: string;
}
export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}
/** Returns a reply to substitute the server's, or nothing to pass it on; `forward()` asks the real server. */
export type HttpHook = (req: HttpExchange, forward: () => Promise<HttpReply>) => HttpReply | undefined | Promise<HttpReply | undefined>;

/** One client connection through the proxy (and its upstream connection, unless taken over). */
export class ProxiedConnection {
  /** The identity that signed in on it (from the client's auth or join frame), once known. */
  fp: string | null = null;
  readonly seen: SeenFrame[] = [];
  upstream: WebSocket | null = null;
  private readonly queued: string[] = [];
  private readonly consumed = new Set<SeenFrame>();
  private readonly waiters = new Set<() => void>();
  closed = false;

  constructor(
    readonly id: number,
    /** `main` (a chat room) or `directory`. */
    readonly party: string,
    readonly room: string,
    /** Path and query the client asked for. */
    readonly path: string,
    readonly client: WebSocket,
    /** True when the script plays the server: nothing goes upstream. */
    readonly takenOver: boolean,
    private readonly proxy: LyingServer,
  ) {}

  /** Sends a frame to the client as if the server had sent it. */
  toClient(frame: unknown): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.proxy.record(this, 'to-client', text, 'injected');
    this.deliver('to-client', text);
  }

  /** Sends a frame to the server as if the client had sent it (on the client's authenticated connection). */
  toServer(frame: unknown): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.proxy.record(this, 'to-server', text, 'injected');
    this.deliver('to-server', text);
  }

  /** Drops the connection on both sides; a reconnecting client comes back as a new ProxiedConnection. */
  close(): void {
    this.closed = true;
    this.client.terminate();
    this.upstream?.terminate();
  }

  /** The frames recorded on this connection in one direction, optionally of one type. */
  frames<D extends Direction>(direction: D, type?: string): Array<SeenFrame<D>> {
    return this.seen.filter((s): s is SeenFrame<D> => s.direction === direction && (type === undefined || s.frame?.type === type));
  }

  /** Waits for a frame on this connection (already seen or still to come) that no earlier `next` returned. */
  async next<D extends Direction>(direction: D, match: Match<D>, timeoutMs = 15_000): Promise<SeenFrame<D>> {
    const test = matcher(match);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.seen.find((s): s is SeenFrame<D> => s.direction === direction && !this.consumed.has(s) && test(s.frame as FrameOf<D> | null, s as SeenFrame<D>));
      if (found) {
        this.consumed.add(found);
        return found;
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${direction} frame matching ${String(match)} on ${this.party}/${this.room} within ${timeoutMs} ms; saw ${this.seen.map((s) => `${s.direction}:${s.frame?.type ?? '?'}`).join(', ')}`);
      }
      await new Promise<void>((wake) => {
        this.waiters.add(wake);
        setTimeout(wake, 100);
      });
    }
  }

  /** @internal */
  noteSeen(seen: SeenFrame): void {
    this.seen.push(seen);
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }

  /** @internal Sends text on towards `direction` (queues upstream frames until the upstream socket is open). */
  deliver(direction: Direction, text: string): void {
    if (direction === 'to-client') {
      if (this.client.readyState === WebSocket.OPEN) this.client.send(text);
      return;
    }
    if (this.takenOver) return;
    if (this.upstream?.readyState === WebSocket.OPEN) this.upstream.send(text);
    else if (!this.upstream || this.upstream.readyState === WebSocket.CONNECTING) this.queued.push(text);
  }

  /** @internal */
  flushQueued(): void {
    for (const text of this.queued.splice(0)) this.upstream?.send(text);
  }
}

export interface LyingServerOptions {
  /** The real party server, `host:port`. */
  upstream: string;
}

export class LyingServer {
  /** `127.0.0.1:<port>`: the address to give clients instead of the real server. */
  host = '';
  readonly connections: ProxiedConnection[] = [];
  readonly seen: SeenFrame[] = [];
  readonly http: Array<{ req: HttpExchange; reply: HttpReply; substituted: boolean }> = [];
  private server: Server | null = null;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * MAX_SERVER_FRAME_CHARS });
  private readonly rules: Array<{ direction: Direction; rule: Rule<Direction> }> = [];
  private readonly heldFrames: SeenFrame[] = [];
  private readonly httpHooks: HttpHook[] = [];
  private readonly takeOvers: Array<(target: { party: string; room: string; path: string }) => boolean> = [];
  private readonly connectionWaiters = new Set<() => void>();
  private counter = 0;
  private nextConnId = 1;

  constructor(readonly options: LyingServerOptions) {}

  async start(): Promise<this> {
    const port = await freePort();
    this.server = createServer((req, res) => {
      void this.answerHttp(req).then(
        (reply) => {
          res.writeHead(reply.status, reply.headers ?? {});
          res.end(reply.body);
        },
        (error: unknown) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`lying server could not reach upstream: ${String(error)}`);
        },
      );
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.wss.handleUpgrade(req, socket, head, (client) => this.onClient(client, req.url ?? '/'));
    });
    await new Promise<void>((done, fail) => {
      this.server?.once('error', fail);
      this.server?.listen(port, '127.0.0.1', () => done());
    });
    this.host = `127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const conn of this.connections) conn.close();
    await new Promise<void>((done) => this.wss.close(() => done()));
    this.server?.closeAllConnections();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }

  // ── scripting ─────────────────────────────────────────────────────────────

  /** Adds a rule for frames going one way; rules run in the order added, the first verdict other than 'pass' wins. Returns a remover. */
  intercept<D extends Direction>(direction: D, rule: Rule<D>): () => void {
    const entry = { direction, rule: rule as unknown as Rule<Direction> };
    this.rules.push(entry);
    return () => {
      const index = this.rules.indexOf(entry);
      if (index >= 0) this.rules.splice(index, 1);
    };
  }

  /** Drops matching frames (at most `times` of them, if given). Returns a remover. */
  drop<D extends Direction>(direction: D, match: Match<D>, options: { times?: number } = {}): () => void {
    const test = matcher(match);
    let left = options.times ?? Infinity;
    return this.intercept(direction, (frame, seen) => {
      if (left <= 0 || !test(frame, seen)) return;
      left--;
      return 'drop';
    });
  }

  /** Withholds matching frames until `release` (or for ever). Returns a remover (what is already held stays held). */
  hold<D extends Direction>(direction: D, match: Match<D>): () => void {
    const test = matcher(match);
    return this.intercept(direction, (frame, seen) => (test(frame, seen) ? 'hold' : undefined));
  }

  /** Sends something else instead of matching frames: `mutate` gets the parsed frame (a copy) and returns the frame (or text) to send. */
  replace<D extends Direction>(direction: D, match: Match<D>, mutate: (frame: FrameOf<D>, seen: SeenFrame<D>) => unknown, options: { times?: number } = {}): () => void {
    const test = matcher(match);
    let left = options.times ?? Infinity;
    return this.intercept(direction, (frame, seen) => {
      if (left <= 0 || !frame || !test(frame, seen)) return;
      left--;
      return { replace: mutate(structuredClone(frame), seen) };
    });
  }

  /** Frames withheld so far and not yet released. */
  held(): SeenFrame[] {
    return [...this.heldFrames];
  }

  /**
   * Lets withheld frames go on, in the order given (`frames`, a subset or a reordering of `held()`), or all of them
   * in arrival order, or in reverse with `reverse: true`. Frames of a connection that has closed are lost.
   */
  release(frames?: SeenFrame[], options: { reverse?: boolean } = {}): void {
    let list = frames ?? [...this.heldFrames];
    if (options.reverse) list = [...list].reverse();
    for (const seen of list) {
      const index = this.heldFrames.indexOf(seen);
      if (index < 0) throw new Error(`frame #${seen.n} is not held`);
      this.heldFrames.splice(index, 1);
      this.record(seen.conn, seen.direction, seen.raw, 'released');
      seen.conn.deliver(seen.direction, seen.raw);
    }
  }

  /**
   * Sends a recorded frame again, the same way it went (to another connection with `to`), optionally changed:
   * `mutate` gets a copy of the parsed frame. Bypasses the rules.
   */
  replay(seen: SeenFrame, options: { to?: ProxiedConnection; mutate?: (frame: NonNullable<SeenFrame['frame']>) => unknown } = {}): void {
    const conn = options.to ?? seen.conn;
    let text = seen.raw;
    if (options.mutate) {
      if (!seen.frame) throw new Error(`frame #${seen.n} did not parse; replay it without mutate`);
      const changed = options.mutate(structuredClone(seen.frame));
      text = typeof changed === 'string' ? changed : JSON.stringify(changed);
    }
    this.record(conn, seen.direction, text, 'replayed');
    conn.deliver(seen.direction, text);
  }

  /** Connections matching `match` get no upstream: the script plays the server with `toClient` and reads what the client sends. */
  takeOver(match: (target: { party: string; room: string; path: string }) => boolean): () => void {
    this.takeOvers.push(match);
    return () => {
      const index = this.takeOvers.indexOf(match);
      if (index >= 0) this.takeOvers.splice(index, 1);
    };
  }

  /** Substitutes (or watches) plain HTTP requests; hooks run in the order added. Returns a remover. */
  onHttp(hook: HttpHook): () => void {
    this.httpHooks.push(hook);
    return () => {
      const index = this.httpHooks.indexOf(hook);
      if (index >= 0) this.httpHooks.splice(index, 1);
    };
  }

  /** The open connections of one room (party `main`) or another party. */
  open(room: string, party: string = PARTY_ROOM): ProxiedConnection[] {
    return this.connections.filter((c) => !c.closed && c.room === room && c.party === party);
  }

  /** Waits for a connection matching `match` (an open one already there, or the next to come). */
  async connection(match: (conn: ProxiedConnection) => boolean, timeoutMs = 15_000): Promise<ProxiedConnection> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.connections.find((c) => !c.closed && match(c));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching connection within ${timeoutMs} ms; have ${this.connections.map((c) => `${c.party}/${c.room}:${c.fp ?? '?'}`).join(', ')}`);
      await new Promise<void>((wake) => {
        this.connectionWaiters.add(wake);
        setTimeout(wake, 100);
      });
    }
  }

  /** The open room connection a member signed in on (waits until its auth or join frame went by). */
  member(room: string, fp: string | null | undefined, timeoutMs?: number): Promise<ProxiedConnection> {
    return this.connection((c) => c.party === PARTY_ROOM && c.room === room && c.fp === fp, timeoutMs);
  }

  /** Every recorded frame matching direction and `match`, over all connections. */
  frames<D extends Direction>(direction: D, match?: Match<D>): Array<SeenFrame<D>> {
    const test = match === undefined ? () => true : matcher(match);
    return this.seen.filter((s): s is SeenFrame<D> => s.direction === direction && test(s.frame as FrameOf<D> | null, s as SeenFrame<D>));
  }

  // ── plumbing ──────────────────────────────────────────────────────────────

  /** @internal Records a frame (an injection, a release, a replay) that bypasses the rules. */
  record(conn: ProxiedConnection, direction: Direction, raw: string, fate: Fate): SeenFrame {
    const seen: SeenFrame = { n: ++this.counter, conn, direction, raw, frame: parseFor(conn.party, direction, raw), at: Date.now(), fate };
    this.seen.push(seen);
    conn.noteSeen(seen);
    if (direction === 'to-server' && seen.frame && (seen.frame.type === 'auth' || seen.frame.type === 'join')) conn.fp = seen.frame.fp;
    return seen;
  }

  private onClient(client: WebSocket, path: string): void {
    const match = /^\/parties\/([^/?]+)\/([^/?]+)/.exec(path);
    const party = decodeURIComponent(match?.[1] ?? '');
    const room = decodeURIComponent(match?.[2] ?? '');
    const takenOver = this.takeOvers.some((m) => m({ party, room, path }));
    const conn = new ProxiedConnection(this.nextConnId++, party, room, path, client, takenOver, this);
    this.connections.push(conn);
    for (const wake of [...this.connectionWaiters]) wake();
    this.connectionWaiters.clear();

    client.on('message', (data) => this.pass(conn, 'to-server', String(data)));
    client.on('close', () => {
      conn.closed = true;
      if (conn.upstream && conn.upstream.readyState <= WebSocket.OPEN) conn.upstream.close();
    });
    client.on('error', () => undefined);
    if (takenOver) return;

    const upstream = new WebSocket(`ws://${this.options.upstream}${path}`);
    conn.upstream = upstream;
    upstream.on('open', () => conn.flushQueued());
    upstream.on('message', (data) => this.pass(conn, 'to-client', String(data)));
    upstream.on('close', (code) => {
      // Close codes the server chose (4xxx) pass through; others (1005, 1006) cannot be sent, so the client just sees a drop.
      if (client.readyState === WebSocket.OPEN) {
        if (code === 1000 || (code >= 3000 && code <= 4999)) client.close(code);
        else client.terminate();
      }
    });
    upstream.on('error', () => client.terminate());
  }

  /** A frame arriving from either side: recorded, run through the rules, sent on (or not). */
  private pass(conn: ProxiedConnection, direction: Direction, raw: string): void {
    const seen: SeenFrame = { n: ++this.counter, conn, direction, raw, frame: parseFor(conn.party, direction, raw), at: Date.now(), fate: 'forwarded' };
    if (direction === 'to-server' && seen.frame && (seen.frame.type === 'auth' || seen.frame.type === 'join')) conn.fp = seen.frame.fp;
    let verdict: Verdict;
    for (const { direction: d, rule } of [...this.rules]) {
      if (d !== direction) continue;
      verdict = rule(seen.frame, seen);
      if (verdict !== undefined && verdict !== 'pass') break;
    }
    if (conn.takenOver && direction === 'to-server' && (verdict === undefined || verdict === 'pass')) seen.fate = 'absorbed';
    else if (verdict === 'drop') seen.fate = 'dropped';
    else if (verdict === 'hold') seen.fate = 'held';
    else if (verdict && typeof verdict === 'object') {
      seen.fate = 'replaced';
      seen.sent = typeof verdict.replace === 'string' ? verdict.replace : JSON.stringify(verdict.replace);
    }
    this.seen.push(seen);
    conn.noteSeen(seen);
    if (seen.fate === 'held') this.heldFrames.push(seen);
    else if (seen.fate === 'forwarded') conn.deliver(direction, raw);
    else if (seen.fate === 'replaced') conn.deliver(direction, seen.sent as string);
  }

  private async answerHttp(req: IncomingMessage): Promise<HttpReply> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    const exchange: HttpExchange = { method: req.method ?? 'GET', url: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8') };
    const forward = async (): Promise<HttpReply> => {
      const sent: Record<string, string> = {};
      for (const [name, value] of Object.entries(exchange.headers)) if (!HOP_HEADERS.has(name)) sent[name] = value;
      const res = await fetch(`http://${this.options.upstream}${exchange.url}`, {
        method: exchange.method,
        headers: sent,
        body: exchange.method === 'GET' || exchange.method === 'HEAD' ? undefined : exchange.body,
      });
      const back: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        if (!HOP_HEADERS.has(name) && name !== 'content-encoding') back[name] = value;
      });
      return { status: res.status, headers: back, body: await res.text() };
    };
    for (const hook of [...this.httpHooks]) {
      const reply = await hook(exchange, forward);
      if (reply) {
        this.http.push({ req: exchange, reply, substituted: true });
        return reply;
      }
    }
    const reply = await forward();
    this.http.push({ req: exchange, reply, substituted: false });
    return reply;
  }
}

const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade']);

function matcher<D extends Direction>(match: Match<D>): (frame: FrameOf<D> | null, seen: SeenFrame<D>) => boolean {
  return typeof match === 'string' ? (frame) => frame?.type === match : match;
}

function parseFor(party: string, direction: Direction, raw: string): FrameOf<Direction> | null {
  const schema =
    party === PARTY_DIRECTORY
      ? direction === 'to-client'
        ? directoryServerFrameSchema
        : directoryClientFrameSchema
      : direction === 'to-client'
        ? roomServerFrameSchema
        : roomClientFrameSchema;
  const parsed = parseFrame<FrameOf<Direction>>(schema as never, raw, MAX_SERVER_FRAME_CHARS);
  return parsed.ok ? parsed.frame : null;
}

/** Starts a lying server in front of `upstream` (the real party server's `host:port`). */
export function startLyingServer(upstream: string): Promise<LyingServer> {
  return new LyingServer({ upstream }).start();
}
