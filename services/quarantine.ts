/**
 * Stored items that cannot be read (ciphertext that does not open, JSON cut short, a shape this code does not know)
 * are moved aside instead of breaking the room or the extension (README, "Stored data"). The item goes to
 * `quarantine:<its key>:<time>` as it was stored (still sealed) or, when it opened but had the wrong shape, sealed
 * again under that key; the list `quarantine` (plain: keys, reasons, counts, no content) says what was moved aside
 * and when, and which room it belonged to, so the room can say "3 messages could not be read" until dismissed.
 * At most MAX_QUARANTINED items are kept: past it the oldest are deleted.
 */
import { z } from 'zod';
import type { LocalItems, QuarantineEntry, QuarantinedValue } from './records';
import { seal } from './sealed';
import type { KeyValueStore } from './store';

/** Items kept aside; past it the oldest are deleted for good. */
export const MAX_QUARANTINED = 50;

const entrySchema = z.object({
  key: z.string().startsWith('quarantine:'),
  from: z.string(),
  room: z.string().nullable(),
  count: z.number().int().min(0),
  reason: z.string(),
  at: z.number(),
  dismissed: z.literal(true).optional(),
});

/** Where an item that could not be read goes; told to the facade so the room can show it. */
export class Quarantine {
  private entries: QuarantineEntry[] = [];
  /** Keys being moved aside right now (two readers of one bad page move it once). */
  private readonly moving = new Set<string>();

  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    private readonly now: () => number,
    /** Told after an item of `room` (null: not a room's) was moved aside. */
    private readonly onChange: (room: string | null) => void = () => undefined,
  ) {}

  /** Reads the list (at unlock); a list that is itself unreadable is started afresh. */
  async load(): Promise<void> {
    const stored = await this.local.get('quarantine');
    const parsed = z.array(entrySchema).safeParse(stored);
    this.entries = parsed.success ? (parsed.data as QuarantineEntry[]) : [];
  }

  clear(): void {
    this.entries = [];
  }

  /** Messages of `room` that could not be read and whose notice is not dismissed. */
  unreadable(room: string): number {
    return this.entries.reduce((n, e) => (e.room === room && !e.dismissed ? n + e.count : n), 0);
  }

  /**
   * Moves an item aside. `value`: what was stored (kept as is), or `{ plain, vaultKey }` for content that opened
   * but did not fit (sealed again, never written in clear). The caller then removes or rewrites the original.
   * False when the same key is being moved already, or storage refused the copy (the original then stays).
   */
  async put(
    item: { from: string; room: string | null; count: number; reason: string },
    value: { stored: unknown } | { plain: unknown; vaultKey: CryptoKey },
  ): Promise<boolean> {
    if (this.moving.has(item.from)) return false;
    this.moving.add(item.from);
    try {
      const at = this.now();
      const key = `quarantine:${item.from}:${at}` as const;
      const copy: QuarantinedValue = 'stored' in value ? { stored: value.stored } : { resealed: await seal(value.vaultKey, value.plain, key) };
      await this.local.set(key, copy);
      const all = [...this.entries.filter((e) => e.key !== key), { ...item, key, at }];
      const dropped = all.slice(0, Math.max(0, all.length - MAX_QUARANTINED));
      this.entries = all.slice(-MAX_QUARANTINED);
      await this.local.set('quarantine', this.entries);
      for (const e of dropped) await this.local.remove(e.key);
      console.warn(`moved aside ${item.from}: ${item.reason}`);
      this.onChange(item.room);
      return true;
    } catch (error) {
      // Storage refused the copy (full?): the item stays where it is, read as empty, and is tried again next time.
      console.warn(`could not move aside ${item.from}`, error);
      return false;
    } finally {
      this.moving.delete(item.from);
    }
  }

  /** Rooms whose record was moved aside (they are no longer listed), not dismissed. */
  unreadableRooms(): number {
    return this.entries.filter(isRoomRecord).length;
  }

  /** The person saw the room's notice: it goes (the items stay aside). */
  dismiss(room: string): Promise<void> {
    return this.dismissWhere((e) => e.room === room && e.count > 0);
  }

  /** The person saw the notice of rooms that could not be read. */
  dismissRooms(): Promise<void> {
    return this.dismissWhere(isRoomRecord);
  }

  private async dismissWhere(match: (e: QuarantineEntry) => boolean): Promise<void> {
    if (!this.entries.some((e) => !e.dismissed && match(e))) return;
    this.entries = this.entries.map((e) => (!e.dismissed && match(e) ? { ...e, dismissed: true } : e));
    await this.local.set('quarantine', this.entries);
  }
}

function isRoomRecord(e: QuarantineEntry): boolean {
  return e.from.startsWith('room:') && !e.dismissed;
}

/** Why a stored value could not be read, for the list. */
export function unreadableReason(error: unknown): string {
  if (error instanceof SyntaxError) return `not valid JSON: ${error.message}`;
  if (error instanceof z.ZodError) return `wrong shape: ${error.issues.map((i) => `${i.path.join('.') || 'value'} ${i.message}`).join('; ')}`;
  if (error instanceof Error && error.name === 'OperationError') return 'does not open (ciphertext damaged or sealed under another key or name)';
  return error instanceof Error ? error.message : String(error);
}
