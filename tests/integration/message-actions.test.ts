/**
 * Message actions against a real `partykit dev`: a quoted reply, reactions, editing and deleting one's own
 * message for everyone. Each is a signed message like any other, so the same checks hold: nobody edits or
 * deletes another member's message (a hostile member tries), a relay cannot replay an old edit over a newer
 * one, and a deleted message's text is gone from every member's storage, also from what peers sync.
 */
import { inject } from 'vitest';
import type { MessageView } from '@/utils/protocol-map';
import { turnMalicious, type MaliciousMember } from '../helpers/adversary/malicious-member';
import { createClient, invite, onboardedClient, storedMessages, storedRoom, until, type TestClient } from '../helpers/node-client';

const host = inject('partyHost');

async function fingerprintOf(client: TestClient): Promise<string> {
  return (await client.chat.getState()).me?.fingerprint ?? '';
}

async function find(client: TestClient, roomId: string, id: string): Promise<MessageView | undefined> {
  return (await client.chat.listMessages(roomId, 200)).find((m) => m.id === id);
}

async function arrived(client: TestClient, roomId: string, id: string, what: string, check: (m: MessageView) => boolean = () => true): Promise<MessageView> {
  return until(async () => {
    const m = await find(client, roomId, id);
    return m && check(m) ? m : null;
  }, what);
}

/** Everything a client stores for a room, as one JSON text: what a test searches for a deleted text. */
async function storedHistoryText(client: TestClient, roomId: string): Promise<string> {
  return JSON.stringify(await storedMessages(client, roomId));
}

describe.each(['backup', 'ephemeral'] as const)('message actions in a %s room', (mode) => {
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let mallory: MaliciousMember;
  let roomId: string;

  beforeAll(async () => {
    const [a, b, c, m] = await Promise.all(['Alice', 'Bob', 'Carol', 'Mallory'].map((name) => onboardedClient(host, name)));
    if (!a || !b || !c || !m) throw new Error('onboarding failed');
    alice = a;
    bob = b;
    carol = c;
    roomId = (await alice.chat.createRoom(`actions ${mode}`, mode)).id;
    await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
    for (const invitee of [bob, c, m]) {
      await invite(alice, roomId, invitee);
      await until(async () => (await invitee.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey && r.connected), 'invitee holds the key');
    }
    mallory = await turnMalicious(m, roomId, host);
    await mallory.connect();
  });

  afterAll(() => {
    mallory?.close();
    alice?.chat.closeAll();
    bob?.chat.closeAll();
    carol?.chat.closeAll();
  });

  it('a reply carries a quote of the message it answers', async () => {
    const original = await alice.chat.sendMessage(roomId, 'Lunch at noon?');
    await arrived(bob, roomId, original.id, 'bob has the question');
    const reply = await bob.chat.sendMessage(roomId, 'Yes!', { replyTo: original.id });
    expect(reply.reply).toMatchObject({ id: original.id, fromName: 'Alice', text: 'Lunch at noon?' });
    const seen = await arrived(alice, roomId, reply.id, 'alice has the reply');
    expect(seen.text).toBe('Yes!');
    expect(seen.reply).toMatchObject({ id: original.id, from: original.from, fromName: 'Alice', text: 'Lunch at noon?' });
    // The replier's own history page holds the quote too (not only its in-memory copy): it is there after a restart.
    await bob.chat.settled();
    const stored = (await storedMessages(bob, roomId)).find((m) => m.id === reply.id);
    expect(stored?.reply).toMatchObject({ id: original.id, from: original.from, fromName: 'Alice', text: 'Lunch at noon?' });
  });

  it('a reply quoting a message we hold shows our copy: a hostile member cannot put words in its author\'s mouth', async () => {
    const original = await bob.chat.sendMessage(roomId, 'I will bring the tent');
    await arrived(alice, roomId, original.id, 'alice has it');
    const forged = await mallory.seal({ text: 'really?', reply: { id: original.id, from: await fingerprintOf(alice), text: 'I will not come' } });
    await mallory.send(forged);
    const seen = await arrived(alice, roomId, forged.id, 'alice has the forged reply');
    expect(seen.reply).toMatchObject({ id: original.id, from: original.from, fromName: 'Bob', text: 'I will bring the tent' });
  });

  it('reactions: one per member, changed and taken back, counted on both sides', async () => {
    const message = await alice.chat.sendMessage(roomId, 'I got the job');
    await arrived(bob, roomId, message.id, 'bob has it');
    await bob.chat.react(roomId, message.id, '🎉');
    await arrived(alice, roomId, message.id, 'alice sees 🎉', (m) => m.reactions.some((r) => r.emoji === '🎉' && r.count === 1 && !r.mine));
    await alice.chat.react(roomId, message.id, '🎉');
    const both = await arrived(bob, roomId, message.id, 'bob sees two 🎉', (m) => m.reactions.some((r) => r.emoji === '🎉' && r.count === 2));
    expect(both.reactions).toEqual([{ emoji: '🎉', count: 2, mine: true }]);
    await bob.chat.react(roomId, message.id, '❤️');
    await arrived(alice, roomId, message.id, 'bob changed his to ❤️', (m) => m.reactions.length === 2 && m.reactions.every((r) => r.count === 1));
    await bob.chat.react(roomId, message.id, '');
    const after = await arrived(alice, roomId, message.id, 'bob took his back', (m) => m.reactions.length === 1);
    expect(after.reactions).toEqual([{ emoji: '🎉', count: 1, mine: true }]);
  });

  it('edit: the author changes the text for everyone, marked edited', async () => {
    const message = await alice.chat.sendMessage(roomId, 'See you at 5');
    await arrived(bob, roomId, message.id, 'bob has it');
    const edited = await alice.chat.editMessage(roomId, message.id, 'See you at 6');
    expect(edited).toMatchObject({ text: 'See you at 6', edited: true });
    const seen = await arrived(bob, roomId, message.id, 'bob sees the edit', (m) => m.text === 'See you at 6');
    expect(seen.edited).toBe(true);
    // Editing is for one's own messages only: the product refuses before anything is sent.
    await expect(bob.chat.editMessage(roomId, message.id, 'nope')).rejects.toThrow(/own/);
  });

  it('delete for everyone: the text is gone from both members\' screens and storage', async () => {
    const message = await alice.chat.sendMessage(roomId, 'my card number is 4111');
    await arrived(bob, roomId, message.id, 'bob has it');
    await until(async () => (await storedHistoryText(bob, roomId)).includes('4111'), 'bob stored it');
    await expect(bob.chat.deleteMessage(roomId, message.id)).rejects.toThrow(/own/);
    // A reply quoting it loses the quote too, on both sides.
    const reply = await bob.chat.sendMessage(roomId, 'got it', { replyTo: message.id });
    await arrived(alice, roomId, reply.id, 'alice has the reply', (m) => m.reply?.text === 'my card number is 4111');
    const deleted = await alice.chat.deleteMessage(roomId, message.id);
    expect(deleted).toMatchObject({ deleted: true, text: '' });
    await arrived(bob, roomId, message.id, 'bob sees it deleted', (m) => m.deleted && m.text === '');
    await until(async () => !(await storedHistoryText(bob, roomId)).includes('4111'), 'bob stored the deletion');
    expect(await storedHistoryText(alice, roomId)).not.toContain('4111');
    for (const client of [alice, bob]) expect((await find(client, roomId, reply.id))?.reply).toMatchObject({ id: message.id, text: '' });
    // The preview in the room list does not keep it either.
    expect((await bob.chat.getState()).rooms.find((r) => r.id === roomId)?.lastText ?? '').not.toContain('4111');
  });

  it('a hostile member cannot edit, delete or react as someone else, nor edit or delete another\'s message', async () => {
    const message = await alice.chat.sendMessage(roomId, 'the real plan');
    await arrived(bob, roomId, message.id, 'bob has it');
    const rejectedBefore = bob.rejected.length;
    // Signed by Mallory but targeting Alice's message: refused by every client.
    await mallory.send(await mallory.seal({ t: 'edit', target: message.id, text: 'the fake plan' }));
    await mallory.send(await mallory.seal({ t: 'delete', target: message.id }));
    // Claiming to be Alice: her signature is missing.
    await mallory.send(await mallory.seal({ t: 'edit', from: await fingerprintOf(alice), target: message.id, text: 'forged by mallory' }));
    // A marker after the attacks, so the test knows Bob processed them (messages are handled in order).
    const marker = await mallory.seal({ text: 'marker' });
    await mallory.send(marker);
    await arrived(bob, roomId, marker.id, 'bob has the marker');
    const seen = await find(bob, roomId, message.id);
    expect(seen).toMatchObject({ text: 'the real plan', edited: false, deleted: false });
    expect(bob.rejected.length).toBeGreaterThanOrEqual(rejectedBefore + 3);
    expect(bob.rejected.slice(rejectedBefore).join('\n')).toMatch(/not (?:its|their) author|someone else's message/);
  });

  it('an old edit handed over again (a relay or member replaying it) does not undo a newer one', async () => {
    const message = await alice.chat.sendMessage(roomId, 'v1');
    await arrived(bob, roomId, message.id, 'bob has v1');
    await alice.chat.editMessage(roomId, message.id, 'v2');
    await arrived(bob, roomId, message.id, 'bob has v2', (m) => m.text === 'v2');
    await until(async () => (await storedRoom(alice, roomId)).outbox.length === 0, 'the v2 edit reached the server');
    await alice.chat.editMessage(roomId, message.id, 'v3');
    await arrived(bob, roomId, message.id, 'bob has v3', (m) => m.text === 'v3');
    // Mallory replays the envelope of the v2 edit (she received it like everyone else) to Bob.
    const v2Edit = (await storedMessages(bob, roomId)).find((m) => m.kind === 'action' && m.action?.type === 'edit' && m.action.text === 'v2')?.env;
    if (!v2Edit) throw new Error('bob did not keep the v2 edit envelope');
    mallory.syncReply(await fingerprintOf(bob), [v2Edit]);
    const marker = await mallory.seal({ text: 'marker 2' });
    await mallory.send(marker);
    await arrived(bob, roomId, marker.id, 'bob has the marker');
    expect((await find(bob, roomId, message.id))?.text).toBe('v3');
  });

  it('a member who was away when a message was sent and deleted never receives its text, and sees no gap', async () => {
    const before = await alice.chat.sendMessage(roomId, 'before carol left');
    await arrived(carol, roomId, before.id, 'carol is up to date');
    await carol.chat.settled();
    carol.chat.closeAll();
    const secret = await alice.chat.sendMessage(roomId, 'the door code is 7391');
    const after = await alice.chat.sendMessage(roomId, 'never mind');
    await arrived(bob, roomId, after.id, 'bob has both');
    await alice.chat.deleteMessage(roomId, secret.id);
    await arrived(bob, roomId, secret.id, 'bob saw the delete', (m) => m.deleted);
    await until(async () => (await storedRoom(alice, roomId)).outbox.length === 0, 'the delete reached the server');
    const back = createClient(host, { local: carol.local, session: carol.session });
    carol = back;
    await back.chat.start();
    await arrived(back, roomId, after.id, 'carol caught up');
    await back.chat.settled();
    expect(await storedHistoryText(back, roomId)).not.toContain('7391');
    const held = await find(back, roomId, secret.id);
    if (held) expect(held).toMatchObject({ deleted: true, text: '' });
    // (Mallory's forged message earlier left a real gap of hers: only Alice's counters matter here.)
    const aliceFp = await fingerprintOf(alice);
    expect((await back.chat.getRoom(roomId)).gaps.filter((g) => g.fingerprint === aliceFp)).toEqual([]);
  });
});
