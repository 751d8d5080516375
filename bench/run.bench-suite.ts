/**
 * `npm run bench`: every benchmark, one after another, then the table on the console and BENCHMARKS.md.
 * Benchmarks are not tests: nothing here asserts a timing. A section that fails is reported as such
 * and the others still run. Every process started here is stopped in `afterAll`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as openpgp from 'openpgp';
import { findChromium } from '../tests/helpers/browser';
import { browserBench, DEFAULT_BROWSER } from './browser';
import { bundleBench } from './bundle';
import { cryptoBench, DEFAULT_CRYPTO } from './crypto';
import { DEFAULT_MEMORY, memoryBench } from './memory';
import type { Evidence } from './evidence';
import { closing, PREAMBLE } from './notes';
import { DEFAULT_RELAY, relayBench } from './relay';
import { chromiumVersion, consoleTable, machineInfo, section, writeReport, type Machine, type SectionResult } from './report';
import { makeIdentities } from './room-driver';
import { ROOT, startRoomServer, startWsRelay, stopAllServers } from './servers';

const COMMAND = 'npm run bench';
/**
 * For working on one figure: `BENCH_SECTIONS=5,6 npm run bench` runs only those sections, and
 * `BENCH_LONG_ROOM=2000` seeds a shorter long room. A partial or shortened run writes
 * .tmp/BENCHMARKS.partial.md and leaves BENCHMARKS.md alone (that file always holds a full run).
 */
const only = process.env.BENCH_SECTIONS ? new Set(process.env.BENCH_SECTIONS.split(',').map((s) => s.trim())) : null;
const longRoom = process.env.BENCH_LONG_ROOM ? Number(process.env.BENCH_LONG_ROOM) : null;
const partial = only !== null || longRoom !== null;
const wanted = (...ids: string[]) => only === null || ids.some((id) => only.has(id));
const started = new Date();
const t0 = performance.now();
const results: SectionResult[] = [];
let machine: Machine;
let chromiumPath: string | null = null;
let evidence: Evidence | null = null;

function log(message: string): void {
  const s = ((performance.now() - t0) / 1000).toFixed(0).padStart(4);
  console.log(`[bench ${s}s] ${message}`);
}

/** Runs one section; a failure becomes a reported error, not a crash. */
async function run(ids: string[], titles: string[], body: () => Promise<SectionResult | SectionResult[]>): Promise<void> {
  if (!wanted(...ids)) return;
  const start = performance.now();
  log(`sections ${ids.join(', ')}: start`);
  try {
    const out = await body();
    const list = Array.isArray(out) ? out : [out];
    for (const r of list) r.seconds = (performance.now() - start) / 1000 / list.length;
    results.push(...list);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`sections ${ids.join(', ')} failed: ${message}`);
    ids.forEach((id, i) => {
      const failed = section(id, titles[i] ?? id);
      failed.error = message;
      results.push(failed);
    });
  }
  log(`sections ${ids.join(', ')}: done in ${((performance.now() - start) / 1000).toFixed(0)} s`);
}

describe('benchmarks (npm run bench)', () => {
  beforeAll(() => {
    try {
      chromiumPath = findChromium();
    } catch {
      chromiumPath = null;
    }
    machine = machineInfo(chromiumPath ? chromiumVersion(chromiumPath) : 'not found');
  });

  afterAll(async () => {
    await stopAllServers();
    results.sort((a, b) => Number(a.id) - Number(b.id));
    const seconds = (performance.now() - t0) / 1000;
    const file = partial ? '.tmp/BENCHMARKS.partial.md' : 'BENCHMARKS.md';
    writeReport({ sections: results, machine, command: COMMAND, started, seconds, preamble: PREAMBLE, closing: closing(evidence), file });
    const wrote = partial ? `Partial run: wrote ${file}, BENCHMARKS.md left as it was` : 'Wrote BENCHMARKS.md';
    process.stdout.write(`\n${consoleTable(results)}\n\n${wrote} (${seconds.toFixed(0)} s).\n`);
  });

  it('runs every benchmark and writes BENCHMARKS.md', async () => {
    // Identities for the relay/memory rooms and members for key distribution (product key type).
    log(wanted('1', '2') ? 'generating identities and 1,000 member keys' : 'generating identities');
    const identities = await makeIdentities('Member', 61);
    const recipients = identities.map((i) => i.publicKey);
    while (wanted('1', '2') && recipients.length < 1000) {
      const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: `Member ${recipients.length + 1}` }], format: 'armored', config: { aeadProtect: true } });
      recipients.push(publicKey);
    }

    await run(['1', '2'], ['Message crypto', 'Key distribution'], async () => {
      const out = await cryptoBench(recipients, chromiumPath, DEFAULT_CRYPTO, log);
      evidence = out.evidence;
      return out.sections;
    });
    await run(['3'], ['Relay'], () => relayBench(identities, DEFAULT_RELAY, log));
    await run(['4'], ['Idle memory per connection'], () => memoryBench(identities, DEFAULT_MEMORY, log));

    // The extension, built the way the end-to-end tests build it (server address typed at onboarding).
    const outDir = resolve(ROOT, '.output/chrome-mv3');
    let built = false;
    let buildError = 'the extension did not build';
    if (wanted('5', '6', '7')) {
      try {
        log('building the extension (wxt build)');
        execFileSync(resolve(ROOT, 'node_modules/.bin/wxt'), ['build'], { cwd: ROOT, stdio: 'pipe', env: { ...process.env, WXT_PARTY_HOST: '' }, timeout: 300_000 });
        if (!existsSync(resolve(outDir, 'manifest.json'))) throw new Error('wxt build produced no manifest');
        built = true;
      } catch (error) {
        buildError = `the extension did not build: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    await run(['7'], ['Bundle'], async () => {
      if (!built) throw new Error(buildError);
      return bundleBench(outDir);
    });

    await run(['5', '6'], ['End to end in the browser', 'Opening a long room'], async () => {
      if (!chromiumPath) throw new Error('no Chromium found (set CHROMIUM_PATH)');
      if (!built) throw new Error(buildError);
      const [server, floorRelay] = await Promise.all([startRoomServer(), startWsRelay()]);
      try {
        const config = longRoom === null ? DEFAULT_BROWSER : { ...DEFAULT_BROWSER, longRoomMessages: longRoom };
        return await browserBench(server, floorRelay, outDir, chromiumPath, config, log);
      } finally {
        await Promise.all([server.stop(), floorRelay.stop()]);
      }
    });
  });
});
