/**
 * What a connection keeps in its attachment (party/guard.ts PeerState) so that a party woken from hibernation knows
 * it as it was: the state round-trips through a fresh PeerTable, and a rebuilt table enforces what the old one did.
 */
import type * as Party from 'partykit/server';
import { HANDSHAKE_DEADLINE_MS, KeyedBuckets, PeerTable, peerState, presenceTag, readPeerState, type Peer, type PeerState } from '@/party/guard';
import { MAX_CONNECTIONS_PER_IDENTITY } from '@/shared/constants';

/** A socket as the party sees it: an id, an attachment, what it was sent, how it was closed. */
interface FakeConnection {
  id: string;
  state: unknown;
  sent: string[];
  closedWith: number | null;
  setState(state: unknown): unknown;
  send(text: string): void;
  close(code: number): void;
}

function connection(id: string): FakeConnection {
  return {
    id,
    state: null,
    sent: [],
    closedWith: null,
    setState(state) {
      // An attachment is a structured clone: nothing shared with the live peer.
      this.state = structuredClone(state);
      return this.state;
    },
    send(text) {
      this.sent.push(text);
    },
    close(code) {
      this.closedWith = code;
    },
  };
}

const asConn = (c: FakeConnection) => c as unknown as Party.Connection;
const ann = 'ab'.repeat(20);
const bob = 'cd'.repeat(32);

describe('connection state kept across hibernation', () => {
  let table: PeerTable;
  afterEach(() => table?.dispose());

  it('rebuilds members, guests and handshakes from the attachments alone', () => {
    table = new PeerTable();
    const now = Date.now();
    const [member, second, guest, fresh] = ['m', 's', 'g', 'f'].map(connection) as [FakeConnection, FakeConnection, FakeConnection, FakeConnection];
    const peers = [member, second, guest, fresh].map((c) => table.add(asConn(c), '198.51.100.1', now));
    const [m, s, g, f] = peers.map((p) => p ?? expect.fail('admitted')) as [Peer, Peer, Peer, Peer];
    expect(table.authenticate(m, ann)).toBe(true);
    expect(table.authenticate(s, ann)).toBe(false);
    m.told = presenceTag('{"type":"presence","online":["x"]}');
    table.save(m);
    table.wait(g, bob);
    f.asked = ['preview'];
    table.fail(f, 'bad-frame', 'one slip');

    const woken = new PeerTable();
    woken.restore([member, second, guest, fresh].map(asConn), now + 1000);
    table.dispose();
    table = woken;
    expect(woken.online()).toEqual([ann]);
    expect(woken.members.size).toBe(2);
    const restored = (c: FakeConnection) => woken.get(asConn(c)) ?? expect.fail('restored');
    expect(restored(member)).toMatchObject({ fp: ann, nonce: m.nonce, told: m.told, address: '198.51.100.1', deadline: null });
    expect(restored(guest)).toMatchObject({ fp: null, guest: bob, deadline: null });
    expect(restored(fresh)).toMatchObject({ fp: null, guest: null, nonce: f.nonce, errors: 1, asked: ['preview'], deadline: now + HANDSHAKE_DEADLINE_MS });
    // The last connection of a member going away takes it offline, as before the wake.
    expect(woken.remove(asConn(member)).wentOffline).toBe(false);
    expect(woken.remove(asConn(second)).wentOffline).toBe(true);
    expect(woken.online()).toEqual([]);
  });

  it('closes a connection whose handshake deadline passed while the party slept, and checks the deadline on each frame', () => {
    table = new PeerTable();
    const now = Date.now();
    const [late, later] = ['l', 'k'].map(connection) as [FakeConnection, FakeConnection];
    table.add(asConn(late), '', now - HANDSHAKE_DEADLINE_MS - 1);
    table.add(asConn(later), '', now - HANDSHAKE_DEADLINE_MS + 60_000);
    table.dispose();
    table = new PeerTable();
    table.restore([late, later].map(asConn), now);
    expect(late.closedWith).toBe(4001);
    expect(JSON.parse(late.sent.at(-1) ?? '')).toMatchObject({ code: 'not-authenticated' });
    const peer = table.get(asConn(later)) ?? expect.fail('restored');
    expect(table.admit(peer, now)).toBe(true);
    expect(table.admit(peer, now + 60_000)).toBe(false);
    expect(later.closedWith).toBe(4001);
  });

  it('keeps the cap on connections per identity after a wake', () => {
    table = new PeerTable();
    const conns = Array.from({ length: MAX_CONNECTIONS_PER_IDENTITY + 1 }, (_, i) => connection(`c${i}`));
    for (const c of conns.slice(0, -1)) table.authenticate(table.add(asConn(c)) ?? expect.fail('admitted'), ann);
    const extra = conns.at(-1) as FakeConnection;
    const extraPeer = table.add(asConn(extra)) ?? expect.fail('admitted');
    table.dispose();
    table = new PeerTable();
    table.restore(conns.map(asConn));
    expect(table.authenticate(table.get(asConn(extra)) ?? extraPeer, ann)).toBeNull();
    expect(extra.closedWith).toBe(4030);
  });

  it('closes a socket that carries no state, and refuses states of another shape', () => {
    table = new PeerTable();
    const stray = connection('x');
    table.restore([asConn(stray)]);
    expect(stray.closedWith).toBe(4001);
    expect(table.all()).toEqual([]);
    const good: PeerState = { v: 1, address: '', nonce: 'n', fp: null, guest: null, errors: 0, told: null, asked: [], deadline: 1 };
    expect(readPeerState(good)).toEqual(good);
    for (const bad of [null, 'x', { ...good, v: 2 }, { ...good, fp: 7 }, { ...good, asked: [1] }, { ...good, deadline: 'soon' }, { ...good, errors: undefined }]) {
      expect(readPeerState(bad)).toBeNull();
    }
  });

  it('fits a worst-case state in an attachment (Cloudflare allows 2,048 bytes)', () => {
    table = new PeerTable();
    const c = connection('w');
    const peer = table.add(asConn(c), 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255') ?? expect.fail('admitted');
    Object.assign(peer, { fp: 'f'.repeat(64), guest: 'f'.repeat(64), errors: 49, told: presenceTag('x'.repeat(10_000)), asked: ['join', 'preview'] });
    expect(new TextEncoder().encode(JSON.stringify(peerState(peer))).length).toBeLessThan(512);
  });

  it('keeps a drained limit drained through a snapshot, and leaves full buckets out of it', () => {
    const now = Date.now();
    const limit = new KeyedBuckets(3, 3 / 60);
    for (let i = 0; i < 3; i++) expect(limit.take('drained', now)).toBe(true);
    limit.take('touched', now);
    const snapshot = limit.snapshot(now + 1);
    expect(snapshot.map(([key]) => key)).toEqual(['drained', 'touched']);
    expect(limit.snapshot(now + 60_000)).toEqual([]);
    const woken = new KeyedBuckets(3, 3 / 60);
    woken.load(structuredClone(snapshot));
    expect(woken.take('drained', now + 1)).toBe(false);
    expect(woken.take('drained', now + 20_001)).toBe(true);
    expect(woken.take('other', now + 1)).toBe(true);
  });

  it('tells presence frames apart by their digest', () => {
    const a = '{"type":"presence","online":["aa","bb"]}';
    const b = '{"type":"presence","online":["aa"]}';
    expect(presenceTag(a)).toBe(presenceTag(a));
    expect(presenceTag(a)).not.toBe(presenceTag(b));
  });
});
