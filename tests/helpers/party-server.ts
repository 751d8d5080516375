/** Starts a real `partykit dev` on a free loopback port and stops it again. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export interface RunningParty {
  host: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
  /** Kills the server's whole process group with `signal` (SIGKILL: no shutdown, as a crash) and resolves once it exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
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

/**
 * `testHooks` enables the room's compromised-server simulation (PARTYCHAT_TEST_HOOKS); never set in production.
 * `vars` are further `--var NAME=value` settings (e.g. PARTYCHAT_EXTENSION_URL).
 */
export async function startParty(
  options: { port?: number; persistDir?: string; cwd?: string; testHooks?: boolean; vars?: Record<string, string> } = {},
): Promise<RunningParty> {
  const cwd = options.cwd ?? resolve(import.meta.dirname, '../..');
  const port = options.port ?? (await freePort());
  const args = ['dev', '--port', String(port), '--disable-request-cf-fetch'];
  if (options.persistDir) args.push('--persist', options.persistDir);
  if (options.testHooks) args.push('--var', 'PARTYCHAT_TEST_HOOKS=1');
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push('--var', `${name}=${value}`);
  const child: ChildProcess = spawn(resolve(cwd, 'node_modules/.bin/partykit'), args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`partykit dev exited with ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`http://${host}/parties/directory/00`);
      if (res.status === 404 || res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      kill(child);
      throw new Error(`partykit dev did not answer on ${host} within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    host,
    port,
    output: () => log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      kill(child);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      kill(child, signal);
      await exited;
    },
  };
}

function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
