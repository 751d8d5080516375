/**
 * Fault injection for integration tests (issue 11): seeded randomness, a `partykit dev` that can be killed and
 * restarted on the same port and persist directory, a TCP proxy that cuts a client's connections (with a close
 * frame from the "server", or without one), a worker that dies mid-write, and a ledger that counts what was sent
 * and what every member holds: delivered, lost, duplicated, order per sender, delay after the fault cleared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { SocketFactory, SocketLike } from '@/services/connection';
import { memoryStore } from '@/services/store';
import type { LocalItems, SessionItems } from '@/services/records';
import { createClient, nodeSocketFactory, storedMessages, until, type TestClient } from './node-client';
import { freePort, startParty, type RunningParty } from './party-server';

// ── seeded randomness ──────────────────────────────────────────────────────

export interface Random {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

/** A seeded generator (mulberry32); the seed is `FAULT_SEED` if set, else random, and is printed so a run can be replayed. */
export function seededRandom(label: string): Random {
  const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[faults] ${label}: seed ${seed} (replay with FAULT_SEED=${seed})`);
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** Resolves after `ms`: only for spacing faults apart (a fault's timing), never for waiting on a result. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ── a server that can crash ───────────────────────────────────────────────

/** A `partykit dev` of its own with a persist directory: `crash()` SIGKILLs it, `restart()` brings it back on the same port. */
export class CrashableParty {
  crashes = 0;
  private constructor(
    private party: RunningParty,
    private readonly dir: string,
  ) {}

  static async start(): Promise<CrashableParty> {
    const dir = mkdtempSync(join(tmpdir(), 'partychat-faults-'));
    return new CrashableParty(await startParty({ port: await freePort(), persistDir: dir }), dir);
  }

  get host(): string {
    return this.party.host;
  }

  get port(): number {
    return this.party.port;
  }

  output(): string {
    return this.party.output();
  }

  /** Killed with no chance to finish anything (no shutdown, in-flight frames and writes lost). */
  async crash(): Promise<void> {
    this.crashes++;
    await this.party.kill('SIGKILL');
  }

  /** The same port and persist directory, as a restarted host. */
  async restart(): Promise<void> {
    this.party = await startParty({ port: this.party.port, persistDir: this.dir });
  }

  async stop(): Promise<void> {
    await this.party.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ── a proxy that cuts connections ───────────────────────────────────────────

/** How a connection is cut: a close frame from the server's side, or the TCP connection reset with no close frame. */
export type CutMode = 'close' | 'drop';

/** A close frame as a server sends it (unmasked): code 1001 "going away". */
const CLOSE_FRAME = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

interface Pair {
  client: Socket;
  server: Socket;
  /** Server-to-client bytes after the upgrade response not yet forwarded (an incomplete WebSocket frame). */
  pending: Buffer;
  upgraded: boolean;
  /** Not a WebSocket: bytes pass through untouched. */
  plain: boolean;
}

/**
 * A TCP proxy between clients and the party server. It forwards the server's WebSocket frames whole, so `cut('close')`
 * can put a close frame between two of them, as a server closing the socket would; `cut('drop')` resets both sides.
 */
export class CuttingProxy {
  cuts = 0;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new CuttingProxy(server, port);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
    return proxy;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy (WebSocket upgraded). */
  openCount(): number {
    return [...this.pairs].filter((p) => p.upgraded).length;
  }

  /** Cuts every connection open through the proxy; returns how many were cut. */
  cut(mode: CutMode): number {
    const open = [...this.pairs].filter((p) => p.upgraded);
    for (const pair of open) {
      this.pairs.delete(pair);
      if (mode === 'close') {
        pair.client.end(CLOSE_FRAME);
        pair.server.destroy();
      } else {
        pair.client.resetAndDestroy();
        pair.server.resetAndDestroy();
      }
    }
    if (open.length) this.cuts++;
    return open.length;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server.destroy();
    }
    await new Promise((done) => this.server.close(done));
  }

  private accept(client: Socket, targetPort: number): void {
    const server = new Socket();
    const pair: Pair = { client, server, pending: Buffer.alloc(0), upgraded: false, plain: false };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop);
    server.on('error', drop);
    client.on('close', drop);
    server.on('close', drop);
    server.connect(targetPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => server.write(chunk));
    server.on('data', (chunk: Buffer) => {
      if (!this.pairs.has(pair)) return;
      if (pair.plain) return void client.write(chunk);
      pair.pending = Buffer.concat([pair.pending, chunk]);
      if (!pair.upgraded) {
        const end = pair.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        // Plain HTTP (fetches) passes through as it comes; only a WebSocket's frames are forwarded whole.
        if (!pair.pending.subarray(0, 13).toString().startsWith('HTTP/1.1 101')) {
          pair.plain = true;
          client.write(pair.pending);
          return;
        }
        client.write(pair.pending.subarray(0, end + 4));
        pair.pending = pair.pending.subarray(end + 4);
        pair.upgraded = true;
      }
      const whole = completeFrames(pair.pending);
      if (whole > 0) {
        client.write(pair.pending.subarray(0, whole));
        pair.pending = pair.pending.subarray(whole);
      }
    });
  }
}

/** How many leading bytes of `data` are whole unmasked WebSocket frames. */
function completeFrames(data: Buffer): number {
  let at = 0;
  for (;;) {
    if (data.length < at + 2) return at;
    const short = (data[at + 1] ?? 0) & 0x7f;
    let header = 2;
    let length = short;
    if (short === 126) {
      if (data.length < at + 4) return at;
      header = 4;
      length = data.readUInt16BE(at + 2);
    } else if (short === 127) {
      if (data.length < at + 10) return at;
      header = 10;
      length = Number(data.readBigUInt64BE(at + 2));
    }
    if (data.length < at + header + length) return at;
    at += header + length;
  }
}

// ── a worker that dies mid-write ───────────────────────────────────────────

type Local = ReturnType<typeof memoryStore<LocalItems>>;
type Session = ReturnType<typeof memoryStore<SessionItems>>;

/** A promise that never settles: what a dead worker's pending storage calls turn into. */
const NEVER = new Promise<never>(() => undefined);

/**
 * One life of the background worker over storage that outlives it. `dieAfterWrites(n)` lets `n` more writes land,
 * then the worker dies: every later read or write never settles (its in-flight work is abandoned where it stands),
 * its sockets close with no goodbye, and it is never told (no `closeAll`). `next()` starts a new life on the same storage.
 */
export class MortalWorker {
  readonly client: TestClient;
  dead = false;
  private writesLeft = Infinity;
  private readonly sockets: SocketLike[] = [];
  private readonly died: Promise<void>;
  private markDead: () => void = () => undefined;

  constructor(
    readonly host: string,
    readonly local: Local,
    readonly session: Session,
  ) {
    this.died = new Promise((r) => (this.markDead = r));
    const openSocket: SocketFactory = (target) => {
      const socket = nodeSocketFactory(target);
      if (this.dead) socket.close();
      this.sockets.push(socket);
      return socket;
    };
    this.client = createClient(host, { local: this.mortal(local), session: this.mortal(session), openSocket });
  }

  /** A fresh worker on fresh storage. */
  static fresh(host: string): MortalWorker {
    return new MortalWorker(host, memoryStore<LocalItems>(), memoryStore<SessionItems>());
  }

  /** The next life: a new ChatService started from the same storage (dying after `dieAfterWrites` writes, if given). */
  async next(dieAfterWrites?: number): Promise<MortalWorker> {
    if (!this.dead) this.die();
    const worker = new MortalWorker(this.host, this.local, this.session);
    if (dieAfterWrites !== undefined) worker.dieAfterWrites(dieAfterWrites);
    await Promise.race([worker.client.chat.start(), worker.whenDead()]);
    return worker;
  }

  /** Dies once `count` more writes have landed (0: the next write is lost). */
  dieAfterWrites(count: number): void {
    this.writesLeft = count;
    if (count <= 0) this.die();
  }

  /** Resolves when the worker has died. */
  whenDead(): Promise<void> {
    return this.died;
  }

  die(): void {
    if (this.dead) return;
    this.dead = true;
    for (const socket of this.sockets) socket.close();
    this.markDead();
  }

  private mortal<S extends Local | Session>(typed: S): S {
    // The wrapper passes keys and values through untouched, whichever store it wraps.
    const store = typed as unknown as ReturnType<typeof memoryStore<Record<string, unknown>>>;
    const write = <T>(apply: () => Promise<T>): Promise<T> => {
      if (this.dead) return NEVER;
      if (this.writesLeft <= 0) {
        this.die();
        return NEVER;
      }
      this.writesLeft--;
      return apply();
    };
    return {
      ...store,
      get: (key: string) => (this.dead ? NEVER : store.get(key)),
      set: (key: string, value: unknown) => write(() => store.set(key, value)),
      remove: (key: string) => write(() => store.remove(key)),
      clear: () => write(() => store.clear()),
    } as unknown as S;
  }
}

// ── the ledger ───────────────────────────────────────────────────────────────

export interface Figures {
  scenario: string;
  faults: number;
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** Longest a message waited after the fault cleared (or after it was sent, if later), ms. */
  maxDelayMs: number;
}

/**
 * Counts, for one room: every message each sender sent (texts `<sender> <i>`), and what each receiver holds in the
 * end (from its stored history, not its events): delivered, lost, duplicated, out of order per sender. Delays come
 * from when a receiver's worker first showed a message (its `message` events, polled).
 */
export class Ledger {
  faults = 0;
  /** Text → when it was sent and whether the send resolved (a send cut short by a dying worker may or may not count). */
  private readonly sent = new Map<string, { at: number; confirmed: boolean; sender: string; index: number }>();
  private readonly counters = new Map<string, number>();
  private readonly seen = new Map<string, Map<string, number>>();
  private readonly watched = new Map<string, { client: TestClient; read: number }[]>();
  private clearedAt = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(readonly roomId: string) {
    this.timer = setInterval(() => this.poll(), 50);
  }

  /** Watches a receiver's worker (call again for each new life of a restarted worker). */
  watch(name: string, client: TestClient): void {
    this.watched.set(name, [...(this.watched.get(name) ?? []), { client, read: 0 }]);
    if (!this.seen.has(name)) this.seen.set(name, new Map());
  }

  /** The next text for `sender`; `send` resolving confirms it was sent. */
  async send(sender: string, send: (text: string) => Promise<unknown>): Promise<void> {
    const index = this.counters.get(sender) ?? 0;
    this.counters.set(sender, index + 1);
    const text = `${sender} ${index}`;
    const entry = { at: Date.now(), confirmed: false, sender, index };
    this.sent.set(text, entry);
    await send(text);
    entry.confirmed = true;
  }

  /** The fault has cleared (the server is back, the flapping stopped, the worker restarted): delays count from now. */
  cleared(): void {
    this.clearedAt = Date.now();
  }

  /** Whether every confirmed message has been shown by each watched receiver (cheap: from events). */
  allShown(): boolean {
    this.poll();
    for (const seen of this.seen.values()) for (const [text, entry] of this.sent) if (entry.confirmed && !seen.has(text)) return false;
    return true;
  }

  /** Waits until every receiver has shown every confirmed message, then counts from storage (retrying while the last writes land). */
  async settle(receivers: Record<string, TestClient>, what: string, timeoutMs = 60_000): Promise<Figures & { scenario: string }> {
    const deadline = Date.now() + timeoutMs;
    await until(() => this.allShown(), `${what}: every message shown`, timeoutMs).catch((error: unknown) => {
      for (const [name, seen] of this.seen) {
        const missing = [...this.sent].filter(([text, e]) => e.confirmed && !seen.has(text)).map(([t]) => t);
        if (missing.length) console.log(`[faults] ${what}: ${name} has not shown ${missing.length}: ${missing.slice(0, 10).join(', ')}…`);
      }
      throw error;
    });
    let figures = await this.count(receivers, what);
    while (figures.lost > 0 && Date.now() < deadline) {
      await Promise.all(Object.values(receivers).map((c) => c.chat.settled()));
      await pause(100);
      figures = await this.count(receivers, what);
    }
    return figures;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Counts what each receiver stores against what was sent; prints the figures. */
  async count(receivers: Record<string, TestClient>, scenario: string): Promise<Figures> {
    this.poll();
    const figures: Figures = { scenario, faults: this.faults, sent: [...this.sent.values()].filter((e) => e.confirmed).length, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, maxDelayMs: 0 };
    const problems: string[] = [];
    for (const [name, client] of Object.entries(receivers)) {
      const stored = (await storedMessages(client, this.roomId)).filter((m) => m.kind === 'text');
      // Display order: server order, arrival order among equals (as listMessages shows them).
      const order = (seq: number | null) => seq ?? Number.MAX_SAFE_INTEGER;
      const shown = stored.map((m, i) => ({ m, i })).sort((a, b) => order(a.m.seq) - order(b.m.seq) || a.i - b.i);
      const copies = new Map<string, number>();
      const lastIndex = new Map<string, number>();
      for (const { m } of shown) {
        const entry = this.sent.get(m.text);
        if (!entry) continue;
        copies.set(m.text, (copies.get(m.text) ?? 0) + 1);
        const before = lastIndex.get(entry.sender) ?? -1;
        if (entry.index < before) {
          figures.outOfOrder++;
          if (problems.length < 10) problems.push(`${name}: "${m.text}" shown after "${entry.sender} ${before}"`);
        }
        lastIndex.set(entry.sender, Math.max(before, entry.index));
      }
      for (const [text, entry] of this.sent) {
        const n = copies.get(text) ?? 0;
        if (n > 1) {
          figures.duplicated += n - 1;
          if (problems.length < 10) problems.push(`${name}: "${text}" shown ${n} times`);
        }
        if (n > 0) figures.delivered++;
        if (n === 0 && entry.confirmed) {
          figures.lost++;
          if (problems.length < 10) problems.push(`${name}: "${text}" lost`);
        }
        const at = this.seen.get(name)?.get(text);
        if (at !== undefined) figures.maxDelayMs = Math.max(figures.maxDelayMs, at - Math.max(entry.at, this.clearedAt));
      }
      // A send cut short by a dying worker counts once it reached anyone: then it must reach everyone.
    }
    const unconfirmed = [...this.sent].filter(([, e]) => !e.confirmed).map(([t]) => t);
    for (const text of unconfirmed) {
      const holders = Object.keys(receivers).filter((name) => this.seen.get(name)?.has(text));
      if (holders.length && holders.length < Object.keys(receivers).length) {
        figures.lost++;
        problems.push(`"${text}" (send cut short) reached ${holders.join(', ')} only`);
      }
    }
    console.log(
      `[faults] ${scenario}: faults ${figures.faults}, sent ${figures.sent}, delivered ${figures.delivered}/${figures.sent * Object.keys(receivers).length}, lost ${figures.lost}, duplicated ${figures.duplicated}, out of order ${figures.outOfOrder}, max delay after fault ${figures.maxDelayMs} ms`,
    );
    for (const problem of problems) console.log(`[faults]   ${problem}`);
    return figures;
  }

  private poll(): void {
    for (const [name, lives] of this.watched) {
      const seen = this.seen.get(name) ?? new Map<string, number>();
      for (const life of lives) {
        const events = life.client.events;
        for (; life.read < events.length; life.read++) {
          const event = events[life.read];
          if (event?.type === 'message' && event.roomId === this.roomId && !seen.has(event.message.text)) seen.set(event.message.text, Date.now());
        }
      }
    }
  }
}

/** What every fault scenario must end with. */
export function expectClean(figures: Figures): void {
  expect({ lost: figures.lost, duplicated: figures.duplicated, outOfOrder: figures.outOfOrder }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
}
