/**
 * Per-device message counters: which counters are new (the rest are replays or duplicates), which were
 * skipped (shown as missing until they turn up), and when a gap stops mattering under a disappearing timer.
 */
import type { RoomRecord } from '../records';

/** Most counters remembered as missing per sender device. */
export const MAX_MISSING = 1000;

/**
 * Decides whether a counter is new for a sender device: above the highest seen (noting any skipped as
 * missing), or one of the missing. The first message seen from a device sets its baseline.
 */
export function acceptCounter(record: Pick<RoomRecord, 'peerCtr' | 'missing'>, key: string, ctr: number): boolean {
  const max = record.peerCtr[key];
  if (max === undefined || ctr > max) {
    if (max !== undefined && ctr > max + 1) {
      const skipped = Array.from({ length: Math.min(ctr - max - 1, MAX_MISSING) }, (_, i) => ctr - 1 - i);
      record.missing[key] = [...(record.missing[key] ?? []), ...skipped].slice(-MAX_MISSING);
    }
    record.peerCtr[key] = ctr;
    return true;
  }
  const missing = record.missing[key];
  const index = missing?.indexOf(ctr) ?? -1;
  if (!missing || index < 0) return false;
  missing.splice(index, 1);
  if (!missing.length) delete record.missing[key];
  return true;
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
