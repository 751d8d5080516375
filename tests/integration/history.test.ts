import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { PARTY_ROOM } from '@/shared/constants';
import { fromBase64, toBase64 } from '@/shared/encoding';
import { createClient, identityKeyOf, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';
import { freePort, startParty } from '../helpers/party-server';
import { rawSocket, signIn } from '../helpers/raw-socket';
import { turnMalicious } from '../helpers/adversary/malicious-member';

const host = inject('partyHost');

const onboarded = (name: string, server = host): Promise<TestClient> => onboardedClient(server, name);

async function texts(client: TestClient, roomId: string): Promise<string[]> {
  return (await client.chat.listMessages(roomId, 500)).filter((m) => m.kind === 'text').map((m) => m.text);
}

async function connected(client: TestClient, roomId: string) {
  return until(async () => (await client.chat.getState()).rooms.find((r) => r.id === roomId && r.connected && r.hasKey), 'connected with key');
}

/** A client restarted on the same storage (the worker or browser came back). */
async function restart(client: TestClient): Promise<TestClient> {
  client.chat.closeAll();
  const again = createClient(host, { local: client.local, session: client.session });
  await again.chat.start();
  return again;
}

async function roomWith(mode: 'ephemeral' | 'backup', ...names: string[]) {
  const [first, ...rest] = await Promise.all(names.map((n) => onboarded(n)));
  const admin = first as TestClient;
  const roomId = (await admin.chat.createRoom(`${mode} room`, mode)).id;
  await connected(admin, roomId);
  for (const other of rest) {
    await invite(admin, roomId, other);
    await connected(other, roomId);
  }
  return { roomId, clients: [admin, ...rest] };
}

describe('ephemeral rooms: history lives on devices and syncs between them', () => {
  it('catches up from online members with the original signed envelopes, asking again when one comes back', async () => {
    const { roomId, clients } = await roomWith('ephemeral', 'Ann', 'Ben');
    let [ann, ben] = clients as [TestClient, TestClient];
    await ann.chat.sendMessage(roomId, 'before');
    await until(async () => (await texts(ben, roomId)).includes('before'), 'ben has the first');
    ben.chat.closeAll();
    for (const text of ['missed 1', 'missed 2', 'missed 3']) await ann.chat.sendMessage(roomId, text);
    await until(async () => (await ann.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'all acked');

    ben = await restart(ben);
    await until(async () => (await texts(ben, roomId)).includes('missed 3'), 'ben synced from ann');
    expect(await texts(ben, roomId)).toEqual(['before', 'missed 1', 'missed 2', 'missed 3']);
    expect((await ben.chat.getRoom(roomId)).gaps).toEqual([]);

    // Now nobody online holds what Ben misses: the gap is shown, not hidden.
    ben.chat.closeAll();
    await ann.chat.sendMessage(roomId, 'lost 1');
    await ann.chat.sendMessage(roomId, 'lost 2');
    await until(async () => (await ann.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'acked');
    ann.chat.closeAll();
    ben = await restart(ben);
    await connected(ben, roomId);
    ann = await restart(ann);
    await connected(ann, roomId);
    // Ben asked while nobody was online; when Ann comes back he asks again and she answers.
    const ben2 = ben;
    await until(async () => (await texts(ben2, roomId)).includes('lost 2'), 'ben synced after ann returned');
    expect(await texts(ben2, roomId)).toEqual(['before', 'missed 1', 'missed 2', 'missed 3', 'lost 1', 'lost 2']);
    ann.chat.closeAll();
    ben.chat.closeAll();
  });

  it('shows a gap per sender when messages are missing and no member can supply them', async () => {
    const { roomId, clients } = await roomWith('ephemeral', 'Cat', 'Dan');
    const [cat, dan0] = clients as [TestClient, TestClient];
    await cat.chat.sendMessage(roomId, 'one');
    await until(async () => (await texts(dan0, roomId)).includes('one'), 'dan has one');
    dan0.chat.closeAll();
    await cat.chat.sendMessage(roomId, 'two');
    await cat.chat.sendMessage(roomId, 'three');
    await until(async () => (await cat.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'acked');
    // Cat's local history is gone (cleared storage): nobody online holds 'two' and 'three' any more.
    cat.chat.closeAll();
    await cat.chat.settled(); // the acks' page writes land before the pages are removed, not after
    for (const key of Object.keys(cat.local.dump())) if (key.startsWith('page:')) await cat.local.remove(key as `page:${string}`);
    const dan = await restart(dan0);
    await connected(dan, roomId);
    const catBack = await restart(cat);
    await connected(catBack, roomId);
    await catBack.chat.sendMessage(roomId, 'four');
    await until(async () => (await texts(dan, roomId)).includes('four'), 'dan has four');
    const gaps = await until(async () => {
      const detail = await dan.chat.getRoom(roomId);
      return detail.gaps.length ? detail : null;
    }, 'dan sees the gap');
    expect(gaps.gaps).toEqual([{ fingerprint: cat.chat.fingerprint, name: 'Cat', count: 2 }]);
    expect(gaps.missing).toBe(2);
    expect(await texts(dan, roomId)).toEqual(['one', 'four']);
    catBack.chat.closeAll();
    dan.chat.closeAll();
  });

  it('rejects a tampered envelope handed over by a peer', async () => {
    const { roomId, clients } = await roomWith('ephemeral', 'Eve', 'Fay', 'Gus');
    const [eve, fay, gus] = clients as [TestClient, TestClient, TestClient];
    await eve.chat.sendMessage(roomId, 'genuine');
    await until(async () => (await texts(fay, roomId)).includes('genuine'), 'fay has it');
    const genuine = (await fay.chat.listMessages(roomId)).find((m) => m.text === 'genuine');
    eve.chat.closeAll();
    gus.chat.closeAll();
    fay.chat.closeAll();

    // Gus turns malicious: he answers Fay's sync request with altered and relabelled envelopes.
    const socket = await rawSocket(host, PARTY_ROOM, roomId);
    await signIn(socket, roomId, gus.chat.fingerprint ?? '', await identityKeyOf(gus));
    await socket.next('welcome');
    const original = gus.frames.length; // Gus's recorded frames are irrelevant here; we use Fay's stored envelope.
    expect(original).toBeGreaterThan(0);
    const fayBack = await restart(fay);
    const request = await socket.next('sync-request');
    expect(request.from).toBe(fay.chat.fingerprint);
    const eveFrame = eve.frames.find((f) => f.includes('"type":"msg"') && f.includes(genuine?.id ?? '-'));
    const sent = JSON.parse(eveFrame ?? '{}') as { id: string; ct: string };
    const bytes = fromBase64(sent.ct);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    const forgedId = 'ab'.repeat(16);
    socket.send({
      type: 'sync-reply',
      to: fay.chat.fingerprint,
      messages: [
        { seq: 900, id: sent.id, epoch: 0, from: eve.chat.fingerprint, ts: Date.now(), ct: toBase64(bytes) },
        { seq: 901, id: forgedId, epoch: 0, from: gus.chat.fingerprint, ts: Date.now(), ct: sent.ct },
      ],
    });
    await until(() => fayBack.rejected.filter((r) => r.includes('(peer)') || r.includes('does not match')).length >= 2, 'fay rejects both');
    expect((await fayBack.chat.listMessages(roomId)).filter((m) => m.text === 'genuine')).toHaveLength(1);
    expect((await fayBack.chat.listMessages(roomId)).some((m) => m.id === forgedId)).toBe(false);
    socket.close();
    fayBack.chat.closeAll();
  });

  it('deletes messages when the disappearing timer runs out, also after the client slept through it', async () => {
    const { roomId, clients } = await roomWith('ephemeral', 'Hal', 'Ida');
    const [hal, ida] = clients as [TestClient, TestClient];
    await hal.chat.setRoomSettings(roomId, { disappearMs: 30_000, shareHistory: false, retentionDays: null, retentionCount: null });
    const event = await until(async () => (await ida.chat.listMessages(roomId)).find((m) => m.kind === 'event'), 'ida sees the timer event');
    expect(event.event).toMatchObject({ type: 'settings', byName: 'Hal', settings: { disappearMs: 30_000 } });
    const sent = await hal.chat.sendMessage(roomId, 'self-destructs');
    await until(async () => (await texts(ida, roomId)).includes('self-destructs'), 'ida got it');
    expect((await ida.chat.listMessages(roomId)).find((m) => m.id === sent.id)?.expiresAt).toBeGreaterThan(Date.now());
    ida.chat.closeAll(); // Ida's worker sleeps through the expiry
    // The UI hears of it (an `expired` event) and the history no longer holds it.
    await until(() => hal.events.some((e) => e.type === 'expired' && e.ids.includes(sent.id)), 'hal deletes on time', 40_000);
    expect(await texts(hal, roomId)).not.toContain('self-destructs');
    const idaBack = await restart(ida);
    expect(await texts(idaBack, roomId)).not.toContain('self-destructs');
    expect(JSON.stringify(idaBack.local.dump())).not.toContain('self-destructs');
    hal.chat.closeAll();
    idaBack.chat.closeAll();
  }, 90_000);
});

describe('backup rooms: the server keeps an encrypted backup', () => {
  it('lets an offline member catch up from the backup with no one else online', async () => {
    const { roomId, clients } = await roomWith('backup', 'Jo', 'Kim');
    const [jo, kim] = clients as [TestClient, TestClient];
    expect((await kim.chat.getState()).rooms.find((r) => r.id === roomId)?.mode).toBe('backup');
    kim.chat.closeAll();
    for (let i = 1; i <= 5; i++) await jo.chat.sendMessage(roomId, `backup ${i}`);
    await until(async () => (await jo.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'stored on the server');
    jo.chat.closeAll();
    const kimBack = await restart(kim);
    await until(async () => (await texts(kimBack, roomId)).length === 5, 'kim caught up from the backup');
    expect(await texts(kimBack, roomId)).toEqual(['backup 1', 'backup 2', 'backup 3', 'backup 4', 'backup 5']);
    kimBack.chat.closeAll();
  });

  it('shows a new member earlier history only when an admin allowed it', async () => {
    const { roomId, clients } = await roomWith('backup', 'Lea');
    const [lea] = clients as [TestClient];
    await lea.chat.sendMessage(roomId, 'old news');
    await until(async () => (await lea.chat.listMessages(roomId)).every((m) => m.status === 'sent'), 'stored');

    const max = await onboarded('Max');
    await invite(lea, roomId, max);
    await connected(max, roomId);
    await lea.chat.sendMessage(roomId, 'after max joined');
    await until(async () => (await texts(max, roomId)).includes('after max joined'), 'max gets new messages');
    expect(await texts(max, roomId)).not.toContain('old news');

    await lea.chat.setRoomSettings(roomId, { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null });
    const ned = await onboarded('Ned');
    await invite(lea, roomId, ned);
    await connected(ned, roomId);
    // Earlier history can arrive in more than one piece (backup page, peer sync); wait for all of it.
    await until(async () => (await texts(ned, roomId)).length >= 2, 'ned reads earlier history');
    expect(await texts(ned, roomId)).toEqual(['old news', 'after max joined']);
    for (const c of [lea, max, ned]) c.chat.closeAll();
  });

  it('deletes a stored message by the timer it was sent under, not by one set before or after it', async () => {
    const { roomId, clients } = await roomWith('backup', 'Quy');
    const [quy] = clients as [TestClient];
    const allSent = () => until(async () => (await quy.chat.listMessages(roomId)).every((m) => m.kind !== 'text' || m.status === 'sent'), 'stored');
    const settings = { shareHistory: false, retentionDays: null, retentionCount: null };
    const before = await quy.chat.sendMessage(roomId, 'sent before the timer');
    await allSent();
    await quy.chat.setRoomSettings(roomId, { ...settings, disappearMs: 30_000 });
    const under = await quy.chat.sendMessage(roomId, 'sent under the 30 s timer');
    await allSent();
    await quy.chat.setRoomSettings(roomId, { ...settings, disappearMs: null });
    const after = await quy.chat.sendMessage(roomId, 'sent after the timer was switched off');
    await allSent();
    const local = await quy.chat.listMessages(roomId);
    expect(local.find((m) => m.id === before.id)?.expiresAt).toBeNull();
    expect(local.find((m) => m.id === under.id)?.expiresAt).toBeGreaterThan(Date.now());
    expect(local.find((m) => m.id === after.id)?.expiresAt).toBeNull();

    /** The ids the server's backup holds, as a member reads them. */
    const backup = async () => {
      const socket = await rawSocket(host, PARTY_ROOM, roomId);
      await signIn(socket, roomId, quy.chat.fingerprint ?? '', await identityKeyOf(quy));
      await socket.next('welcome');
      socket.send({ type: 'history', after: 0, limit: 200 });
      const page = await socket.next('history');
      socket.close();
      return (page.messages as Array<{ id: string }>).map((m) => m.id);
    };
    /** Runs the server's sweep as if the clock read `at` (test hook). */
    const sweep = async (at: number) => {
      const res = await fetch(`http://${host}/parties/${PARTY_ROOM}/${roomId}`, { method: 'POST', body: JSON.stringify({ hook: 'sweep', at }) });
      return res.json();
    };
    expect(await backup()).toEqual([before.id, under.id, after.id]);
    expect(await sweep(Date.now() + 10_000)).toEqual({ deleted: 0 });
    expect(await sweep(Date.now() + 31_000)).toEqual({ deleted: 1 });
    expect(await backup()).toEqual([before.id, after.id]);
    // Much later, still only the timer each message was sent under counts.
    expect(await sweep(Date.now() + 400 * 86_400_000)).toEqual({ deleted: 0 });
    expect(await backup()).toEqual([before.id, after.id]);
    quy.chat.closeAll();
  });

  it('enforces retention on the server', async () => {
    const { roomId, clients } = await roomWith('backup', 'Oz');
    const [oz] = clients as [TestClient];
    await oz.chat.setRoomSettings(roomId, { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: 100 });
    for (let i = 1; i <= 110; i++) await oz.chat.sendMessage(roomId, `m${i}`);
    await until(async () => (await oz.chat.listMessages(roomId, 500)).filter((m) => m.kind === 'text').every((m) => m.status === 'sent'), 'all stored', 30_000);
    const fresh = createClient(host);
    const exported = await oz.chat.exportIdentity('Oz passphrase');
    await fresh.chat.importIdentity(exported.content, 'Oz passphrase');
    await until(async () => (await texts(fresh, roomId)).length >= 100, 'imported browser caught up', 30_000);
    const got = await texts(fresh, roomId);
    expect(got).toHaveLength(100);
    expect(got[0]).toBe('m11');
    oz.chat.closeAll();
    fresh.chat.closeAll();
  }, 90_000);
});

describe('backup rooms survive a server restart', () => {
  it('keeps history and room state across a restart, stores only ciphertext, and refills a newly installed browser', async () => {
    const state = mkdtempSync(join(tmpdir(), 'partychat-persist-'));
    const port = await freePort();
    let party = await startParty({ port, persistDir: state });
    try {
      const pia = createClient(party.host);
      await pia.chat.onboard('Pia', 'pia passphrase');
      const roomId = (await pia.chat.createRoom('Durable plans', 'backup')).id;
      await connected(pia, roomId);
      const secret = 'the launch code is 0000';
      await pia.chat.sendMessage(roomId, secret);
      await pia.chat.sendMessage(roomId, 'second message');
      await until(async () => (await pia.chat.listMessages(roomId)).every((m) => m.status === 'sent'), 'stored');
      const exported = await pia.chat.exportIdentity('pia passphrase');
      await expect(pia.chat.exportIdentity('wrong')).rejects.toMatchObject({ code: 'wrong-passphrase' });
      pia.chat.closeAll();

      await party.stop();
      party = await startParty({ port, persistDir: state });

      const files = walk(state);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const content = readFileSync(file);
        expect(content.includes(Buffer.from(secret)), `${file} holds plaintext`).toBe(false);
        expect(content.includes(Buffer.from('Durable plans')), `${file} holds the room name`).toBe(false);
      }

      const laptop = createClient(party.host);
      await expect(laptop.chat.importIdentity(exported.content, 'not the passphrase')).rejects.toMatchObject({ code: 'bad-import' });
      const state2 = await laptop.chat.importIdentity(exported.content, 'pia passphrase');
      expect(state2.me?.name).toBe('Pia');
      await until(async () => (await texts(laptop, roomId)).length === 2, 'the new browser refills from the backup', 30_000);
      expect(await texts(laptop, roomId)).toEqual([secret, 'second message']);
      const mine = await laptop.chat.listMessages(roomId);
      expect(mine.every((m) => m.mine)).toBe(true);
      const more = await laptop.chat.sendMessage(roomId, 'from the laptop');
      await until(async () => (await laptop.chat.listMessages(roomId)).some((m) => m.id === more.id && m.status === 'sent'), 'laptop can post');
      laptop.chat.closeAll();
    } finally {
      await party.stop();
    }
  }, 120_000);
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

describe('messages sealed in the older OpenPGP format (before format v1) stay readable', () => {
  it('shows them live and from the backup, next to format v1 ones, in order', async () => {
    const { roomId, clients } = await roomWith('backup', 'Olga', 'Ben', 'Otto');
    const [olga, firstBen, otto] = clients as [TestClient, TestClient, TestClient];
    let ben = firstBen;
    // Otto runs a version from before format v1: his messages are OpenPGP messages under the room key.
    const old = await turnMalicious(otto, roomId, host);
    await old.connect();
    const first = await old.seal({ text: 'old format, live' }, { format: 'openpgp' });
    expect(fromBase64(first.ct)[0]).toBeGreaterThanOrEqual(0x80);
    await old.send(first);
    await until(async () => (await texts(ben, roomId)).includes('old format, live'), 'ben shows the live OpenPGP-format message');

    // Ben is away; the backup holds an old-format and a v1 message; he catches up from it.
    ben.chat.closeAll();
    await old.send(await old.seal({ text: 'old format, from the backup' }, { format: 'openpgp' }));
    const v1 = await olga.chat.sendMessage(roomId, 'format v1, from the backup');
    await until(async () => (await olga.chat.listMessages(roomId)).find((m) => m.id === v1.id && m.status === 'sent'), 'olga sent hers');
    ben = await restart(ben);
    await until(async () => (await texts(ben, roomId)).includes('format v1, from the backup'), 'ben caught up from the backup');
    expect(await texts(ben, roomId)).toEqual(['old format, live', 'old format, from the backup', 'format v1, from the backup']);
    expect(ben.rejected).toEqual([]);
    old.close();
    olga.chat.closeAll();
    ben.chat.closeAll();
  });
});
