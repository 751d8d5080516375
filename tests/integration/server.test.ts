import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { PARTY_ROOM } from '@/shared/constants';
import { randomHex } from '@/shared/encoding';
import { identityKeyOf, until, type TestClient, onboardedClient, invite } from '../helpers/node-client';
import { freePort, startParty } from '../helpers/party-server';
import { rawSocket, signIn, type RawSocket } from '../helpers/raw-socket';

const host = inject('partyHost');

const onboarded = (name: string, server = host): Promise<TestClient> => onboardedClient(server, name);

async function connected(client: TestClient, roomId: string) {
  return until(async () => (await client.chat.getState()).rooms.find((r) => r.id === roomId && r.connected && r.hasKey), 'connected with key');
}

/** A member's connection spoken by hand, so the test sees every frame the server sends it. */
async function memberSocket(server: string, roomId: string, client: TestClient): Promise<{ socket: RawSocket; welcome: Record<string, unknown> }> {
  const socket = await rawSocket(server, PARTY_ROOM, roomId);
  await signIn(socket, roomId, client.chat.fingerprint ?? '', await identityKeyOf(client));
  return { socket, welcome: await socket.next('welcome') };
}

function presenceFrames(socket: RawSocket): unknown[][] {
  return socket.frames.filter((f) => f.type === 'presence').map((f) => f.online as unknown[]);
}

/** Sends a `msg` frame (the server neither reads nor checks ct) and returns the seq it was stamped with. */
async function relay(socket: RawSocket): Promise<number> {
  const id = randomHex(16);
  socket.send({ type: 'msg', id, epoch: 0, ct: 'AAAA' });
  for (;;) {
    const ack = await socket.next('ack');
    if (ack.id === id) return Number(ack.seq);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('presence: members hear when the set of online members changes, and only then', () => {
  it('tells an online member when another comes online and goes offline, but not about a second tab', async () => {
    const [ann, ben] = await Promise.all([onboarded('Ann'), onboarded('Ben')]);
    const roomId = (await ann.chat.createRoom('presence room', 'ephemeral')).id;
    await connected(ann, roomId);
    await invite(ann, roomId, ben);
    await connected(ben, roomId);
    ben.chat.closeAll();
    const annFp = ann.chat.fingerprint as string;
    const benFp = ben.chat.fingerprint as string;
    await until(async () => !(await ann.chat.getRoom(roomId)).members.find((m) => m.fingerprint === benFp)?.online, 'ann sees ben offline');

    const watcher = await memberSocket(host, roomId, ann);
    // The welcome carries the online set; Ann's client tab is online too.
    expect(watcher.welcome.online).toEqual([annFp]);
    await sleep(300);
    expect(presenceFrames(watcher.socket)).toEqual([]); // Ann's second connection changed nothing

    const tab1 = await memberSocket(host, roomId, ben);
    expect(tab1.welcome.online).toEqual([annFp, benFp].sort());
    await until(() => presenceFrames(watcher.socket).length === 1, 'ann hears ben came online');
    expect(presenceFrames(watcher.socket)).toEqual([[annFp, benFp].sort()]);
    await until(async () => (await ann.chat.getRoom(roomId)).members.find((m) => m.fingerprint === benFp)?.online, "ann's client shows ben online");

    // Ben's second tab: the set of online members is the same, so nobody is told anything.
    const tab2 = await memberSocket(host, roomId, ben);
    expect(tab2.welcome.online).toEqual([annFp, benFp].sort());
    await sleep(300);
    // (The server handles a close at once; the socket's own close handshake is not waited for.)
    tab2.socket.close();
    await sleep(500);
    expect(presenceFrames(watcher.socket)).toHaveLength(1);
    expect(presenceFrames(tab1.socket)).toEqual([]);
    expect(presenceFrames(tab2.socket)).toEqual([]);

    // Ben's last tab closes: he went offline.
    tab1.socket.close();
    await until(() => presenceFrames(watcher.socket).length === 2, 'ann hears ben went offline');
    expect(presenceFrames(watcher.socket)[1]).toEqual([annFp]);
    await until(async () => !(await ann.chat.getRoom(roomId)).members.find((m) => m.fingerprint === benFp)?.online, "ann's client shows ben offline");

    watcher.socket.close();
    ann.chat.closeAll();
  });
});

describe('ephemeral rooms survive a server restart', () => {
  it('keeps sequence numbers increasing across a restart (they are reserved in blocks)', async () => {
    const state = mkdtempSync(join(tmpdir(), 'partychat-seq-'));
    const port = await freePort();
    let party = await startParty({ port, persistDir: state });
    try {
      const ada = await onboarded('Ada', party.host);
      const roomId = (await ada.chat.createRoom('Counting', 'ephemeral')).id;
      await connected(ada, roomId);
      ada.chat.closeAll();

      const before = await memberSocket(party.host, roomId, ada);
      const seqs = [await relay(before.socket), await relay(before.socket), await relay(before.socket)];
      expect(seqs[1]).toBe((seqs[0] as number) + 1);
      expect(seqs[2]).toBe((seqs[0] as number) + 2);
      before.socket.close();
      await sleep(200);

      await party.stop();
      party = await startParty({ port, persistDir: state });

      const after = await memberSocket(party.host, roomId, ada);
      expect(Number(after.welcome.seq)).toBeGreaterThanOrEqual(seqs[2] as number);
      const next = await relay(after.socket);
      expect(next).toBeGreaterThan(seqs[2] as number);
      expect(next).toBeGreaterThan(Number(after.welcome.seq));
      expect(await relay(after.socket)).toBe(next + 1);
      after.socket.close();
    } finally {
      await party.stop();
    }
  }, 120_000);
});
