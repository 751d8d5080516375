/** Disappearing messages: when each stored message expires, and the sweep that deletes them on time. */
import { parseRecordBody } from '@/shared/membership';
import type { PushEvent } from '@/utils/protocol-map';
import type { History } from '../history';
import { forgetExpiredGaps } from './counters';
import type { RoomSession } from './session';
import { refreshPreview, summary } from './views';

/** The room's disappearing-timer changes in chain order, parsed once per chain length. */
export function timerChanges(s: RoomSession): Array<{ ts: number; ms: number | null }> {
  const chain = s.record.chain;
  if (s.timers?.length !== chain.length) {
    const changes = chain.flatMap((record) => {
      const body = parseRecordBody(record);
      return body.kind === 'settings' ? [{ ts: body.ts, ms: body.settings.disappearMs }] : [];
    });
    s.timers = { length: chain.length, changes };
  }
  return s.timers.changes;
}

/** A message disappears by the timer that was in force when it was sent, not by one set later. */
export function expiryFor(s: RoomSession, ts: number): number | null {
  let ms: number | null = null;
  for (const change of timerChanges(s)) if (change.ts <= ts) ms = change.ms;
  return ms === null ? null : ts + ms;
}

/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Slack after a due time, so the sweep finds the message expired. */
const SWEEP_SLACK_MS = 50;

/** Deletes expired messages in every room, and keeps one timer set for the next one due. */
export class Sweeper {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly rooms: () => Iterable<RoomSession>,
    private readonly history: History,
    private readonly now: () => number,
    private readonly emit: (event: PushEvent) => void,
  ) {}

  /** Deletes messages whose timer ran out, in every room; also run after the worker slept. */
  async sweep(): Promise<void> {
    for (const s of this.rooms()) {
      await s.run(async () => {
        const ids = await s.edit((record) => this.history.removeExpired(record, this.now()));
        const gapsGone = s.edit((record) => forgetExpiredGaps(record, this.now()));
        if (!ids.length && !gapsGone) return;
        if (ids.length) {
          this.emit({ type: 'expired', roomId: s.id, ids });
          await refreshPreview(this.history, s);
        }
        await s.save();
        this.emit({ type: 'summary', room: summary(s) });
        if (gapsGone) this.emit({ type: 'room', roomId: s.id });
      });
    }
    this.schedule();
  }

  schedule(): void {
    this.stop();
    let next = Infinity;
    for (const s of this.rooms()) {
      for (const due of s.record.pageExpiry) if (due !== null && due < next) next = due;
      for (const due of Object.values(s.record.missingUntil ?? {})) if (due < next) next = due;
    }
    if (next === Infinity) return;
    this.timer = setTimeout(() => void this.sweep(), Math.max(0, Math.min(next - this.now(), MAX_TIMER_MS)) + SWEEP_SLACK_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
