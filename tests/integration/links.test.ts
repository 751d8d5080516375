import { inject } from 'vitest';
import { PARTY_ROOM } from '@/shared/constants';
import { generateIdentity, unlockPrivateKey } from '@/shared/crypto';
import { toHex } from '@/shared/encoding';
import { deriveLinkKeys, newLinkId, newLinkSecret, parseLink, toBase64Url } from '@/shared/links';
import { createRecord, verifyChain } from '@/shared/membership';
import type { CreateLinkOptions } from '@/utils/protocol-map';
import { createClient, identityKeyOf, roomKeyOf, until, type TestClient, invite } from '../helpers/node-client';
import { rawSocket, signIn } from '../helpers/raw-socket';

const host = inject('partyHost');

const options = (o: Partial<CreateLinkOptions>): CreateLinkOptions => ({ approval: false, escrow: false, expiresInMs: null, maxUses: null, label: '', ...o });

async function newClient(name: string): Promise<TestClient> {
  const client = createClient(host);
  await client.chat.onboard(name, `${name} passphrase`);
  return client;
}

async function room(client: TestClient, roomId: string) {
  return (await client.chat.getState()).rooms.find((r) => r.id === roomId);
}

describe('invite links', () => {
  let admin: TestClient;
  let member: TestClient;
  let roomId: string;
  const everyone: TestClient[] = [];

  beforeAll(async () => {
    admin = await newClient('Admin');
    member = await newClient('Member');
    everyone.push(admin, member);
    roomId = (await admin.chat.createRoom('Link room', 'ephemeral')).id;
    await until(async () => (await room(admin, roomId))?.connected, 'admin connected');
    await invite(admin, roomId, member);
    await until(async () => (await room(member, roomId))?.hasKey, 'member has key');
  });

  afterAll(() => everyone.forEach((c) => c.chat.closeAll()));

  it('escrow on, approval off: joins with every member offline, then chats', async () => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true, label: 'for the team' }));
    expect(link).toMatchObject({ escrow: true, approval: false, active: true, uses: 0, label: 'for the team' });
    expect(link.url).toMatch(new RegExp(`^http://${host}/join/${roomId}/[0-9a-f]{32}#[A-Za-z0-9_-]{86}$`));
    admin.chat.closeAll();
    member.chat.closeAll();

    const carol = await newClient('Carol');
    everyone.push(carol);
    await carol.chat.joinByLink(link.url ?? '');
    const joined = await until(async () => ((await room(carol, roomId))?.hasKey ? room(carol, roomId) : null), 'carol holds the key');
    expect(joined).toMatchObject({ name: 'Link room', joinState: null });
    expect(toHex(await roomKeyOf(carol, roomId))).toBe(toHex(await roomKeyOf(admin, roomId)));
    const post = await carol.chat.sendMessage(roomId, 'Carol joined while you were away');

    const back = createClient(host, { local: admin.local, session: admin.session });
    everyone.push(back);
    await back.chat.start();
    await until(async () => (await back.chat.getRoom(roomId)).members.some((m) => m.name === 'Carol' && m.verified), 'admin verifies carol');
    expect((await back.chat.listLinks(roomId)).find((l) => l.id === link.id)?.uses).toBe(1);
    const reply = await back.chat.sendMessage(roomId, 'welcome Carol');
    await until(async () => (await carol.chat.listMessages(roomId)).some((m) => m.id === reply.id), 'carol hears the admin');
    expect(post.text).toBe('Carol joined while you were away');
    admin = back;
    member = createClient(host, { local: member.local, session: member.session });
    everyone.push(member);
    await member.chat.start();
  });

  it('escrow off, approval off: waits for a member, who admits automatically', async () => {
    const link = await admin.chat.createLink(roomId, options({}));
    for (const client of everyone) client.chat.closeAll();
    const dave = await newClient('Dave');
    everyone.push(dave);
    await dave.chat.joinByLink(link.url ?? '');
    await until(async () => (await room(dave, roomId))?.joinState === 'waiting-member', 'dave waits for a member');
    expect((await room(dave, roomId))?.hasKey).toBe(false);

    const memberBack = createClient(host, { local: member.local, session: member.session });
    everyone.push(memberBack);
    await memberBack.chat.start();
    await until(async () => (await room(dave, roomId))?.hasKey, 'a member hands dave the key');
    expect((await room(dave, roomId))?.joinState).toBeNull();
    const hello = await dave.chat.sendMessage(roomId, 'hi, Dave here');
    await until(async () => (await memberBack.chat.listMessages(roomId)).some((m) => m.id === hello.id), 'member hears dave');
    member = memberBack;
    admin = createClient(host, { local: admin.local, session: admin.session });
    everyone.push(admin);
    await admin.chat.start();
    await until(async () => (await room(admin, roomId))?.connected, 'admin back');
  });

  it('approval on: the admin sees the request, approves, and they chat; a denied request fails clearly', async () => {
    const link = await admin.chat.createLink(roomId, options({ approval: true, label: 'needs a yes' }));
    expect(link).toMatchObject({ approval: true, escrow: false });
    const erin = await newClient('Erin');
    everyone.push(erin);
    await erin.chat.joinByLink(link.url ?? '');
    await until(async () => (await room(erin, roomId))?.joinState === 'pending-approval', 'erin waits for approval');
    await until(() => admin.events.some((e) => e.type === 'join-request' && e.name === 'Erin'), 'admin is notified');
    const detail = await until(async () => ((await admin.chat.getRoom(roomId)).joinRequests.length ? admin.chat.getRoom(roomId) : null), 'request listed');
    expect(detail.joinRequests[0]).toMatchObject({ name: 'Erin', linkLabel: 'needs a yes' });
    expect(detail.requests).toBe(1);

    await admin.chat.approveRequest(roomId, erin.chat.fingerprint ?? '');
    await until(async () => (await room(erin, roomId))?.hasKey, 'erin admitted');
    const hi = await erin.chat.sendMessage(roomId, 'thanks for approving');
    await until(async () => (await admin.chat.listMessages(roomId)).some((m) => m.id === hi.id), 'admin hears erin');

    const frank = await newClient('Frank');
    everyone.push(frank);
    await frank.chat.joinByLink(link.url ?? '');
    await until(async () => (await admin.chat.getRoom(roomId)).joinRequests.some((r) => r.name === 'Frank'), 'frank requested');
    await admin.chat.denyRequest(roomId, frank.chat.fingerprint ?? '');
    const denied = await until(async () => ((await room(frank, roomId))?.joinState === 'failed' ? room(frank, roomId) : null), 'frank denied');
    expect(denied.joinError?.code).toBe('join-denied');

    const grace = await newClient('Grace');
    everyone.push(grace);
    await grace.chat.joinByLink(link.url ?? '');
    await until(async () => (await admin.chat.getRoom(roomId)).joinRequests.some((r) => r.name === 'Grace'), 'grace requested');
    await admin.chat.banRequester(roomId, grace.chat.fingerprint ?? '');
    await until(async () => (await room(grace, roomId))?.joinError?.code === 'banned', 'grace banned');
    const again = createClient(host, { local: grace.local, session: grace.session });
    everyone.push(again);
    await again.chat.start();
    await again.chat.joinByLink(link.url ?? '');
    await until(async () => (await room(again, roomId))?.joinError?.code === 'banned', 'ban sticks');
  });

  it('lets a member create links only after an admin allowed it, and lifts a ban', async () => {
    await expect(member.chat.createLink(roomId, options({ escrow: true }))).rejects.toMatchObject({ code: 'not-admin' });
    const detail = await admin.chat.setLinkPermission(roomId, member.chat.fingerprint ?? '', true);
    expect(detail.members.find((m) => m.fingerprint === member.chat.fingerprint)?.canCreateLinks).toBe(true);
    await until(async () => (await member.chat.getRoom(roomId)).canCreateLinks, 'member learns of the grant');
    const link = await member.chat.createLink(roomId, options({ escrow: true, label: 'from a member' }));
    expect(link.createdBy).toBe('Member');
    const joiner = await newClient('Invited by member');
    everyone.push(joiner);
    await joiner.chat.joinByLink(link.url ?? '');
    await until(async () => (await room(joiner, roomId))?.hasKey, 'joined through a member link');
    expect((await admin.chat.listLinks(roomId)).some((l) => l.id === link.id)).toBe(true);
    await expect(member.chat.revokeLink(roomId, link.id)).rejects.toMatchObject({ code: 'not-admin' });
    await admin.chat.setLinkPermission(roomId, member.chat.fingerprint ?? '', false);
    await until(async () => !(await member.chat.getRoom(roomId)).canCreateLinks, 'grant withdrawn');
    await expect(member.chat.createLink(roomId, options({}))).rejects.toMatchObject({ code: 'not-admin' });

    const approval = await admin.chat.createLink(roomId, options({ approval: true }));
    const hal = await newClient('Hal');
    everyone.push(hal);
    await hal.chat.joinByLink(approval.url ?? '');
    await until(async () => (await admin.chat.getRoom(roomId)).joinRequests.some((r) => r.name === 'Hal'), 'hal asks');
    const banned = await admin.chat.banRequester(roomId, hal.chat.fingerprint ?? '');
    expect(banned.banned.map((b) => b.fingerprint)).toContain(hal.chat.fingerprint);
    await until(async () => (await room(hal, roomId))?.joinError?.code === 'banned', 'hal is banned');
    const lifted = await admin.chat.unban(roomId, hal.chat.fingerprint ?? '');
    expect(lifted.banned.map((b) => b.fingerprint)).not.toContain(hal.chat.fingerprint);
    await hal.chat.forgetRoom(roomId);
    expect(await room(hal, roomId)).toBeUndefined();
    await hal.chat.joinByLink(approval.url ?? '');
    await until(async () => (await admin.chat.getRoom(roomId)).joinRequests.some((r) => r.name === 'Hal'), 'hal may ask again');
    await admin.chat.approveRequest(roomId, hal.chat.fingerprint ?? '');
    await until(async () => (await room(hal, roomId))?.hasKey, 'hal admitted');
  });

  it('refuses approval with escrow, in the client and on the server', async () => {
    await expect(admin.chat.createLink(roomId, options({ approval: true, escrow: true }))).rejects.toMatchObject({ code: 'escrow-with-approval' });
    const key = await identityKeyOf(admin);
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, admin.chat.fingerprint ?? '', key);
    const welcome = await socket.next('welcome');
    const roster = await verifyChain(roomId, welcome.chain as never);
    const linkKeys = await deriveLinkKeys(newLinkSecret());
    const record = await createRecord<'link'>(roster, { kind: 'link', link: newLinkId(), pub: linkKeys.publicKey, approval: true, escrow: true, expires: null, uses: null, label: null }, key);
    socket.send({ type: 'append', record, escrow: { link: JSON.parse(record.body).link, epoch: 0, ct: 'AAAA' } });
    expect(await socket.next('error')).toMatchObject({ code: 'bad-record', message: expect.stringContaining('approval') });
    socket.close();
  });

  it.each([
    ['expired', { expiresInMs: 1 }, 'link-expired'],
    ['used up', { maxUses: 1 }, 'link-used-up'],
  ] as const)('refuses an %s link with a clear error', async (_what, extra, code) => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true, ...extra }));
    if ('maxUses' in extra) {
      const first = await newClient('First');
      everyone.push(first);
      await first.chat.joinByLink(link.url ?? '');
      await until(async () => (await room(first, roomId))?.hasKey, 'first use succeeds');
    }
    await new Promise((r) => setTimeout(r, 5));
    const late = await newClient('Late');
    everyone.push(late);
    await late.chat.joinByLink(link.url ?? '');
    const failed = await until(async () => ((await room(late, roomId))?.joinState === 'failed' ? room(late, roomId) : null), 'join refused');
    expect(failed.joinError?.code).toBe(code);
    expect((await admin.chat.listLinks(roomId)).find((l) => l.id === link.id)?.active).toBe(false);
  });

  it('refuses revoked and reset links', async () => {
    const revoked = await admin.chat.createLink(roomId, options({ escrow: true }));
    const reset1 = await admin.chat.createLink(roomId, options({ escrow: true }));
    const reset2 = await admin.chat.createLink(roomId, options({ approval: true }));
    const links = await admin.chat.revokeLink(roomId, revoked.id);
    expect(links.find((l) => l.id === revoked.id)?.active).toBe(false);
    expect(links.find((l) => l.id === reset1.id)?.active).toBe(true);
    const after = await admin.chat.resetLinks(roomId);
    expect(after.every((l) => !l.active)).toBe(true);
    for (const link of [revoked, reset1, reset2]) {
      const joiner = await newClient('Joiner');
      everyone.push(joiner);
      await joiner.chat.joinByLink(link.url ?? '');
      const failed = await until(async () => ((await room(joiner, roomId))?.joinState === 'failed' ? room(joiner, roomId) : null), 'refused');
      expect(failed.joinError).toMatchObject({ code: 'link-invalid', message: expect.stringContaining('revoked or reset') });
    }
  });

  it('gives clear errors for links that are malformed or for another server', async () => {
    await expect(admin.chat.joinByLink('https://example.org/nothing')).rejects.toMatchObject({ code: 'not-a-link' });
    const link = await admin.chat.createLink(roomId, options({ escrow: true }));
    await expect(admin.chat.joinByLink((link.url ?? '').split('#')[0] ?? '')).rejects.toMatchObject({ code: 'not-a-link' });
    await expect(admin.chat.joinByLink((link.url ?? '').replace(host, 'chat.example.org'))).rejects.toMatchObject({ code: 'other-server' });
  });

  it('never sends the link secret or the room key to the server (frame recorder)', async () => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true }));
    const joiner = await newClient('Recorded');
    everyone.push(joiner);
    await joiner.chat.joinByLink(link.url ?? '');
    await until(async () => (await room(joiner, roomId))?.hasKey, 'joined');
    const parsed = parseLink(link.url ?? '');
    const secretText = (link.url ?? '').split('#')[1] ?? '';
    const gek = await roomKeyOf(admin, roomId);
    const secrets = [secretText, toHex(gek), Buffer.from(gek).toString('base64'), Buffer.from(parsed?.secret ?? []).toString('base64'), toHex(parsed?.secret ?? new Uint8Array()), toBase64Url(parsed?.secret ?? new Uint8Array())];
    const wrapKey = (await deriveLinkKeys(parsed?.secret ?? new Uint8Array())).wrapKey;
    secrets.push(Buffer.from(wrapKey).toString('base64'), toHex(wrapKey));
    const frames = everyone.flatMap((c) => c.frames);
    expect(frames.some((f) => f.includes('"escrow"'))).toBe(true);
    expect(frames.some((f) => f.includes('"type":"join"'))).toBe(true);
    for (const frame of frames) for (const secret of secrets) expect(frame.includes(secret), `frame leaks a secret: ${frame.slice(0, 60)}`).toBe(false);
  });

  it.each([
    ['en-US,en;q=0.9', 'You are invited to a PartyChat room', 'en'],
    ['zh-TW,zh;q=0.9,en;q=0.8', '你受邀加入一個 PartyChat 聊天室', 'zh-Hant-TW'],
  ])('shows a landing page without the extension (Accept-Language %s)', async (language, title, lang) => {
    const link = await admin.chat.createLink(roomId, options({ escrow: true }));
    const res = await fetch((link.url ?? '').split('#')[0] ?? '', { headers: { 'Accept-Language': language } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain(title);
    expect(html).toContain('install the PartyChat browser extension');
    expect(html).toContain('安裝 PartyChat 瀏覽器擴充功能');
  });

  it('flags a member the server injected and never sends it the key', async () => {
    const injected = await generateIdentity('Injected', 'whatever passphrase');
    const injectedKey = await unlockPrivateKey(injected.encryptedPrivateKey, 'whatever passphrase');
    const before = member.frames.length;
    const res = await fetch(`http://${host}/parties/main/${roomId}`, {
      method: 'POST',
      body: JSON.stringify({ hook: 'inject-member', fp: injected.fingerprint, key: injected.publicKey }),
    });
    expect(res.status).toBe(200);
    await until(async () => (await member.chat.getRoom(roomId)).members.some((m) => m.fingerprint === injected.fingerprint), 'member sees the injected entry');
    const view = (await member.chat.getRoom(roomId)).members.find((m) => m.fingerprint === injected.fingerprint);
    expect(view?.verified).toBe(false);
    expect(member.rejected.some((r) => r.includes('unverified member'))).toBe(true);

    // The injected identity connects (the compromised server admits it) and waits: no member sends it a key.
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, injected.fingerprint, injectedKey);
    await socket.next('welcome');
    await new Promise((r) => setTimeout(r, 1500));
    expect(socket.frames.some((f) => f.type === 'keys')).toBe(false);
    const keyFrames = [...member.frames.slice(before), ...admin.frames].filter((f) => f.includes('"type":"keys"') && f.includes(injected.fingerprint));
    expect(keyFrames).toEqual([]);
    socket.close();
  });
});
