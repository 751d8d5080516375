import { inject } from 'vitest';
import { createClient, storedRoom, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';

const host = inject('partyHost');

const onboarded = (name: string): Promise<TestClient> => onboardedClient(host, name);

async function summary(client: TestClient, roomId: string) {
  return (await client.chat.getState()).rooms.find((r) => r.id === roomId);
}

describe('removing members rotates the room key', () => {
  it('cuts a removed member off at once and moves everyone else to a key they never see; links follow the key', async () => {
    const [ada, bo, cy] = await Promise.all([onboarded('Ada'), onboarded('Bo'), onboarded('Cy')]);
    const roomId = (await ada.chat.createRoom('Rotating', 'ephemeral')).id;
    await until(async () => (await summary(ada, roomId))?.connected, 'ada connected');
    for (const other of [bo, cy]) {
      await invite(ada, roomId, other);
      await until(async () => (await summary(other, roomId))?.hasKey && (await summary(other, roomId))?.connected, 'joined');
    }
    const link = await ada.chat.createLink(roomId, { approval: false, escrow: true, expiresInMs: null, maxUses: null, label: '' });

    await ada.chat.removeMember(roomId, cy.chat.fingerprint ?? '');
    await until(async () => (await summary(cy, roomId))?.removed, 'cy learns she was removed');
    expect((await summary(cy, roomId))?.hasKey).toBe(false);
    await expect(cy.chat.sendMessage(roomId, 'still here?')).rejects.toMatchObject({ code: 'removed' });
    await until(async () => (await storedRoom(bo, roomId)).keys['1'], 'bo receives the epoch 1 key');
    expect((await storedRoom(ada, roomId)).keys['1']).toBe((await storedRoom(bo, roomId)).keys['1']);
    expect((await storedRoom(cy, roomId)).keys['1']).toBeUndefined();
    expect((await ada.chat.getRoom(roomId)).members.map((m) => m.name).sort()).toEqual(['Ada', 'Bo']);

    const secret = await ada.chat.sendMessage(roomId, 'after Cy left');
    await until(async () => (await bo.chat.listMessages(roomId)).some((m) => m.id === secret.id), 'bo reads epoch 1');
    expect(cy.frames.join('\n')).not.toContain(secret.id);
    expect((await cy.chat.listMessages(roomId)).some((m) => m.id === secret.id)).toBe(false);

    // The escrow link's copy was refreshed to the new key: a joiner with everyone offline can read new messages.
    ada.chat.closeAll();
    bo.chat.closeAll();
    const dee = await onboarded('Dee');
    await dee.chat.joinByLink(link.url ?? '');
    await until(async () => (await summary(dee, roomId))?.hasKey, 'dee joins through the refreshed escrow');
    // The key is held in memory a moment before its record is written: wait for the write, then compare.
    await until(async () => (await storedRoom(dee, roomId)).keys['1'], 'dee stored the epoch 1 key');
    expect((await storedRoom(dee, roomId)).keys['1']).toBe((await storedRoom(ada, roomId)).keys['1']);

    // A member leaves: the online member with the smallest fingerprint starts epoch 2.
    const adaBack = createClient(host, { local: ada.local, session: ada.session });
    await adaBack.chat.start();
    const boBack = createClient(host, { local: bo.local, session: bo.session });
    await boBack.chat.start();
    await until(async () => (await summary(adaBack, roomId))?.connected && (await summary(boBack, roomId))?.connected, 'back online');
    await boBack.chat.leaveRoom(roomId);
    expect(await summary(boBack, roomId)).toBeUndefined();
    await until(async () => (await storedRoom(adaBack, roomId)).keys['2'] && (await storedRoom(dee, roomId)).keys['2'], 'epoch 2 reaches those who stay');
    const last = await dee.chat.sendMessage(roomId, 'epoch two');
    await until(async () => (await adaBack.chat.listMessages(roomId)).some((m) => m.id === last.id), 'ada reads epoch 2');
    expect((await adaBack.chat.getRoom(roomId)).members.map((m) => m.name).sort()).toEqual(['Ada', 'Dee']);
    for (const c of [adaBack, boBack, cy, dee]) c.chat.closeAll();
  });

  it('shares the keys of earlier epochs with a new member when the room allows reading earlier history', async () => {
    const [eli, fox, gil] = await Promise.all([onboarded('Eli'), onboarded('Fox'), onboarded('Gil')]);
    const roomId = (await eli.chat.createRoom('Archive', 'backup')).id;
    await until(async () => (await summary(eli, roomId))?.connected, 'eli connected');
    await invite(eli, roomId, fox);
    await until(async () => (await summary(fox, roomId))?.hasKey, 'fox joined');
    await eli.chat.sendMessage(roomId, 'epoch zero');
    await eli.chat.removeMember(roomId, fox.chat.fingerprint ?? '');
    await until(async () => (await storedRoom(eli, roomId)).keys['1'], 'eli rotated');
    await until(async () => (await summary(eli, roomId))?.hasKey, 'eli holds the new key');
    await eli.chat.sendMessage(roomId, 'epoch one');
    await until(async () => (await eli.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'stored');
    await eli.chat.setRoomSettings(roomId, { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null });

    await invite(eli, roomId, gil);
    // The server's confirmation to Eli can arrive before Gil's directory has told Gil of the invite.
    await until(async () => (await summary(gil, roomId))?.hasKey, 'gil has the room and its key', 20_000);
    await until(async () => (await gil.chat.listMessages(roomId)).filter((m) => m.kind === 'text').length === 2, 'gil reads both epochs', 20_000);
    expect((await gil.chat.listMessages(roomId)).filter((m) => m.kind === 'text').map((m) => m.text)).toEqual(['epoch zero', 'epoch one']);
    expect(Object.keys((await storedRoom(gil, roomId)).keys).sort()).toEqual(['0', '1']);
    for (const c of [eli, fox, gil]) c.chat.closeAll();
  });
});
