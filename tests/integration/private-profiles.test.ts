/**
 * Private profiles (issue 10, part 4): display names never reach the server in the clear. Keys carry no name;
 * members' names travel sealed under the room key (profiles), an inviter's inside the note encrypted to the
 * invitee, a link joiner's sealed under the link's secret. The frame recorder checks everything three clients sent
 * (frames and HTTP bodies, keys de-armored); the lying server and a hostile member try to rename people.
 */
import { inject } from 'vitest';
import { displayNameOf, readPublicKey, sealWithGek, unnamed, type PrivateKey } from '@/shared/crypto';
import { utf8 } from '@/shared/encoding';
import type { ProfilePayload } from '@/shared/payloads';
import type { CreateLinkOptions } from '@/utils/protocol-map';
import { startLyingServer, type LyingServer } from '../helpers/adversary/lying-server';
import { createClient, identityKeyOf, invite, onboardedClient, roomKeyOf, until, type TestClient } from '../helpers/node-client';
import { leaksIn } from '../helpers/wire-scan';

const host = inject('partyHost');

const linkOptions = (o: Partial<CreateLinkOptions>): CreateLinkOptions => ({ approval: false, escrow: false, expiresInMs: null, maxUses: null, label: '', ...o });

const fp = (client: TestClient): string => client.chat.fingerprint ?? '';

/** The name `viewer` shows for `member` in the room's member list. */
async function nameSeen(viewer: TestClient, roomId: string, member: TestClient): Promise<string | undefined> {
  return (await viewer.chat.getRoom(roomId)).members.find((m) => m.fingerprint === fp(member))?.name;
}

function untilNamed(viewer: TestClient, roomId: string, member: TestClient, name: string, what: string): Promise<true> {
  return until(async () => (await nameSeen(viewer, roomId, member)) === name || null, what);
}

describe('private profiles: names reach members, never the server', () => {
  const names = { alice: 'Zelda Quuxley', bob: 'Yorick Plumtree', carol: 'Wilhelmina Frostvale' };
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let roomId: string;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([onboardedClient(host, names.alice), onboardedClient(host, names.bob), onboardedClient(host, names.carol)]);
    roomId = (await alice.chat.createRoom('Profiles', 'backup')).id;
    await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
  });

  afterAll(() => {
    for (const c of [alice, bob, carol]) c?.chat.closeAll();
  });

  it('new identities publish keys with no name in them', async () => {
    for (const client of [alice, bob, carol]) {
      const armored = (await client.local.get('identity'))?.publicKey ?? '';
      expect(displayNameOf(await readPublicKey(armored))).toBe('');
    }
  });

  it('an invitee sees the inviter by the name sealed to them, and each member sees the other by their profile', async () => {
    await alice.chat.inviteContact(roomId, (await bob.chat.getState()).me?.contactCode ?? '');
    const invitation = await until(async () => (await bob.chat.getState()).invitations.find((i) => i.room === roomId), 'the invitation');
    expect(invitation.name).toBe(names.alice);
    expect(invitation.roomName).toBe('Profiles');
    await bob.chat.decideInvitation(roomId, 'accept');
    await untilNamed(bob, roomId, alice, names.alice, 'bob sees alice by name');
    await untilNamed(alice, roomId, bob, names.bob, 'alice sees bob by name');
    const hi = await bob.chat.sendMessage(roomId, 'hello from bob');
    await until(async () => (await alice.chat.listMessages(roomId)).find((m) => m.id === hi.id)?.fromName === names.bob, 'alice shows bob as the sender');
  });

  it('a link joiner is named to the admin who made the link, then to everyone by profile', async () => {
    const link = await alice.chat.createLink(roomId, linkOptions({ approval: true }));
    await carol.chat.joinByLink(link.url ?? '');
    const request = await until(async () => (await alice.chat.getRoom(roomId)).joinRequests.find((r) => r.fingerprint === fp(carol)), 'the join request');
    expect(request.name).toBe(names.carol);
    await alice.chat.approveRequest(roomId, fp(carol));
    await untilNamed(carol, roomId, alice, names.alice, 'carol sees alice by name');
    await untilNamed(carol, roomId, bob, names.bob, 'carol sees bob by name');
    await untilNamed(bob, roomId, carol, names.carol, 'bob sees carol by name');
    // The room's line about the approval names Carol too, though her profile came after it.
    const events = await bob.chat.listMessages(roomId);
    expect(events.some((m) => m.kind === 'event' && m.event?.type === 'member' && m.event.memberName === names.carol)).toBe(true);
  });

  it('no display name crosses the wire in the clear (frame recorder: frames, HTTP bodies, de-armored keys)', async () => {
    const frames = [...alice.frames, ...bob.frames, ...carol.frames];
    expect(frames.some((f) => f.includes('"type":"profile"'))).toBe(true);
    expect(frames.some((f) => f.includes('"type":"join"'))).toBe(true);
    expect(frames.some((f) => f.includes('"type":"invite"'))).toBe(true);
    expect(await leaksIn(frames, Object.values(names))).toEqual([]);
    // The scan does find a name where one is in clear (what the check above would have caught).
    expect(await leaksIn([JSON.stringify({ type: 'probe', key: 'x', note: names.bob })], Object.values(names))).toHaveLength(1);
  });
});

describe('private profiles against a lying server and a hostile member', () => {
  let proxy: LyingServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let roomId: string;
  let gek: Uint8Array;
  let aliceKey: PrivateKey;

  const profile = (from: TestClient, fields: Partial<ProfilePayload>): ProfilePayload => ({ v: 1, t: 'profile', room: roomId, epoch: 0, from: fp(from), ts: Date.now(), name: 'x', ...fields });
  const sealed = async (payload: ProfilePayload, signer: PrivateKey): Promise<string> => sealWithGek(gek, utf8(JSON.stringify(payload)), signer);

  beforeAll(async () => {
    proxy = await startLyingServer(host);
    alice = createClient(proxy.host);
    bob = createClient(proxy.host);
    carol = createClient(proxy.host);
    await Promise.all([alice.chat.onboard('Alice', 'alice passphrase'), bob.chat.onboard('Bob', 'bob passphrase'), carol.chat.onboard('Carol', 'carol passphrase')]);
    roomId = (await alice.chat.createRoom('Renames', 'ephemeral')).id;
    await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
    await invite(alice, roomId, bob);
    await invite(alice, roomId, carol);
    await untilNamed(carol, roomId, alice, 'Alice', 'carol sees alice');
    await untilNamed(carol, roomId, bob, 'Bob', 'carol sees bob');
    gek = await roomKeyOf(alice, roomId);
    aliceKey = await identityKeyOf(alice);
  });

  afterAll(async () => {
    for (const c of [alice, bob, carol]) c?.chat.closeAll();
    await proxy?.stop();
  });

  it('a profile served in someone else’s slot is refused: the server cannot give Alice Bob’s name', async () => {
    const bobs = proxy.seen.find((f) => f.direction === 'to-server' && f.frame?.type === 'profile' && f.conn.fp === fp(bob));
    if (bobs?.frame?.type !== 'profile') throw new Error('bob’s profile frame was not seen');
    const before = carol.rejected.length;
    (await proxy.member(roomId, fp(carol))).toClient({ type: 'profiles', profiles: [{ fp: fp(alice), epoch: 0, ct: bobs.frame.ct }] });
    await until(() => carol.rejected.slice(before).some((r) => r.includes(`profile of ${fp(alice)}`)), 'carol refuses it');
    expect(await nameSeen(carol, roomId, alice)).toBe('Alice');
  });

  it('a member cannot name someone else: a profile Bob signs saying it is Alice’s is refused', async () => {
    const before = carol.rejected.length;
    const forged = await sealed(profile(alice, { name: 'Mallory-as-Alice' }), await identityKeyOf(bob));
    (await proxy.member(roomId, fp(bob))).toServer({ type: 'profile', epoch: 0, ct: forged });
    await until(() => carol.rejected.slice(before).some((r) => r.includes(`profile of ${fp(bob)}`)), 'carol refuses it');
    expect(await nameSeen(carol, roomId, alice)).toBe('Alice');
    expect(await nameSeen(carol, roomId, bob)).toBe('Bob');
  });

  it('an older profile served again does not rename anyone back; one for another room is refused', async () => {
    const toCarol = await proxy.member(roomId, fp(carol));
    const now = Date.now();
    toCarol.toClient({ type: 'profiles', profiles: [{ fp: fp(alice), epoch: 0, ct: await sealed(profile(alice, { name: 'Alice Newer', ts: now + 60_000 }), aliceKey) }] });
    await untilNamed(carol, roomId, alice, 'Alice Newer', 'carol takes the newer profile');
    toCarol.toClient({ type: 'profiles', profiles: [{ fp: fp(alice), epoch: 0, ct: await sealed(profile(alice, { name: 'Alice Older', ts: now - 60_000 }), aliceKey) }] });
    const before = carol.rejected.length;
    const elsewhere = profile(alice, { name: 'Alice Elsewhere', ts: now + 120_000, room: 'f'.repeat(32) });
    toCarol.toClient({ type: 'profiles', profiles: [{ fp: fp(alice), epoch: 0, ct: await sealed(elsewhere, aliceKey) }] });
    await until(() => carol.rejected.slice(before).some((r) => r.includes('names another room')), 'carol refuses the other room’s profile');
    expect(await nameSeen(carol, roomId, alice)).toBe('Alice Newer');
  });

  it('someone whose profile no one can read yet is shown by their contact code, never as a blank', async () => {
    const dave = createClient(proxy.host);
    await dave.chat.onboard('Dave', 'dave passphrase');
    // Dave's profile never reaches the server: members see him by the start of his contact code.
    const drop = proxy.drop('to-server', (frame, seen) => frame?.type === 'profile' && seen.conn.fp === fp(dave));
    await invite(alice, roomId, dave);
    await untilNamed(carol, roomId, dave, unnamed(fp(dave)), 'carol lists dave by code');
    drop();
    dave.chat.closeAll();
  });
});
