import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import {
  errorText,
  formatTime,
  interpolate,
  isMessageKey,
  pickLocale,
  setLocale,
  t,
  translate,
  type Locale,
} from '@/utils/i18n';
import type { UserError, UserErrorCode } from '@/utils/protocol-map';

/** Every user error code: `satisfies` makes this fail to compile when protocol-map.ts gains or loses one. */
const ERROR_CODES = Object.keys({
  'wrong-passphrase': true,
  locked: true,
  'invalid-input': true,
  'contact-not-found': true,
  'contact-key-mismatch': true,
  'already-member': true,
  'not-admin': true,
  'no-room': true,
  'no-key': true,
  offline: true,
  server: true,
  internal: true,
  'not-a-link': true,
  'other-server': true,
  'link-invalid': true,
  'link-expired': true,
  'link-outdated': true,
  'room-forged': true,
  'preview-forged': true,
  'link-used-up': true,
  'join-denied': true,
  banned: true,
  'escrow-with-approval': true,
  'bad-import': true,
  removed: true,
  'successor-needed': true,
  'role-refused': true,
  'requests-full': true,
  'link-busy': true,
} satisfies Record<UserErrorCode, true>);

afterEach(() => setLocale('en'));

describe('locales', () => {
  it('en and zh-TW define the same keys', () => {
    expect(Object.keys(zhTW).sort()).toEqual(Object.keys(en).sort());
  });

  it.each(Object.keys(en))('%s has text in both locales', (key) => {
    expect(isMessageKey(key)).toBe(true);
    if (!isMessageKey(key)) return;
    expect(en[key].trim()).not.toBe('');
    expect(zhTW[key].trim()).not.toBe('');
  });

  it.each(Object.keys(en))('%s uses the same placeholders in both locales', (key) => {
    if (!isMessageKey(key)) throw new Error(`unknown key ${key}`);
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(placeholders(zhTW[key])).toEqual(placeholders(en[key]));
  });

  it.each(ERROR_CODES)('error.%s exists in both locales', (code) => {
    expect(Object.keys(en)).toContain(`error.${code}`);
    expect(Object.keys(zhTW)).toContain(`error.${code}`);
  });
});

describe('pickLocale', () => {
  it.each<[string[], Locale]>([
    [['zh-TW'], 'zh-TW'],
    [['zh-Hant'], 'zh-TW'],
    [['zh-Hant-TW'], 'zh-TW'],
    [['zh-HK'], 'zh-TW'],
    [['zh'], 'zh-TW'],
    [['ZH-tw'], 'zh-TW'],
    [['zh-CN'], 'en'],
    [['en-US'], 'en'],
    [['de-DE', 'fr'], 'en'],
    [['de-DE', 'zh-TW'], 'zh-TW'],
    [['en-GB', 'zh-TW'], 'en'],
    [['zh-TW', 'en-US'], 'zh-TW'],
    [[], 'en'],
  ])('%j → %s', (languages, expected) => {
    expect(pickLocale(languages)).toBe(expected);
  });
});

describe('interpolation', () => {
  it.each([
    ['{count} unread', { count: 3 }, '3 unread'],
    ['{name} was added to {name}', { name: 'Bob' }, 'Bob was added to Bob'],
    ['keeps {unknown}', { name: 'x' }, 'keeps {unknown}'],
    ['no params', undefined, 'no params'],
  ])('%s', (template, params, expected) => {
    expect(interpolate(template, params)).toBe(expected);
  });

  it('fills parameters in both locales', () => {
    expect(translate('en', 'invite.done', { name: 'Bob' })).toBe('Bob was added to the room.');
    expect(translate('zh-TW', 'invite.done', { name: 'Bob' })).toBe('已將 Bob 加入聊天室。');
  });

  it('t follows the active locale', () => {
    setLocale('zh-TW');
    expect(t('unlock.submit')).toBe('解鎖');
    setLocale('en');
    expect(t('unlock.submit')).toBe('Unlock');
  });
});

describe('errorText', () => {
  it('translates a known code', () => {
    expect(errorText({ code: 'contact-not-found', message: 'x' })).toBe(en['error.contact-not-found']);
    setLocale('zh-TW');
    expect(errorText({ code: 'wrong-passphrase', message: 'x' })).toBe(zhTW['error.wrong-passphrase']);
  });

  it('falls back to the English detail for a code it does not know', () => {
    const unknown: UserError = JSON.parse('{"code":"quota-exceeded","message":"the room is full"}');
    expect(errorText(unknown)).toBe('the room is full');
  });
});

describe('formatTime', () => {
  const now = new Date(2025, 5, 10, 12, 0).getTime();

  it('shows only the time for today', () => {
    const text = formatTime(now - 60_000, 'en', now);
    expect(text).toMatch(/\d{1,2}:\d{2}/);
    expect(text).not.toMatch(/Jun/);
  });

  it('adds the date for an older message', () => {
    expect(formatTime(now - 3 * 86_400_000, 'en', now)).toMatch(/Jun/);
    expect(formatTime(now - 3 * 86_400_000, 'zh-TW', now)).toMatch(/6月/);
  });
});
