/**
 * 1. Message crypto and 2. key distribution, each measured in Node and in Chromium (the runtime of the
 * extension's background worker), side by side with a raw WebCrypto floor in the same runtime.
 */
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { generateIdentity, unlockPrivateKey } from '../shared/crypto';
import {
  runKeyDistribution,
  runMessageCrypto,
  type KeyDistributionInput,
  type KeyDistributionOutput,
  type MessageCryptoInput,
  type MessageCryptoSize,
} from './crypto-cases';
import type { Evidence } from './evidence';
import { section, table, type SectionResult } from './report';
import { ROOT } from './servers';
import { fmtMs, fmtRatio, median } from './stats';

export interface CryptoConfig {
  message: Omit<MessageCryptoInput, 'senderPrivateKey'>;
  keys: Omit<KeyDistributionInput, 'signerPrivateKey' | 'recipients'>;
}

export const DEFAULT_CRYPTO: CryptoConfig = {
  message: { textBytes: [200, 4096], rounds: 9, warmupRounds: 1, ops: { product: 100, openpgp: 40, floor: 200, direct: 40, naive: 15 } },
  keys: { counts: [10, 100, 1000], rounds: { 10: 7, 100: 5, 1000: 2 }, alternativesAt: 100, alternativeRounds: 3 },
};

/** Format v1 seal + open against the same construction on bare WebCrypto (no framing), same run (issue 12). */
export const MESSAGE_TARGET = 1.5;
export const KEYS_TARGET_MS = 30;

/** The product's own identity path: Argon2-protected key generated, then unlocked with the passphrase. */
export async function productIdentity(name: string): Promise<string> {
  const generated = await generateIdentity(name, 'bench passphrase');
  const unlocked = await unlockPrivateKey(generated.encryptedPrivateKey, 'bench passphrase');
  return unlocked.armor();
}

interface Runtime {
  label: string;
  message: MessageCryptoSize[];
  keys: KeyDistributionOutput;
  evidence?: Evidence;
}

async function bundleCryptoPage(): Promise<string> {
  const out = await build({
    entryPoints: [resolve(ROOT, 'bench/crypto-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"', __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
    plugins: [
      {
        name: 'project-alias',
        setup(b) {
          // `@/x` is the project root, as in the extension's own build.
          b.onResolve({ filter: /^@\// }, (args) => b.resolve(`./${args.path.slice(2)}`, { resolveDir: ROOT, kind: args.kind }));
        },
      },
    ],
  });
  return out.outputFiles[0]?.text ?? '';
}

/** Runs the same cases inside a Chromium page served from 127.0.0.1 (a secure context for WebCrypto). */
async function inChromium(chromiumPath: string, message: MessageCryptoInput, keys: KeyDistributionInput, log: (m: string) => void): Promise<Omit<Runtime, 'label'>> {
  const script = await bundleCryptoPage();
  const server: Server = createServer((req, res) => {
    if (req.url === '/bench.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><title>crypto bench</title><script type="module" src="/bench.js"></script>');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') log(`chromium console: ${m.text()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => 'bench' in globalThis, undefined, { timeout: 30_000 });
    type Bench = { runMessageCrypto: typeof runMessageCrypto; runKeyDistribution: typeof runKeyDistribution; runEvidence: () => Evidence };
    const messageOut = await page.evaluate((input) => (globalThis as unknown as { bench: Bench }).bench.runMessageCrypto(input), message);
    log('chromium: message crypto done');
    const keysOut = await page.evaluate((input) => (globalThis as unknown as { bench: Bench }).bench.runKeyDistribution(input), keys);
    log('chromium: key distribution done');
    const evidence = await page.evaluate(() => (globalThis as unknown as { bench: Bench }).bench.runEvidence());
    return { message: messageOut, keys: keysOut, evidence };
  } finally {
    await browser.close();
    server.close();
  }
}

export async function cryptoBench(
  recipients: string[],
  chromiumPath: string | null,
  config: CryptoConfig = DEFAULT_CRYPTO,
  log: (m: string) => void = () => undefined,
): Promise<{ sections: [SectionResult, SectionResult]; evidence: Evidence | null }> {
  const messageSection = section('1', 'Message crypto: sign+encrypt, decrypt+verify one message');
  const keysSection = section('2', 'Key distribution: a new room key for 10, 100, 1,000 members');
  const sender = await productIdentity('Bench Sender');
  const messageInput: MessageCryptoInput = { ...config.message, senderPrivateKey: sender };
  const keysInput: KeyDistributionInput = { ...config.keys, signerPrivateKey: sender, recipients };

  const runtimes: Runtime[] = [];
  runtimes.push({ label: `Node ${process.version}`, message: await runMessageCrypto(messageInput, log), keys: await runKeyDistribution(keysInput, log) });
  if (chromiumPath) {
    try {
      runtimes.push({ label: 'Chromium', ...(await inChromium(chromiumPath, messageInput, keysInput, log)) });
    } catch (error) {
      messageSection.details.push(`Chromium run failed: \`${error instanceof Error ? error.message : String(error)}\``);
    }
  }

  // ── 1. message crypto ──
  const detail: string[][] = [];
  const ratioTo = (xs: number[], base: number[]) => median(xs.map((x, i) => x / (base[i] as number)));
  for (const rt of runtimes) {
    for (const s of rt.message) {
      const ratio = ratioTo(s.product, s.construction);
      messageSection.rows.push({
        figure: `seal + open, ${s.textBytes} B text (${rt.label})`,
        value: fmtMs(median(s.product)),
        floor: `${fmtMs(median(s.construction))} raw WebCrypto`,
        ratio: fmtRatio(ratio),
        target: `≤ ${MESSAGE_TARGET}× floor`,
        met: ratio <= MESSAGE_TARGET,
      });
      detail.push([
        rt.label,
        `${s.textBytes} B (payload ${s.payloadBytes} B, ct ${s.ctChars} chars; OpenPGP ${s.openpgpCtChars})`,
        fmtMs(median(s.construction)),
        `${fmtMs(median(s.product))} (${fmtRatio(ratio)})`,
        `${fmtMs(median(s.sealOnly))} / ${fmtMs(median(s.openOnly))}`,
        `${fmtMs(median(s.openpgp))} (${fmtRatio(ratioTo(s.openpgp, s.construction))})`,
        `${fmtMs(median(s.openpgpSealOnly))} / ${fmtMs(median(s.openpgpOpenOnly))}`,
        fmtRatio(ratioTo(s.openpgp, s.product)),
        `${fmtMs(median(s.floor))} (${fmtRatio(ratioTo(s.product, s.floor))})`,
        `${fmtMs(median(s.direct))} (${fmtRatio(ratioTo(s.direct, s.construction))})`,
        `${fmtMs(median(s.naive))} (${fmtRatio(ratioTo(s.naive, s.construction))})`,
      ]);
    }
  }
  messageSection.details.push(
    `One operation = seal then open one \`TextPayload\` (shared/payloads.ts) whose text is 200 B or 4 KiB. **Ours** is format v1 ` +
      `(README, "Message seal (format v1)"): \`sealMessage\` (the sender's Ed25519 identity key as a cached WebCrypto key, HKDF-SHA-256 ` +
      `with a fresh salt, AES-256-GCM with the header as additional data, the layout, base64) then \`openMessageEnvelope\` (base64, version ` +
      `byte, HKDF, decrypt, Ed25519 verify with the sender's cached key). **Floor** = the same construction on bare WebCrypto with no framing: ` +
      `Ed25519 sign, HKDF → AES-256-GCM over payload + signature; then HKDF, decrypt, verify (keys imported once, no header, no additional ` +
      `data, no base64): the least a per-message signature inside room-key encryption costs in that runtime. **OpenPGP** is the format ` +
      `before v1 (\`sealWithGek\`/\`openWithGek\`: signed, then SEIPDv2 AES-256-GCM under the room key), still opened for old messages. ` +
      `Each round times a batch of every case back to back (order rotating per round); ${config.message.rounds} rounds after ` +
      `${config.message.warmupRounds} warm-up; medians, and every ratio is the median of per-round ratios of two cases timed in the same ` +
      `round. "AES-GCM only" is one encrypt + decrypt of the payload bytes with an imported key (the floor this section used before v1). ` +
      `"openpgp direct" is the same openpgp calls without shared/crypto.ts, "naive" parses the armored keys every time and armors the message.`,
  );
  messageSection.details.push(
    table(
      ['runtime', 'text size', 'floor (raw WebCrypto)', 'seal + open (ours, v1)', 'v1 seal / open', 'OpenPGP format', 'OpenPGP seal / open', 'OpenPGP ÷ v1', 'AES-GCM only (v1 ÷ it)', 'openpgp direct', 'naive openpgp'],
      detail,
    ),
  );

  // ── 2. key distribution ──
  const keyRows: string[][] = [];
  for (const rt of runtimes) {
    for (const c of rt.keys.counts) {
      const ms = median(c.product);
      keysSection.rows.push({
        figure: `new room key for ${c.members} members (${rt.label})`,
        value: fmtMs(ms),
        floor: `${fmtMs(median(c.floor))} WebCrypto`,
        ratio: fmtRatio(median(c.product.map((p, i) => p / (c.floor[i] as number)))),
        target: c.members === 100 ? `≤ ${KEYS_TARGET_MS} ms` : '–',
        met: c.members === 100 ? ms <= KEYS_TARGET_MS : null,
      });
      const before = median(c.before);
      keyRows.push([
        rt.label,
        String(c.members),
        fmtMs(ms),
        fmtMs(ms / c.members),
        `${fmtMs(before)} (${fmtRatio(median(c.before.map((b, i) => b / (c.product[i] as number))))} ours)`,
        fmtMs(median(c.floor)),
        fmtMs(median(c.floor) / c.members),
        String(c.product.length),
      ]);
    }
  }
  keysSection.details.push(
    `Product path (\`maybeRotate\` / \`answerNeedKeys\` in services/chat.ts): \`sealKeyEnvelopes\`: one RoomKeyPayload for all members ` +
      `(it names the membership chain head instead of one recipient), signed once by the distributing member and encrypted once under ` +
      `one SEIPDv2 session key with a PKESK per member; each member's envelope is its own PKESK followed by the shared SEIPDv2 packet. ` +
      `Members are curve25519 identities advertising SEIPDv2/GCM like the product's; keys parsed beforehand (readPublicKey's cache) and ` +
      `validated by an earlier run (sealKeyEnvelopes' per-key cache, as after a first rotation). ` +
      `"Before" is the previous path, still used for single envelopes: one \`sealKeyEnvelope\` per member (own payload naming the member, ` +
      `own signature, own encryption), sequential. Floor: the product path's work with raw WebCrypto, keys imported once: once an Ed25519 ` +
      `signature of the payload and AES-256-GCM over payload + signature; per member (concurrently, as the product) an ephemeral X25519 key, ` +
      `ECDH, HKDF → AES-KW key, the session key wrapped, the ephemeral key exported. The three are timed in rotating order each round.`,
  );
  keysSection.details.push(
    table(['runtime', 'members', 'total (ours)', 'per member', 'before: per-member envelopes', 'floor total', 'floor per member', 'rounds'], keyRows),
  );
  const altRows = runtimes.map((rt) => [
    rt.label,
    fmtMs(median(rt.keys.counts.find((c) => c.members === rt.keys.alternativesAt)?.product ?? [])),
    fmtMs(rt.keys.firstRotation),
    fmtMs(median(rt.keys.counts.find((c) => c.members === rt.keys.alternativesAt)?.before ?? [])),
    fmtMs(median(rt.keys.signOnce)),
    fmtMs(median(rt.keys.oneMessage)),
    `${rt.keys.sharedEnvelopeChars} chars (before: ${rt.keys.envelopeChars})`,
    `${rt.keys.oneMessageChars} chars`,
  ]);
  keysSection.details.push(
    `At ${runtimes[0]?.keys.alternativesAt ?? 100} members: ours once more, then its first run after the background starts ` +
      '(each member key is validated once — binding signatures, revocation, expiry — and cached until it expires; measured once, before ' +
      'any warm-up), and two other constructions: sign once and encrypt that signed message to each key; one message to all keys left ' +
      'whole (what `sealKeyEnvelopes` splits; it would need a frame format for one large envelope):',
  );
  keysSection.details.push(
    table(['runtime', 'sealed once, split (ours)', 'ours, first rotation (cold)', 'per-member envelopes (before)', 'sign once, encrypt to each', 'one message to all keys', 'envelope size', 'one-message size'], altRows),
  );
  return { sections: [messageSection, keysSection], evidence: runtimes.find((r) => r.evidence)?.evidence ?? null };
}
