/**
 * Invitations are requests (issue 10, item 2): an invitation from someone who is not a contact (shares no room
 * with us, never accepted) shows as a request, and nothing connects to that room until it is accepted. Declined
 * ones are dropped, a blocked sender's are dropped for good; a contact's invitation joins by itself, as before.
 */
import { inject } from 'vitest';
import { createClient, onboardedClient, until, type TestClient } from '../helpers/node-client';

const host = inject('partyHost');

const roomSocket = (roomId: string) => `main/${roomId}`;

async function codeOf(client: TestClient): Promise<string> {
  return (await client.chat.getState()).me?.contactCode ?? '';
}

async function fingerprintOf(client: TestClient): Promise<string> {
  return (await client.chat.getState()).me?.fingerprint ?? '';
}

/** A room of `admin`'s, connected. */
async function newRoom(admin: TestClient, name: string): Promise<string> {
  const id = (await admin.chat.createRoom(name, 'ephemeral')).id;
  await until(async () => (await admin.chat.getRoom(id)).connected, `${name} connected`);
  return id;
}

/** The invitation request for `roomId` once it shows. */
async function requestFor(client: TestClient, roomId: string) {
  return until(async () => (await client.chat.getState()).invitations.find((i) => i.room === roomId), 'the invitation request');
}

/** Waits until the client told its directory it has the notice for `roomId` (whatever it did with it). */
async function handled(client: TestClient, roomId: string): Promise<void> {
  await until(() => client.frames.some((f) => f.includes('"invite-ack"') && f.includes(roomId)), 'the notice to be taken');
  await client.chat.settled();
}

describe('an invitation from someone who is not a contact', () => {
  let mallory: TestClient;

  beforeAll(async () => {
    mallory = await onboardedClient(host, 'Mallory');
  });

  afterAll(() => mallory.chat.closeAll());

  it('shows as a request, connects nowhere (also after a restart) until accepted, and accepting joins', async () => {
    const bob = await onboardedClient(host, 'Bob');
    const roomId = await newRoom(mallory, 'Totally legit');
    await mallory.chat.inviteContact(roomId, await codeOf(bob));

    const request = await requestFor(bob, roomId);
    expect(request).toMatchObject({ by: await fingerprintOf(mallory), name: 'Mallory', roomName: 'Totally legit', contactCode: await codeOf(mallory) });
    await handled(bob, roomId);
    expect((await bob.chat.getState()).rooms.map((r) => r.id)).not.toContain(roomId);
    expect(bob.opened).not.toContain(roomSocket(roomId));

    bob.chat.closeAll();
    const again = createClient(host, { local: bob.local, session: bob.session });
    await again.chat.start();
    expect((await again.chat.getState()).invitations.map((i) => i.room)).toEqual([roomId]);
    await until(() => again.opened.some((t) => t.startsWith('directory/')), 'the directory connection');
    expect(again.opened).not.toContain(roomSocket(roomId));

    const state = await again.chat.decideInvitation(roomId, 'accept');
    expect(state.invitations).toEqual([]);
    const room = await until(async () => (await again.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey && r.connected), 'bob joined');
    expect(room.name).toBe('Totally legit');
    expect((await again.chat.getRoom(roomId)).members.map((m) => m.name).sort()).toEqual(['Bob', 'Mallory']);

    // Mallory is a contact now: her next invitation joins by itself.
    const next = await newRoom(mallory, 'Second');
    await mallory.chat.inviteContact(next, await codeOf(again));
    await until(async () => (await again.chat.getState()).rooms.find((r) => r.id === next && r.hasKey), 'bob joined the second room');
    expect((await again.chat.getState()).invitations).toEqual([]);
    again.chat.closeAll();
  });

  it('is dropped when declined: no room, no connection, not back after a restart', async () => {
    const cat = await onboardedClient(host, 'Cat');
    const roomId = await newRoom(mallory, 'Declined');
    await mallory.chat.inviteContact(roomId, await codeOf(cat));
    await requestFor(cat, roomId);
    expect((await cat.chat.decideInvitation(roomId, 'decline')).invitations).toEqual([]);
    expect((await cat.chat.getState()).rooms.map((r) => r.id)).not.toContain(roomId);
    expect(cat.opened).not.toContain(roomSocket(roomId));

    cat.chat.closeAll();
    const again = createClient(host, { local: cat.local, session: cat.session });
    await again.chat.start();
    await until(() => again.frames.some((f) => f.includes('"auth"')), 'the directory sign-in');
    await new Promise((r) => setTimeout(r, 300));
    expect((await again.chat.getState()).invitations).toEqual([]);
    expect(again.opened).not.toContain(roomSocket(roomId));
    again.chat.closeAll();
  });

  it('from a blocked sender is dropped, with every later one, also after a restart', async () => {
    const dan = await onboardedClient(host, 'Dan');
    const [first, second] = [await newRoom(mallory, 'Spam 1'), await newRoom(mallory, 'Spam 2')];
    await mallory.chat.inviteContact(first, await codeOf(dan));
    await mallory.chat.inviteContact(second, await codeOf(dan));
    await requestFor(dan, second);
    expect((await dan.chat.decideInvitation(first, 'block')).invitations).toEqual([]);

    const third = await newRoom(mallory, 'Spam 3');
    await mallory.chat.inviteContact(third, await codeOf(dan));
    await handled(dan, third);
    expect((await dan.chat.getState()).invitations).toEqual([]);

    dan.chat.closeAll();
    const again = createClient(host, { local: dan.local, session: dan.session });
    await again.chat.start();
    const fourth = await newRoom(mallory, 'Spam 4');
    await mallory.chat.inviteContact(fourth, await codeOf(again));
    await handled(again, fourth);
    expect((await again.chat.getState()).invitations).toEqual([]);
    expect((await again.chat.getState()).rooms).toEqual([]);
    for (const room of [first, second, third, fourth]) expect([...dan.opened, ...again.opened]).not.toContain(roomSocket(room));
    again.chat.closeAll();
  });
});

describe('an invitation from a contact', () => {
  it('joins by itself when the inviter shares a room with us', async () => {
    const [ada, cy] = await Promise.all([onboardedClient(host, 'Ada'), onboardedClient(host, 'Cy')]);
    // Cy joins Ada's room through a link: Ada never invited or accepted Cy, they only share the room.
    const shared = await newRoom(ada, 'Shared');
    const link = await ada.chat.createLink(shared, { approval: false, escrow: true, expiresInMs: null, maxUses: null, label: '' });
    await cy.chat.joinByLink(link.url ?? '');
    await until(async () => (await ada.chat.getRoom(shared)).members.some((m) => m.name === 'Cy' && m.verified), 'cy in ada’s room');

    const cysRoom = await newRoom(cy, 'From Cy');
    await cy.chat.inviteContact(cysRoom, await codeOf(ada));
    await until(async () => (await ada.chat.getState()).rooms.find((r) => r.id === cysRoom && r.hasKey && r.connected), 'ada joined by herself');
    expect((await ada.chat.getState()).invitations).toEqual([]);
    ada.chat.closeAll();
    cy.chat.closeAll();
  });
});
