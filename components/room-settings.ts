/**
 * Room settings as the UI offers and describes them: the choices in the settings panel, and the
 * sentence a settings change shows in the chat ("Alice set disappearing messages to 1 hour").
 *
 * The choices mirror `shared/membership.ts` (a unit test keeps them equal); they are copied rather
 * than imported so the side panel does not pull the membership code (and OpenPGP) into its bundle.
 */
import { formatDuration, formatNumber, t } from '@/utils/i18n';
import type { RoomSettings } from '@/utils/protocol-map';

/** Disappearing-message timers an admin can pick (ms; null = off): `DISAPPEAR_CHOICES_MS`. */
export const DISAPPEAR_CHOICES: readonly (number | null)[] = [null, 30_000, 300_000, 3_600_000, 86_400_000, 604_800_000, 2_419_200_000];
/** How many days the server keeps a backup room's messages (null = forever). */
export const RETENTION_DAY_CHOICES: readonly (number | null)[] = [null, 7, 30, 90, 365];
/** How many messages the server keeps at most (null = no limit). */
export const RETENTION_COUNT_CHOICES: readonly (number | null)[] = [null, 1_000, 10_000, 100_000];

/** How many messages an admin may let the server's backup hold before it refuses new ones (null = the server's maximum). */
export const BACKUP_LIMIT_CHOICES: readonly (number | null)[] = [null, 1_000, 10_000, 50_000];
/** The server's own cap on a backup (`MAX_BACKUP_MESSAGES`; a unit test keeps them equal). */
export const SERVER_BACKUP_MESSAGES = 100_000;

/** A room's settings before anyone changed them: `DEFAULT_SETTINGS`. */
export const INITIAL_SETTINGS: RoomSettings = { disappearMs: null, shareHistory: false, retentionDays: null, retentionCount: null };

/** The `<select>` values: 'off' / 'forever' / 'none' for null, else the number. */
export const OFF = 'off';
export const FOREVER = 'forever';
export const NO_LIMIT = 'none';

export function toSelectValue(value: number | null, empty: string): string {
  return value === null ? empty : String(value);
}

export function fromSelectValue(value: string, empty: string): number | null {
  return value === empty ? null : Number(value);
}

/** The choices, plus the current value if it is not one of them (set by another version of the app). */
export function choicesWith(choices: readonly (number | null)[], current: number | null): (number | null)[] {
  return choices.includes(current) ? [...choices] : [...choices, current].sort((a, b) => (a ?? -1) - (b ?? -1));
}

export function retentionDaysText(days: number | null): string {
  return days === null ? t('retention.forever') : t('retention.days', { n: formatNumber(days) });
}

export function retentionCountText(count: number | null): string {
  return count === null ? t('retention.noLimit') : t('retention.messages', { n: formatNumber(count) });
}

export function backupLimitText(limit: number | null): string {
  return limit === null ? t('retention.serverMaximum', { n: formatNumber(SERVER_BACKUP_MESSAGES) }) : t('retention.messages', { n: formatNumber(limit) });
}

/**
 * What a settings change says in the chat, one sentence per thing that changed compared with the
 * settings before it (`previous`; the room's initial settings if this is the first change).
 */
export function describeSettingsChange(previous: RoomSettings | null, next: RoomSettings, byName: string): string[] {
  const before = previous ?? INITIAL_SETTINGS;
  const name = byName.trim() || t('event.someone');
  const lines: string[] = [];
  if (next.disappearMs !== before.disappearMs) {
    lines.push(
      next.disappearMs === null
        ? t('event.disappearOff', { name })
        : t('event.disappearOn', { name, duration: formatDuration(next.disappearMs) }),
    );
  }
  if (next.shareHistory !== before.shareHistory) {
    lines.push(t(next.shareHistory ? 'event.shareHistoryOn' : 'event.shareHistoryOff', { name }));
  }
  if (next.retentionDays !== before.retentionDays || next.retentionCount !== before.retentionCount) {
    lines.push(retentionChange(next, name));
  }
  const limit = next.backupLimit ?? null;
  if (limit !== (before.backupLimit ?? null)) {
    lines.push(limit === null ? t('event.backupLimitOff', { name }) : t('event.backupLimit', { name, n: formatNumber(limit) }));
  }
  if (lines.length === 0) lines.push(t('event.settings', { name }));
  return lines;
}

function retentionChange(next: RoomSettings, name: string): string {
  const { retentionDays: days, retentionCount: count } = next;
  const daysText = days === null ? null : t('event.retentionDays', { n: formatNumber(days) });
  let limit: string;
  if (daysText !== null && count !== null) limit = t('event.retentionBoth', { days: daysText, count: formatNumber(count) });
  else if (daysText !== null) limit = daysText;
  else if (count !== null) limit = t('event.retentionCount', { n: formatNumber(count) });
  else return t('event.retentionForever', { name });
  return t('event.retention', { name, limit });
}
