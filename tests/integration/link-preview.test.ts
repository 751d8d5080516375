/**
 * Issue 10, item 1: joining by link only after saying yes. A captured or pasted link is previewed first (room name
 * and creator sealed under a key derived from the link secret, approval flag, member count) without telling the room
 * who is looking; nothing about the person reaches the room until they confirm. A server that swaps the sealed
 * preview is caught. Links made before previews still preview (name unknown) and join.
 */
import { inject } from 'vitest';
import { PARTY_ROOM } from '@/shared/constants';
import { sha256Hex } from '@/shared/encoding';
import { deriveLinkKeys, formatLink, newLinkId, newLinkSecret, parseLink, sealLinkPreview } from '@/shared/links';
import { createRecord, verifyChain } from '@/shared/membership';
import type { CreateLinkOptions } from '@/utils/protocol-map';
import { startLyingServer, type LyingServer } from '../helpers/adversary/lying-server';
import { identityKeyOf, onboardedClient, until, type TestClient } from '../helpers/node-client';
import { rawSocket, signIn } from '../helpers/raw-socket';

const host = inject('partyHost');

const options = (o: Partial<CreateLinkOptions>): CreateLinkOptions => ({ approval: false, escrow: false, expiresInMs: null, maxUses: null, label: '', ...o });

/** Join frames a client sent: what tells a room who asks in (its fingerprint, key and name). */
function identityFrames(client: TestClient): string[] {
  return client.frames.filter((f) => f.includes('"type":"join"'));
}

/** Gives a background that would join on its own the time to do it. */
const settle = () => new Promise((r) => setTimeout(r, 1500));

describe('invite links are previewed and joined only once confirmed', () => {
  const everyone: TestClient[] = [];
  let admin: TestClient;
  let roomId: string;

  const client = async (name: string, server = host): Promise<TestClient> => {
    const c = await onboardedClient(server, name);
    everyone.push(c);
    return c;
  };

  beforeAll(async () => {
    admin = await client('Admin');
    roomId = (await admin.chat.createRoom('Preview room', 'ephemeral')).id;
    await until(async () => (await admin.chat.getRoom(roomId)).connected, 'admin connected');
  });

  afterAll(() => everyone.forEach((c) => c.chat.closeAll()));

  it('a captured link does not join: the preview tells the name and approval without naming the viewer; confirming joins', async () => {
    const link = await admin.chat.createLink(roomId, options({ approval: true }));
    const bob = await client('Bob');
    await bob.chat.captureLink(link.url ?? '');
    await settle();
    expect((await bob.chat.getState()).capturedLink).toBe(link.url);
    expect((await bob.chat.getState()).rooms).toEqual([]);
    expect(identityFrames(bob)).toEqual([]);
    expect((await admin.chat.getRoom(roomId)).joinRequests).toEqual([]);

    const sentBefore = bob.frames.length;
    const preview = await bob.chat.previewLink(link.url ?? '');
    expect(preview).toMatchObject({ roomId, roomName: 'Preview room', createdBy: 'Admin', approval: true, members: 1, sealed: true, member: false });
    // The preview asked the server with a proof of the link secret only: no fingerprint, no key, no name.
    const previewFrames = bob.frames.slice(sentBefore);
    expect(previewFrames.some((f) => f.includes('"type":"preview"'))).toBe(true);
    const me = bob.chat.fingerprint ?? '';
    expect(previewFrames.filter((f) => f.includes(me) || f.includes('Bob') || f.includes('PGP'))).toEqual([]);
    expect(identityFrames(bob)).toEqual([]);
    expect((await admin.chat.getRoom(roomId)).joinRequests).toEqual([]);

    await bob.chat.joinByLink(link.url ?? '');
    await until(async () => (await admin.chat.getRoom(roomId)).joinRequests.some((r) => r.name === 'Bob'), 'the admin sees the request');
    expect((await bob.chat.getState()).capturedLink).toBeNull();
  });

  it('a link without approval previews as such, and confirming joins the room', async () => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true }));
    const carol = await client('Carol');
    await carol.chat.captureLink(link.url ?? '');
    const preview = await carol.chat.previewLink(link.url ?? '');
    expect(preview).toMatchObject({ roomName: 'Preview room', createdBy: 'Admin', approval: false, sealed: true });
    await settle();
    expect((await admin.chat.getRoom(roomId)).members.map((m) => m.name)).not.toContain('Carol');
    await carol.chat.joinByLink(link.url ?? '');
    await until(async () => (await carol.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'carol joined');
    await until(async () => (await admin.chat.getRoom(roomId)).members.some((m) => m.name === 'Carol' && m.verified), 'the admin sees carol');
  });

  it('dismissing forgets the captured link, and nothing reaches the room', async () => {
    const link = await admin.chat.createLink(roomId, options({}));
    const dave = await client('Dave');
    await dave.chat.captureLink(link.url ?? '');
    await dave.chat.dismissLink(link.url ?? '');
    expect((await dave.chat.getState()).capturedLink).toBeNull();
    await settle();
    expect(identityFrames(dave)).toEqual([]);
    expect((await dave.chat.getState()).rooms).toEqual([]);
    expect((await admin.chat.getRoom(roomId)).members.map((m) => m.name)).not.toContain('Dave');
  });

  it('a link captured while locked still waits for confirmation after unlocking', async () => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true }));
    const erin = await client('Erin');
    await erin.chat.lock();
    await erin.chat.captureLink(link.url ?? '');
    await erin.chat.unlock('Erin passphrase');
    await settle();
    const state = await erin.chat.getState();
    expect(state).toMatchObject({ phase: 'ready', capturedLink: link.url, rooms: [] });
    expect(identityFrames(erin)).toEqual([]);
    expect((await admin.chat.getRoom(roomId)).members.map((m) => m.name)).not.toContain('Erin');
    expect(await erin.chat.previewLink(link.url ?? '')).toMatchObject({ roomName: 'Preview room', approval: false });
    await erin.chat.joinByLink(link.url ?? '');
    await until(async () => (await erin.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey), 'erin joined');
  });

  it('the server refuses a preview without the proof of the secret, the same way for every link id', async () => {
    const link = await admin.chat.createLink(roomId, options({}));
    const parsed = parseLink(link.url ?? '');
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await socket.next('challenge');
    socket.send({ type: 'preview', link: parsed?.link, proof: 'A'.repeat(86) + '==' });
    expect(await socket.next('error')).toMatchObject({ code: 'link-invalid' });
    socket.close();
  });

  it('a link made before previews (no sealed name) previews with the name unknown, and joins', async () => {
    const key = await identityKeyOf(admin);
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, admin.chat.fingerprint ?? '', key);
    const welcome = await socket.next('welcome');
    const chain = welcome.chain as Parameters<typeof verifyChain>[1];
    const roster = await verifyChain(roomId, chain);
    const secret = newLinkSecret();
    const id = newLinkId();
    const record = await createRecord<'link'>(
      roster,
      { kind: 'link', link: id, pub: (await deriveLinkKeys(secret)).publicKey, approval: false, escrow: false, expires: null, uses: null, label: null },
      key,
    );
    socket.send({ type: 'append', record });
    await socket.next('chain');
    socket.close();
    const url = formatLink(host, false, roomId, id, secret, await sha256Hex(chain[0]?.body ?? ''));

    const frank = await client('Frank');
    expect(await frank.chat.previewLink(url)).toMatchObject({ roomId, roomName: null, createdBy: null, approval: false, sealed: false, members: expect.any(Number) });
    await frank.chat.joinByLink(url);
    await until(async () => (await admin.chat.getRoom(roomId)).members.some((m) => m.name === 'Frank' && m.verified), 'frank joined');
  });
});

describe('a lying server and the link preview', () => {
  let proxy: LyingServer;
  const everyone: TestClient[] = [];

  beforeAll(async () => {
    proxy = await startLyingServer(host);
  });

  afterAll(async () => {
    everyone.forEach((c) => c.chat.closeAll());
    await proxy?.stop();
  });

  it('a swapped sealed name, or a changed approval flag, is caught and nothing is joined', async () => {
    const alice = await onboardedClient(proxy.host, 'Alice');
    const viewer = await onboardedClient(proxy.host, 'Viewer');
    everyone.push(alice, viewer);
    const roomId = (await alice.chat.createRoom('Real name', 'ephemeral')).id;
    await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
    const link = await alice.chat.createLink(roomId, options({ approval: true }));
    const url = link.url ?? '';
    const parsed = parseLink(url);
    if (!parsed) throw new Error('not a link');

    // The server cannot seal under the link's secret: a preview sealed under another secret (another link's, say) fails.
    const forged = await sealLinkPreview(newLinkSecret(), roomId, parsed.link, { room: 'Free crypto giveaway', by: 'Alice', approval: false });
    const stopSwap = proxy.replace('to-client', 'link-preview', (frame) => ({ ...frame, preview: forged, approval: false }));
    await expect(viewer.chat.previewLink(url)).rejects.toMatchObject({ code: 'preview-forged' });
    stopSwap();

    // The real sealed preview with the server's word on approval changed is caught too.
    const stopFlag = proxy.replace('to-client', 'link-preview', (frame) => ({ ...frame, approval: false }));
    await expect(viewer.chat.previewLink(url)).rejects.toMatchObject({ code: 'preview-forged' });
    stopFlag();

    expect(await viewer.chat.previewLink(url)).toMatchObject({ roomName: 'Real name', approval: true, sealed: true });
    expect(identityFrames(viewer)).toEqual([]);
  });
});
