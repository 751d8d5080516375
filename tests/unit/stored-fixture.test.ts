/**
 * The store a real release wrote (tests/fixtures/store-v1.json) still opens: after the migrations, unlocked with its
 * passphrase, every room, message, reaction, edit, contact, invitation and setting is there. Keep this passing.
 */
import { describe, expect, it } from 'vitest';
import { STORE_VERSION } from '@/services/migrations';
import { serviceOver, storeOf, STORE_V1 } from './support/stored';

describe('the store written by layout 1 (tests/fixtures/store-v1.json)', () => {
  it('opens after the migrations, with everything in it readable', async () => {
    const local = await storeOf(STORE_V1.local);
    const rejected: string[] = [];
    const chat = serviceOver(local, { rejected });
    const locked = await chat.getState();
    expect(locked.phase).toBe('locked');
    expect(locked.notificationPreviews).toBe(true);

    const state = await chat.unlock(STORE_V1.passphrase);
    expect(await local.get('schema')).toBe(STORE_VERSION);
    expect(state.me?.name).toBe('Fixture Owner');
    expect(state.invitations.map((i) => i.roomName)).toEqual(['Carol’s room']);
    const { backup, ephemeral } = STORE_V1.rooms;
    expect(state.rooms.map((r) => [r.id, r.name, r.mode, r.hasKey, r.muted]).sort()).toEqual(
      [
        [backup, 'Backup room', 'backup', true, false],
        [ephemeral, 'Ephemeral room', 'ephemeral', true, true],
      ].sort(),
    );

    for (const [roomId, first] of [
      [backup, 'first in backup'],
      [ephemeral, 'first in ephemeral'],
    ] as const) {
      const texts = (await chat.listMessages(roomId)).filter((m) => m.kind === 'text');
      expect(texts.map((m) => [m.fromName, m.text])).toEqual([
        ['Fixture Owner', first],
        ['Fixture Owner', 'no typo here'],
        ['Bob', 'an answer from Bob'],
      ]);
      expect(texts[0]?.reactions).toEqual([{ emoji: '🎉', count: 1, mine: false }]);
      expect(texts[1]?.edited).toBe(true);
      expect(texts[2]?.reply).toMatchObject({ id: texts[0]?.id, text: first });
      expect(texts[2]?.reactions).toEqual([{ emoji: '👍', count: 1, mine: true }]);
      const detail = await chat.getRoom(roomId);
      expect(detail.members.map((m) => m.name).sort()).toEqual(['Bob', 'Fixture Owner']);
      expect(detail.members.every((m) => m.verified)).toBe(true);
      expect(detail.members.find((m) => m.name === 'Bob')?.contactVerified).toBe(true);
    }
    expect(rejected).toEqual([]);
    chat.closeAll();
  });
});
