/**
 * One chat room. Admits a connection only after it signs a fresh challenge with a member's key,
 * keeps the signed membership chain, stamps a sequence number on each envelope and relays it to
 * the other members. In ephemeral mode it stores no message; it only holds undelivered key envelopes.
 */
import type * as Party from 'partykit/server';
import { AUTH_CONTEXT, MAX_PENDING_KEYS_PER_MEMBER, PARTY_DIRECTORY, PARTY_ROOM } from '../shared/constants';
import { readPublicKey, verifyDetached } from '../shared/crypto';
import { randomHex, utf8 } from '../shared/encoding';
import { applyRecord, ChainError, parseRecordBody, type Roster } from '../shared/membership';
import {
  authChallengeText,
  parseFrame,
  roomClientFrameSchema,
  roomIdSchema,
  type DeliveredKey,
  type RoomClientFrame,
  type SignedRecord,
} from '../shared/protocol';
import { CLOSE, json, PeerTable, send, type Peer } from './guard';

const RECENT_IDS = 2048;

interface Meta {
  epoch: number;
  seq: number;
}

type Frame<T extends RoomClientFrame['type']> = Extract<RoomClientFrame, { type: T }>;

export default class RoomServer implements Party.Server {
  private readonly peers = new PeerTable();
  private roster: Roster | null = null;
  private chain: SignedRecord[] = [];
  private meta: Meta = { epoch: 0, seq: 0 };
  /** Recently relayed message ids → their seq, so a resent envelope is acknowledged, not relayed twice. */
  private readonly recent = new Map<string, { seq: number; ts: number }>();
  /** State changes run one at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly room: Party.Room) {}

  async onStart(): Promise<void> {
    const records = await this.room.storage.list<SignedRecord>({ prefix: 'chain:' });
    this.chain = [...records.values()];
    let roster: Roster | null = null;
    for (const record of this.chain) roster = await applyRecord(roster, record, this.room.id);
    this.roster = roster;
    this.meta = (await this.room.storage.get<Meta>('meta')) ?? { epoch: 0, seq: 0 };
  }

  onConnect(conn: Party.Connection): void {
    const peer = this.peers.add(conn);
    if (!roomIdSchema.safeParse(this.room.id).success) {
      this.peers.fail(peer, 'no-room', 'room ids are 32 lowercase hex characters', { close: CLOSE.noRoom });
      return;
    }
    send(conn, { type: 'challenge', nonce: peer.nonce, room: this.room.id });
  }

  onClose(conn: Party.Connection): void {
    const peer = this.peers.remove(conn);
    if (peer?.fp) this.broadcastPresence();
  }

  onError(conn: Party.Connection): void {
    this.onClose(conn);
  }

  async onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Party.Connection): Promise<void> {
    const peer = this.peers.get(conn);
    if (!peer) return;
    if (!this.peers.admit(peer)) {
      this.peers.fail(peer, 'rate-limited', 'too many frames; slow down');
      return;
    }
    const parsed = parseFrame(roomClientFrameSchema, raw);
    if (!parsed.ok) {
      this.peers.fail(peer, parsed.code, parsed.message);
      return;
    }
    const frame = parsed.frame;
    try {
      if (frame.type === 'ping') return send(conn, { type: 'pong' });
      if (frame.type === 'auth') return await this.serial(() => this.onAuth(peer, frame));
      if (!peer.fp) return this.peers.fail(peer, 'not-authenticated', 'authenticate before sending frames');
      switch (frame.type) {
        case 'msg':
          return this.onEnvelope(peer, frame);
        case 'member-add':
          return await this.serial(() => this.onMemberAdd(peer, frame));
        case 'keys-ack':
          return await this.serial(() => this.onKeysAck(peer, frame));
      }
    } catch (error) {
      console.error('room frame failed', error);
      this.peers.fail(peer, 'internal', 'the server could not process this frame');
    }
  }

  async onRequest(req: Party.Request): Promise<Response> {
    if (req.method === 'OPTIONS') return json(null, 204);
    return json({ error: 'rooms are reached over WebSocket by their members' }, 404);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async onAuth(peer: Peer, frame: Frame<'auth'>): Promise<void> {
    if (peer.fp) return this.peers.fail(peer, 'bad-frame', 'this connection is already authenticated');
    const challenge = utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, this.room.id, peer.nonce));

    if (frame.genesis) {
      if (this.roster) return this.peers.fail(peer, 'room-exists', 'a room with this id already exists', { close: CLOSE.roomExists });
      let roster: Roster;
      try {
        roster = await applyRecord(null, frame.genesis, this.room.id);
      } catch (error) {
        return this.peers.fail(peer, 'bad-record', describe(error), { close: CLOSE.authFailed });
      }
      const creator = roster.members.get(frame.fp);
      if (!creator || !(await verifyDetached(await readPublicKey(creator.publicKey), challenge, frame.sig))) {
        return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not match the room creator', { close: CLOSE.authFailed });
      }
      await this.room.storage.put({ [chainKey(0)]: frame.genesis, meta: this.meta });
      this.chain = [frame.genesis];
      this.roster = roster;
    }

    if (!this.roster) return this.peers.fail(peer, 'no-room', 'no room exists with this id', { close: CLOSE.noRoom });
    const member = this.roster.members.get(frame.fp);
    if (!member) return this.peers.fail(peer, 'not-member', 'this identity is not a member of the room', { close: CLOSE.notMember });
    if (!(await verifyDetached(await readPublicKey(member.publicKey), challenge, frame.sig))) {
      return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not verify with the member key', { close: CLOSE.authFailed });
    }

    peer.fp = frame.fp;
    send(peer.conn, {
      type: 'welcome',
      room: this.room.id,
      mode: this.roster.mode,
      epoch: this.meta.epoch,
      seq: this.meta.seq,
      you: frame.fp,
      chain: this.chain,
      online: this.peers.online(),
    });
    const pending = (await this.room.storage.get<DeliveredKey[]>(keysKey(frame.fp))) ?? [];
    if (pending.length) send(peer.conn, { type: 'keys', envelopes: pending });
    this.broadcastPresence();
  }

  private onEnvelope(peer: Peer, frame: Frame<'msg'>): void {
    if (frame.epoch !== this.meta.epoch) {
      return this.peers.fail(peer, 'bad-epoch', `the room is at key epoch ${this.meta.epoch}`, { ref: frame.id });
    }
    const seen = this.recent.get(frame.id);
    if (seen) return send(peer.conn, { type: 'ack', id: frame.id, seq: seen.seq, ts: seen.ts });

    const seq = ++this.meta.seq;
    const ts = Date.now();
    this.remember(frame.id, seq, ts);
    void this.room.storage.put('meta', this.meta);
    const relayed = JSON.stringify({ type: 'msg', seq, id: frame.id, epoch: frame.epoch, from: peer.fp, ts, ct: frame.ct });
    for (const other of this.peers.authenticated()) if (other !== peer) other.conn.send(relayed);
    send(peer.conn, { type: 'ack', id: frame.id, seq, ts });
  }

  private remember(id: string, seq: number, ts: number): void {
    this.recent.set(id, { seq, ts });
    if (this.recent.size > RECENT_IDS) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
  }

  private async onMemberAdd(peer: Peer, frame: Frame<'member-add'>): Promise<void> {
    let body;
    let roster: Roster;
    try {
      body = parseRecordBody(frame.record);
      if (body.kind !== 'add') throw new ChainError('only add records can be appended');
      if (body.by !== peer.fp) throw new ChainError('a record must be sent by the admin who signed it');
      roster = await applyRecord(this.roster, frame.record, this.room.id);
    } catch (error) {
      return this.peers.fail(peer, error instanceof ChainError && /admin/.test(error.message) ? 'forbidden' : 'bad-record', describe(error));
    }
    const member = body.member;
    for (const key of frame.keys) {
      if (key.to !== member || key.epoch !== this.meta.epoch) {
        return this.peers.fail(peer, 'bad-record', 'key envelopes must be for the new member at the current epoch');
      }
    }
    const index = this.chain.length;
    const keys = frame.keys.map((k) => ({ ...k, kid: randomHex(8), from: peer.fp as string }));
    await this.room.storage.put({ [chainKey(index)]: frame.record, [keysKey(member)]: keys });
    this.chain = [...this.chain, frame.record];
    this.roster = roster;

    const update = JSON.stringify({ type: 'chain', records: [frame.record] });
    for (const p of this.peers.authenticated()) p.conn.send(update);
    await this.notifyInvitee(member, peer.fp as string);
  }

  private async onKeysAck(peer: Peer, frame: Frame<'keys-ack'>): Promise<void> {
    const key = keysKey(peer.fp as string);
    const pending = (await this.room.storage.get<DeliveredKey[]>(key)) ?? [];
    const left = pending.filter((k) => !frame.kids.includes(k.kid));
    if (left.length === pending.length) return;
    if (left.length) await this.room.storage.put(key, left.slice(-MAX_PENDING_KEYS_PER_MEMBER));
    else await this.room.storage.delete(key);
  }

  /** Drops a pointer in the invitee's inbox so their client learns of the room even if offline now. */
  private async notifyInvitee(member: string, by: string): Promise<void> {
    try {
      const inbox = this.room.context.parties[PARTY_DIRECTORY];
      if (!inbox) throw new Error('directory party is not configured');
      const res = await inbox.get(member).fetch({
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'invite', room: this.room.id, by }),
      });
      if (!res.ok) throw new Error(`directory answered ${res.status}`);
    } catch (error) {
      console.error('could not notify invitee', error);
    }
  }

  private broadcastPresence(): void {
    const frame = JSON.stringify({ type: 'presence', online: this.peers.online() });
    for (const p of this.peers.authenticated()) p.conn.send(frame);
  }
}

function chainKey(index: number): string {
  return `chain:${String(index).padStart(6, '0')}`;
}

function keysKey(fp: string): string {
  return `keys:${fp}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
