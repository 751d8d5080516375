/**
 * A message that arrives over the wire and cannot be opened (its ciphertext damaged on the way) breaks nothing: it is
 * dropped and reported, never stored, and later messages arrive. From a sender we hold no counter of it counts as a
 * message that could not be read (no gap would ever show it); from a known sender it shows as missing.
 */
import { inject } from 'vitest';
import { fromBase64, toBase64 } from '@/shared/encoding';
import { hostileRoom, rejects, type HostileRoom } from '../helpers/adversary/hostile-room';
import { storedMessages, until, type TestClient } from '../helpers/node-client';

const upstream = inject('partyHost');

describe('a message that cannot be opened on arrival', () => {
  let stage: HostileRoom;

  beforeAll(async () => {
    stage = await hostileRoom(upstream, 'Unreadable on the wire');
  });

  afterAll(() => stage?.stop());

  /** Alice sends a message the server damages on its way to Bob, then one that arrives whole. */
  async function damagedThenWhole(): Promise<{ lost: string; bob: TestClient }> {
    const { proxy, alice, bob, roomId, fp } = stage;
    proxy.replace(
      'to-client',
      (f, seen) => f?.type === 'msg' && f.from === fp.alice && seen.conn.fp === fp.bob,
      (f) => {
        if (f.type !== 'msg') return f;
        const ct = fromBase64(f.ct);
        ct[ct.length >> 1] = (ct[ct.length >> 1] ?? 0) ^ 0xff;
        return { ...f, ct: toBase64(ct) };
      },
      { times: 1 },
    );
    const before = bob.rejected.length;
    const lost = await alice.chat.sendMessage(roomId, 'damaged on the way');
    await rejects(bob, 'message rejected (live)', before);
    const whole = await alice.chat.sendMessage(roomId, 'arrives whole');
    await until(async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === whole.id), 'bob receives the next message');
    expect((await storedMessages(bob, roomId)).some((m) => m.id === lost.id)).toBe(false);
    return { lost: lost.id, bob };
  }

  it('from a sender Bob has no counter of yet: the room says a message could not be read', async () => {
    const { roomId } = stage;
    const { bob } = await damagedThenWhole();
    const room = (await bob.chat.getState()).rooms.find((r) => r.id === roomId);
    expect(room).toMatchObject({ unreadable: 1, missing: 0 });
    expect(bob.events).toContainEqual({ type: 'summary', room: expect.objectContaining({ id: roomId, unreadable: 1 }) });
  });

  it('from a known sender: the gap shows it as missing (not counted twice), and dismissing clears the notice', async () => {
    const { roomId } = stage;
    const { bob } = await damagedThenWhole();
    expect((await bob.chat.getRoom(roomId)).gaps.map((g) => [g.name, g.count])).toEqual([['Alice', 1]]);
    expect((await bob.chat.getState()).rooms.find((r) => r.id === roomId)).toMatchObject({ unreadable: 1, missing: 1 });
    expect((await bob.chat.dismissUnreadable(roomId)).unreadable).toBe(0);
  });
});
