import { describe, expect, it, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { createUiHub, createUnreadBadge, notificationRoom, notifyMessage, openChatOn, toolbarActionOf, type PanelOpening, type ToolbarAction, type UiPort } from '@/services/extension-bridge';
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

describe('which room the open pages show', () => {
  function fakePort(name = 'ui'): UiPort & { posted: unknown[]; say(message: unknown): void; close(): void } {
    const onMessage: Array<(message: unknown) => void> = [];
    const onDisconnect: Array<() => void> = [];
    const posted: unknown[] = [];
    return {
      name,
      posted,
      postMessage: (message) => void posted.push(message),
      onMessage: { addListener: (l) => void onMessage.push(l) },
      onDisconnect: { addListener: (l) => void onDisconnect.push(l) },
      say: (message) => onMessage.forEach((l) => l(message)),
      close: () => onDisconnect.forEach((l) => l()),
    };
  }

  it('a room is in view while a connected page says it shows it, not after it says otherwise or closes', () => {
    let connect: (port: UiPort) => void = () => undefined;
    const hub = createUiHub({ addListener: (l) => void (connect = l) });
    const [a, b, other] = [fakePort(), fakePort(), fakePort('not-ui')];
    connect(a);
    connect(b);
    connect(other);
    expect(hub.inView('r1')).toBe(false);
    a.say({ kind: 'partychat-viewing', roomId: 'r1' });
    b.say({ kind: 'partychat-viewing', roomId: 'r2' });
    other.say({ kind: 'partychat-viewing', roomId: 'r3' });
    expect([hub.inView('r1'), hub.inView('r2'), hub.inView('r3')]).toEqual([true, true, false]);
    a.say({ kind: 'partychat-viewing', roomId: null });
    expect(hub.inView('r1')).toBe(false);
    b.say({ kind: 'something else', roomId: 'r1' });
    expect(hub.inView('r1')).toBe(false);
    b.close();
    expect(hub.inView('r2')).toBe(false);
    hub.push({ type: 'state' });
    expect(a.posted).toEqual([{ type: 'state' }]);
    expect(b.posted).toEqual([]);
    expect(other.posted).toEqual([]);
  });
});
