/**
 * Per-device message counters: which counters are new (the rest are replays or duplicates), which were
 * skipped (shown as missing until they turn up), and when a gap stops mattering under a disappearing timer.
 */
import type { RoomRecord } from '../records';

/** Counters not received yet from one sender device: inclusive ranges, ascending. */
export type Gaps = Array<[number, number]>;
/** Most separate ranges remembered per sender device (each may span any number of counters). */
export const MAX_GAP_RANGES = 1000;

/**
 * Decides whether a counter is new for a sender device: above the highest seen (the skipped ones become a gap),
 * below the lowest seen (a member handing us history newest first; those in between become a gap), or one of
 * the gaps. Anything else is a replay or a duplicate.
 */
export function acceptCounter(record: Pick<RoomRecord, 'peerCtr' | 'missing' | 'peerLow'>, key: string, ctr: number): boolean {
  const max = record.peerCtr[key];
  if (max === undefined) {
    record.peerCtr[key] = ctr;
    record.peerLow = { ...record.peerLow, [key]: ctr };
    return true;
  }
  if (ctr > max) {
    if (ctr > max + 1) addGap(record, key, max + 1, ctr - 1);
    record.peerCtr[key] = ctr;
    return true;
  }
  const low = record.peerLow?.[key];
  if (low !== undefined && ctr < low) {
    if (ctr < low - 1) addGap(record, key, ctr + 1, low - 1);
    record.peerLow = { ...record.peerLow, [key]: ctr };
    return true;
  }
  return takeGap(record, key, ctr);
}

/** How many counters a device's gaps span. */
export function missingCount(gaps: ReadonlyArray<readonly number[]> | undefined): number {
  return (gaps ?? []).reduce((n, [from = 0, to = -1]) => n + to - from + 1, 0);
}

function addGap(record: Pick<RoomRecord, 'missing'>, key: string, from: number, to: number): void {
  const gaps = [...(record.missing[key] ?? []), [from, to] as [number, number]].sort((a, b) => a[0] - b[0]);
  record.missing[key] = gaps.slice(-MAX_GAP_RANGES);
}

function takeGap(record: Pick<RoomRecord, 'missing'>, key: string, ctr: number): boolean {
  const gaps = record.missing[key];
  const index = gaps?.findIndex(([from, to]) => from <= ctr && ctr <= to) ?? -1;
  const range = gaps?.[index];
  if (!gaps || !range) return false;
  const [from, to] = range;
  const rest: Gaps = [];
  if (from < ctr) rest.push([from, ctr - 1]);
  if (ctr < to) rest.push([ctr + 1, to]);
  gaps.splice(index, 1, ...rest);
  if (!gaps.length) delete record.missing[key];
  return true;
}

/**
 * Records stored before gaps were ranges list each missing counter: turned into ranges when a room is opened.
 */
export function normalizeGaps(record: Pick<RoomRecord, 'missing'>): void {
  for (const [key, value] of Object.entries(record.missing as Record<string, unknown[]>)) {
    if (!value.some((entry) => typeof entry === 'number')) continue;
    const counters = value.filter((entry): entry is number => typeof entry === 'number').sort((a, b) => a - b);
    const gaps: Gaps = [];
    for (const ctr of counters) {
      const last = gaps.at(-1);
      if (last && ctr === last[1] + 1) last[1] = ctr;
      else gaps.push([ctr, ctr]);
    }
    record.missing[key] = gaps;
  }
}

/**
 * Gaps revealed by a message sent under a disappearing timer: the skipped messages were sent before it, so
 * they disappear by `until` at the latest. Already past: no gap to show; else the sweep forgets it then.
 */
export function forgetGapsAfter(record: RoomRecord, counter: string, until: number, now: number): void {
  if (until <= now) {
    delete record.missing[counter];
    if (record.missingUntil) delete record.missingUntil[counter];
    return;
  }
  record.missingUntil = { ...record.missingUntil, [counter]: Math.max(until, record.missingUntil?.[counter] ?? 0) };
}

/** Forgets the gaps whose messages have disappeared by now (see forgetGapsAfter). True if any went. */
export function forgetExpiredGaps(record: RoomRecord, now: number): boolean {
  let changed = false;
  for (const [counter, until] of Object.entries(record.missingUntil ?? {})) {
    if (until > now) continue;
    delete record.missing[counter];
    delete record.missingUntil?.[counter];
    changed = true;
  }
  return changed;
}
