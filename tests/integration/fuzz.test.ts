/**
 * Fuzzing the room server (issue 9): over ten thousand random and mutated frames against a real `partykit dev`
 * backup room, before and after authentication, while two honest members keep talking. Every refused frame gets
 * an error frame; the room keeps serving; what it stores changes only by the honest members' messages.
 * The run is seeded (FUZZ_SEED) and prints its counts.
 */
import { inject } from 'vitest';
import { MAX_FRAME_CHARS, PARTY_ROOM } from '@/shared/constants';
import { randomHex } from '@/shared/encoding';
import { roomClientFrameSchema } from '@/shared/protocol';
import { identityKeyOf, roomOfTwo, until, type TestClient } from '../helpers/node-client';
import { rawSocket, signIn, type RawSocket } from '../helpers/raw-socket';

const host = inject('partyHost');
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
/** Frames per connection: under the server's error limit (it closes a connection after 50) and its rate burst (60). */
const FRAMES_PER_CONNECTION = 40;
const UNAUTHENTICATED_FRAMES = 7_200;
const AUTHENTICATED_FRAMES = 3_200;
/** Connections fuzzing at once. */
const PARALLEL = 4;
/** An honest message goes round after this many fuzzing connections. */
const HONEST_EVERY = 30;

/** mulberry32: a small seeded generator, so a failing run can be repeated with FUZZ_SEED. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = generator(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (max: number) => Math.floor(random() * max);
const hex = (bytes: number) => Array.from({ length: bytes * 2 }, () => '0123456789abcdef'[int(16)]).join('');
const b64 = (chars: number) => Array.from({ length: chars }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[int(64)]).join('');

/** Well-formed frames of every kind a client sends, as the starting point for mutations. */
function validFrame(room: { fp: string }): Record<string, unknown> {
  const envelope = () => ({ seq: 1 + int(1000), id: hex(16), epoch: 0, from: room.fp, ts: Date.now(), ct: b64(64) });
  const kinds: Array<() => Record<string, unknown>> = [
    () => ({ type: 'msg', id: hex(16), epoch: 0, ct: b64(88) }),
    () => ({ type: 'append', record: { body: JSON.stringify({ v: 1, kind: 'ban', room: hex(16), prev: hex(32), by: room.fp, ts: Date.now(), member: hex(20) }), sig: b64(120) } }),
    () => ({ type: 'rotate', epoch: 1 + int(5), keys: [{ to: hex(20), epoch: 1, ct: b64(64) }], escrows: [] }),
    () => ({ type: 'keys', keys: [{ to: hex(20), epoch: 0, ct: b64(64) }] }),
    () => ({ type: 'join-deny', member: hex(20) }),
    () => ({ type: 'history', after: int(100), limit: 1 + int(200) }),
    () => ({ type: 'sync-request', since: int(100) }),
    () => ({ type: 'sync-reply', to: hex(20), messages: [envelope()] }),
    () => ({ type: 'keys-ack', kids: [hex(8)] }),
    () => ({ type: 'auth', fp: hex(20), sig: b64(120) }),
  ];
  return pick(kinds)();
}

type Mutation = (room: { fp: string }) => string;

/** Ways to make a frame bad, each named for the counts. */
const MUTATIONS: Record<string, Mutation> = {
  garbage: () => Array.from({ length: 1 + int(200) }, () => String.fromCharCode(int(0xffff))).join(''),
  truncated: (room) => {
    const text = JSON.stringify(validFrame(room));
    return text.slice(0, 1 + int(text.length - 1));
  },
  'deep nesting': () => {
    const depth = 1_000 + int(20_000);
    return random() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  },
  'wrong type': (room) => {
    const frame = validFrame(room);
    const keys = Object.keys(frame).filter((k) => k !== 'type');
    const key = pick(keys.length ? keys : ['type']);
    frame[key] = pick([null, 42, -1, true, 'x', [], {}, [1, 2], { nested: { deeper: [] } }, 1e308]);
    return JSON.stringify(frame);
  },
  'unknown type': (room) => JSON.stringify({ ...validFrame(room), type: pick(['nope', '', 'MSG', 'welcome', 'challenge', '__proto__', 'constructor']) }),
  'bad base64': (room) => JSON.stringify({ type: 'msg', id: hex(16), epoch: 0, ct: pick(['!!!!', 'AAA=A', 'é', '====', ' ', 'A'.repeat(3)]), ...(random() < 0.1 ? { from: room.fp } : {}) }),
  'bad id': () => JSON.stringify({ type: 'msg', id: pick(['', 'short', hex(15), hex(17), 'Z'.repeat(32)]), epoch: 0, ct: b64(8) }),
  'wrong epoch': () => JSON.stringify({ type: 'msg', id: hex(16), epoch: pick([-1, 1.5, 2 ** 40, 'zero']), ct: b64(8) }),
  'huge string': () => JSON.stringify({ type: 'msg', id: hex(16), epoch: 0, ct: 'A'.repeat(MAX_FRAME_CHARS + 1 + int(4096)) }),
  'not an object': () => pick(['null', '1', '"msg"', '[]', 'true', '[{"type":"msg"}]']),
  'extra fields': (room) => JSON.stringify({ ...validFrame(room), __proto__: { type: 'auth' }, constructor: 1, extra: 'x'.repeat(int(100)) }),
};

/** True when the text is no valid client frame at all (the mutations must produce such). */
function invalid(text: string): boolean {
  try {
    return !roomClientFrameSchema.safeParse(JSON.parse(text)).success;
  } catch {
    return true;
  }
}

/** A frame broken in one of the named ways (mutations that happen to yield a valid frame are drawn again). */
function mutated(room: { fp: string }): [string, string] {
  for (;;) {
    const name = pick(Object.keys(MUTATIONS));
    const text = (MUTATIONS[name] as Mutation)(room);
    if (invalid(text)) return [name, text];
  }
}

/** Schema-valid frames a client may not send before it has signed in (the server answers `not-authenticated`). */
function beforeAuth(room: { fp: string }): string {
  for (;;) {
    const frame = validFrame(room);
    if (frame.type !== 'auth') return JSON.stringify(frame);
  }
}

/** A member's frames that the room must refuse: it may not rewrite anything with them. */
const MEMBER_ATTACKS: Record<string, (room: { fp: string; epoch: number }) => string> = {
  'message at a future epoch': (room) => JSON.stringify({ type: 'msg', id: hex(16), epoch: room.epoch + 1 + int(100), ct: b64(88) }),
  'record with a forged signature': (room) =>
    JSON.stringify({ type: 'append', record: { body: JSON.stringify({ v: 1, kind: 'remove', room: hex(16), prev: hex(32), by: room.fp, ts: Date.now(), member: hex(20) }), sig: b64(120) } }),
};

interface Counts {
  frames: number;
  errors: number;
  byMutation: Record<string, number>;
  byCode: Record<string, number>;
  connections: number;
}

/** Sends `texts` on one connection and waits for as many error frames (or the connection closing). */
async function fuzzConnection(socket: RawSocket, texts: Array<[string, string]>, counts: Counts, before: number): Promise<void> {
  for (const [name, text] of texts) {
    socket.sendText(text);
    counts.byMutation[name] = (counts.byMutation[name] ?? 0) + 1;
  }
  counts.frames += texts.length;
  const errors = () => socket.frames.slice(before).filter((f) => f.type === 'error');
  const closed = socket.closed.then(() => true);
  let done = false;
  void closed.then(() => (done = true));
  await until(() => errors().length >= texts.length || done, `an error frame for each of ${texts.length} bad frames`, 30_000).catch((error: unknown) => {
    const got = socket.frames.slice(before).map((f) => `${String(f.type)}:${String(f.code ?? '')}`);
    throw new Error(`${String(error)}; sent ${texts.map(([name]) => name).join(', ')}; got ${got.join(', ') || 'nothing'}`);
  });
  for (const error of errors()) {
    const code = String(error.code);
    counts.byCode[code] = (counts.byCode[code] ?? 0) + 1;
  }
  counts.errors += errors().length;
  if (errors().length !== texts.length) {
    const got = socket.frames.slice(before).map((f) => `${String(f.type)}:${String(f.code ?? '')}`);
    const code = done ? await socket.closed : 'open';
    throw new Error(`${errors().length} error frames for ${texts.length} bad frames (connection ${code}); sent ${texts.map(([name]) => name).join(', ')}; got ${got.join(', ')}`);
  }
  socket.close();
  counts.connections++;
}

async function roomState(client: TestClient, roomId: string): Promise<{ chain: unknown; epoch: unknown; ids: string[] }> {
  const socket = await rawSocket(host, PARTY_ROOM, roomId);
  await signIn(socket, roomId, client.chat.fingerprint ?? '', await identityKeyOf(client));
  const welcome = await socket.next('welcome');
  socket.send({ type: 'history', after: 0, limit: 200 });
  const page = await socket.next('history');
  socket.close();
  const ids = (page.messages as Array<{ id: string }>).map((m) => m.id);
  return { chain: welcome.chain, epoch: welcome.epoch, ids };
}

describe('the room server under a stream of bad frames', () => {
  let alice: TestClient;
  let bob: TestClient;
  let roomId: string;

  beforeAll(async () => {
    ({ alice, bob, roomId } = await roomOfTwo(host, 'Fuzzed', 'backup'));
  });

  afterAll(() => {
    alice?.chat.closeAll();
    bob?.chat.closeAll();
  });

  it(`answers ${UNAUTHENTICATED_FRAMES + AUTHENTICATED_FRAMES} bad frames with error frames, keeps serving, and stores nothing of them`, async () => {
    await alice.chat.sendMessage(roomId, 'before the storm');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.text === 'before the storm'), 'bob has it');
    const before = await roomState(alice, roomId);
    const counts: Counts = { frames: 0, errors: 0, byMutation: {}, byCode: {}, connections: 0 };
    const honest: string[] = [];
    const self = { fp: alice.chat.fingerprint ?? '', epoch: 0 };

    const jobs: Array<() => Promise<void>> = [];
    for (let sent = 0; sent < UNAUTHENTICATED_FRAMES; sent += FRAMES_PER_CONNECTION) {
      const texts: Array<[string, string]> = Array.from({ length: FRAMES_PER_CONNECTION }, () => {
        if (random() < 0.15) return ['before authentication', beforeAuth(self)];
        return mutated(self);
      });
      // A few connections go to rooms that do not exist.
      const target = random() < 0.05 ? randomHex(16) : roomId;
      jobs.push(async () => {
        const socket = await rawSocket(host, PARTY_ROOM, target);
        await socket.next('challenge');
        await fuzzConnection(socket, texts, counts, socket.frames.length);
      });
    }
    const attacks = Object.keys(MEMBER_ATTACKS);
    const member = { fp: bob.chat.fingerprint ?? '', epoch: 0 };
    const bobKey = await identityKeyOf(bob);
    for (let sent = 0; sent < AUTHENTICATED_FRAMES; sent += FRAMES_PER_CONNECTION) {
      const texts: Array<[string, string]> = Array.from({ length: FRAMES_PER_CONNECTION }, () => {
        if (random() < 0.3) {
          const name = pick(attacks);
          return [name, (MEMBER_ATTACKS[name] as (room: { fp: string; epoch: number }) => string)(member)];
        }
        return mutated(member);
      });
      // Signed in as a real member who is not an admin (a second connection of Bob's): what a hostile member can send.
      jobs.push(async () => {
        const socket = await rawSocket(host, PARTY_ROOM, roomId);
        await signIn(socket, roomId, member.fp, bobKey);
        await socket.next('welcome');
        await fuzzConnection(socket, texts, counts, socket.frames.length);
      });
    }
    // Shuffle, so authenticated and unauthenticated connections interleave.
    for (let i = jobs.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [jobs[i], jobs[j]] = [jobs[j] as () => Promise<void>, jobs[i] as () => Promise<void>];
    }

    let next = 0;
    let finished = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++] as () => Promise<void>;
        await job();
        if (++finished % HONEST_EVERY === 0) {
          const text = `honest ${finished}`;
          const sent = await alice.chat.sendMessage(roomId, text);
          honest.push(sent.id);
          await until(async () => (await bob.chat.listMessages(roomId, 500)).some((m) => m.id === sent.id), `bob receives "${text}" mid-fuzz`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    const after = await roomState(alice, roomId);
    console.log(`fuzz (seed ${SEED}): ${counts.frames} bad frames on ${counts.connections} connections, ${counts.errors} error frames`);
    console.log('  by mutation:', JSON.stringify(counts.byMutation));
    console.log('  by error code:', JSON.stringify(counts.byCode));
    expect(counts.frames).toBeGreaterThanOrEqual(10_000);
    expect(counts.errors).toBe(counts.frames);
    expect(honest.length).toBeGreaterThan(5);
    // Stored state: the same chain and epoch; the backup gained exactly the honest messages.
    expect(after.chain).toEqual(before.chain);
    expect(after.epoch).toEqual(before.epoch);
    expect(after.ids).toEqual([...before.ids, ...honest]);
    expect(alice.rejected.concat(bob.rejected)).toEqual([]);
  });
});
