/**
 * The order messages are shown in, and merging pages and pushes into a room's list.
 *
 * Order: by the server's sequence number (`seq`); messages still sending (no `seq` yet) come last, by
 * time. Room events (e.g. "Alice turned on disappearing messages") have no `seq` either (they are
 * membership records, not relayed messages), so they are placed by time among the others, where
 * they happened, instead of sticking to the end.
 */
import type { MessageView } from '@/utils/protocol-map';

type Placed = Pick<MessageView, 'seq' | 'ts' | 'kind'>;

function isEvent(m: Placed): boolean {
  return m.kind === 'event';
}

/**
 * Negative when `a` is shown before `b`. Not a strict total order when clocks disagree with `seq`
 * (an event is compared by time), so lists are built by insertion, never by `Array.sort` alone.
 */
export function compareMessages(a: Placed, b: Placed): number {
  const aEvent = isEvent(a);
  const bEvent = isEvent(b);
  if (!aEvent && !bEvent) {
    if (a.seq !== null && b.seq !== null) return a.seq - b.seq;
    if (a.seq !== null) return -1;
    if (b.seq !== null) return 1;
    return a.ts - b.ts;
  }
  if (aEvent && bEvent) return a.ts - b.ts;
  // One event, one message: a message still sending stays after every event; otherwise by time.
  const [event, message, sign] = aEvent ? [a, b, 1] : [b, a, -1];
  if (message.seq === null) return -sign;
  return event.ts >= message.ts ? sign : -sign;
}

/** Where `message` belongs in `list` (already in display order): after the last one it does not precede. */
function insertionIndex(list: readonly MessageView[], message: MessageView): number {
  let at = list.length;
  while (at > 0) {
    const before = list[at - 1];
    if (!before || compareMessages(before, message) <= 0) break;
    at--;
  }
  return at;
}

/**
 * Inserts `message` into `list` in display order, or replaces the one with the same id (moving it if
 * its place changed, e.g. a sent message that got its `seq`). A `sent` message is never downgraded
 * back to `sending` by a late reply.
 */
export function upsertMessage(list: MessageView[], message: MessageView): void {
  const index = list.findIndex((m) => m.id === message.id);
  const existing = list[index];
  if (existing) {
    if (existing.status === 'sent' && message.status === 'sending') return;
    const prev = list[index - 1];
    const next = list[index + 1];
    const stays = (!prev || compareMessages(prev, message) <= 0) && (!next || compareMessages(message, next) <= 0);
    if (stays) {
      list.splice(index, 1, message);
      return;
    }
    list.splice(index, 1);
  }
  list.splice(insertionIndex(list, message), 0, message);
}

/**
 * Merges a fetched page (any order, e.g. the newest page or an older one) into the messages already
 * held: the union, newer copies replacing held ones, in display order. Nothing held is dropped here:
 * a page is only a slice of the history, so a message missing from it may simply be outside it.
 * Removals come from `expired` events (see `withoutIds`). Returns a new array.
 */
export function mergeMessages(held: readonly MessageView[], fetched: readonly MessageView[], skip?: ReadonlySet<string>): MessageView[] {
  const merged = [...held];
  for (const message of fetched) {
    if (skip?.has(message.id)) continue;
    upsertMessage(merged, message);
  }
  return merged;
}

/** How many of `fetched` are not in `held` yet. */
export function countNew(held: readonly MessageView[], fetched: readonly MessageView[]): number {
  const known = new Set(held.map((m) => m.id));
  return fetched.filter((m) => !known.has(m.id)).length;
}
