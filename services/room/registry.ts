/** The rooms this browser holds: their sessions while unlocked, their sealed records and the index of them in storage. */
import { verifyChain, type Roster } from '@/shared/membership';
import { unreadableReason, type Quarantine } from '../quarantine';
import type { LocalItems, RoomRecord } from '../records';
import { seal, unseal } from '../sealed';
import type { KeyValueStore } from '../store';
import { roomRecordShape } from '../stored-shapes';
import type { Unlocked } from '../vault';
import { UserFacingError } from '../errors';
import type { RoomContext } from './context';
import { normalizeGaps } from './counters';
import { RoomSession } from './session';

type RoomKey = `room:${string}`;

export class RoomRegistry {
  private readonly rooms = new Map<string, RoomSession>();

  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    /** Told of every verified roster a room adopts (contacts pin its members). */
    private readonly onRoster?: (roomId: string, roster: Roster) => void,
    /** The name the contact book knows someone by, for members whose profile has not reached a room yet. */
    private readonly contactName?: (fingerprint: string) => string | undefined,
  ) {}

  get(roomId: string): RoomSession | undefined {
    return this.rooms.get(roomId);
  }

  require(roomId: string): RoomSession {
    const s = this.rooms.get(roomId);
    if (!s) throw new UserFacingError('no-room', 'no such room in this browser');
    return s;
  }

  values(): IterableIterator<RoomSession> {
    return this.rooms.values();
  }

  /** A session for a record; its changes are sealed under our vault key when saved. */
  add(ctx: RoomContext, record: RoomRecord): RoomSession {
    // History first: a record on disk never counts a message whose page is not written (storage full, see History).
    const persist = async (r: RoomRecord) => {
      await ctx.history.flush(r);
      await this.persist(ctx.me, r);
    };
    const s = new RoomSession(record, {
      persist,
      onRejected: ctx.onRejected,
      onRoster: this.onRoster,
      contactName: this.contactName,
      self: { fingerprint: ctx.me.identity.fingerprint, name: ctx.me.identity.name },
    });
    this.rooms.set(record.id, s);
    return s;
  }

  /** Seals a room record under the vault key and stores it. */
  async persist(unlocked: Unlocked, record: RoomRecord): Promise<void> {
    const key: RoomKey = `room:${record.id}`;
    await this.local.set(key, await seal(unlocked.vaultKey, record, key));
  }

  async saveIndex(ids: string[] = [...this.rooms.keys()]): Promise<void> {
    await this.local.set('roomIndex', ids);
  }

  /**
   * Opens every stored room (after unlock) and re-verifies its chain; a chain that no longer verifies leaves the room
   * unverified. A record that cannot be read is moved aside (`quarantine`) and the other rooms open as usual.
   */
  async load(ctx: RoomContext, quarantine?: Quarantine): Promise<void> {
    this.clear();
    const index: unknown = await this.local.get('roomIndex');
    // An index of the wrong shape opens what it can (ids that are strings); the next save writes it whole again.
    for (const id of Array.isArray(index) ? index.filter((i): i is string => typeof i === 'string') : []) {
      const key: RoomKey = `room:${id}`;
      const sealed = await this.local.get(key);
      if (!sealed) continue;
      let record: RoomRecord;
      try {
        const opened = await unseal<unknown>(ctx.me.vaultKey, sealed, key);
        record = roomRecordShape.parse(opened) as unknown as RoomRecord;
        if (record.id !== id) throw new Error(`wrong shape: the record of room ${id} names room ${record.id}`);
        normalizeGaps(record);
      } catch (error) {
        if (await quarantine?.put({ from: key, room: id, count: 0, reason: unreadableReason(error) }, { stored: sealed })) await this.local.remove(key);
        continue;
      }
      const s = this.add(ctx, record);
      const chain = [...s.record.chain];
      if (!chain.length) continue;
      const roster = await verifyChain(id, chain).catch(() => null);
      if (roster) s.adoptChain(chain, roster);
    }
  }

  /** Drops a room from this browser: connection, record, history. */
  async forget(ctx: RoomContext, s: RoomSession): Promise<void> {
    s.dispose();
    this.rooms.delete(s.id);
    await s.edit((record) => ctx.history.removeRoom(record));
    await this.local.remove(`room:${s.id}`);
    await this.saveIndex();
  }

  /** Closes every room's connection; the sessions stay. */
  disconnectAll(): void {
    for (const s of this.rooms.values()) s.disconnect();
  }

  /** Disposes every session (lock). */
  clear(): void {
    for (const s of this.rooms.values()) s.dispose();
    this.rooms.clear();
  }

  totalUnread(): number {
    let total = 0;
    for (const s of this.rooms.values()) total += s.record.unread;
    return total;
  }

  /** Pending join requests across the rooms we administer. */
  totalRequests(): number {
    let total = 0;
    for (const s of this.rooms.values()) total += s.requests.size;
    return total;
  }

  /** Resolves once the work already queued for every room has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.rooms.values()].map((s) => s.settled()));
  }
}
