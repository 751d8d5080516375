/**
 * The servers the relay benchmarks compare, each started as its own process on a free loopback port:
 * the project's room server (`partykit dev` at the repository root), a bench build of it with the
 * per-connection rate limit switched off (bench/room-unlimited), the minimal PartyKit relay
 * (bench/minimal-relay) and a bare Node `ws` broadcast server (bench/ws-relay.mjs).
 * Every process is started detached and stopped by its process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep } from './stats';

export const ROOT = resolve(import.meta.dirname, '..');
const PARTYKIT_BIN = resolve(ROOT, 'node_modules/.bin/partykit');

export interface RunningServer {
  label: string;
  host: string;
  port: number;
  /** The process that holds the sockets and the room state (workerd for PartyKit, node for `ws`). */
  workerPid(): number | null;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<RunningServer>();

let snapshot: string | null = null;

/**
 * A copy of the server sources (party/, shared/, the bench's partykit projects) taken once per run.
 * `partykit dev` rebuilds and restarts when a watched file changes; running from a snapshot keeps a
 * benchmark from being reset by edits made to the working tree while it runs.
 */
export function sourceSnapshot(): string {
  if (snapshot) return snapshot;
  const dir = mkdtempSync(join(tmpdir(), 'partychat-bench-src-'));
  for (const path of ['party', 'shared', 'partykit.json', 'bench/minimal-relay', 'bench/room-unlimited']) {
    cpSync(resolve(ROOT, path), join(dir, path), { recursive: true, filter: (src) => !src.includes('.partykit') });
  }
  symlinkSync(resolve(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  snapshot = dir;
  return dir;
}

export function removeSnapshot(): void {
  if (snapshot) rmSync(snapshot, { recursive: true, force: true });
  snapshot = null;
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  killGroup(child);
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Children of `pid` (from /proc), optionally filtered by command name. */
export function childPids(pid: number, comm?: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid && (!comm || name === comm)) out.push(Number(entry));
    } catch {
      // process went away
    }
  }
  return out;
}

/** Resident set size of a process in bytes (VmRSS), or NaN. */
export function rssBytes(pid: number | null): number {
  if (!pid) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} within ${timeoutMs} ms:\n${log()}`);
    await sleep(200);
  }
}

/** `partykit dev` for the project in `cwd` (its partykit.json), state persisted to a temp dir. */
export async function startPartykit(label: string, cwd: string, extraArgs: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), 'partychat-bench-state-'));
  const args = ['dev', '--port', String(port), '--disable-request-cf-fetch', '--persist', persist, ...extraArgs];
  const child = spawn(PARTYKIT_BIN, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, FORCE_COLOR: '0' } });
  let log = '';
  child.stdout?.on('data', (d) => (log = (log + d).slice(-20_000)));
  child.stderr?.on('data', (d) => (log = (log + d).slice(-20_000)));
  const host = `127.0.0.1:${port}`;
  const server: RunningServer = {
    label,
    host,
    port,
    workerPid: () => (child.pid ? (childPids(child.pid, 'workerd')[0] ?? null) : null),
    output: () => log,
    stop: async () => {
      running.delete(server);
      await stopChild(child);
      rmSync(persist, { recursive: true, force: true });
    },
  };
  running.add(server);
  try {
    await waitForHttp(`http://${host}/parties/main/00`, child, () => log, 120_000);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** The bare Node `ws` broadcast server (bench/ws-relay.mjs), one process. */
export async function startWsRelay(): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(ROOT, 'bench/ws-relay.mjs'), String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stdout?.on('data', (d) => (log = (log + d).slice(-20_000)));
  child.stderr?.on('data', (d) => (log = (log + d).slice(-20_000)));
  const server: RunningServer = {
    label: 'bare ws',
    host: `127.0.0.1:${port}`,
    port,
    workerPid: () => child.pid ?? null,
    output: () => log,
    stop: async () => {
      running.delete(server);
      await stopChild(child);
    },
  };
  running.add(server);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, () => log, 20_000);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

export const startRoomServer = () => startPartykit('room server', sourceSnapshot());
export const startRoomServerUnlimited = () => startPartykit('room server (bench build, no rate limit)', join(sourceSnapshot(), 'bench/room-unlimited'));
export const startMinimalRelay = () => startPartykit('minimal PartyKit relay', join(sourceSnapshot(), 'bench/minimal-relay'));

/** Stops every server this module started and has not stopped yet, and removes the source snapshot. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
  removeSnapshot();
}

