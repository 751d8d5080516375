/** Local message history: per-room pages of messages, each page sealed under the vault key. */
import { unreadableReason, type Quarantine } from './quarantine';
import type { LocalItems, RoomRecord, StoredMessage } from './records';
import { seal, unseal } from './sealed';
import type { KeyValueStore } from './store';
import { storedMessageShape } from './stored-shapes';

/**
 * Messages per stored page. The newest page is re-sealed and written on every append, so its size is
 * on the path of every message sent and received (a page of 100, ~150 KB with the envelopes, took ~7 ms
 * in Chromium; 25 takes under 2); opening a room reads a few more pages instead. Pages written with an
 * older size stay valid: a page is full when it holds at least this many.
 */
export const HISTORY_PAGE_SIZE = 25;
/** How many of the newest pages `update` searches (an unacknowledged message is among the last ones). */
const UPDATE_SEARCH_PAGES = 8;

type PageKey = `page:${string}`;

export class History {
  /** The newest page of each room, decrypted, so appends don't re-read it. */
  private readonly tail = new Map<string, { index: number; messages: StoredMessage[] }>();
  /**
   * Rooms whose newest page changed here but could not be written (storage full): written before anything else of
   * the room (`flush`, before the room record is saved), so a stored record never counts a message its pages lack.
   */
  private readonly unwritten = new Set<string>();

  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    private readonly vaultKey: CryptoKey,
    /** Where pages and messages that cannot be read go (services/quarantine.ts). */
    private readonly quarantine?: Quarantine,
  ) {}

  /**
   * Appends a message; bumps `room.pages` when it starts a page and notes the page's earliest expiry.
   * Returns whether it changed the room record that way (then the caller saves the room).
   */
  async append(room: RoomRecord, message: StoredMessage): Promise<boolean> {
    let tail = await this.loadTail(room);
    // Already on the newest page: the worker died after writing it and before saving the room's counters, so the
    // message came again (from the backup or a member) and passed as new. Kept once.
    if (tail?.messages.some((m) => m.id === message.id)) return false;
    let changed = false;
    if (!tail || tail.messages.length >= HISTORY_PAGE_SIZE) {
      await this.flush(room);
      tail = { index: room.pages, messages: [] };
      room.pages += 1;
      changed = true;
      this.tail.set(room.id, tail);
    }
    tail.messages.push(message);
    const expiry = earliest(room.pageExpiry[tail.index] ?? null, message.expiresAt);
    if (expiry !== (room.pageExpiry[tail.index] ?? null)) changed = true;
    room.pageExpiry[tail.index] = expiry;
    await this.writePage(room.id, tail.index, tail.messages);
    return changed;
  }

  /** Deletes messages whose disappearing timer ran out, touching only pages with something due. Returns the deleted ids. */
  async removeExpired(room: RoomRecord, now: number): Promise<string[]> {
    const removed: string[] = [];
    for (let index = 0; index < room.pages; index++) {
      const due = room.pageExpiry[index];
      if (due === null || due === undefined || due > now) continue;
      const messages = await this.readPage(room, index);
      const kept = messages.filter((m) => m.expiresAt === null || m.expiresAt > now);
      for (const m of messages) if (!kept.includes(m)) removed.push(m.id);
      room.pageExpiry[index] = kept.reduce<number | null>((min, m) => earliest(min, m.expiresAt), null);
      if (kept.length !== messages.length) {
        const cached = this.tail.get(room.id);
        if (cached && cached.index === index) cached.messages = kept;
        await this.writePage(room.id, index, kept);
      }
    }
    return removed;
  }

  /**
   * A page of the original envelopes after `since` (and below `before`) that `keep` lets through, to hand to a member
   * who missed them: the `limit` with the highest sequence numbers, oldest first; `next` is where the following
   * (older) page starts, null if nothing older is in the range; `held` how many there are in the whole range.
   * Pages are not in sequence order (our own messages get theirs when acknowledged, catch-up stores older ones
   * later), so this reads back until a whole page is at or below `since`.
   */
  async syncPage(
    room: RoomRecord,
    range: { since: number; before?: number },
    limit: number,
    keep: (message: StoredMessage) => boolean = () => true,
  ): Promise<{ envelopes: NonNullable<StoredMessage['env']>[]; next: number | null; held: number }> {
    const { since, before = Infinity } = range;
    const found: NonNullable<StoredMessage['env']>[] = [];
    for (let index = room.pages - 1; index >= 0; index--) {
      const messages = await this.readPage(room, index);
      let newer = false;
      for (const message of messages) {
        const env = message.env;
        if (!env || env.seq <= since) continue;
        newer = true;
        if (env.seq < before && keep(message)) found.push(env);
      }
      if (!newer && messages.some((m) => m.env)) break;
    }
    found.sort((a, b) => b.seq - a.seq);
    const envelopes = found.slice(0, limit).reverse();
    const next = found.length > limit && envelopes[0] ? envelopes[0].seq : null;
    return { envelopes, next, held: found.length };
  }

  /** Updates a message of the newest `pages` pages in place (e.g. `sending` → `sent`); returns it, or null if not found there. */
  async update(room: RoomRecord, id: string, patch: Partial<StoredMessage>, pages = UPDATE_SEARCH_PAGES): Promise<StoredMessage | null> {
    return this.modify(
      room,
      id,
      (message) => {
        Object.assign(message, patch);
        return true;
      },
      pages,
    );
  }

  /**
   * Finds a message among the newest `pages` pages and lets `change` alter it in place; the page is written
   * if `change` returns true. Returns the message (changed or not), or null if it is not there.
   */
  async modify(room: RoomRecord, id: string, change: (message: StoredMessage) => boolean, pages = UPDATE_SEARCH_PAGES): Promise<StoredMessage | null> {
    for (let index = room.pages - 1; index >= Math.max(0, room.pages - pages); index--) {
      const messages = await this.readPage(room, index);
      const found = messages.find((m) => m.id === id);
      if (found) {
        if (change(found)) await this.writePage(room.id, index, messages);
        return found;
      }
    }
    return null;
  }

  /** Takes a message out of the newest `pages` pages (a failed send discarded); returns it, or null if it is not there. */
  async remove(room: RoomRecord, id: string, pages = UPDATE_SEARCH_PAGES): Promise<StoredMessage | null> {
    for (let index = room.pages - 1; index >= Math.max(0, room.pages - pages); index--) {
      const messages = await this.readPage(room, index);
      const found = messages.find((m) => m.id === id);
      if (!found) continue;
      const kept = messages.filter((m) => m !== found);
      const cached = this.tail.get(room.id);
      if (cached && cached.index === index) cached.messages = kept;
      await this.writePage(room.id, index, kept);
      return found;
    }
    return null;
  }

  /** Lets `change` alter any message of the newest `pages` pages in place; writes the pages it changed and returns the changed messages. */
  async modifyEach(room: RoomRecord, change: (message: StoredMessage) => boolean, pages: number): Promise<StoredMessage[]> {
    const changed: StoredMessage[] = [];
    for (let index = room.pages - 1; index >= Math.max(0, room.pages - pages); index--) {
      const messages = await this.readPage(room, index);
      const here = messages.filter(change);
      if (here.length) await this.writePage(room.id, index, messages);
      changed.push(...here);
    }
    return changed;
  }

  /**
   * The newest `limit` messages `keep` lets through, or those just before `beforeId`, oldest first. Pages known to
   * be needed are read together.
   */
  async list(room: RoomRecord, limit: number, beforeId?: string, keep: (message: StoredMessage) => boolean = () => true): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    let skipping = beforeId !== undefined;
    let index = room.pages - 1;
    while (index >= 0 && out.length < limit) {
      const batch = skipping ? 1 : Math.min(index + 1, Math.ceil((limit - out.length) / HISTORY_PAGE_SIZE));
      const pages = await Promise.all(Array.from({ length: batch }, (_, k) => this.readPage(room, index - k)));
      index -= batch;
      for (const messages of pages) {
        for (let i = messages.length - 1; i >= 0 && out.length < limit; i--) {
          const message = messages[i];
          if (!message) continue;
          if (skipping) {
            if (message.id === beforeId) skipping = false;
            continue;
          }
          if (keep(message)) out.push(message);
        }
      }
    }
    return out.reverse();
  }

  /** The server sequence number of the oldest message held locally. */
  async firstSeq(room: RoomRecord): Promise<number | null> {
    for (let index = 0; index < room.pages; index++) {
      const found = (await this.readPage(room, index)).find((m) => m.seq !== null);
      if (found) return found.seq;
    }
    return null;
  }

  async removeRoom(room: RoomRecord): Promise<void> {
    for (let index = 0; index < room.pages; index++) await this.local.remove(pageKey(room.id, index));
    this.tail.delete(room.id);
    this.unwritten.delete(room.id);
  }

  private async loadTail(room: RoomRecord) {
    const cached = this.tail.get(room.id);
    if (cached && cached.index === room.pages - 1) return cached;
    if (room.pages === 0) return null;
    const tail = { index: room.pages - 1, messages: await this.readPage(room, room.pages - 1) };
    this.tail.set(room.id, tail);
    return tail;
  }

  /**
   * A page as stored. A page that does not open or is not a list is moved aside whole (and reads as empty); messages
   * of the wrong shape are moved aside and the rest written back. Neither breaks the room (services/quarantine.ts).
   * Without a quarantine to move them to, both throw.
   */
  private async readPage(room: Pick<RoomRecord, 'id' | 'pages'>, index: number): Promise<StoredMessage[]> {
    const cached = this.tail.get(room.id);
    if (cached && cached.index === index) return cached.messages;
    const key = pageKey(room.id, index);
    const sealed = await this.local.get(key);
    if (!sealed) return [];
    let page: unknown;
    try {
      page = await unseal<unknown>(this.vaultKey, sealed, key);
      if (!Array.isArray(page)) throw new Error('wrong shape: a history page is not a list');
    } catch (error) {
      if (!this.quarantine) throw error;
      // How many it held is unknown: a page before the newest was full when the next one started.
      const count = index < room.pages - 1 ? HISTORY_PAGE_SIZE : 1;
      if (await this.quarantine.put({ from: key, room: room.id, count, reason: unreadableReason(error) }, { stored: sealed })) await this.local.remove(key);
      return [];
    }
    const messages: StoredMessage[] = [];
    const unreadable: unknown[] = [];
    for (const item of page) {
      if (storedMessageShape.safeParse(item).success) messages.push(item as StoredMessage);
      else unreadable.push(item);
    }
    if (unreadable.length) {
      const reason = unreadableReason(storedMessageShape.safeParse(unreadable[0]).error);
      if (!this.quarantine) throw new Error(`${key}: ${reason}`);
      const item = { from: key, room: room.id, count: unreadable.length, reason };
      if (await this.quarantine.put(item, { plain: unreadable, vaultKey: this.vaultKey })) await this.writePage(room.id, index, messages);
    }
    return messages;
  }

  /** Writes the room's newest page if a change to it could not be written before (see `unwritten`). */
  async flush(room: RoomRecord): Promise<void> {
    const tail = this.tail.get(room.id);
    if (tail && this.unwritten.has(room.id)) await this.writePage(room.id, tail.index, tail.messages);
  }

  private async writePage(roomId: string, index: number, messages: StoredMessage[]): Promise<void> {
    const key = pageKey(roomId, index);
    const isTail = this.tail.get(roomId)?.index === index;
    try {
      await this.local.set(key, await seal(this.vaultKey, messages, key));
    } catch (error) {
      // The newest page stays changed in memory (it is what the room shows): it is written first next time.
      if (isTail) this.unwritten.add(roomId);
      throw error;
    }
    if (isTail) this.unwritten.delete(roomId);
  }
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function pageKey(roomId: string, index: number): PageKey {
  return `page:${roomId}:${index}`;
}
