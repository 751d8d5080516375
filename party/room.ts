/**
 * One chat room. Admits a member only after it signs a fresh challenge with its key, keeps the signed
 * membership chain (and refuses any change that does not verify), stamps a sequence number on each
 * envelope and relays it to the other members. People outside the room may only ask in through an
 * invite link. In ephemeral mode the room stores no message; it holds undelivered key envelopes,
 * pending join requests and, for escrow links, the room key wrapped under the link's secret.
 */
import type * as Party from 'partykit/server';
import {
  AUTH_CONTEXT,
  ESCROW_WINDOW_MS,
  HISTORY_PAGE_CHARS,
  MAX_BACKUP_CHARS,
  MAX_BACKUP_MESSAGES,
  MAX_ESCROW_FETCHES_PER_LINK,
  MAX_PENDING_KEYS_PER_MEMBER,
  MAX_PENDING_REQUESTS,
  PARTY_ROOM,
} from '../shared/constants';
import { encryptTo, readPublicKey } from '../shared/crypto';
import { constantTimeEqual, fromBase64, randomHex, utf8 } from '../shared/encoding';
import { verifyJoinProof, verifyPreviewProof } from '../shared/links';
import { applyRecord, ChainError, parseRecordBody, type LinkState, type RecordBody, type Roster } from '../shared/membership';
import {
  authChallengeText,
  parseFrame,
  roomClientFrameSchema,
  roomIdSchema,
  type DeliveredKey,
  type Envelope,
  type ErrorCode,
  type Escrow,
  type JoinRequest,
  type KeyEnvelope,
  type RoomClientFrame,
  type RoomServerFrame,
  type SealedProfile,
  type SignedRecord,
} from '../shared/protocol';
import { ackText, presenceText, relayedText, roomFrameText, toJson, welcomeText, type Json } from './frames';
import { clientAddress, CLOSE, json, KeyedBuckets, PeerTable, presenceTag, readPeerState, sendText, verifyChallenge, type Peer } from './guard';
import { servePage } from './landing';

/** Message ids remembered for deduplication (a ring indexed by seq). */
const RECENT_IDS = 2048;
/** Recent ids are stored (for a wake from hibernation) in blocks of this many seqs, one storage key each. */
const RECENT_BLOCK = 256;
/**
 * What must survive a hibernation but changes too often to store each time (recent ids, the limits on non-members) is
 * stored once the room has been quiet this long (a pending timer keeps the room from hibernating)...
 */
const SETTLE_QUIET_MS = 1000;
/** ...or at the latest this long after the first change not stored yet. */
const SETTLE_MAX_DELAY_MS = 30_000;
/** Presence changes within this window go out as one frame. */
const PRESENCE_DELAY_MS = 50;
/** A join record's timestamp must be this close to the server clock (no backdating past an expiry). */
const JOIN_CLOCK_SKEW_MS = 10 * 60_000;
/** How often the retention alarm runs at most (it runs sooner for short disappearing timers). */
const SWEEP_INTERVAL_MS = 60_000;
/** Sequence numbers reserved per storage write in ephemeral mode. */
const SEQ_BLOCK = 1000;
/** Stored envelopes deleted per storage call (the platform's limit is 128 keys). */
const DELETE_BATCH = 128;
/** Stored envelopes listed per storage call when a backup is counted (a room stored before the count was kept). */
const COUNT_BATCH = 1000;

interface Meta {
  epoch: number;
  seq: number;
  /** Members who still wait for the current room key (joined through a link, or after a key rotation). */
  needKeys: string[];
  /** A member left or was removed and nobody has started the next key epoch yet. */
  rotationDue: boolean;
  /** Sequence numbers are reserved in blocks: none above this has been issued, so a restart resumes here, never below. */
  seqCeiling: number;
  /** Backup mode: the messages stored and their ciphertext characters (see MAX_BACKUP_MESSAGES); counted on start if absent. */
  stored?: Stored;
}

/** A stored block of recent ids (see RECENT_BLOCK): id, seq and timestamp of each relayed message, in seq order. */
type RecentBlock = Array<[id: string, seq: number, ts: number]>;

/** What a backup room's server stores: messages and their ciphertext characters. */
interface Stored {
  messages: number;
  chars: number;
}

/**
 * Backup mode: a disappearing timer and the first seq it applies to. A stored message disappears by the timer in
 * force when it was relayed (as clients do), not by one set later; the spans are kept in storage under `timers`.
 */
interface TimerSpan {
  from: number;
  ms: number | null;
}

type Frame<T extends RoomClientFrame['type']> = Extract<RoomClientFrame, { type: T }>;

/** How a kind of non-member link frame (a join, a preview) is limited: one per connection (see `Peer.asked`), and per client address. */
interface GuestGate {
  what: 'join' | 'preview';
  byAddress: KeyedBuckets;
}

/** Sends one room frame to one connection. */
function send(conn: Party.Connection, frame: RoomServerFrame): void {
  sendText(conn, roomFrameText(frame));
}

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export default class RoomServer implements Party.Server {
  /**
   * The room may leave memory between frames while its sockets stay open (hibernation): whatever a connection must
   * keep is in its attachment (see PeerState), and `onStart` rebuilds the rest from storage and the open sockets.
   */
  readonly options: Party.ServerOptions = { hibernate: true };
  private readonly peers = new PeerTable();
  private roster: Roster | null = null;
  private chain: SignedRecord[] = [];
  private meta: Meta = { epoch: 0, seq: 0, needKeys: [], rotationDue: false, seqCeiling: 0 };
  /** Disappearing timers by seq span, in seq order (see TimerSpan). */
  private timers: TimerSpan[] = [];
  /** Recently relayed message ids → their seq, so a resent envelope is acknowledged, not relayed twice. */
  private readonly recent = new Map<string, number>();
  /** The id, seq and timestamp of the last RECENT_IDS seqs, at `seq % RECENT_IDS` (evicts the oldest id without allocating). */
  private readonly recentIds: Array<string | undefined> = new Array<string | undefined>(RECENT_IDS);
  private readonly recentSeqs = new Float64Array(RECENT_IDS);
  private readonly recentTs = new Float64Array(RECENT_IDS);
  /** Each member's sealed profile (its name, readable by members only), as stored under `profile:<fp>`. */
  private readonly profiles = new Map<string, SealedProfile>();
  /** Blocks of recent ids changed since they were last stored, and the blocks in storage (see RECENT_BLOCK). */
  private readonly recentDirty = new Set<number>();
  private readonly recentStored = new Set<number>();
  /** Whether a limit on non-members (see `guestLimits`) was charged since they were last stored. */
  private limitsDirty = false;
  /** Stores what changed once the room is quiet (see SETTLE_QUIET_MS); the first unstored change's time, and the last one's. */
  private settleTimer: ReturnType<typeof setTimeout> | null = null;
  private settleSince = 0;
  private settleLast = 0;
  /** The chain as JSON, built once per change (every welcome carries it). */
  private chainText: Json<SignedRecord[]> | null = null;
  /** The online members as a JSON array, as a presence frame, and its digest (`Peer.told`); null after a change until next needed. */
  private presence: { online: Json<string[]>; frame: string; tag: string } | null = null;
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  /** Join frames: one per connection, and attempts per client address, taken before anything is checked. */
  private readonly joinGate: GuestGate = { what: 'join', byAddress: new KeyedBuckets(20, 20 / 60) };
  /** Link previews: one per connection, and per client address, taken before anything is checked. */
  private readonly previewGate: GuestGate = { what: 'preview', byAddress: new KeyedBuckets(20, 20 / 60) };
  /** Join attempts per identity, taken once its challenge signature and the link proof check out. */
  private readonly joinsByIdentity = new KeyedBuckets(10, 10 / 60);
  /** A generous ceiling per link, charged only by joiners who proved they hold its secret. */
  private readonly joinsByLink = new KeyedBuckets(120, 2);
  /** Escrowed keys handed out per link, charged only by joins that pass every other check (see MAX_ESCROW_FETCHES_PER_LINK). */
  private readonly escrowFetches = new KeyedBuckets(MAX_ESCROW_FETCHES_PER_LINK, MAX_ESCROW_FETCHES_PER_LINK / (ESCROW_WINDOW_MS / 1000));
  /** State changes run one at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Tasks in `queue` not finished yet. */
  private queued = 0;

  constructor(readonly room: Party.Room) {}

  /** The server's own pages: `/` and the invite landing page `/join/<room>/<link>` (see landing.ts). */
  static onFetch(req: Party.Request, lobby: Party.FetchLobby): Response | undefined {
    return servePage(req, lobby.env);
  }

  /** The roster, where a room must exist by now (admitted members, appended records); throws if it does not. */
  private get existingRoster(): Roster {
    if (!this.roster) throw new Error('this room has no membership chain');
    return this.roster;
  }

  async onStart(): Promise<void> {
    const records = await this.room.storage.list<SignedRecord>({ prefix: 'chain:' });
    this.setChain([...records.values()]);
    // An alarm may start the room without `room.id`; the id is stored with the genesis record.
    const roomId = (await this.room.storage.get<string>('roomId')) ?? this.room.id;
    let roster: Roster | null = null;
    for (const record of this.chain) {
      try {
        roster = await applyRecord(roster, record, roomId);
      } catch (error) {
        // Only the test hook writes records that don't verify; keep serving the verified prefix.
        console.error('stored chain record does not verify', error);
        break;
      }
    }
    this.roster = roster;
    const stored: Meta = { epoch: 0, seq: 0, needKeys: [], rotationDue: false, seqCeiling: 0, ...(await this.room.storage.get<Meta>('meta')) };
    this.meta = { ...stored, seq: Math.max(stored.seq, stored.seqCeiling) };
    if (roster?.mode === 'backup' && !this.meta.stored) {
      this.meta.stored = await this.countStored();
      await this.room.storage.put('meta', this.meta);
    }
    // A room stored before timer spans were kept applies its current timer to every message, as it always did.
    const legacy = roster?.settings.disappearMs ? [{ from: 0, ms: roster.settings.disappearMs }] : [];
    this.timers = (await this.room.storage.get<TimerSpan[]>('timers')) ?? legacy;
    for (const profile of (await this.room.storage.list<SealedProfile>({ prefix: 'profile:' })).values()) this.profiles.set(profile.fp, profile);
    await this.loadRecent();
    // Backup mode: the newest stored ids are remembered again, so a message its sender resends after a restart
    // (the process died after storing it, before its ack went out) is acknowledged again, not stored twice.
    if (roster?.mode === 'backup') {
      const newest = await this.room.storage.list<Envelope>({ prefix: 'msg:', reverse: true, limit: RECENT_IDS });
      for (const envelope of [...newest.values()].reverse()) this.remember(envelope.id, envelope.seq, envelope.ts, true);
    }
    await this.loadLimits();
    this.rebuildPeers();
  }

  /**
   * After a wake from hibernation (or a start, when there is none): the open connections become peers again from
   * their attachments, and members whose last presence frame is not the current online set (someone's socket closed
   * while the room slept, so its close woke it) are told it.
   */
  private rebuildPeers(): void {
    this.peers.restore(this.room.getConnections());
    const { tag } = this.currentPresence();
    for (const p of this.peers.members) if (p.told !== tag) return this.onlineChanged();
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext): void {
    const peer = this.peers.add(conn, clientAddress(ctx.request));
    if (!peer) return; // over the connection caps: refused and closed
    if (!roomIdSchema.safeParse(this.room.id).success) {
      this.peers.fail(peer, 'no-room', 'room ids are 32 lowercase hex characters', { close: CLOSE.noRoom });
      return;
    }
    send(conn, { type: 'challenge', nonce: peer.nonce, room: this.room.id, head: this.roster?.head ?? null });
  }

  onClose(conn: Party.Connection): void {
    if (this.peers.remove(conn).wentOffline) this.onlineChanged();
  }

  onError(conn: Party.Connection): void {
    this.onClose(conn);
  }

  async onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Party.Connection): Promise<void> {
    const peer = this.peers.get(conn);
    if (!peer) return;
    const now = Date.now();
    if (!this.peers.admit(peer, now)) return; // over its rate, or past its handshake deadline: told (and closed)
    const parsed = parseFrame(roomClientFrameSchema, raw);
    if (!parsed.ok) {
      this.peers.fail(peer, parsed.code, parsed.message);
      return;
    }
    const frame = parsed.frame;
    try {
      if (frame.type === 'ping') return send(conn, { type: 'pong' });
      if (frame.type === 'auth') return await this.serial(() => this.onAuth(peer, frame));
      if (frame.type === 'join') return await this.serial(() => this.onJoin(peer, frame));
      if (frame.type === 'preview') return await this.onPreview(peer, frame);
      // The sender as it was when the frame arrived: a handler that waits in the queue must not see the null a close leaves.
      const fp = peer.fp;
      if (!fp) return this.peers.fail(peer, 'not-authenticated', 'authenticate before sending frames');
      switch (frame.type) {
        case 'msg':
          // Backup mode: a message waits behind a state change in progress (a new disappearing timer, say), so that
          // it is stamped after it, as its sender saw it; once in line, the ones after it wait too, keeping their order.
          if (this.queued && this.roster?.mode === 'backup') return await this.serialAs(fp, () => this.onEnvelope(peer, fp, frame, Date.now()));
          return await this.onEnvelope(peer, fp, frame, now);
        case 'append':
          return await this.serialAs(fp, () => this.onAppend(peer, fp, frame));
        case 'keys':
          return await this.serialAs(fp, () => this.onKeys(peer, fp, frame.keys));
        case 'rotate':
          return await this.serialAs(fp, () => this.onRotate(peer, fp, frame));
        case 'join-deny':
          return await this.serialAs(fp, () => this.onDeny(peer, fp, frame.member));
        case 'keys-ack':
          return await this.serialAs(fp, () => this.onKeysAck(peer, fp, frame));
        case 'history':
          return await this.onHistory(peer, fp, frame);
        case 'sync-request':
          return this.onSyncRequest(peer, fp, frame);
        case 'sync-reply':
          return this.onSyncReply(peer, fp, frame);
        case 'profile':
          return await this.serialAs(fp, () => this.onProfile(fp, frame));
      }
    } catch (error) {
      // A refused message is named, so its sender knows which one failed.
      if (error instanceof Refusal) return this.peers.fail(peer, error.code, error.message, { ref: frame.type === 'msg' ? frame.id : undefined });
      console.error('room frame failed', error);
      this.peers.fail(peer, 'internal', 'the server could not process this frame');
    }
  }

  async onRequest(req: Party.Request): Promise<Response> {
    // Rooms serve nothing over cross-origin HTTP (members use WebSocket), so a preflight is refused, not allowed.
    if (req.method === 'OPTIONS') return new Response(null, { status: 405, headers: { Allow: 'GET' } });
    if (req.method === 'POST' && this.room.env.PARTYCHAT_TEST_HOOKS === '1') return this.testHook(req);
    return json({ error: 'rooms are reached over WebSocket by their members' }, 404);
  }

  /** A member's frame, in line with the state changes; refused if `fp` stopped being a member while it waited. */
  private serialAs<T>(fp: string, task: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      if (!this.memberKey(fp)) throw new Refusal('removed', 'you are no longer a member of this room');
      return task();
    });
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.queue.then(task, task).finally(() => this.queued--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ── admission ─────────────────────────────────────────────────────────────

  private challenge(peer: Peer): Uint8Array {
    return utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, this.room.id, peer.nonce));
  }

  private async onAuth(peer: Peer, frame: Frame<'auth'>): Promise<void> {
    if (peer.fp) return this.peers.fail(peer, 'bad-frame', 'this connection is already authenticated');

    if (frame.genesis) {
      if (this.roster) return this.peers.fail(peer, 'room-exists', 'a room with this id already exists', { close: CLOSE.roomExists });
      let roster: Roster;
      try {
        roster = await applyRecord(null, frame.genesis, this.room.id);
      } catch (error) {
        return this.peers.fail(peer, 'bad-record', describe(error), { close: CLOSE.authFailed });
      }
      const creator = roster.members.get(frame.fp);
      if (!creator || !(await verifyChallenge(await readPublicKey(creator.publicKey), this.challenge(peer), frame.sig))) {
        return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not match the room creator', { close: CLOSE.authFailed });
      }
      await this.room.storage.put({ [chainKey(0)]: frame.genesis, meta: this.meta, roomId: this.room.id });
      this.setChain([frame.genesis]);
      this.roster = roster;
    }

    if (!this.roster) return this.peers.fail(peer, 'no-room', 'no room exists with this id', { close: CLOSE.noRoom });
    const key = this.memberKey(frame.fp);
    if (!key) return this.peers.fail(peer, 'not-member', 'this identity is not a member of the room', { close: CLOSE.notMember });
    if (!(await verifyChallenge(await readPublicKey(key), this.challenge(peer), frame.sig))) {
      return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not verify with the member key', { close: CLOSE.authFailed });
    }
    await this.admit(peer, frame.fp);
  }

  /**
   * Makes an authenticated connection a member connection: welcome (which tells it who is online), pending keys.
   * The other members hear of it only if the member was not online before (see `onlineChanged`).
   */
  private async admit(peer: Peer, fp: string): Promise<void> {
    const roster = this.existingRoster;
    const requests = roster.members.get(fp)?.role === 'admin' ? await this.requests() : [];
    const cameOnline = this.peers.authenticate(peer, fp);
    if (cameOnline === null) return; // the connection closed meanwhile
    if (cameOnline) this.onlineChanged();
    const presence = this.currentPresence();
    peer.told = presence.tag;
    this.peers.save(peer);
    sendText(
      peer.conn,
      welcomeText({
        room: this.room.id,
        mode: roster.mode,
        epoch: this.meta.epoch,
        seq: this.meta.seq,
        you: fp,
        needKeys: this.meta.needKeys,
        requests,
        rotationDue: this.meta.rotationDue,
        chain: this.chainJson(),
        online: presence.online,
      }),
    );
    // Always sent, even empty: a member learns from it whether the room holds its own profile yet.
    send(peer.conn, { type: 'profiles', profiles: [...this.profiles.values()] });
    const pending = (await this.room.storage.get<DeliveredKey[]>(keysKey(fp))) ?? [];
    if (pending.length) send(peer.conn, { type: 'keys', envelopes: pending });
  }

  /**
   * A non-member asks in through an invite link. Nothing about the link is told before the proof of its secret
   * checks out: a wrong proof gets one answer whether the link is active, revoked, expired, used up or unknown.
   * Join attempts are limited per connection (one), per client address (before any check) and per identity (once
   * its signature checks out); the per-link ceiling is charged only by those who proved the secret, so junk on a
   * link id taken from a URL cannot lock out the people who hold the link.
   */
  private async onJoin(peer: Peer, frame: Frame<'join'>): Promise<void> {
    const link = await this.guestLink(peer, frame.link, this.joinGate, (l) => verifyJoinProof(l.pub, this.room.id, l.id, frame.fp, frame.proof));
    if (!link || !this.roster) return;
    let joinerKey;
    try {
      joinerKey = await readPublicKey(frame.key);
    } catch {
      return this.peers.fail(peer, 'bad-frame', 'the public key cannot be read', { close: CLOSE.authFailed });
    }
    if (joinerKey.getFingerprint() !== frame.fp || !(await verifyChallenge(joinerKey, this.challenge(peer), frame.sig))) {
      return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not verify with this key', { close: CLOSE.authFailed });
    }
    if (this.memberKey(frame.fp)) return this.admit(peer, frame.fp);
    if (!this.take(this.joinsByIdentity, frame.fp) || !this.take(this.joinsByLink, link.id)) {
      return this.peers.fail(peer, 'rate-limited', 'too many join attempts on this link; wait a minute', { close: CLOSE.busy });
    }
    try {
      this.checkLinkUsable(link, frame.fp);
    } catch (error) {
      if (error instanceof Refusal) return this.peers.fail(peer, error.code, error.message, { close: CLOSE.linkRefused });
      throw error;
    }

    if (link.approval) {
      const request: JoinRequest = { fp: frame.fp, key: frame.key, link: link.id, proof: frame.proof, ...(frame.note ? { note: frame.note } : {}), ts: Date.now() };
      const count = (await this.room.storage.list({ prefix: 'req:' })).size;
      if (count >= MAX_PENDING_REQUESTS) {
        return this.peers.fail(peer, 'requests-full', `this room already has ${MAX_PENDING_REQUESTS} requests waiting for an admin; try again later`, {
          close: CLOSE.linkRefused,
        });
      }
      await this.room.storage.put(reqKey(frame.fp), request);
      this.peers.wait(peer, frame.fp);
      send(peer.conn, { type: 'join-pending', reason: 'approval' });
      this.toAdmins({ type: 'join-request', request });
      return;
    }

    let body: RecordBody;
    try {
      body = parseRecordBody(frame.record);
      if (body.kind !== 'join' || body.member !== frame.fp || body.link !== link.id) throw new ChainError('the join record does not match the request');
      if (Math.abs(body.ts - Date.now()) > JOIN_CLOCK_SKEW_MS) throw new ChainError('the join record is dated too far from now; check your clock');
      if (body.prev !== this.roster.head) {
        return this.peers.fail(peer, 'stale-head', 'the room changed while you were joining; try again', { close: CLOSE.linkRefused });
      }
    } catch (error) {
      return this.peers.fail(peer, 'bad-record', describe(error), { close: CLOSE.linkRefused });
    }
    const escrow = link.escrow ? await this.room.storage.get<Escrow>(escrowKey(link.id)) : undefined;
    const handOver = escrow && escrow.epoch === this.meta.epoch;
    if (handOver && !this.take(this.escrowFetches, link.id)) {
      return this.peers.fail(peer, 'link-busy', 'this invite link has been used too often in the last hour; try again later', { close: CLOSE.linkRefused });
    }
    try {
      await this.appendRecord(frame.record);
    } catch (error) {
      return this.peers.fail(peer, 'bad-record', describe(error), { close: CLOSE.linkRefused });
    }
    if (!handOver) await this.needKey(frame.fp);
    await this.admit(peer, frame.fp);
    if (handOver) {
      send(peer.conn, { type: 'escrow', link: link.id, epoch: escrow.epoch, ct: await encryptTo(joinerKey, fromBase64(escrow.ct)) });
    } else {
      send(peer.conn, { type: 'join-pending', reason: 'key' });
    }
  }

  /**
   * Someone holding a link asks what it is, before deciding to join: it proves the link secret over this connection's
   * challenge nonce and says nothing about itself (no identity, no key, no name). As for a join, nothing about the link
   * is told before the proof checks out; then the answer is the link's sealed preview (which only holders of the secret
   * open) and what the server says about approval and the member count. One per connection, limited per client address.
   */
  private async onPreview(peer: Peer, frame: Frame<'preview'>): Promise<void> {
    const link = await this.guestLink(peer, frame.link, this.previewGate, (l) => verifyPreviewProof(l.pub, this.room.id, l.id, peer.nonce, frame.proof));
    if (!link) return;
    try {
      this.checkLinkOpen(link);
    } catch (error) {
      if (error instanceof Refusal) return this.peers.fail(peer, error.code, error.message, { close: CLOSE.linkRefused });
      throw error;
    }
    send(peer.conn, { type: 'link-preview', link: link.id, preview: link.preview, approval: link.approval, members: this.existingRoster.members.size });
  }

  /**
   * What a non-member's link frame (a join or a preview) passes before anything about the link is told: a connection
   * not signed in, to a room that exists, one such frame per connection, the per-address limit (taken before any
   * check), then the proof of the link secret, refused the same way whether the link exists or not. Returns the link,
   * or undefined once the connection has been refused.
   */
  private async guestLink(peer: Peer, linkId: string, gate: GuestGate, proves: (link: LinkState) => Promise<boolean>): Promise<LinkState | undefined> {
    if (peer.fp) return void this.peers.fail(peer, 'bad-frame', 'this connection is already a member');
    if (!this.roster) return void this.peers.fail(peer, 'no-room', 'no room exists with this id', { close: CLOSE.noRoom });
    if (peer.asked.includes(gate.what)) return void this.peers.fail(peer, 'bad-frame', `one ${gate.what} per connection`, { close: CLOSE.linkRefused });
    peer.asked = [...peer.asked, gate.what];
    this.peers.save(peer);
    if (!this.take(gate.byAddress, peer.address)) return void this.peers.fail(peer, 'rate-limited', `too many ${gate.what} attempts; wait a minute`, { close: CLOSE.busy });
    const link = this.findLink(linkId);
    if (!link || !(await proves(link))) {
      return void this.peers.fail(peer, 'link-invalid', 'this invite link is not valid, or its secret does not match', { close: CLOSE.linkRefused });
    }
    return link;
  }

  private checkLinkUsable(link: LinkState, fp: string): void {
    if (this.existingRoster.banned.has(fp)) throw new Refusal('banned', 'an admin has banned you from this room');
    this.checkLinkOpen(link);
  }

  /** Refuses a link that was revoked, expired or used up. */
  private checkLinkOpen(link: LinkState): void {
    if (!link.active) throw new Refusal('link-invalid', 'this invite link was revoked or reset by an admin');
    if (link.expires !== null && Date.now() > link.expires) throw new Refusal('link-expired', 'this invite link has expired');
    if (link.maxUses !== null && link.uses >= link.maxUses) throw new Refusal('link-used-up', 'this invite link has been used as many times as allowed');
  }

  /** Finds a link by id, comparing ids in constant time. */
  private findLink(id: string): LinkState | undefined {
    let found: LinkState | undefined;
    for (const link of this.roster?.links.values() ?? []) if (constantTimeEqual(link.id, id)) found = link;
    return found;
  }

  // ── membership changes ────────────────────────────────────────────────────

  /** Verifies and persists one record; updates the roster and tells every member. */
  private async appendRecord(record: SignedRecord, extra: Record<string, unknown> = {}): Promise<Roster> {
    const roster = await applyRecord(this.roster, record, this.existingRoster.room);
    const body = parseRecordBody(record);
    // A member's history starts where they joined, unless the room shares earlier history.
    if (body.kind === 'add' || body.kind === 'join') extra[floorKey(body.member)] = this.meta.seq;
    // A new disappearing timer applies to messages relayed from now on; earlier ones keep the timer they were sent under.
    const timers = body.kind === 'settings' && roster.mode === 'backup' ? withTimer(this.timers, this.meta.seq + 1, body.settings.disappearMs) : this.timers;
    if (timers !== this.timers) extra.timers = timers;
    await this.room.storage.put({ [chainKey(this.chain.length)]: record, ...extra });
    this.timers = timers;
    if (body.kind === 'settings') await this.scheduleSweep(roster);
    this.setChain([...this.chain, record]);
    this.roster = roster;
    const update = roomFrameText({ type: 'chain', records: [record] });
    for (const p of this.peers.members) sendText(p.conn, update);
    return roster;
  }

  private async onAppend(peer: Peer, fp: string, frame: Frame<'append'>): Promise<void> {
    let body: RecordBody;
    try {
      body = parseRecordBody(frame.record);
      if (body.kind === 'genesis' || body.kind === 'join') throw new ChainError(`${body.kind} records cannot be appended this way`);
      if (body.by !== fp) throw new ChainError('a record must be sent by the admin who signed it');
    } catch (error) {
      return this.peers.fail(peer, 'bad-record', describe(error));
    }
    const sender = this.roster?.members.get(fp);
    const selfLeave = body.kind === 'leave' && body.member === fp;
    if (sender?.role !== 'admin' && !(body.kind === 'link' && sender?.canCreateLinks) && !selfLeave) {
      return this.peers.fail(peer, 'forbidden', body.kind === 'link' ? 'only admins, and members they allowed, can create links' : 'only admins can change the room');
    }

    const keys = frame.keys ?? [];
    const extra: Record<string, unknown> = {};
    if (body.kind === 'add') {
      if (!keys.length || keys.some((k) => k.to !== body.member || k.epoch !== this.meta.epoch)) {
        return this.peers.fail(peer, 'bad-record', 'an add carries key envelopes for the new member at the current epoch');
      }
      extra[keysKey(body.member)] = keys.map((k) => this.deliverable(k, fp));
    } else if (keys.length) {
      return this.peers.fail(peer, 'bad-record', 'only add records carry key envelopes');
    }
    if (body.kind === 'link') {
      if (body.escrow !== !!frame.escrow) return this.peers.fail(peer, 'bad-record', 'an escrow link carries its wrapped key, and only then');
      if (frame.escrow && (frame.escrow.link !== body.link || frame.escrow.epoch !== this.meta.epoch)) {
        return this.peers.fail(peer, 'bad-record', 'the escrowed key must be for this link at the current epoch');
      }
      if (frame.escrow) extra[escrowKey(body.link)] = frame.escrow;
    } else if (frame.escrow) {
      return this.peers.fail(peer, 'bad-record', 'only link records carry an escrowed key');
    }

    try {
      await this.appendRecord(frame.record, extra);
    } catch (error) {
      const code = error instanceof ChainError && /admin/.test(error.message) ? 'forbidden' : 'bad-record';
      return this.peers.fail(peer, code, describe(error));
    }

    switch (body.kind) {
      case 'add': {
        const wasRequest = await this.room.storage.get<JoinRequest>(reqKey(body.member));
        if (wasRequest) {
          await this.room.storage.delete(reqKey(body.member));
          this.toAdmins({ type: 'join-resolved', member: body.member, outcome: 'approved' });
        }
        for (const guest of this.guests(body.member)) await this.admit(guest, body.member);
        return;
      }
      case 'link-revoke':
        return this.room.storage.delete(escrowKey(body.link)).then(() => undefined);
      case 'links-reset': {
        const escrows = await this.room.storage.list({ prefix: 'escrow:' });
        await this.room.storage.delete([...escrows.keys()]);
        return;
      }
      case 'role':
        if (body.role === 'admin') await this.tellNewAdmin(body.member);
        return;
      case 'remove':
      case 'leave':
        if (body.kind === 'leave' && body.successor) await this.tellNewAdmin(body.successor);
        return this.cutOff(body.member);
      case 'ban': {
        await this.room.storage.delete(reqKey(body.member));
        this.toAdmins({ type: 'join-resolved', member: body.member, outcome: 'banned' });
        for (const guest of this.guests(body.member)) this.peers.fail(guest, 'banned', 'an admin has banned you from this room', { close: CLOSE.linkRefused });
        return;
      }
    }
  }

  /** A member just made an admin hears of the join requests already waiting, on the connections it has open. */
  private async tellNewAdmin(fp: string): Promise<void> {
    const requests = await this.requests();
    if (!requests.length) return;
    const texts = requests.map((request) => roomFrameText({ type: 'join-request', request }));
    for (const p of this.peers.members) if (p.fp === fp) for (const text of texts) sendText(p.conn, text);
  }

  private async onDeny(peer: Peer, fp: string, member: string): Promise<void> {
    if (this.roster?.members.get(fp)?.role !== 'admin') return this.peers.fail(peer, 'forbidden', 'only admins can answer join requests');
    await this.room.storage.delete(reqKey(member));
    this.toAdmins({ type: 'join-resolved', member, outcome: 'denied' });
    for (const guest of this.guests(member)) this.peers.fail(guest, 'join-denied', 'an admin declined your request to join', { close: CLOSE.linkRefused });
  }

  /**
   * A member replaces its own profile (sealed under a room key: the server cannot read or check it; members check
   * its signature and that it names its sender). Kept until the member leaves or is removed, and passed on.
   */
  private async onProfile(fp: string, frame: Frame<'profile'>): Promise<void> {
    if (frame.epoch > this.meta.epoch) throw new Refusal('bad-epoch', `the room is at key epoch ${this.meta.epoch}`);
    const profile: SealedProfile = { fp, epoch: frame.epoch, ct: frame.ct };
    await this.room.storage.put(profileKey(fp), profile);
    this.profiles.set(fp, profile);
    const text = roomFrameText({ type: 'profiles', profiles: [profile] });
    for (const p of this.peers.members) if (p.fp !== fp) sendText(p.conn, text);
  }

  /** A member hands the room key to members who joined without one. */
  private async onKeys(peer: Peer, fp: string, keys: KeyEnvelope[]): Promise<void> {
    for (const key of keys) {
      if (!this.memberKey(key.to)) return this.peers.fail(peer, 'bad-record', 'key envelopes go to members only');
      // Older epochs are allowed (sharing earlier history); only the current one satisfies a member who needs a key.
      if (key.epoch > this.meta.epoch) return this.peers.fail(peer, 'bad-epoch', `the room is at key epoch ${this.meta.epoch}`);
    }
    for (const key of keys) {
      const stored = (await this.room.storage.get<DeliveredKey[]>(keysKey(key.to))) ?? [];
      const envelope = this.deliverable(key, fp);
      await this.room.storage.put(keysKey(key.to), [...stored, envelope].slice(-MAX_PENDING_KEYS_PER_MEMBER));
      const text = roomFrameText({ type: 'keys', envelopes: [envelope] });
      for (const p of this.peers.members) if (p.fp === key.to) sendText(p.conn, text);
    }
  }

  private async onKeysAck(peer: Peer, fp: string, frame: Frame<'keys-ack'>): Promise<void> {
    const key = keysKey(fp);
    const pending = (await this.room.storage.get<DeliveredKey[]>(key)) ?? [];
    const left = pending.filter((k) => !frame.kids.includes(k.kid));
    if (left.length !== pending.length) {
      if (left.length) await this.room.storage.put(key, left);
      else await this.room.storage.delete(key);
    }
    // Only the current epoch's key satisfies a member who needs one.
    const current = pending.some((k) => frame.kids.includes(k.kid) && k.epoch === this.meta.epoch);
    if (current && this.meta.needKeys.includes(fp)) {
      this.meta = { ...this.meta, needKeys: this.meta.needKeys.filter((n) => n !== fp) };
      await this.room.storage.put('meta', this.meta);
    }
  }

  private async needKey(fp: string): Promise<void> {
    this.meta = { ...this.meta, needKeys: [...new Set([...this.meta.needKeys, fp])] };
    await this.room.storage.put('meta', this.meta);
    const frame = roomFrameText({ type: 'need-key', members: [fp] });
    for (const p of this.peers.members) if (p.fp !== fp) sendText(p.conn, frame);
  }

  /** A removed (or departed) member is cut off at once; the room waits for a member to start the next key epoch. */
  private async cutOff(fp: string): Promise<void> {
    for (const p of this.peers.all()) {
      if (p.fp !== fp) continue;
      if (this.peers.unauthenticate(p)) this.onlineChanged();
      this.peers.fail(p, 'removed', 'you are no longer a member of this room', { close: CLOSE.removed });
    }
    await this.room.storage.delete([keysKey(fp), floorKey(fp), profileKey(fp)]);
    this.profiles.delete(fp);
    this.meta = { ...this.meta, rotationDue: true, needKeys: this.meta.needKeys.filter((n) => n !== fp) };
    await this.room.storage.put('meta', this.meta);
    this.broadcastEpoch();
  }

  /**
   * A member starts the next key epoch: new envelopes for members, refreshed escrows, and every other escrow retired.
   * Who may (issue 9, attack 7): anyone while a rotation is due (a member left or was removed), else only an admin;
   * a link's escrowed key is replaced only by the link's creator (while it may create links) or an admin, the
   * members who hold its secret by right, so that no other member can leave the link's joiners stuck.
   */
  private async onRotate(peer: Peer, fp: string, frame: Frame<'rotate'>): Promise<void> {
    const roster = this.existingRoster;
    if (frame.epoch !== this.meta.epoch + 1) return this.peers.fail(peer, 'bad-epoch', `the next key epoch is ${this.meta.epoch + 1}`);
    const sender = roster.members.get(fp);
    const admin = sender?.role === 'admin';
    if (!this.meta.rotationDue && !admin) return this.peers.fail(peer, 'forbidden', 'only admins start a key epoch while no member has left');
    for (const escrow of frame.escrows) {
      const link = roster.links.get(escrow.link);
      if (!admin && !(link?.by === fp && sender?.canCreateLinks)) {
        return this.peers.fail(peer, 'forbidden', "only the link's creator or an admin may replace its escrowed key");
      }
    }
    for (const key of frame.keys) {
      if (!roster.members.has(key.to) || key.epoch !== frame.epoch) return this.peers.fail(peer, 'bad-record', 'rotation envelopes go to members, at the new epoch');
    }
    for (const escrow of frame.escrows) {
      const link = roster.links.get(escrow.link);
      if (!link?.active || !link.escrow || escrow.epoch !== frame.epoch) return this.peers.fail(peer, 'bad-record', 'refreshed escrows are for active escrow links, at the new epoch');
    }
    const old = await this.room.storage.list({ prefix: 'escrow:' });
    await this.room.storage.delete([...old.keys()].filter((k) => !frame.escrows.some((e) => escrowKey(e.link) === k)));
    const others = [...roster.members.keys()].filter((m) => m !== fp);
    this.meta = { ...this.meta, epoch: frame.epoch, rotationDue: false, needKeys: others };
    await this.room.storage.put({ meta: this.meta, ...Object.fromEntries(frame.escrows.map((e) => [escrowKey(e.link), e])) });
    this.broadcastEpoch(fp);
    if (frame.keys.length) await this.onKeys(peer, fp, frame.keys);
  }

  /** Tells members the room's epoch; `by` names who started it, so only that member trusts its own new key. */
  private broadcastEpoch(by?: string): void {
    // An absent `by` is left out of the text (JSON.stringify drops undefined), as the schema's optional field wants.
    const frame = roomFrameText({ type: 'epoch', epoch: this.meta.epoch, rotationDue: this.meta.rotationDue, by });
    for (const p of this.peers.members) sendText(p.conn, frame);
  }

  private deliverable(key: KeyEnvelope, from: string): DeliveredKey {
    return { ...key, kid: randomHex(8), from };
  }

  // ── relay ─────────────────────────────────────────────────────────────────

  /**
   * The hot path: stamp, relay, acknowledge. Ids, fingerprints and ct are validated hex/base64 (nothing to
   * escape), so the relayed frame and the ack are built as text, once per message (see frames.ts).
   */
  private async onEnvelope(peer: Peer, fp: string, frame: Frame<'msg'>, ts: number): Promise<void> {
    if (frame.epoch !== this.meta.epoch) {
      return this.peers.fail(peer, 'bad-epoch', `the room is at key epoch ${this.meta.epoch}`, { ref: frame.id });
    }
    // A member left or was removed and still holds this epoch's key: nothing more is relayed or stored under it
    // until someone starts the next epoch (the sender keeps it in its outbox and re-seals it; issue 9, attack 3).
    if (this.meta.rotationDue) {
      return this.peers.fail(peer, 'bad-epoch', `a member left: messages wait for key epoch ${this.meta.epoch + 1}`, { ref: frame.id });
    }
    const seen = this.recent.get(frame.id);
    if (seen !== undefined) return sendText(peer.conn, ackText(frame.id, seen, this.recentTs[seen % RECENT_IDS] as number));

    const backup = this.roster?.mode === 'backup' ? this.roster : null;
    if (backup) {
      // Refused, not stored by dropping older ones: the sender keeps it in its outbox (messages leave the backup only by
      // the room's timer and retention settings).
      const stored = this.meta.stored ?? { messages: 0, chars: 0 };
      const cap = Math.min(MAX_BACKUP_MESSAGES, backup.settings.backupLimit ?? MAX_BACKUP_MESSAGES);
      if (stored.messages >= cap || stored.chars + frame.ct.length > MAX_BACKUP_CHARS) {
        const what = stored.messages >= cap ? `${cap} messages` : `${MAX_BACKUP_CHARS} characters of messages`;
        return this.peers.fail(peer, 'backup-full', `this room's backup on the server is full (${what}); the message was not sent`, { ref: frame.id });
      }
      this.meta.stored = { messages: stored.messages + 1, chars: stored.chars + frame.ct.length };
    }
    const seq = ++this.meta.seq;
    this.remember(frame.id, seq, ts);
    const from = fp;
    if (backup) {
      // Backup mode: the ciphertext is on disk before anyone hears of it, one key per message.
      const envelope: Envelope = { seq, id: frame.id, epoch: frame.epoch, from, ts, ct: frame.ct };
      await this.room.storage.put({ [messageKey(seq)]: envelope, meta: this.meta });
    } else if (seq > this.meta.seqCeiling) {
      // Ephemeral mode writes nothing per message: one write reserves the next block of sequence numbers.
      this.meta.seqCeiling = seq + SEQ_BLOCK;
      void this.room.storage.put('meta', this.meta);
    }
    const relayed = relayedText(seq, frame.id, frame.epoch, from, ts, frame.ct);
    for (const other of this.peers.members) if (other !== peer) sendText(other.conn, relayed);
    sendText(peer.conn, ackText(frame.id, seq, ts));
  }

  /** Remembers a relayed id (`stored`: loaded from storage, so nothing to store again). */
  private remember(id: string, seq: number, ts: number, stored = false): void {
    const slot = seq % RECENT_IDS;
    const evicted = this.recentIds[slot];
    if (evicted !== undefined && this.recent.get(evicted) === this.recentSeqs[slot]) this.recent.delete(evicted);
    this.recentIds[slot] = id;
    this.recentSeqs[slot] = seq;
    this.recentTs[slot] = ts;
    this.recent.set(id, seq);
    if (stored) return;
    this.recentDirty.add(Math.floor(seq / RECENT_BLOCK));
    this.settleLater();
  }

  /** Something to store before the room may hibernate changed: stores it once the room is quiet (see SETTLE_QUIET_MS). */
  private settleLater(): void {
    const now = Date.now();
    if (!this.settleTimer) this.settleSince = now;
    this.settleLast = now;
    this.settleTimer ??= setTimeout(() => this.settleWhenQuiet(), SETTLE_QUIET_MS);
  }

  private settleWhenQuiet(): void {
    const wait = Math.min(this.settleLast + SETTLE_QUIET_MS, this.settleSince + SETTLE_MAX_DELAY_MS) - Date.now();
    if (wait > 0) {
      this.settleTimer = setTimeout(() => this.settleWhenQuiet(), wait);
      return;
    }
    this.settleTimer = null;
    void this.settle().catch((error: unknown) => console.error('room state not stored', error));
  }

  /** Stores what a wake from hibernation needs and memory alone holds: recent ids, the limits on non-members. */
  private async settle(): Promise<void> {
    await this.storeRecent();
    await this.storeLimits();
  }

  /**
   * Stores the blocks of recent ids changed since last time, and deletes the stored blocks that fell out of the
   * window, so a room woken from hibernation still acknowledges a resent envelope instead of relaying it twice.
   */
  private async storeRecent(): Promise<void> {
    const low = Math.floor(Math.max(0, this.meta.seq - RECENT_IDS + 1) / RECENT_BLOCK);
    const put: Record<string, RecentBlock> = {};
    for (const block of this.recentDirty) if (block >= low) put[recentKey(block)] = this.recentBlock(block);
    this.recentDirty.clear();
    const stale = [...this.recentStored].filter((block) => block < low);
    for (const key of Object.keys(put)) this.recentStored.add(Number(key.slice('recent:'.length)));
    for (const block of stale) this.recentStored.delete(block);
    if (Object.keys(put).length) await this.room.storage.put(put);
    if (stale.length) await this.room.storage.delete(stale.map(recentKey));
  }

  /** The remembered ids with a seq in `block`. */
  private recentBlock(block: number): RecentBlock {
    const entries: RecentBlock = [];
    for (let seq = block * RECENT_BLOCK; seq < (block + 1) * RECENT_BLOCK; seq++) {
      const slot = seq % RECENT_IDS;
      const id = this.recentIds[slot];
      if (id !== undefined && this.recentSeqs[slot] === seq) entries.push([id, seq, this.recentTs[slot] as number]);
    }
    return entries;
  }

  /**
   * The limits on non-members, which count over minutes (an hour for escrowed keys): stored when the room settles so a
   * wake from hibernation does not refill them. The frame rates of connections count over seconds and are not stored:
   * a room hibernates only after seconds of quiet, when they would have refilled anyway.
   */
  private guestLimits(): Record<string, KeyedBuckets> {
    return { join: this.joinGate.byAddress, preview: this.previewGate.byAddress, identity: this.joinsByIdentity, link: this.joinsByLink, escrow: this.escrowFetches };
  }

  /** Charges one of the limits on non-members (to be stored when the room settles). */
  private take(buckets: KeyedBuckets, key: string): boolean {
    this.limitsDirty = true;
    this.settleLater();
    return buckets.take(key);
  }

  private async storeLimits(): Promise<void> {
    if (!this.limitsDirty) return;
    this.limitsDirty = false;
    const now = Date.now();
    const entries = Object.entries(this.guestLimits()).map(([name, buckets]) => [`limits:${name}`, buckets.snapshot(now)] as const);
    const kept = entries.filter(([, snapshot]) => snapshot.length);
    const refilled = entries.filter(([, snapshot]) => !snapshot.length).map(([key]) => key);
    if (kept.length) await this.room.storage.put(Object.fromEntries(kept));
    if (refilled.length) await this.room.storage.delete(refilled);
  }

  private async loadLimits(): Promise<void> {
    const stored = await this.room.storage.list<Array<[string, number, number]>>({ prefix: 'limits:' });
    for (const [name, buckets] of Object.entries(this.guestLimits())) buckets.load(stored.get(`limits:${name}`) ?? []);
  }

  /** Loads the stored recent ids (see storeRecent). */
  private async loadRecent(): Promise<void> {
    const blocks = await this.room.storage.list<RecentBlock>({ prefix: 'recent:' });
    for (const [key, entries] of blocks) {
      this.recentStored.add(Number(key.slice('recent:'.length)));
      for (const [id, seq, ts] of entries) this.remember(id, seq, ts, true);
    }
  }

  // ── history ───────────────────────────────────────────────────────────────

  /** Backup mode: a page of stored envelopes, never from before the member joined unless the room shares history. */
  private async onHistory(peer: Peer, fp: string, frame: Frame<'history'>): Promise<void> {
    if (this.roster?.mode !== 'backup') return this.peers.fail(peer, 'bad-frame', 'this room keeps no history on the server (ephemeral mode)');
    const floor = this.roster.settings.shareHistory ? 0 : ((await this.room.storage.get<number>(floorKey(fp))) ?? 0);
    const direction = frame.before !== undefined ? 'before' : 'after';
    const after = Math.max(frame.after ?? 0, floor);
    const options =
      frame.before !== undefined
        ? { start: messageKey(floor + 1), end: messageKey(frame.before), reverse: true, limit: frame.limit + 1 }
        : { start: messageKey(after + 1), limit: frame.limit + 1 };
    const listed = await this.room.storage.list<Envelope>({ prefix: 'msg:', ...options });
    // Whatever the timer or retention has doomed is deleted now rather than served, even if the alarm has not run yet.
    const doomed = this.doomed(this.roster);
    const expired = [...listed].filter(([, e]) => doomed(e));
    if (expired.length) await this.serial(() => this.forgetListed(expired.slice(0, DELETE_BATCH)));
    const found = [...listed.values()].filter((e) => !doomed(e));
    let size = 0;
    let count = 0;
    for (const envelope of found.slice(0, frame.limit)) {
      if (count > 0 && size + envelope.ct.length >= HISTORY_PAGE_CHARS) break;
      size += envelope.ct.length;
      count++;
    }
    const more = found.length > count;
    const messages = found.slice(0, count);
    if (direction === 'before') messages.reverse();
    send(peer.conn, { type: 'history', messages, more, direction });
  }

  /** Ephemeral mode: pass a member's request for missed messages to the other online members (or the one it names). */
  private onSyncRequest(peer: Peer, fp: string, request: Frame<'sync-request'>): void {
    if (this.roster?.mode !== 'ephemeral') return this.peers.fail(peer, 'bad-frame', 'backup rooms catch up from the server (send history)');
    const { since, before, to } = request;
    const frame = roomFrameText({ type: 'sync-request', from: fp, since, ...(before !== undefined ? { before } : {}) });
    for (const other of this.peers.members) if (other.fp !== fp && (to === undefined || other.fp === to)) sendText(other.conn, frame);
  }

  /** Ephemeral mode: forward original envelopes from one member to another; the receiver verifies each signature itself. */
  private onSyncReply(peer: Peer, fp: string, frame: Frame<'sync-reply'>): void {
    if (!this.memberKey(frame.to)) return this.peers.fail(peer, 'bad-frame', 'sync replies go to members only');
    if (frame.messages.length === 0 && !frame.page) return;
    const text = roomFrameText({ type: 'sync-reply', from: fp, messages: frame.messages, ...(frame.page ? { page: frame.page } : {}) });
    for (const p of this.peers.members) if (p.fp === frame.to) sendText(p.conn, text);
  }

  /** Deletes stored envelopes past the disappearing timer or the retention limits; reschedules itself. */
  async onAlarm(): Promise<void> {
    const roster = this.roster;
    if (!roster || roster.mode !== 'backup') return;
    // Serial with appends: a settings record and a sweep both rewrite the timer spans.
    await this.serial(() => this.sweep(roster, Date.now()));
    await this.scheduleSweep(roster);
  }

  /**
   * Deletes what is doomed at `now`. Within one timer span the doomed messages are the oldest ones (and so are
   * those past the retention limits in the whole backup), so each range is swept from its start until the first
   * message that stays. A span of the past whose messages are all gone is forgotten.
   */
  private async sweep(roster: Roster, now: number): Promise<number> {
    const isDoomed = this.doomed(roster, now);
    const { retentionDays, retentionCount } = roster.settings;
    const ranges: Array<{ from: number; to: number | null; span?: TimerSpan }> = retentionDays || retentionCount ? [{ from: 0, to: null }] : [];
    this.timers.forEach((span, i) => {
      if (span.ms !== null) ranges.push({ from: span.from, to: this.timers[i + 1]?.from ?? null, span });
    });
    let deleted = 0;
    const emptied = new Set<TimerSpan>();
    for (const { from, to, span } of ranges) {
      for (;;) {
        const batch = await this.room.storage.list<Envelope>({
          prefix: 'msg:',
          start: messageKey(from),
          ...(to !== null ? { end: messageKey(to) } : {}),
          limit: DELETE_BATCH,
        });
        const doomed = [...batch].filter(([, e]) => isDoomed(e));
        if (doomed.length) await this.forget(doomed);
        deleted += doomed.length;
        if (doomed.length === batch.size && batch.size < DELETE_BATCH && span && to !== null) emptied.add(span);
        if (doomed.length < DELETE_BATCH) break;
      }
    }
    if (emptied.size) {
      const timers = compactTimers(this.timers.map((span) => (emptied.has(span) ? { ...span, ms: null } : span)));
      await this.room.storage.put('timers', timers);
      this.timers = timers;
    }
    return deleted;
  }

  /**
   * Deletes stored envelopes listed before this task's turn in the queue: only those still stored (the sweep may have
   * deleted some meanwhile), so none is taken off the backup's count twice. Runs in the queue.
   */
  private async forgetListed(listed: Array<[string, Envelope]>): Promise<void> {
    const still = await this.room.storage.get<Envelope>(listed.map(([key]) => key));
    await this.forget([...still]);
  }

  /** Deletes stored envelopes (at most DELETE_BATCH) and takes them off the backup's count. Runs in the queue. */
  private async forget(entries: Array<[string, Envelope]>): Promise<void> {
    if (!entries.length) return;
    await this.room.storage.delete(entries.map(([key]) => key));
    const stored = this.meta.stored ?? { messages: 0, chars: 0 };
    const chars = entries.reduce((sum, [, e]) => sum + e.ct.length, 0);
    this.meta.stored = { messages: Math.max(0, stored.messages - entries.length), chars: Math.max(0, stored.chars - chars) };
    await this.room.storage.put('meta', this.meta);
  }

  /** Counts a backup's stored messages and characters (for a room stored before the count was kept in `meta`). */
  private async countStored(): Promise<Stored> {
    const stored: Stored = { messages: 0, chars: 0 };
    let start: string | undefined;
    for (;;) {
      const page = await this.room.storage.list<Envelope>({ prefix: 'msg:', ...(start ? { start } : {}), limit: COUNT_BATCH });
      for (const [key, envelope] of page) {
        if (key === start) continue; // `start` is inclusive: the last one of the page before
        stored.messages++;
        stored.chars += envelope.ct.length;
      }
      if (page.size < COUNT_BATCH) return stored;
      start = [...page.keys()].at(-1);
    }
  }

  /** The room's deletion rule at `now`: past the timer in force when sent, older than the retention days, or beyond the retention count. */
  private doomed(roster: Roster, now = Date.now()): (e: Envelope) => boolean {
    const { retentionDays, retentionCount } = roster.settings;
    const cutoff = retentionDays ? now - retentionDays * 86_400_000 : 0;
    const keepFrom = retentionCount ? this.meta.seq - retentionCount + 1 : 0;
    const timers = this.timers;
    return (e) => {
      if (e.ts < cutoff || e.seq < keepFrom) return true;
      const ms = timerAt(timers, e.seq);
      return ms !== null && e.ts < now - ms;
    };
  }

  /** Runs the sweep while anything can be doomed: a timer span (current or past) or a retention limit. */
  private async scheduleSweep(roster: Roster): Promise<void> {
    const { retentionDays, retentionCount } = roster.settings;
    const shortest = Math.min(SWEEP_INTERVAL_MS, ...this.timers.map((t) => t.ms ?? SWEEP_INTERVAL_MS));
    const timed = this.timers.some((t) => t.ms !== null);
    if (roster.mode !== 'backup' || (!timed && !retentionDays && !retentionCount)) return;
    await this.room.storage.setAlarm(Date.now() + shortest);
  }

  // ── helpers ───────────────────────────────────────────────────────────────

  /** The key the server admits `fp` with: a verified member, or one the test hook injected. */
  private memberKey(fp: string): string | undefined {
    return this.roster?.members.get(fp)?.publicKey ?? this.injectedKeys.get(fp);
  }

  private guests(fp: string): Peer[] {
    return this.peers.all().filter((p) => p.guest === fp);
  }

  private async requests(): Promise<JoinRequest[]> {
    return [...(await this.room.storage.list<JoinRequest>({ prefix: 'req:' })).values()];
  }

  private toAdmins(frame: RoomServerFrame): void {
    const text = roomFrameText(frame);
    for (const p of this.peers.members) if (this.roster?.members.get(p.fp as string)?.role === 'admin') sendText(p.conn, text);
  }

  private setChain(chain: SignedRecord[]): void {
    this.chain = chain;
    this.chainText = null;
  }

  private chainJson(): Json<SignedRecord[]> {
    return (this.chainText ??= toJson(this.chain));
  }

  private currentPresence(): { online: Json<string[]>; frame: string; tag: string } {
    if (!this.presence) {
      const online = toJson(this.peers.online());
      const frame = presenceText(online);
      this.presence = { online, frame, tag: presenceTag(frame) };
    }
    return this.presence;
  }

  /**
   * A member came online (first connection) or went offline (last one): tell the members, once for all the
   * changes within PRESENCE_DELAY_MS. A second tab of an online member changes nothing and sends nothing.
   */
  private onlineChanged(): void {
    this.presence = null;
    this.presenceTimer ??= setTimeout(() => {
      this.presenceTimer = null;
      this.broadcastPresence();
    }, PRESENCE_DELAY_MS);
  }

  /** Sends the online set to every member connection that has not seen it yet (in its welcome or an earlier frame). */
  private broadcastPresence(): void {
    const { frame, tag } = this.currentPresence();
    for (const p of this.peers.members) {
      if (p.told === tag) continue;
      p.told = tag;
      this.peers.save(p);
      sendText(p.conn, frame);
    }
  }

  // ── test hook: simulates a compromised server (only with PARTYCHAT_TEST_HOOKS=1) ──

  private readonly injectedKeys = new Map<string, string>();

  /**
   * `POST {"hook":"inject-member","fp","key"}` writes a member straight into the room's state with
   * a record nobody signed, and asks members to send it the key, as a malicious server would.
   * `POST {"hook":"sweep","at"}` runs the backup sweep as if the clock read `at` (ms), so tests need not wait for a timer.
   * `POST {"hook":"hibernate","leave"?}` simulates a hibernation and a wake (see `hibernate`); `leave` (a fingerprint):
   * that member's connections close while the room sleeps.
   */
  private async testHook(req: Party.Request): Promise<Response> {
    const body = (await req.json().catch(() => null)) as { hook?: string; fp?: string; key?: string; at?: number; leave?: string } | null;
    if (body?.hook === 'sweep' && typeof body.at === 'number' && this.roster?.mode === 'backup') {
      const roster = this.roster;
      const at = body.at;
      return json({ deleted: await this.serial(() => this.sweep(roster, at)) });
    }
    if (body?.hook === 'hibernate') return json(await this.hibernate(body.leave));
    if (body?.hook !== 'inject-member' || !body.fp || !body.key || !this.roster) return json({ error: 'unknown hook' }, 400);
    const forged: SignedRecord = {
      body: JSON.stringify({ v: 1, kind: 'add', room: this.room.id, prev: this.roster.head, by: body.fp, member: body.fp, key: body.key, role: 'member', ts: Date.now() }),
      sig: 'AAAA',
    };
    this.setChain([...this.chain, forged]);
    this.injectedKeys.set(body.fp, body.key);
    await this.room.storage.put(chainKey(this.chain.length - 1), forged);
    const update = roomFrameText({ type: 'chain', records: [forged] });
    for (const p of this.peers.members) sendText(p.conn, update);
    await this.needKey(body.fp);
    return json({ ok: true });
  }

  /**
   * A test of hibernation, which `partykit dev` cannot force: the room settles as the platform waits for it to (no
   * frame in progress, no timer pending: the presence frame sent, the recent ids stored), loses its handshake timers as
   * an evicted one would, drops every field it holds in memory (a fresh instance's fields over its own), and wakes as
   * on Cloudflare: `onStart` over the same storage and the same open sockets with their attachments.
   */
  private async hibernate(leave?: string): Promise<{ peers: number; members: number; presenceDue: boolean }> {
    await this.queue;
    if (this.presenceTimer) {
      clearTimeout(this.presenceTimer);
      this.presenceTimer = null;
      this.broadcastPresence();
    }
    if (this.settleTimer) {
      clearTimeout(this.settleTimer);
      this.settleTimer = null;
      await this.settle();
    }
    this.peers.dispose();
    Object.assign(this, new RoomServer(this.room));
    // Sockets that close while the room sleeps: their close wakes it, and finds no peer of theirs in the new table.
    for (const conn of this.room.getConnections()) if (leave && readPeerState(conn.state)?.fp === leave) conn.close(1001, 'going away');
    await this.onStart();
    return { peers: this.peers.all().length, members: this.peers.members.size, presenceDue: this.presenceTimer !== null };
  }
}

function chainKey(index: number): string {
  return `chain:${String(index).padStart(6, '0')}`;
}

function profileKey(fp: string): string {
  return `profile:${fp}`;
}

function keysKey(fp: string): string {
  return `keys:${fp}`;
}

function recentKey(block: number): string {
  return `recent:${String(block).padStart(10, '0')}`;
}

function messageKey(seq: number): string {
  return `msg:${String(seq).padStart(12, '0')}`;
}

function floorKey(fp: string): string {
  return `floor:${fp}`;
}

function reqKey(fp: string): string {
  return `req:${fp}`;
}

function escrowKey(link: string): string {
  return `escrow:${link}`;
}

/** The timer spans with `ms` in force from seq `from` on. */
function withTimer(timers: TimerSpan[], from: number, ms: number | null): TimerSpan[] {
  return compactTimers([...timers.filter((t) => t.from < from), { from, ms }]);
}

/** Drops leading spans without a timer and merges neighbours with the same timer. */
function compactTimers(timers: TimerSpan[]): TimerSpan[] {
  const out: TimerSpan[] = [];
  for (const span of timers) {
    const last = out[out.length - 1];
    if (last ? last.ms === span.ms : span.ms === null) continue;
    out.push(span);
  }
  return out;
}

/** The disappearing timer a message with this seq was relayed under. */
function timerAt(timers: TimerSpan[], seq: number): number | null {
  let ms: number | null = null;
  for (const span of timers) {
    if (span.from > seq) break;
    ms = span.ms;
  }
  return ms;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
