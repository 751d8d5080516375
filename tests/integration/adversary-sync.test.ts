/**
 * Issue 9, attack 5: a member's sync-reply carries envelopes whose `seq` it chose (seq is not signed). Only
 * the server's own frames may move what a client has seen from the server; a peer's seq must not stop the
 * receiver's catch-up (backup paging or peer sync) from asking for what it missed.
 */
import { inject } from 'vitest';
import type { RoomMode } from '@/shared/protocol';
import { turnMalicious, type MaliciousMember } from '../helpers/adversary/malicious-member';
import { createClient, storedRoom, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';

const host = inject('partyHost');

const onboarded = (name: string, server = host): Promise<TestClient> => onboardedClient(server, name);

async function texts(client: TestClient, roomId: string): Promise<string[]> {
  return (await client.chat.listMessages(roomId, 500)).filter((m) => m.kind === 'text').map((m) => m.text);
}

describe('a member raises another member\'s lastSeq with a forged sync-reply seq', () => {
  let alice: TestClient;
  let bob: TestClient;
  const ids = new Map<RoomMode, string>();
  const rooms = new Map<RoomMode, { id: string; mallory: MaliciousMember }>();

  beforeAll(async () => {
    const [a, b, m] = await Promise.all([onboarded('Alice'), onboarded('Bob'), onboarded('Mallory')]);
    alice = a as TestClient;
    bob = b as TestClient;
    const malloryClient = m as TestClient;
    for (const mode of ['backup', 'ephemeral'] as const) {
      const id = (await alice.chat.createRoom(`${mode} room`, mode)).id;
      await until(async () => (await alice.chat.getRoom(id)).connected, 'alice connected');
      for (const invitee of [bob, malloryClient]) {
        await invite(alice, id, invitee);
        await until(async () => (await invitee.chat.getState()).rooms.find((r) => r.id === id && r.hasKey && r.connected), 'invitee holds the key');
      }
      ids.set(mode, id);
    }
    for (const mode of ['backup', 'ephemeral'] as const) {
      const id = ids.get(mode) ?? '';
      const mallory = await turnMalicious(malloryClient, id, host);
      await mallory.connect();
      rooms.set(mode, { id, mallory });
    }
  });

  afterAll(() => {
    for (const { mallory } of rooms.values()) mallory.close();
    alice?.chat.closeAll();
    bob?.chat.closeAll();
  });

  // A seq a member hands over in a sync-reply does not move the receiver's catch-up point, so the message Bob
  // missed while offline arrives when he reconnects.
  it.each(['backup', 'ephemeral'] as const)('%s room: a message Bob missed while offline still arrives on reconnect', async (mode) => {
    const room = rooms.get(mode);
    if (!room) throw new Error(`no ${mode} room was set up`);
    const { id: roomId, mallory } = room;
    const bait = `a perfectly normal message (${mode})`;
    const sealed = await mallory.seal({ text: bait });
    const before = bob.rejected.length;
    mallory.syncReply(bob.chat.fingerprint ?? '', [mallory.envelope(sealed, { seq: 9e15 })]);
    // Bob shows it (it is a valid message from a member), without taking its seq as the room's.
    await until(async () => (await texts(bob, roomId)).includes(bait) || bob.rejected.length > before, 'bob handles the sync reply');
    const lastSeq = (await storedRoom(bob, roomId)).lastSeq;

    bob.chat.closeAll();
    const missed = await alice.chat.sendMessage(roomId, `sent while Bob was away (${mode})`);
    await until(async () => (await alice.chat.listMessages(roomId)).find((m) => m.id === missed.id)?.status === 'sent', 'the server acknowledged it');
    bob = createClient(host, { local: bob.local, session: bob.session });
    await bob.chat.start();
    await until(async () => (await bob.chat.getState()).rooms.find((r) => r.id === roomId)?.connected, 'bob reconnected');
    await until(
      async () => (await bob.chat.listMessages(roomId)).some((m) => m.id === missed.id),
      `the message Bob missed while offline (his lastSeq is ${lastSeq} after the forged sync-reply, so his catch-up asks for nothing after it)`,
      10_000,
    );
  });
});
