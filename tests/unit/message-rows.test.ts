/** Day separators, compact grouping and day labels of the message list (components/message-rows.ts). */
import { dayLabel, GROUP_WINDOW_MS, layoutRows, type RowMessage } from '@/components/message-rows';
import { formatTime } from '@/utils/i18n';

const MIN = 60_000;
/** Local time, so the tests mean the same in every time zone. */
const at = (day: number, hour: number, minute: number) => new Date(2025, 5, day, hour, minute).getTime();

type Row = [id: string, from: string, ts: number, kind?: 'text' | 'event' | 'mine'];
const rows = (list: Row[]): RowMessage[] =>
  list.map(([id, from, ts, kind = 'text']) => ({ id, from, ts, mine: kind === 'mine', kind: kind === 'event' ? 'event' : 'text' }));

describe('layoutRows', () => {
  it.each<[string, Row[], string[], string[]]>([
    ['an empty list', [], [], []],
    ['one message', [['a', 'bob', at(10, 9, 0)]], ['a'], ['a']],
    [
      'a run of one sender within the window shares one name',
      [
        ['a', 'bob', at(10, 9, 0)],
        ['b', 'bob', at(10, 9, 2)],
        ['c', 'bob', at(10, 9, 6)],
      ],
      ['a'],
      ['a'],
    ],
    [
      'a sender change starts a new run',
      [
        ['a', 'bob', at(10, 9, 0)],
        ['b', 'carol', at(10, 9, 1)],
        ['c', 'bob', at(10, 9, 2)],
      ],
      ['a'],
      ['a', 'b', 'c'],
    ],
    [
      'a gap longer than the window starts a new run',
      [
        ['a', 'bob', at(10, 9, 0)],
        ['b', 'bob', at(10, 9, 0) + GROUP_WINDOW_MS],
        ['c', 'bob', at(10, 9, 0) + 2 * GROUP_WINDOW_MS + 1],
      ],
      ['a'],
      ['a', 'c'],
    ],
    [
      'a run across midnight: a separator, and the name again after it',
      [
        ['a', 'bob', at(10, 23, 58)],
        ['b', 'bob', at(10, 23, 59)],
        ['c', 'bob', at(11, 0, 1)],
        ['d', 'bob', at(11, 0, 2)],
      ],
      ['a', 'c'],
      ['a', 'c'],
    ],
    [
      'own messages never show a name, and break another sender’s run',
      [
        ['a', 'me', at(10, 9, 0), 'mine'],
        ['b', 'bob', at(10, 9, 1)],
        ['c', 'me', at(10, 9, 2), 'mine'],
        ['d', 'bob', at(10, 9, 3)],
        ['e', 'me', at(10, 9, 4), 'mine'],
      ],
      ['a'],
      ['b', 'd'],
    ],
    [
      'event rows show no name, break a run, and get a separator when they start a day',
      [
        ['a', 'bob', at(10, 9, 0)],
        ['b', 'bob', at(10, 9, 1), 'event'],
        ['c', 'bob', at(10, 9, 2)],
        ['d', 'bob', at(11, 8, 0), 'event'],
        ['e', 'bob', at(11, 8, 1)],
      ],
      ['a', 'd'],
      ['a', 'c', 'e'],
    ],
    [
      'several days apart: one separator per day',
      [
        ['a', 'bob', at(1, 9, 0)],
        ['b', 'bob', at(1, 18, 0)],
        ['c', 'bob', at(5, 9, 0)],
        ['d', 'carol', at(20, 9, 0)],
      ],
      ['a', 'c', 'd'],
      ['a', 'b', 'c', 'd'],
    ],
  ])('%s', (_name, list, separators, named) => {
    const layout = layoutRows(rows(list));
    expect([...layout.dayStarts.keys()]).toEqual(separators);
    expect([...layout.named]).toEqual(named);
    for (const [id, ts] of layout.dayStarts) expect(ts).toBe(list.find(([rowId]) => rowId === id)?.[2]);
  });

  it('does not group a message that is older than the one above it (clock skew)', () => {
    const layout = layoutRows(rows([
      ['a', 'bob', at(10, 9, 5)],
      ['b', 'bob', at(10, 9, 4)],
    ]));
    expect([...layout.named]).toEqual(['a', 'b']);
  });

  it('takes the window as a parameter', () => {
    const list = rows([
      ['a', 'bob', at(10, 9, 0)],
      ['b', 'bob', at(10, 9, 0) + MIN],
    ]);
    expect([...layoutRows(list, 30_000).named]).toEqual(['a', 'b']);
    expect([...layoutRows(list).named]).toEqual(['a']);
  });
});

describe('dayLabel', () => {
  const now = at(10, 12, 0);

  it.each<[string, number, 'en' | 'zh-TW', string]>([
    ['today, just after midnight', at(10, 0, 0), 'en', 'Today'],
    ['today, in the evening', at(10, 23, 59), 'en', 'Today'],
    ['yesterday', at(9, 23, 59), 'en', 'Yesterday'],
    ['yesterday, just after midnight', at(9, 0, 0), 'en', 'Yesterday'],
    ['two days ago', at(8, 23, 59), 'en', 'Sunday, June 8'],
    ['today', at(10, 8, 0), 'zh-TW', '今天'],
    ['yesterday', at(9, 8, 0), 'zh-TW', '昨天'],
    ['earlier this year', at(2, 8, 0), 'zh-TW', '6月2日 星期一'],
    ['another year', new Date(2024, 11, 31, 8, 0).getTime(), 'en', 'Tuesday, December 31, 2024'],
    ['another year', new Date(2024, 11, 31, 8, 0).getTime(), 'zh-TW', '2024年12月31日 星期二'],
  ])('%s in %s', (_name, ts, locale, expected) => {
    // ICU versions differ in the space between the date and the weekday in Chinese.
    expect(dayLabel(ts, locale, now).replace(/\s/g, '')).toBe(expected.replace(/\s/g, ''));
  });

  it('knows yesterday across a month boundary', () => {
    expect(dayLabel(new Date(2025, 5, 30, 20, 0).getTime(), 'en', new Date(2025, 6, 1, 9, 0).getTime())).toBe('Yesterday');
  });
});

describe('message times', () => {
  it.each([
    ['en', '9:05 AM'],
    ['zh-TW', '上午9:05'],
  ] as const)('have no leading zero where %s writes none', (locale, expected) => {
    const ts = at(10, 9, 5);
    expect(formatTime(ts, locale, ts).replace(/\s/g, ' ')).toBe(expected);
  });
});
