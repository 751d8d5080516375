/**
 * Roles (issue 10, item 5) against a real `partykit dev`: promotions and demotions are admin-signed chain
 * records that the server and every client replay; the creator keeps their admin rights; the last admin
 * leaves only by naming a successor. A hostile member signs records by hand; a lying server injects them.
 */
import { inject } from 'vitest';
import type { RoomServerFrame } from '@/shared/protocol';
import { hostileRoom, rejects, type HostileRoom } from '../helpers/adversary/hostile-room';
import { turnMalicious } from '../helpers/adversary/malicious-member';
import { invite, onboardedClient, roomOfTwo, storedRoom, until, type TestClient } from '../helpers/node-client';

const upstream = inject('partyHost');

async function roleOf(client: TestClient, roomId: string, fp: string): Promise<string | undefined> {
  return (await client.chat.getRoom(roomId)).members.find((m) => m.fingerprint === fp)?.role;
}

describe('roles: promote, demote, and the last admin', () => {
  let s: HostileRoom;

  beforeAll(async () => {
    s = await hostileRoom(upstream, 'Roles');
  });

  afterAll(() => s?.stop());

  it('the server refuses a promotion signed by a member who is not an admin', async () => {
    const chainBefore = (await storedRoom(s.alice, s.roomId)).chain.length;
    s.mallory.append(await s.mallory.signRecord<'role'>({ kind: 'role', member: s.mallory.fp, role: 'admin' }));
    expect(await s.mallory.socket?.next('error')).toMatchObject({ code: 'forbidden' });
    expect(await s.mallory.connect()).toMatchObject({ chain: expect.any(Array) });
    expect(((await s.mallory.roster()).members.get(s.mallory.fp))?.role).toBe('member');
    expect((await storedRoom(s.alice, s.roomId)).chain.length).toBe(chainBefore);
  });

  it('clients refuse a promotion by a non-admin that the server relays', async () => {
    const forged = await s.mallory.signRecord<'role'>({ kind: 'role', member: s.mallory.fp, role: 'admin' });
    const from = { alice: s.alice.rejected.length, bob: s.bob.rejected.length };
    for (const victim of [s.fp.alice, s.fp.bob]) (await s.proxy.member(s.roomId, victim)).toClient({ type: 'chain', records: [forged] } satisfies RoomServerFrame);
    for (const [victim, start] of [[s.alice, from.alice], [s.bob, from.bob]] as const) {
      await rejects(victim, 'record is not signed by an admin of the room', start);
      expect(await roleOf(victim, s.roomId, s.mallory.fp)).toBe('member');
      expect((await storedRoom(victim, s.roomId)).chain.some((r) => r.body === forged.body)).toBe(false);
    }
  });

  it('an admin promotes a member, who then acts as an admin but cannot demote the creator', async () => {
    await s.alice.chat.setMemberRole(s.roomId, s.mallory.fp, 'admin');
    await until(async () => (await roleOf(s.bob, s.roomId, s.mallory.fp)) === 'admin', 'bob sees Mallory promoted');
    await until(
      async () => (await s.bob.chat.listMessages(s.roomId)).some((m) => m.event?.type === 'member' && m.event.change === 'promoted' && m.event.member === s.mallory.fp && m.event.by === s.fp.alice),
      'bob shows "Alice made Mallory an admin"',
    );

    // The server refuses her demotion of the creator...
    await s.mallory.connect();
    const demote = await s.mallory.signRecord<'role'>({ kind: 'role', member: s.fp.alice, role: 'member' });
    s.mallory.append(demote);
    expect(await s.mallory.socket?.next('error')).toMatchObject({ code: 'forbidden', message: expect.stringContaining('creator') });
    // ...and so do clients, when a lying server relays it anyway.
    const from = s.bob.rejected.length;
    (await s.proxy.member(s.roomId, s.fp.bob)).toClient({ type: 'chain', records: [demote] } satisfies RoomServerFrame);
    await rejects(s.bob, 'creator cannot be demoted', from);
    expect(await roleOf(s.bob, s.roomId, s.fp.alice)).toBe('admin');

    // As an admin she may promote Bob (the server takes it and everyone sees it).
    s.mallory.append(await s.mallory.signRecord<'role'>({ kind: 'role', member: s.fp.bob, role: 'admin' }));
    await until(async () => (await roleOf(s.alice, s.roomId, s.fp.bob)) === 'admin', 'alice sees Bob promoted by Mallory');
    // Bob's client refuses to demote the creator before asking the server.
    await expect(s.bob.chat.setMemberRole(s.roomId, s.fp.alice, 'member')).rejects.toMatchObject({ code: 'role-refused' });
    // Alice demotes Mallory; the server and clients take it.
    await s.alice.chat.setMemberRole(s.roomId, s.mallory.fp, 'member');
    await until(async () => (await roleOf(s.bob, s.roomId, s.mallory.fp)) === 'member', 'bob sees Mallory demoted');
  });
});

describe('a member made an admin', () => {
  it('sees the join requests already waiting without reconnecting, and can answer them', async () => {
    const { alice, bob, roomId } = await roomOfTwo(upstream, 'Promoted', 'ephemeral');
    const carol = await onboardedClient(upstream, 'Carol');
    const link = await alice.chat.createLink(roomId, { approval: true, escrow: false, expiresInMs: null, maxUses: null, label: '' });
    await carol.chat.joinByLink(link.url ?? '');
    await until(async () => (await alice.chat.getRoom(roomId)).joinRequests.length === 1, 'alice sees the request');
    expect((await bob.chat.getRoom(roomId)).joinRequests).toEqual([]);
    const connectionsBefore = bob.opened.length;
    await alice.chat.setMemberRole(roomId, bob.chat.fingerprint ?? '', 'admin');
    await until(async () => (await bob.chat.getRoom(roomId)).joinRequests.some((r) => r.fingerprint === carol.chat.fingerprint), 'bob sees the waiting request');
    expect(bob.opened.length).toBe(connectionsBefore);
    await bob.chat.approveRequest(roomId, carol.chat.fingerprint ?? '');
    await until(async () => (await carol.chat.getState()).rooms.find((r) => r.id === roomId)?.hasKey, 'carol admitted by bob');
    for (const c of [alice, bob, carol]) c.chat.closeAll();
  });
});

describe('the last admin leaves only by naming a successor', () => {
  it('refuses a plain leave (client and server), and a leave naming a successor makes them the admin', async () => {
    const { alice, bob, roomId } = await roomOfTwo(upstream, 'Succession', 'ephemeral');
    const carol = await onboardedClient(upstream, 'Carol');
    const bobFp = bob.chat.fingerprint ?? '';
    try {
      await expect(alice.chat.leaveRoom(roomId)).rejects.toMatchObject({ code: 'successor-needed' });
      await expect(alice.chat.leaveRoom(roomId, alice.chat.fingerprint ?? '')).rejects.toMatchObject({ code: 'invalid-input' });
      expect((await alice.chat.getState()).rooms.some((r) => r.id === roomId)).toBe(true);

      // Signed by hand, a plain leave of the last admin is refused by the server.
      const m = await turnMalicious(alice, roomId, upstream);
      await m.connect();
      m.append(await m.signRecord<'leave'>({ kind: 'leave', member: m.fp }));
      expect(await m.socket?.next('error')).toMatchObject({ code: 'forbidden', message: expect.stringContaining('successor') });
      expect(await roleOf(bob, roomId, m.fp)).toBe('admin');

      // Naming Bob as successor: the server takes it, Alice is out, Bob is the admin and acts as one.
      m.append(await m.signRecord<'leave'>({ kind: 'leave', member: m.fp, successor: bobFp }));
      await until(async () => (await roleOf(bob, roomId, bobFp)) === 'admin' && !(await roleOf(bob, roomId, m.fp)), 'bob is the admin, alice gone');
      m.close();
      await invite(bob, roomId, carol);
      await until(async () => (await carol.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'carol joined through the new admin');
    } finally {
      for (const c of [alice, bob, carol]) c.chat.closeAll();
    }
  });

  it('the product leave with a successor hands the room over', async () => {
    const { alice, bob, roomId } = await roomOfTwo(upstream, 'Handover', 'ephemeral');
    const bobFp = bob.chat.fingerprint ?? '';
    try {
      await alice.chat.leaveRoom(roomId, bobFp);
      expect((await alice.chat.getState()).rooms.some((r) => r.id === roomId)).toBe(false);
      await until(async () => (await roleOf(bob, roomId, bobFp)) === 'admin', 'bob is the admin');
      await until(
        async () => (await bob.chat.listMessages(roomId)).some((m) => m.event?.type === 'member' && m.event.change === 'left-successor' && m.event.member === bobFp),
        'bob shows "Alice left and made Bob an admin"',
      );
    } finally {
      for (const c of [alice, bob]) c.chat.closeAll();
    }
  });
});
