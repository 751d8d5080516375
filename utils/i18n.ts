/**
 * UI text in English and Traditional Chinese (zh-TW), chosen from the browser's language.
 * Templates call `t('key', { name })`; the active locale is reactive so switching it re-renders.
 */
import { ref } from 'vue';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import type { SendFailure, UserError } from './protocol-map';

export type MessageKey = keyof typeof en;
export type Locale = 'en' | 'zh-TW';
export type MessageParams = Record<string, string | number>;

const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, 'zh-TW': zhTW };

/**
 * Picks the UI locale from a list of BCP 47 language tags, most preferred first.
 * Traditional Chinese (`zh-TW`, `zh-Hant…`, `zh-HK`, `zh-MO`) and plain `zh` map to zh-TW; the first
 * Chinese or English tag decides; anything else is English.
 */
export function pickLocale(languages: readonly string[]): Locale {
  for (const tag of languages) {
    const lower = tag.toLowerCase();
    if (lower === 'zh' || lower.startsWith('zh-hant') || /^zh-(tw|hk|mo)\b/.test(lower)) return 'zh-TW';
    if (lower === 'en' || lower.startsWith('en-')) return 'en';
  }
  return 'en';
}

/** The locale for the current browser, from `navigator.languages` (falling back to `navigator.language`). */
export function detectLocale(): Locale {
  if (typeof navigator === 'undefined') return 'en';
  const languages = navigator.languages?.length ? navigator.languages : [navigator.language];
  return pickLocale(languages);
}

const activeLocale = ref<Locale>(detectLocale());

/** The locale the UI currently renders in. */
export function getLocale(): Locale {
  return activeLocale.value;
}

/** Switches the UI locale (tests, or a future language setting). */
export function setLocale(locale: Locale): void {
  activeLocale.value = locale;
}

/** True if `key` names a UI text (used for keys built at runtime, such as error codes). */
export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

/** Replaces each `{name}` in `template` with `params.name`; unknown placeholders stay as written. */
export function interpolate(template: string, params?: MessageParams): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

/** The text for `key` in `locale`, with `{name}` placeholders filled from `params`. */
export function translate(locale: Locale, key: MessageKey, params?: MessageParams): string {
  return interpolate(dictionaries[locale][key], params);
}

/** The text for `key` in the active locale, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params?: MessageParams): string {
  return translate(activeLocale.value, key, params);
}

/** What to show the user for a failure: the translated `error.<code>` text, else the English detail. */
export function errorText(error: UserError): string {
  const key: string = `error.${error.code}` satisfies MessageKey;
  return isMessageKey(key) ? t(key) : error.message;
}

/** Why a message of ours failed, in words: a known code's own text, else the server's detail. */
export function failureText(failure: SendFailure): string {
  const key = `chat.failure.${failure.code}`;
  return isMessageKey(key) ? t(key) : t('chat.failure.other', { detail: failure.message });
}

/**
 * A message timestamp for display: the time of day, with the date too when it is not from today.
 * `now` is injectable for tests.
 */
export function formatTime(ts: number, locale: Locale = activeLocale.value, now: number = Date.now()): string {
  const date = new Date(ts);
  const sameDay = dayKey(new Date(now)) === dayKey(date);
  return formatter(locale, sameDay ? 'time' : 'day-time').format(date);
}

/** A date and time for display (e.g. when an invite link expires). */
export function formatDateTime(ts: number, locale: Locale = activeLocale.value): string {
  return formatter(locale, 'date-time').format(new Date(ts));
}

/** A calendar date for display (a day separator): weekday and date, plus the year if it is not `now`'s. */
export function formatDay(ts: number, locale: Locale = activeLocale.value, now: number = Date.now()): string {
  const date = new Date(ts);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return formatter(locale, sameYear ? 'day' : 'day-year').format(date);
}

/**
 * Building an `Intl.DateTimeFormat` costs far more than formatting with one (it was the largest script
 * cost of rendering a long room), so each (locale, style) is built once.
 */
const FORMAT_OPTIONS = {
  // `hour: 'numeric'`: no leading zero where the locale writes none (en "9:05 AM", zh-TW "上午9:05").
  time: { hour: 'numeric', minute: '2-digit' },
  'day-time': { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' },
  'date-time': { dateStyle: 'medium', timeStyle: 'short' },
  // Day separators in the chat: the weekday and date, with the year only when it is not this year.
  day: { weekday: 'long', month: 'long', day: 'numeric' },
  'day-year': { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' },
} satisfies Record<string, Intl.DateTimeFormatOptions>;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: Locale, style: keyof typeof FORMAT_OPTIONS): Intl.DateTimeFormat {
  const key = `${locale}|${style}`;
  let cached = formatters.get(key);
  if (!cached) {
    cached = new Intl.DateTimeFormat(locale, FORMAT_OPTIONS[style]);
    formatters.set(key, cached);
  }
  return cached;
}

function dayKey(date: Date): number {
  return date.getFullYear() * 10_000 + date.getMonth() * 100 + date.getDate();
}

/** A whole number for display, with the locale's digit grouping (1,000). */
export function formatNumber(n: number, locale: Locale = activeLocale.value): string {
  return new Intl.NumberFormat(locale).format(n);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/**
 * A duration in words ("1 hour", "4 weeks"; null is "Off"), in the largest unit that divides it,
 * e.g. a disappearing-message timer. `short` gives the compact form for badges ("1 h", "4 wk").
 */
export function formatDuration(ms: number | null, style: 'long' | 'short' = 'long'): string {
  if (ms === null) return t('duration.off');
  const units: Array<[number, 'weeks' | 'days' | 'hours' | 'minutes']> = [
    [WEEK, 'weeks'],
    [DAY, 'days'],
    [HOUR, 'hours'],
    [MINUTE, 'minutes'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return unitText(ms / size, unit, style);
  }
  return unitText(Math.max(1, Math.round(ms / SECOND)), 'seconds', style);
}

/** How long until something happens, roughly, in the compact form ("45 s", "5 min", "3 h", "2 d"). */
export function formatRemaining(ms: number): string {
  if (ms < MINUTE) return unitText(Math.max(1, Math.ceil(ms / SECOND)), 'seconds', 'short');
  if (ms < HOUR) return unitText(Math.ceil(ms / MINUTE), 'minutes', 'short');
  if (ms < 2 * DAY) return unitText(Math.max(1, Math.round(ms / HOUR)), 'hours', 'short');
  if (ms < 2 * WEEK) return unitText(Math.round(ms / DAY), 'days', 'short');
  return unitText(Math.round(ms / WEEK), 'weeks', 'short');
}

function unitText(n: number, unit: 'weeks' | 'days' | 'hours' | 'minutes' | 'seconds', style: 'long' | 'short'): string {
  if (style === 'short') return t(`duration.short.${unit}`, { n: formatNumber(n) });
  if (n === 1 && unit !== 'seconds') {
    const one = { weeks: 'duration.oneWeek', days: 'duration.oneDay', hours: 'duration.oneHour', minutes: 'duration.oneMinute' } as const;
    return t(one[unit]);
  }
  return t(`duration.${unit}`, { n: formatNumber(n) });
}
