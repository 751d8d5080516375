import { describe, expect, it, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { createUnreadBadge, notificationRoom, notifyMessage, openChatOn, toolbarActionOf, type PanelOpening, type ToolbarAction } from '@/services/extension-bridge';
import { isViewingMessage } from '@/utils/protocol-map';

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

describe('opening the chat from a notification or the shortcut', () => {
  const room = 'ab'.repeat(16);

  it.each([
    [`msg:${room}`, room],
    [`join-${room}-1764150000000`, room],
    ['msg:not-a-room', null],
    ['someone-elses', null],
  ])('the notification %s belongs to room %s', (id, expected) => {
    expect(notificationRoom(id)).toBe(expected);
  });

  function opening(panel: () => Promise<void>): PanelOpening & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      openPanel: () => {
        calls.push('panel');
        return panel();
      },
      requestRoom: async (roomId) => void calls.push(`room ${roomId}`),
      openTab: async (url) => void calls.push(`tab ${url}`),
      pageUrl: 'chrome-extension://x/sidepanel.html',
    };
  }

  it('opens the panel first (inside the gesture), then asks it for the room', async () => {
    const how = opening(async () => undefined);
    const done = openChatOn(room, how);
    expect(how.calls).toEqual(['panel', `room ${room}`]);
    await done;
    expect(how.calls).toEqual(['panel', `room ${room}`]);
  });

  it.each([
    ['rejects', () => Promise.reject(new Error('sidePanel.open may only be called in response to a user gesture'))],
    [
      'throws',
      () => {
        throw new TypeError('sidePanel is undefined');
      },
    ],
  ])('when opening the panel %s, the panel page opens in a tab on that room', async (_name, panel) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const how = opening(panel);
    await openChatOn(room, how);
    expect(how.calls.at(-1)).toBe(`tab chrome-extension://x/sidepanel.html?room=${room}`);
    warn.mockRestore();
  });

  it('the shortcut opens the panel without a room', async () => {
    const how = opening(async () => undefined);
    await openChatOn(null, how);
    expect(how.calls).toEqual(['panel']);
  });

  it.each([
    [{ kind: 'partychat-viewing', roomId: room }, true],
    [{ kind: 'partychat-viewing', roomId: null }, true],
    [{ kind: 'partychat-viewing', roomId: 3 }, false],
    [{ type: 'state' }, false],
    [null, false],
  ])('a page says which room it shows: %j is such a message: %s', (message, expected) => {
    expect(isViewingMessage(message)).toBe(expected);
  });
});

describe('message notifications', () => {
  it('one per room, replaced by the next, saying what it is given; its id names the room for the click', async () => {
    fakeBrowser.reset();
    const roomId = 'cd'.repeat(16);
    notifyMessage({ roomId, roomName: 'Team', senderName: 'Alice', text: null }, { title: 'New message in Team', body: 'From Alice' });
    notifyMessage({ roomId, roomName: 'Team', senderName: 'Bob', text: null }, { title: 'New message in Team', body: 'From Bob' });
    await vi.waitFor(() => expect(fakeBrowser.notifications.getAllCreateOptions()[`msg:${roomId}`]).toMatchObject({ message: 'From Bob' }));
    expect(Object.keys(fakeBrowser.notifications.getAllCreateOptions())).toEqual([`msg:${roomId}`]);
    expect(fakeBrowser.notifications.getAllCreateOptions()[`msg:${roomId}`]).toMatchObject({ type: 'basic', title: 'New message in Team' });
    expect(notificationRoom(`msg:${roomId}`)).toBe(roomId);
  });
});
