import { describe, expect, it, vi } from 'vitest';
import { createUnreadBadge, toolbarActionOf, type ToolbarAction } from '@/services/extension-bridge';

function fakeAction(): ToolbarAction & { texts: string[] } {
  const texts: string[] = [];
  return { texts, setBadgeText: vi.fn(async ({ text }) => void texts.push(text)), setBadgeBackgroundColor: vi.fn(async () => undefined) };
}

describe('toolbar badge', () => {
  it.each([
    ['Chrome MV3 (action)', 'action'],
    ['Firefox MV2 (browserAction only)', 'browserAction'],
  ] as const)('%s: the badge shows the count', (_name, key) => {
    const action = fakeAction();
    const show = createUnreadBadge(toolbarActionOf({ [key]: action }));
    show(3);
    show(3);
    show(0);
    show(1200);
    expect(action.texts).toEqual(['3', '', '999']);
    expect(action.setBadgeBackgroundColor).toHaveBeenCalledTimes(1);
  });

  it('a browser without a toolbar API, or one that throws, never breaks the caller', () => {
    expect(() => createUnreadBadge(toolbarActionOf({}))(2)).not.toThrow();
    const throwing: ToolbarAction = {
      setBadgeText: () => {
        throw new TypeError('action is undefined');
      },
      setBadgeBackgroundColor: () => Promise.reject(new Error('nope')),
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(() => createUnreadBadge(throwing)(2)).not.toThrow();
    warn.mockRestore();
  });
});
