/**
 * Issue 9, attack 4: in an ephemeral room a newcomer asks the members online for everything (`sync-request
 * since 0`). They hand over only what the room's settings let it read: what was sent after it joined, unless
 * an admin turned on sharing earlier history. Real clients on a real `partykit dev`; what the members hand
 * over is read off the frames they sent.
 */
import { inject } from 'vitest';
import { createClient, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';

const host = inject('partyHost');

const onboarded = (name: string): Promise<TestClient> => onboardedClient(host, name);

async function texts(client: TestClient, roomId: string): Promise<string[]> {
  return (await client.chat.listMessages(roomId, 500)).filter((m) => m.kind === 'text').map((m) => m.text);
}

async function connected(client: TestClient, roomId: string) {
  return until(async () => (await client.chat.getState()).rooms.find((r) => r.id === roomId && r.connected && r.hasKey), 'connected with key');
}

async function allSent(client: TestClient, roomId: string) {
  return until(async () => (await client.chat.listMessages(roomId, 500)).every((m) => !m.mine || m.kind !== 'text' || m.status === 'sent'), 'acknowledged');
}

/** The ids of every envelope a client handed `to` in sync-replies (from the frames it sent). */
function handedTo(client: TestClient, to: string): string[] {
  return client.frames
    .map((text) => JSON.parse(text) as { type: string; to?: string; messages?: Array<{ id: string }> })
    .filter((frame) => frame.type === 'sync-reply' && frame.to === to)
    .flatMap((frame) => frame.messages?.map((m) => m.id) ?? []);
}

/** A restarted client on the same storage (its worker came back). */
async function restart(client: TestClient): Promise<TestClient> {
  client.chat.closeAll();
  await client.chat.settled();
  const again = createClient(host, { local: client.local, session: client.session });
  await again.chat.start();
  return again;
}

describe('ephemeral rooms: members hand a newcomer only what it may read', () => {
  it.each([
    { share: false, expected: ['after the join'] },
    { share: true, expected: ['before the join 1', 'before the join 2', 'after the join'] },
  ])('sharing earlier history $share: the newcomer gets $expected', async ({ share, expected }) => {
    const [ann, ben, cat0] = await Promise.all([onboarded('Ann'), onboarded('Ben'), onboarded('Cat')]);
    const roomId = (await ann.chat.createRoom('ephemeral room', 'ephemeral')).id;
    await connected(ann, roomId);
    await invite(ann, roomId, ben);
    await connected(ben, roomId);
    if (share) await ann.chat.setRoomSettings(roomId, { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null });
    const before = [await ann.chat.sendMessage(roomId, 'before the join 1'), await ben.chat.sendMessage(roomId, 'before the join 2')];
    await until(async () => (await texts(ann, roomId)).length === 2 && (await texts(ben, roomId)).length === 2, 'both hold the early messages');
    await allSent(ann, roomId);
    await allSent(ben, roomId);

    // Cat joins (her first catch-up asks for everything since 0), then is away while Ann writes.
    await invite(ann, roomId, cat0);
    await connected(cat0, roomId);
    const catFp = cat0.chat.fingerprint ?? '';
    cat0.chat.closeAll();
    const after = await ann.chat.sendMessage(roomId, 'after the join');
    await until(async () => (await texts(ben, roomId)).includes('after the join'), 'ben holds the later message');
    await allSent(ann, roomId);

    // Back online, Cat still has seen nothing from the server, so she asks both members for everything again;
    // each answers with at least the message she missed.
    const cat = await restart(cat0);
    await until(() => handedTo(ann, catFp).includes(after.id) && handedTo(ben, catFp).includes(after.id), 'both members answered Cat');
    await until(async () => (await texts(cat, roomId)).length >= expected.length, 'cat took in what she was handed');

    const allowed = share ? [...before.map((m) => m.id), after.id] : [after.id];
    for (const member of [ann, ben]) {
      const ids = handedTo(member, catFp);
      expect(ids.filter((id) => !allowed.includes(id)), 'envelopes from before Cat joined').toEqual([]);
      if (share) expect(new Set(ids)).toEqual(new Set(allowed));
    }
    await cat.chat.settled();
    expect(await texts(cat, roomId)).toEqual(expected);
    for (const client of [ann, ben, cat]) client.chat.closeAll();
  });
});
