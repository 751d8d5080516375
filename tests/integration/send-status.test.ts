/**
 * What a sender sees of each message against a real `partykit dev`: "sending…", then "sent", or "failed: <reason>"
 * with Retry (and Discard) when the server refused it or this browser's storage is full. A plain disconnection is
 * no failure (the outbox sends it on reconnecting); a retried message keeps its id and counter, so other members
 * take it once and show no gap for it; a full store loses nothing already stored.
 */
import { inject } from 'vitest';
import type { LocalItems } from '@/services/records';
import { memoryStore } from '@/services/store';
import type { MessageView } from '@/utils/protocol-map';
import { startLyingServer, type LyingServer } from '../helpers/adversary/lying-server';
import { createClient, invite, onboardedClient, storedMessages, storedRoom, until, type TestClient } from '../helpers/node-client';

const upstream = inject('partyHost');

async function message(client: TestClient, roomId: string, text: string): Promise<MessageView | undefined> {
  return (await client.chat.listMessages(roomId, 200)).find((m) => m.text === text);
}

async function status(client: TestClient, roomId: string, text: string, wanted: MessageView['status']): Promise<MessageView> {
  return until(async () => {
    const m = await message(client, roomId, text);
    return m?.status === wanted ? m : null;
  }, `"${text}" ${wanted}`);
}

async function summary(client: TestClient, roomId: string) {
  return (await client.chat.getState()).rooms.find((r) => r.id === roomId);
}

/** How many times a text shows in a client's list of a room. */
async function copies(client: TestClient, roomId: string, text: string): Promise<number> {
  return (await client.chat.listMessages(roomId, 200)).filter((m) => m.text === text).length;
}

/** Alice (through `host`, or with her own store) creates a room of `mode` and invites Bob (straight to the server). */
async function roomWith(alice: TestClient, mode: 'ephemeral' | 'backup', name: string): Promise<{ bob: TestClient; roomId: string }> {
  const bob = await onboardedClient(upstream, 'Bob');
  const roomId = (await alice.chat.createRoom(name, mode)).id;
  await until(async () => (await summary(alice, roomId))?.connected, 'alice connected');
  await invite(alice, roomId, bob);
  await until(async () => (await summary(bob, roomId))?.hasKey && (await summary(bob, roomId))?.connected, 'bob joined');
  return { bob, roomId };
}

describe('a message the server refuses', () => {
  let proxy: LyingServer;
  let alice: TestClient;
  let bob: TestClient;
  let roomId: string;

  beforeAll(async () => {
    proxy = await startLyingServer(upstream);
    alice = createClient(proxy.host);
    await alice.chat.onboard('Alice', 'alice passphrase');
    ({ bob, roomId } = await roomWith(alice, 'backup', 'refusals'));
  });

  afterAll(async () => {
    alice?.chat.closeAll();
    bob?.chat.closeAll();
    await proxy?.stop();
  });

  /** The server refuses Alice's next message with `code`, naming it (the frame never reaches the room). */
  function refuseNext(code: 'too-large' | 'not-member'): void {
    let armed = true;
    const remove = proxy.intercept('to-server', (frame, seen) => {
      if (!armed || frame?.type !== 'msg' || seen.conn.room !== roomId) return;
      armed = false;
      remove();
      seen.conn.toClient({ type: 'error', code, message: `refused: ${code}`, ref: frame.id });
      return 'drop';
    });
  }

  it('shows failed with the reason, is not resent on reconnecting, and Retry sends it once under the same counter', async () => {
    await alice.chat.sendMessage(roomId, 'first');
    await status(alice, roomId, 'first', 'sent');
    await until(() => message(bob, roomId, 'first'), 'bob has "first"');

    refuseNext('too-large');
    const sending = await alice.chat.sendMessage(roomId, 'refused one');
    expect(sending.status).toBe('sending');
    const failed = await status(alice, roomId, 'refused one', 'failed');
    expect(failed.failure).toEqual({ code: 'too-large', message: 'refused: too-large' });
    expect(failed.id).toBe(sending.id);
    await until(async () => (await storedRoom(alice, roomId)).outbox.find((o) => o.id === sending.id && o.failed?.code === 'too-large'), 'stored as failed in the outbox');

    // A later message goes out: Bob sees a gap where the refused one's counter was.
    await alice.chat.sendMessage(roomId, 'after it');
    await status(alice, roomId, 'after it', 'sent');
    await until(() => message(bob, roomId, 'after it'), 'bob has "after it"');
    await until(async () => (await summary(bob, roomId))?.missing === 1, 'bob counts the refused one as missing');

    // Reconnecting does not resend a failed message.
    const before = proxy.frames('to-server', (f) => f?.type === 'msg' && f.id === sending.id).length;
    for (const conn of proxy.open(roomId)) conn.close();
    const dropped = Date.now();
    const reconnecting = await until(async () => {
      const room = await summary(alice, roomId);
      return room?.connection === 'reconnecting' ? room : null;
    }, 'alice reconnecting');
    // It says when it tries next: PartySocket's first wait after a drop (the node client's minimum, 50 ms).
    expect(reconnecting.retryAt).toBeGreaterThanOrEqual(dropped + 50);
    await until(async () => (await summary(alice, roomId))?.connection === 'connected', 'alice connected again');
    await alice.chat.sendMessage(roomId, 'after reconnecting');
    await status(alice, roomId, 'after reconnecting', 'sent');
    expect(proxy.frames('to-server', (f) => f?.type === 'msg' && f.id === sending.id)).toHaveLength(before);
    expect((await message(alice, roomId, 'refused one'))?.status).toBe('failed');

    const retried = await alice.chat.retryMessage(roomId, sending.id);
    expect(retried).toMatchObject({ id: sending.id, status: 'sending', failure: null });
    await status(alice, roomId, 'refused one', 'sent');
    await until(() => message(bob, roomId, 'refused one'), 'bob has the retried message');
    await until(async () => (await summary(bob, roomId))?.missing === 0, 'bob shows no gap any more');
    expect(await copies(bob, roomId, 'refused one')).toBe(1);
    expect(await copies(alice, roomId, 'refused one')).toBe(1);
    expect((await storedRoom(alice, roomId)).outbox).toEqual([]);

    // Only a failed message can be retried.
    await expect(alice.chat.retryMessage(roomId, sending.id)).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('Discard drops a refused message here, and members show no gap for it', async () => {
    refuseNext('not-member');
    const doomed = await alice.chat.sendMessage(roomId, 'doomed');
    const failed = await status(alice, roomId, 'doomed', 'failed');
    expect(failed.failure?.code).toBe('not-member');
    await alice.chat.discardMessage(roomId, doomed.id);
    expect(await message(alice, roomId, 'doomed')).toBeUndefined();
    expect((await storedMessages(alice, roomId)).some((m) => m.text === 'doomed')).toBe(false);
    await until(async () => (await storedRoom(alice, roomId)).outbox.length === 0, 'the outbox empty (the delete acknowledged)');
    await alice.chat.sendMessage(roomId, 'after discarding');
    await until(() => message(bob, roomId, 'after discarding'), 'bob has "after discarding"');
    expect((await summary(bob, roomId))?.missing).toBe(0);
    expect(await message(bob, roomId, 'doomed')).toBeUndefined();
  });
});

/**
 * A `storage.local` with a byte quota, like Chrome's: a write that would take the total over `limit` throws the way
 * Chrome's does (a write that does not grow the total still goes through). `fill()` leaves a little room; `free()` lifts it.
 */
function fillingStore() {
  const inner = memoryStore<LocalItems>();
  const bytes = (items: Record<string, unknown>) => Object.entries(items).reduce((n, [k, v]) => n + k.length + JSON.stringify(v).length, 0);
  const state = { limit: null as number | null, refused: 0 };
  const store: typeof inner = {
    ...inner,
    async set(key, value) {
      if (state.limit !== null && bytes({ ...inner.dump(), [key]: value }) > state.limit) {
        state.refused += 1;
        throw new Error('Resource::kQuotaBytes quota exceeded (QUOTA_BYTES quota exceeded)');
      }
      return inner.set(key, value);
    },
  };
  return {
    store,
    state,
    fill: () => void (state.limit = bytes(inner.dump()) + 200),
    free: () => void (state.limit = null),
  };
}

describe.each(['ephemeral', 'backup'] as const)('storage full in a %s room', (mode) => {
  let alice: TestClient;
  let bob: TestClient;
  let roomId: string;
  const filling = fillingStore();

  beforeAll(async () => {
    alice = createClient(upstream, { local: filling.store });
    await alice.chat.onboard('Alice', 'alice passphrase');
    ({ bob, roomId } = await roomWith(alice, mode, `full ${mode}`));
  });

  afterAll(() => {
    alice?.chat.closeAll();
    bob?.chat.closeAll();
  });

  it('fails the send with the quota reason, loses nothing stored, keeps taking messages in, and Retry sends it once there is room', async () => {
    await alice.chat.sendMessage(roomId, 'stored before');
    await status(alice, roomId, 'stored before', 'sent');
    await until(async () => (await storedMessages(alice, roomId)).find((m) => m.text === 'stored before' && m.status === 'sent'), 'stored as sent');
    const recordBefore = await storedRoom(alice, roomId);
    const pagesBefore = await storedMessages(alice, roomId);

    filling.fill();
    const failed = await alice.chat.sendMessage(roomId, 'while full');
    expect(failed.status).toBe('failed');
    expect(failed.failure?.code).toBe('storage-full');
    expect(failed.failure?.message).toMatch(/quota/iu);
    expect((await message(alice, roomId, 'while full'))?.status).toBe('failed');
    expect(filling.state.refused).toBeGreaterThan(0);

    // Someone else's message arrives while full: shown, and the room keeps working.
    await bob.chat.sendMessage(roomId, 'from bob while full');
    await until(() => message(alice, roomId, 'from bob while full'), 'alice shows bob’s message');
    expect((await summary(alice, roomId))?.connection).toBe('connected');
    // Reading it would save the room record, which must not count Bob's message before its page is written: refused.
    await expect(alice.chat.markRead(roomId)).rejects.toThrow(/quota/iu);

    // Nothing already stored was lost or changed.
    expect(await storedRoom(alice, roomId)).toEqual(recordBefore);
    expect(await storedMessages(alice, roomId)).toEqual(pagesBefore);

    // Still full: Retry fails again, the same way.
    const again = await alice.chat.retryMessage(roomId, failed.id);
    expect(again).toMatchObject({ id: failed.id, status: 'failed', failure: { code: 'storage-full' } });

    filling.free();
    const retried = await alice.chat.retryMessage(roomId, failed.id);
    expect(retried).toMatchObject({ id: failed.id, status: 'sending' });
    await status(alice, roomId, 'while full', 'sent');
    await until(() => message(bob, roomId, 'while full'), 'bob has the retried message');
    await alice.chat.sendMessage(roomId, 'after room freed');
    await until(() => message(bob, roomId, 'after room freed'), 'bob has "after room freed"');
    // No counter was spent on the failed attempt: Bob sees no gap, and each message once.
    expect((await summary(bob, roomId))?.missing).toBe(0);
    for (const text of ['stored before', 'while full', 'after room freed']) expect(await copies(bob, roomId, text)).toBe(1);

    // Everything is on disk now, Bob's message too.
    await until(async () => {
      const stored = await storedMessages(alice, roomId);
      return ['stored before', 'from bob while full', 'while full', 'after room freed'].every((text) => stored.some((m) => m.text === text));
    }, 'all four stored');
  });
});
