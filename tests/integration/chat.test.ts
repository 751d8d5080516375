import { inject } from 'vitest';
import { unnamed } from '@/shared/crypto';
import { fromBase64, toHex } from '@/shared/encoding';
import { memoryStore } from '@/services/store';
import type { LocalItems } from '@/services/records';
import { createClient, roomKeyOf, until, type TestClient, invite } from '../helpers/node-client';

const host = inject('partyHost');

/** Every base64 run in a frame, decoded: so a GEK hidden in any binary field would still be found. */
function decodedRuns(frame: string): Uint8Array[] {
  return (frame.match(/[A-Za-z0-9+/]{40,}={0,2}/g) ?? []).flatMap((run) => {
    try {
      return [fromBase64(run.length % 4 ? run.slice(0, run.length - (run.length % 4)) : run)];
    } catch {
      return [];
    }
  });
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe('two clients chat through a real party server', () => {
  let alice: TestClient;
  let bob: TestClient;
  let roomId: string;

  beforeAll(async () => {
    alice = createClient(host);
    bob = createClient(host);
    await Promise.all([alice.chat.onboard('Alice', 'correct horse battery'), bob.chat.onboard('Bob', 'tr0ub4dor&3 staple')]);
    roomId = (await alice.chat.createRoom('Weekend plans', 'ephemeral')).id;
    await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
  });

  afterAll(() => {
    alice.chat.closeAll();
    bob.chat.closeAll();
  });

  it('invites by contact code and delivers the room key to the invitee', async () => {
    const bobCode = (await bob.chat.getState()).me?.contactCode ?? '';
    const member = await alice.chat.inviteContact(roomId, bobCode);
    // Bob's key carries no name: Alice knows him by his contact code until his profile reaches the room.
    expect(member).toMatchObject({ name: unnamed(bob.chat.fingerprint ?? ''), role: 'member' });
    // Alice is no contact of Bob's yet: her invitation waits for Bob to accept it.
    await until(async () => (await bob.chat.getState()).invitations.find((i) => i.room === roomId && i.name === 'Alice'), 'the request');
    await bob.chat.decideInvitation(roomId, 'accept');

    const room = await until(async () => (await bob.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'bob holds the key');
    expect(room.name).toBe('Weekend plans');
    const detail = await until(async () => {
      const d = await bob.chat.getRoom(roomId);
      return d.members.some((m) => m.name === 'Alice') ? d : null;
    }, 'bob reads alice’s profile');
    expect(detail.members.map((m) => m.name).sort()).toEqual(['Alice', 'Bob']);
    await until(async () => (await alice.chat.getRoom(roomId)).members.some((m) => m.name === 'Bob'), 'alice reads bob’s profile');
    expect(detail.myRole).toBe('member');
    expect(toHex(await roomKeyOf(bob, roomId))).toBe(toHex(await roomKeyOf(alice, roomId)));
  });

  it('relays messages both ways with sender name and time', async () => {
    await until(async () => (await bob.chat.getRoom(roomId)).connected, 'bob connected');
    const sent = await alice.chat.sendMessage(roomId, 'Hello Bob, pizza on Saturday?');
    expect(sent.status).toBe('sending');
    const got = await until(async () => (await bob.chat.listMessages(roomId)).find((m) => m.id === sent.id), 'bob receives');
    expect(got).toMatchObject({ text: 'Hello Bob, pizza on Saturday?', fromName: 'Alice', mine: false, status: 'received' });
    expect(Math.abs(got.ts - Date.now())).toBeLessThan(60_000);

    const reply = await bob.chat.sendMessage(roomId, 'Yes! 🍕');
    const back = await until(async () => (await alice.chat.listMessages(roomId)).find((m) => m.id === reply.id), 'alice receives');
    expect(back).toMatchObject({ text: 'Yes! 🍕', fromName: 'Bob' });
    await until(async () => (await alice.chat.listMessages(roomId)).find((m) => m.id === sent.id && m.status === 'sent'), 'alice sees sent');
    expect((await bob.chat.getState()).rooms.find((r) => r.id === roomId)?.unread).toBe(1);
    await bob.chat.markRead(roomId);
    expect((await bob.chat.getState()).rooms.find((r) => r.id === roomId)?.unread).toBe(0);
    expect(alice.rejected).toEqual([]);
    expect(bob.rejected).toEqual([]);
  });

  it('never lets the server see plaintext or the room key (frame recorder)', async () => {
    const gek = await roomKeyOf(alice, roomId);
    const secrets = ['Hello Bob, pizza on Saturday?', 'Yes! 🍕', 'Weekend plans', toHex(gek), btoaBytes(gek)];
    const frames = [...alice.frames, ...bob.frames];
    expect(frames.length).toBeGreaterThan(8);
    expect(frames.some((f) => f.includes('"type":"msg"'))).toBe(true);
    expect(frames.some((f) => f.includes('"type":"append"'))).toBe(true);
    for (const frame of frames) {
      for (const secret of secrets) expect(frame.includes(secret), `frame leaks ${secret}: ${frame.slice(0, 80)}`).toBe(false);
      for (const bytes of decodedRuns(frame)) expect(contains(bytes, gek)).toBe(false);
    }
  });

  it('keeps history encrypted at rest and readable after a restart and unlock', async () => {
    const dump = JSON.stringify(alice.local.dump());
    expect(dump).not.toContain('pizza on Saturday');
    expect(dump).not.toContain('Weekend plans');

    alice.chat.closeAll();
    const restarted = createClient(host, { local: alice.local });
    expect((await restarted.chat.getState()).phase).toBe('locked');
    await expect(restarted.chat.unlock('wrong passphrase')).rejects.toMatchObject({ code: 'wrong-passphrase' });
    const state = await restarted.chat.unlock('correct horse battery');
    expect(state.phase).toBe('ready');
    const history = await restarted.chat.listMessages(roomId);
    expect(history.filter((m) => m.kind === 'text').map((m) => m.text)).toEqual(['Hello Bob, pizza on Saturday?', 'Yes! 🍕']);
    await until(async () => (await restarted.chat.getRoom(roomId)).connected, 'restarted alice reconnects');
    const again = await bob.chat.sendMessage(roomId, 'still there?');
    await until(async () => (await restarted.chat.listMessages(roomId)).some((m) => m.id === again.id), 'restarted alice receives');
    restarted.chat.closeAll();
  });
});

/**
 * `writer`'s new room with `reader` in it, both connected; the writer's history-page writes fail while `stop.pages`
 * is set, as if the browser stopped its worker between sending and writing.
 */
async function roomWithStoppingWriter(writerName: string, readerName: string, roomName: string) {
  const base = memoryStore<LocalItems>();
  const stop = { pages: false };
  const local: TestClient['local'] = {
    ...base,
    set: async (key, value) => {
      if (stop.pages && key.startsWith('page:')) throw new Error('the worker stopped');
      return base.set(key, value);
    },
  };
  const writer = createClient(host, { local });
  const reader = createClient(host);
  await Promise.all([writer.chat.onboard(writerName, `${writerName} passphrase here`), reader.chat.onboard(readerName, `${readerName} passphrase here`)]);
  const id = (await writer.chat.createRoom(roomName, 'ephemeral')).id;
  await until(async () => (await writer.chat.getRoom(id)).connected, `${writerName} connected`);
  await invite(writer, id, reader);
  await until(async () => (await reader.chat.getRoom(id).catch(() => null))?.connected, `${readerName} connected`);
  return { writer, reader, id, local, stop };
}

describe('a worker that stops right after sending', () => {
  it('keeps the message it sent before writing it to history: delivered once, back in its history as sent', async () => {
    // The history page is written after the frame leaves (it is off the path to the others); here that write
    // fails, as if the browser stopped the worker in between.
    const { writer: cy, reader: dee, id, local, stop } = await roomWithStoppingWriter('Cy', 'Dee', 'Stops');

    stop.pages = true;
    await expect(cy.chat.sendMessage(id, 'sent as the worker stopped')).rejects.toThrow('the worker stopped');
    cy.chat.closeAll();
    stop.pages = false;
    const cyBack = createClient(host, { local, session: cy.session });
    await cyBack.chat.start();
    const mine = await until(async () => {
      const found = (await cyBack.chat.listMessages(id)).filter((m) => m.text === 'sent as the worker stopped' && m.status === 'sent');
      return found.length ? found : null;
    }, 'cy has it back, sent');
    expect(mine).toHaveLength(1);
    await until(async () => (await dee.chat.listMessages(id)).some((m) => m.text === 'sent as the worker stopped'), 'dee got it');
    // The counter was saved before the frame left: the next message is not mistaken for a duplicate.
    await cyBack.chat.sendMessage(id, 'and the next one');
    await until(async () => (await dee.chat.listMessages(id)).some((m) => m.text === 'and the next one'), 'dee gets the next one');
    expect((await dee.chat.listMessages(id)).filter((m) => m.text === 'sent as the worker stopped')).toHaveLength(1);
    expect(dee.rejected).toEqual([]);
    cyBack.chat.closeAll();
    dee.chat.closeAll();
  });

  it('an edit sent as the worker stopped is applied to its message here too once the server acknowledges it', async () => {
    const { writer: eve, reader: fay, id, local, stop } = await roomWithStoppingWriter('Eve', 'Fay', 'Edits');
    const original = await eve.chat.sendMessage(id, 'meet at 5');
    await until(async () => (await fay.chat.listMessages(id)).some((m) => m.id === original.id), 'fay has it');
    await eve.chat.settled();

    stop.pages = true;
    await expect(eve.chat.editMessage(id, original.id, 'meet at 6')).rejects.toThrow('the worker stopped');
    // The worker is gone: nothing it had still queued gets written once storage works again.
    eve.chat.closeAll();
    await eve.chat.settled();
    stop.pages = false;
    await until(async () => (await fay.chat.listMessages(id)).some((m) => m.id === original.id && m.text === 'meet at 6'), 'fay sees the edit');
    const eveBack = createClient(host, { local, session: eve.session });
    await eveBack.chat.start();
    await until(async () => (await eveBack.chat.listMessages(id)).find((m) => m.id === original.id && m.text === 'meet at 6' && m.edited), 'eve sees her own edit after the restart');
    eveBack.chat.closeAll();
    fay.chat.closeAll();
  });
});

function btoaBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
