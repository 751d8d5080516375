/**
 * One room while the vault is unlocked: its stored record, the membership its verified chain proves,
 * its connection, and what the server last said. The record is read-only to everyone else: every change
 * goes through `edit`, `adoptKey` or `adoptChain` here, inside the room's serial queue (`run`).
 */
import { UserFacingError } from '../errors';
import type { PartyConnection } from '../connection';
import type { RoomRecord, StoredMessage } from '../records';
import type { Roster } from '@/shared/membership';
import type { AppendFrame, JoinRequest, KeyEnvelope, RoomClientFrame, RoomMode, RoomServerFrame, SealedProfile, SignedRecord } from '@/shared/protocol';
import { unnamed } from '@/shared/crypto';

/** A read-only view of a stored shape, all the way down. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? ReadonlyArray<DeepReadonly<U>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A membership change we sent, awaiting the server's chain broadcast. */
interface PendingChange {
  resolve(): void;
  reject(error: Error): void;
}

/** What a session needs from outside: writing its record (sealed) and reporting what failed verification. */
export interface SessionHooks {
  persist(record: RoomRecord): Promise<void>;
  onRejected(roomId: string, reason: string): void;
  /** A verified chain was adopted, or a member's name became known: its members are pinned as contacts (services/contacts.ts). */
  onRoster?(roomId: string, roster: Roster): void;
  /** The name the contact book knows someone by (a room we share told it), for members whose profile has not reached this room. */
  contactName?(fingerprint: string): string | undefined;
  /** Who we are: our own name is ours, whatever the room has heard. */
  self?: { fingerprint: string; name: string };
}


export function emptyRoom(id: string, mode: RoomMode, now: number): RoomRecord {
  return {
    id,
    name: '',
    mode,
    createdAt: now,
    keys: {},
    chain: [],
    pendingGenesis: null,
    myCtr: 0,
    peerCtr: {},
    missing: {},
    lastSeq: 0,
    unread: 0,
    lastText: null,
    lastTs: null,
    pages: 0,
    pageExpiry: [],
    oldestLoaded: null,
    outbox: [],
    joining: null,
    linkSecrets: {},
    removed: false,
  };
}

/** The newest epoch a record holds a key for (rotation comes with removal; until then every room is at epoch 0). */
export function currentEpoch(record: DeepReadonly<RoomRecord>): number {
  const epochs = Object.keys(record.keys).map(Number);
  return epochs.length ? Math.max(...epochs) : 0;
}

export class RoomSession {
  /**
   * The membership proven by the verified chain, with each member's name as their profile says (else the name in
   * their key, for identities made before private profiles, else `unnamed`); null until verified.
   */
  roster: Roster | null = null;
  /** The roster as the chain proves it, names from the keys. */
  private chainRoster: Roster | null = null;
  /** Sealed profiles received that we hold no key for yet (a link joiner's first welcome), by member. */
  readonly sealedProfiles = new Map<string, SealedProfile>();
  /**
   * What the server holds as our own profile on this connection: unknown until its first `profiles` frame after
   * the welcome, null if none (or one we cannot read).
   */
  profileOnServer: { epoch: number; name: string } | null | undefined = undefined;
  conn: PartyConnection<RoomServerFrame, RoomClientFrame> | null = null;
  online = new Set<string>();
  /** Members the server lists whom no valid signature admits: flagged in the UI, never sent a key. */
  readonly unverified = new Set<string>();
  /** Verified join requests (admins). */
  readonly requests = new Map<string, JoinRequest & { name: string }>();
  /** Resolves a pending `loadOlder`. */
  olderWaiter: ((count: number) => void) | null = null;
  /** The sequence we still need history after (we missed messages while away), until the backup or a member supplies it; kept across reconnects until then. */
  syncSince: number | null = null;
  /**
   * Ephemeral sync answers in progress, per member answering: the `before` we last asked them for, how many they
   * said they hold in the range (first page), how many they handed over.
   */
  readonly syncTransfers = new Map<string, { asked: number; held: number | null; got: number }>();
  /** Messages the last member to finish a sync said it held and did not hand over (shown as missing, senders unknown). */
  syncShort = 0;
  /** The room's newest sequence number as far as we know. */
  serverSeq = 0;
  /** The room's key epoch as the server last said. */
  serverEpoch = 0;
  /** A rotation we proposed: its key stays here until the server says we started that epoch, then the other envelopes go out. */
  rotation: { epoch: number; gek: string; rest: KeyEnvelope[] } | null = null;
  resendTimer: ReturnType<typeof setTimeout> | null = null;
  /** The server refused a message of ours with `backup-full` and has acknowledged none since (not stored: asked again). */
  backupFull = false;
  /** The connection (and its generation) the outbox was last resent on: only then may a new message go out directly. */
  private flushedOn: { conn: RoomSession['conn']; generation: number } | null = null;
  /** Disappearing-timer changes parsed from the chain, cached per chain length (see expiry.ts). */
  timers: { length: number; changes: Array<{ ts: number; ms: number | null }> } | null = null;
  /** Messages of this room that could not be read and were moved aside, until the person dismisses the notice (services/quarantine.ts). */
  unreadable = 0;
  /** Ids of messages that arrived this session and could not be opened, from senders no gap would show (room/messages.ts). */
  readonly unreadableWire = new Set<string>();
  /**
   * Texts of ours that never left this browser (storage was full, or sealing failed), by id: shown as failed, kept
   * only here (nothing of them is stored, no counter is spent on them) until Retry seals them again or Discard drops them.
   */
  readonly unsent = new Map<string, StoredMessage>();
  /** Set once the room is forgotten or the vault locked: late timers leave it alone. */
  disposed = false;

  private data: RoomRecord;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<string, PendingChange>();

  constructor(
    record: RoomRecord,
    private readonly hooks: SessionHooks,
  ) {
    this.data = { ...emptyRoom(record.id, record.mode, record.createdAt), ...record };
  }

  get id(): string {
    return this.data.id;
  }

  /** The stored record, read-only: change it with `edit` (bookkeeping), `adoptKey` or `adoptChain`. */
  get record(): DeepReadonly<RoomRecord> {
    return this.data;
  }

  /** Changes the record; callers run inside `run` and `save` afterwards. */
  edit<T>(change: (record: RoomRecord) => T): T {
    return change(this.data);
  }

  /**
   * Takes a room key for an epoch. The first key held for an epoch stays: a different one is refused
   * (a member cannot move another member onto a key of its own choosing).
   */
  adoptKey(epoch: number, gek: string): 'added' | 'held' | 'conflict' {
    const held = this.data.keys[String(epoch)];
    if (held === gek) return 'held';
    if (held !== undefined) return 'conflict';
    this.data.keys[String(epoch)] = gek;
    return 'added';
  }

  /** Replaces the verified chain and the roster it proves (verification is the caller's: membership.ts). */
  adoptChain(chain: SignedRecord[], roster: Roster): void {
    this.data.chain = chain;
    this.chainRoster = roster;
    this.roster = this.named(roster);
    this.hooks.onRoster?.(this.data.id, this.roster);
  }

  /** A member's name as the room knows it (also members who left): profile, else key, else `unnamed`. */
  nameOf(fingerprint: string, fromKey = ''): string {
    if (fingerprint === this.hooks.self?.fingerprint) return this.hooks.self.name;
    return (
      this.data.profiles?.[fingerprint]?.name ||
      fromKey ||
      this.chainRoster?.members.get(fingerprint)?.name ||
      this.hooks.contactName?.(fingerprint) ||
      unnamed(fingerprint)
    );
  }

  /** A name we know for someone now (ours, their profile's, or a member's in the roster); undefined for a stranger. */
  knownName(fingerprint: string): string | undefined {
    if (fingerprint === this.hooks.self?.fingerprint) return this.hooks.self.name;
    return this.data.profiles?.[fingerprint]?.name ?? this.roster?.members.get(fingerprint)?.name;
  }

  /** Takes a member's verified profile (profiles.ts checked it, and that it is newer than the one held) and renames them. */
  adoptProfile(fingerprint: string, profile: { name: string; ts: number }): void {
    this.data.profiles = { ...this.data.profiles, [fingerprint]: profile };
    if (!this.chainRoster) return;
    this.roster = this.named(this.chainRoster);
    this.hooks.onRoster?.(this.data.id, this.roster);
  }

  private named(roster: Roster): Roster {
    const members = new Map([...roster.members].map(([fp, m]) => [fp, { ...m, name: this.nameOf(fp, m.name) }]));
    return { ...roster, members };
  }

  /** Serialises every change to this room: frames, requests and timers run one at a time. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves once the work already queued has finished. */
  settled(): Promise<unknown> {
    return this.queue;
  }

  save(): Promise<void> {
    return this.hooks.persist(this.data);
  }

  /** Epochs up to this one have keys a member who left or was removed holds: nothing is sent under them (keys.ts; -1: none). Stored. */
  get retiredEpoch(): number {
    return this.data.retiredEpoch ?? -1;
  }

  currentEpoch(): number {
    return currentEpoch(this.data);
  }

  /** The key we hold for an epoch, base64. */
  keyFor(epoch: number): string | undefined {
    return this.data.keys[String(epoch)];
  }

  /** The outbox was resent on the connection as it is now. */
  markFlushed(): void {
    this.flushedOn = this.conn ? { conn: this.conn, generation: this.conn.generation } : null;
  }

  /**
   * Whether a new message may go out at once: not before the outbox went out again on this connection (after a
   * reconnect, a message sent ahead of the older ones waiting would get a lower seq and be shown before them).
   */
  outboxFlowing(): boolean {
    return this.conn !== null && this.flushedOn?.conn === this.conn && this.flushedOn.generation === this.conn.generation;
  }

  /** Sends a frame if connected; false otherwise. */
  send(frame: RoomClientFrame): boolean {
    return this.conn?.send(frame) ?? false;
  }

  /** Something from this room failed verification: logged and reported, never shown. */
  reject(reason: string): void {
    console.warn(`room ${this.id}: ${reason}`);
    this.hooks.onRejected(this.id, reason);
  }

  /** Members the server claims but no valid signature admits. */
  flagUnverified(fingerprints: string[], reason: string): void {
    for (const fp of fingerprints) if (!this.roster?.members.has(fp)) this.unverified.add(fp);
    this.reject(`unverified member: ${reason}`);
  }

  /** The verified roster, for actions that need one. */
  requireRoster(): Roster {
    if (!this.roster) throw new UserFacingError('offline', 'the room has not been verified yet; try again once connected');
    return this.roster;
  }

  requireAdmin(me: string): Roster {
    const roster = this.requireRoster();
    if (roster.members.get(me)?.role !== 'admin') throw new UserFacingError('not-admin', 'only admins can do this');
    return roster;
  }

  requireLinkCreator(me: string): Roster {
    const roster = this.requireRoster();
    if (!roster.members.get(me)?.canCreateLinks) throw new UserFacingError('not-admin', 'only admins, and members they allowed, can create invite links');
    return roster;
  }

  /** Sends a signed membership change and waits for the server to relay it back (or refuse it). */
  awaitChange(record: SignedRecord, frame: AppendFrame, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(record.body);
        reject(new UserFacingError('offline', 'the server did not confirm the change in time'));
      }, timeoutMs);
      this.pending.set(record.body, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (!this.send(frame)) this.settleChange(record.body, new UserFacingError('offline', 'not connected to the server'));
    });
  }

  /** The server relayed (no error) or refused (error) the change with this record body. */
  settleChange(body: string, error?: Error): void {
    const change = this.pending.get(body);
    if (!change) return;
    this.pending.delete(body);
    if (error) change.reject(error);
    else change.resolve();
  }

  /** A refused change fails the oldest change still waiting for confirmation. */
  failOldestChange(error: Error): void {
    const first = this.pending.keys().next();
    if (!first.done) this.settleChange(first.value, error);
  }

  /** Closes the connection and stops timers (lock, setHost, shutdown). */
  disconnect(): void {
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = null;
    this.conn?.close();
    this.conn = null;
    this.online.clear();
  }

  /** The room is gone from this browser (forgotten, or the vault locked). */
  dispose(): void {
    this.disposed = true;
    this.disconnect();
  }
}
