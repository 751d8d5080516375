/**
 * How the message list lays out its rows, as pure functions: which messages start a calendar day (and
 * get a day separator above them), which show their sender's name (compact grouping), and the day label.
 *
 * - A day separator goes above the first message of each local calendar day.
 * - A message from someone else shows the sender's name unless it continues a run: the previous row is a
 *   text message from the same sender, on the same day, at most `GROUP_WINDOW_MS` earlier. Own messages
 *   never show a name; event rows never show one and break a run.
 */
import { formatDay, type Locale, translate } from '@/utils/i18n';
import type { MessageView } from '@/utils/protocol-map';

/** Consecutive messages of one sender this close together (ms) share one name. */
export const GROUP_WINDOW_MS = 5 * 60_000;

/** The fields of a message the layout looks at. */
export type RowMessage = Pick<MessageView, 'id' | 'from' | 'ts' | 'mine' | 'kind'>;

export interface RowLayout {
  /** Ids of the messages that start a day, with that day's timestamp (for the label). */
  dayStarts: Map<string, number>;
  /** Ids of the messages that show their sender's name. */
  named: Set<string>;
}

/** A number for the local calendar day of `ts` (equal for two times on the same local day). */
export function dayKey(ts: number): number {
  const date = new Date(ts);
  return date.getFullYear() * 10_000 + date.getMonth() * 100 + date.getDate();
}

/** One pass over the messages (oldest first): where the day separators go and which rows show a name. */
export function layoutRows(messages: readonly RowMessage[], windowMs: number = GROUP_WINDOW_MS): RowLayout {
  const dayStarts = new Map<string, number>();
  const named = new Set<string>();
  let previous: RowMessage | null = null;
  let previousDay = -1;
  for (const message of messages) {
    const day = dayKey(message.ts);
    const newDay = day !== previousDay;
    if (newDay) dayStarts.set(message.id, message.ts);
    if (message.kind === 'text' && !message.mine) {
      const continues =
        !newDay &&
        previous !== null &&
        previous.kind === 'text' &&
        previous.from === message.from &&
        message.ts - previous.ts <= windowMs &&
        message.ts >= previous.ts;
      if (!continues) named.add(message.id);
    }
    previous = message;
    previousDay = day;
  }
  return { dayStarts, named };
}

/** The label of a day separator: "Today", "Yesterday", else the locale's date (with the year if not this year). */
export function dayLabel(ts: number, locale: Locale, now: number = Date.now()): string {
  const day = dayKey(ts);
  if (day === dayKey(now)) return translate(locale, 'chat.today');
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (day === dayKey(yesterday.getTime())) return translate(locale, 'chat.yesterday');
  return formatDay(ts, locale, now);
}
