/**
 * The fixed text of BENCHMARKS.md: how to read it, and what limits each figure with the fix recommended
 * for it (from profiling; see the "Profiling evidence" table, measured in the same run).
 */
import type { Evidence } from './evidence';
import { table } from './report';
import { fmtMs } from './stats';

export const PREAMBLE = `
\`npm run bench\` (vitest with \`vitest.bench.config.ts\`, entry \`bench/run.bench-suite.ts\`) runs every benchmark below one after another,
prints the summary table and rewrites this file. It builds the extension (\`wxt build\`), starts every server it needs as its own
process on a free port (\`partykit dev\` for the project's room server and for the comparison relays, a bare Node \`ws\` server),
drives two headless Chromium profiles through playwright-core, and stops everything it started. Clients only ever connect to
127.0.0.1 (note: \`partykit dev\` itself binds workerd to 0.0.0.0; it has no option to bind loopback only).

Every figure is measured side by side with its floor in the same run, in several rounds with the order rotated, and the
**median** is quoted; the ratio is what we track, because absolute numbers move with the machine. This machine has 2 cores and
is shared (the load average is in the table below), so single figures are noisy; the ratios are steadier. Benchmarks are not
tests: nothing here asserts a timing, and \`npm test\` does not run them (the files live in \`bench/\`, outside the test globs).
`;

export function closing(evidence: Evidence | null): string {
  const ev = evidence
    ? table(
        ['what (Chromium, this run)', 'as in the project', 'alternative'],
        [
          [
            `shared/encoding.ts \`toBase64\`, ${evidence.pageBytes / 1024} KiB (a sealed history page)`,
            fmtMs(evidence.toBase64Ms),
            `${fmtMs(evidence.nativeToBase64Ms)} native \`Uint8Array.prototype.toBase64\`; ${fmtMs(evidence.chunkedToBase64Ms)} 4 KiB \`apply\` chunks`,
          ],
          [`shared/encoding.ts \`fromBase64\`, same page`, fmtMs(evidence.fromBase64Ms), `${fmtMs(evidence.nativeFromBase64Ms)} native \`Uint8Array.fromBase64\``],
          ['utils/i18n.ts `formatTime`, 200 timestamps (one room list or message page)', fmtMs(evidence.formatTime200Ms), `${fmtMs(evidence.cachedFormat200Ms)} with one cached \`Intl.DateTimeFormat\``],
        ],
      )
    : '_(The Chromium evidence run did not complete.)_';
  return `
## What limits each figure, and what to change

These come from CPU profiles taken while building this suite (\`node --cpu-prof\` for Node; the Chrome DevTools Protocol's
Profiler on the side panel page and on the extension's service worker, with an unminified build), and from the what-if builds
and the evidence table below, which every run re-measures.

### Profiling evidence

${ev}

### 1. Message crypto (shared/crypto.ts) — target ≤ 6× AES-GCM

What is ours is already the lean path: parsed keys cached (\`readPublicKey\`), binary messages (no armor), the room key passed as
the session key, no re-reading or re-validation of our own. The one change that measured in profiles was base64: the ciphertext
was encoded by spreading every byte into \`String.fromCharCode\`. \`shared/crypto.ts\` now uses the platform's
\`Uint8Array.prototype.toBase64\` / \`Uint8Array.fromBase64\` where they exist (Chromium, Firefox; not Node 20) and 4 KiB \`apply\`
chunks elsewhere; same output, same errors on bad input.

The rest is openpgp's own cost and the construction itself. The "same construction, raw WebCrypto" column is a signed and
room-key-encrypted message with nothing else (Ed25519 sign, HKDF, AES-256-GCM; then HKDF, decrypt, verify, keys imported once):
on its own it is already around or above 6× the AES floor, because a per-message Ed25519 signature (design property 3) costs more
than the encryption. openpgp then adds, per message: a JWK import of the Ed25519 key for every sign and every verify, an HKDF key
import for SEIPDv2 on both sides, a walk over the key's self-signatures and user IDs (\`getSigningKey\` → \`verifyPrimaryKey\` →
\`getPrimaryUser\`) on every encrypt and decrypt, and its stream/packet plumbing; none of it is reachable through the public API
(config cannot cache CryptoKeys or skip the key walk). Getting near the construction figure would mean our own compact message
format on WebCrypto instead of OpenPGP packets, which we do not recommend for a few milliseconds per message.

### 2. Key distribution — target 100 members ≤ 30 ms

Each envelope is a full OpenPGP sign + encrypt (per member: an Ed25519 signature, an ephemeral X25519 key, ECDH, HKDF, AES key
wrap, a SEIPDv2 packet), and openpgp costs several times the raw WebCrypto floor for the same per-member work (table above; in
Node the floor alone is far above 30 ms, in Chromium it is close to it). Parallelism does not help on 2 cores. The structural fix,
measured as "one message to all keys": sign the room key **once** and encrypt **once** to all members (one SEIPD, one PKESK per
member), then deliver to each member only its own PKESK followed by the shared SEIPD — a complete OpenPGP message that
\`openKeyEnvelope\` already opens, and no bigger than today's envelope. That leaves one X25519 key agreement per member, the
floor's dominant cost. It needs \`RoomKeyPayload\` (shared/payloads.ts) to drop the per-member \`to\` field (it is implied by who
can decrypt; bind the epoch and a hash of the member list instead) and \`services/chat.ts\` to build rotation envelopes that way
(a helper next to \`sealKeyEnvelope\` would split the packets with openpgp's \`PacketList\`).

### 3. Relay (party/room.ts) — target ≥ 0.85× the minimal relay's throughput, p99 ≤ 1.25×

The room server's per-message cost is dominated by one line in \`onEnvelope\`: \`void this.room.storage.put('meta', this.meta)\`,
a Durable Object storage write for **every** relayed message in ephemeral rooms, only to persist \`seq\`. The what-if build shows
what removing it buys. Precise fix: persist \`seq\` in blocks — keep \`seqCeiling\` in \`meta\`; when \`++seq\` reaches it, set
\`seqCeiling = seq + 1024\` and write \`meta\` once; in \`onStart\`, resume at the stored ceiling (seq stays monotonic across restarts,
with at most a 1,024 gap). Backup rooms write every message anyway, and \`meta\` can ride along in that same \`put\` as today.
The cost is per message, not per delivery, so it shows most at small fan-out (N = 2) and in the window-32 runs, where the room
is busiest; under CPU contention the open-loop run can show the shipped server falling behind (latency growing through the run)
while the minimal relay keeps up.
Smaller, per message: \`this.peers.authenticated()\` builds a fresh filtered array for every relay (keep a \`Set\` of member
connections, updated in \`admit\`/\`onClose\`), and the ack is a second \`JSON.stringify\` (could be a template string).

Rate limit: the shipped token bucket (20 frames/s, burst 60 per connection) caps one sender at 20 messages/s, so the closed-loop
matrix runs a bench build with only that bucket switched off (bench/room-unlimited), and the shipped server is measured under an
open-loop load that stays within the limit (many senders). The limit itself was not changed.

### 4. Idle memory per connection (party/room.ts) — target ≤ 1.1× the minimal relay

Most of a connection's resident cost is workerd's own, the same for both servers. What the room server adds is the heap growth
from \`broadcastPresence()\`: every admission (and every close) sends the whole online list to every member connection, so N
connections cost ~N²/2 presence frames (and it re-sends even when the set of online members did not change, e.g. a second tab).
Fix: broadcast only when the online set changes (a member's first connection opens or last one closes), coalesced over ~50 ms
(the what-if build does exactly this), or send deltas (\`{type:'presence', joined:[fp]}\` / \`left\`). The welcome frame's full
chain per connection is the remaining difference (cache the serialized chain; it only changes on append).

### 5. End to end in the browser — target p50 ≤ 15 ms, p99 ≤ 40 ms

Profile of the extension's service worker while receiving: openpgp verify + decrypt is about a millisecond; most of the time is
persistence before anything is shown or sent. Both ends re-seal and write storage on the critical path:
- \`services/history.ts\` \`append\` re-seals the whole tail page (up to 100 messages, ~30 KiB) on every message, and
  \`services/chat.ts\` \`saveRoom\` re-seals the whole room record (including the membership chain) after it; each seal runs
  \`shared/encoding.ts toBase64\`, which spreads 32 K arguments into \`String.fromCharCode\` (see the evidence table: milliseconds
  per page, against microseconds native).
- Sender: \`sendMessage\` calls \`conn.send\` only after \`append\` and \`saveRoom\` finished. Receiver: \`onMessage\` emits to the UI
  only after the same two writes. \`showUnreadBadge\` calls two \`chrome.action\` APIs on every emitted event (at least two per message).

Fixes, in order of effect: (1) shared/encoding.ts \`toBase64\`/\`fromBase64\`: use \`Uint8Array.prototype.toBase64\` /
\`Uint8Array.fromBase64\` when present, else 4 KiB \`String.fromCharCode.apply\` chunks; (2) services/chat.ts: send the frame as soon
as it is sealed (the outbox item is in memory; persist right after, still inside the room queue), and emit a received message to
the UI before persisting it; (3) services/history.ts: append to a small open segment (e.g. 10 messages) instead of re-sealing a
100-message page, or debounce page and room writes by ~100 ms so a burst costs one write; keep the chain out of the per-message
room record; (4) update the badge at most every few hundred ms.

### 6. Opening a long room and the room list — targets ≤ 150 ms and ≤ 100 ms

Profile of the side panel page: \`formatTime\` (utils/i18n.ts) builds a new \`Intl.DateTimeFormat\` for every timestamp it
formats, the single largest JavaScript cost of rendering the room list and the messages (evidence table: tens of milliseconds per
200 timestamps, against a fraction of a millisecond with a cached formatter); the rest is page start-up (script, Vue mount, the
\`getState\`/\`listMessages\` round trips to the background, which unseals the newest history pages) and style and layout of every
item (\`scrollToBottom\` forces a layout). Fixes: cache one formatter per (locale, same-day or not) in utils/i18n.ts; give room
items and \`.message\` \`content-visibility: auto\` with a \`contain-intrinsic-size\` so off-screen items skip layout; fetch a
screenful of messages first (stores/app.ts \`MESSAGE_PAGE_SIZE\` is 200) and the rest after the first paint. Opening the room
from an already loaded list ("click room in list") is well inside the target, so most of the reload figure is start-up. The
rate at which the long room could be seeded (messages per second into Bob's background, section 6) is limited by the same
per-message re-sealing as section 5.

### 7. Bundle — target side panel ≤ 150 KiB gzipped

Met: the side panel and popup load Vue, Pinia and the UI only; openpgp is in \`background.js\` only.
`;
}
