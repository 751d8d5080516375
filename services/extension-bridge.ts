/** The background's extension-facing glue: request listener, UI ports, badge, notifications, commands, keep-alive alarm, sockets. */
import { browser, type Browser } from 'wxt/browser';
import { isCaptureMessage, isJoinPath, JOIN_PAGE_PATH, joinRedirectRules } from '@/utils/link-capture';
import type { PushEvent, RequestEnvelope, Result } from '@/utils/protocol-map';
import { isViewingMessage, UI_PORT_NAME } from '@/utils/protocol-map';
import { openSidePanel } from '@/utils/side-panel';
import { openRoomRequest } from '@/utils/storage-items';
import type { MessageNotice } from './notify-policy';
import { partySocketFactory, type SocketFactory } from './connection';
import { isRequestEnvelope } from './requests';

export const browserSocketFactory: SocketFactory = partySocketFactory({ minReconnectionDelay: 500, maxReconnectionDelay: 15_000 });

export function listenForRequests(handle: (request: RequestEnvelope) => Promise<Result<unknown>>): void {
  browser.runtime.onMessage.addListener((message: unknown, _sender: unknown, sendResponse: (r: unknown) => void) => {
    if (!isRequestEnvelope(message)) return undefined;
    void handle(message).then(sendResponse);
    return true;
  });
}

export interface UiHub {
  /** Sends an event to every open UI page. */
  push(event: PushEvent): void;
  /** Whether an open UI page shows this room, visible and focused (pages say so over their port). */
  inView(roomId: string): boolean;
}

/** The part of a runtime port the hub uses. */
export interface UiPort {
  name: string;
  postMessage(message: unknown): void;
  onMessage: { addListener(listener: (message: unknown) => void): void };
  onDisconnect: { addListener(listener: () => void): void };
}

/** Open UI pages connect a port; pushed events go to all of them, and each says which room it shows. */
export function createUiHub(connections: { addListener(listener: (port: UiPort) => void): void } = browser.runtime.onConnect): UiHub {
  const ports = new Map<UiPort, string | null>();
  connections.addListener((port) => {
    if (port.name !== UI_PORT_NAME) return;
    ports.set(port, null);
    port.onMessage.addListener((message: unknown) => {
      if (isViewingMessage(message)) ports.set(port, message.roomId);
    });
    port.onDisconnect.addListener(() => ports.delete(port));
  });
  return {
    push(event) {
      for (const port of ports.keys()) port.postMessage(event);
    },
    inView: (roomId) => [...ports.values()].includes(roomId),
  };
}

/**
 * Invite links opened in a tab never reach the party server: a `declarativeNetRequest` rule redirects
 * `<host>/join/…` to the extension's join page before the request is made (see utils/link-capture.ts).
 * Dynamic rules outlive the background (and browser restarts); they are rewritten on every start, so an
 * update of the extension (its page's address in Firefox, the rule's shape) takes effect at once.
 */
export async function redirectInviteLinks(buildHost: string | undefined): Promise<void> {
  const dnr = browser.declarativeNetRequest;
  const existing = await dnr.getDynamicRules();
  await dnr.updateDynamicRules({
    removeRuleIds: existing.map((rule) => rule.id),
    addRules: joinRedirectRules(buildHost, browser.runtime.getURL(JOIN_PAGE_PATH)),
  });
}

/**
 * An invite link opened in a tab: the extension's join page sends it here; the background keeps it (it never
 * joins on its own) and the tab turns into the chat page, which shows the link's preview to confirm or dismiss
 * (after unlocking, if locked). Only the extension's own join page may hand links over.
 */
export function listenForCapturedLinks(capture: (url: string) => Promise<void>): void {
  const joinPage = browser.runtime.getURL(JOIN_PAGE_PATH);
  browser.runtime.onMessage.addListener((message: unknown, sender: Browser.runtime.MessageSender) => {
    if (!isCaptureMessage(message)) return undefined;
    if (sender.id !== browser.runtime.id || sender.url?.split(/[?#]/)[0] !== joinPage) return undefined;
    const tabId = sender.tab?.id;
    let url: URL;
    try {
      url = new URL(message.url);
    } catch {
      return undefined;
    }
    if (!isJoinPath(url.pathname)) return undefined;
    void capture(message.url)
      .catch((error) => console.warn('could not keep the captured link', error))
      .then(() => {
        if (tabId !== undefined) void browser.tabs.update(tabId, { url: browser.runtime.getURL('/sidepanel.html') });
      });
    return undefined;
  });
}

/** A browser notification for a join request, so admins hear of it with the panel closed. */
export function notifyJoinRequest(event: Extract<PushEvent, { type: 'join-request' }>, text: { title: string; body: string }): void {
  void browser.notifications.create(`join-${event.roomId}-${Date.now()}`, {
    type: 'basic',
    iconUrl: browser.runtime.getURL('/icon/128.png'),
    title: text.title,
    message: text.body,
  });
}

/** Message notifications replace one another per room (`msg:<room>`); a join request's is `join-<room>-<time>`. */
export function notificationRoom(id: string): string | null {
  return /^(?:msg:|join-)([0-9a-f]{32})(?:-\d+)?$/.exec(id)?.[1] ?? null;
}

/** A browser notification for a message: sender and room; the text only when the user turned previews on. */
export function notifyMessage(notice: MessageNotice, text: { title: string; body: string }): void {
  void browser.notifications
    .create(`msg:${notice.roomId}`, { type: 'basic', iconUrl: browser.runtime.getURL('/icon/128.png'), title: text.title, message: text.body })
    .catch((error: unknown) => console.warn('could not show a notification', error));
}

/** How the chat panel is opened on a room: what `openChatOn` needs, given by the browser (or a test). */
export interface PanelOpening {
  /** Opens the side panel (Chrome) or sidebar (Firefox); must start synchronously in the click's handler. */
  openPanel(): Promise<void>;
  /** Asks the panel to show a room (the `openRoomRequest` item the panel watches). */
  requestRoom(roomId: string): Promise<void>;
  /** The fallback: the panel's page in a tab. */
  openTab(url: string): Promise<unknown>;
  pageUrl: string;
}

/**
 * Opens the chat panel on a room: the panel first, synchronously (it needs the user's gesture), then the
 * room request it picks up. When the panel cannot be opened, the panel's page in a tab, on that room.
 */
export function openChatOn(roomId: string | null, how: PanelOpening): Promise<void> {
  let opened: Promise<void>;
  try {
    opened = how.openPanel();
  } catch (error) {
    opened = Promise.reject(error);
  }
  const requested = roomId ? how.requestRoom(roomId) : Promise.resolve();
  return Promise.all([opened, requested]).then(
    () => undefined,
    async (error: unknown) => {
      console.warn('could not open the side panel, opening a tab', error);
      if (roomId) await how.requestRoom(roomId).catch(() => undefined);
      await how.openTab(how.pageUrl + (roomId ? `?room=${roomId}` : ''));
    },
  );
}

/**
 * Clicking a notification opens its room in the panel; the `open-chat` keyboard shortcut (manifest
 * `commands`) opens the panel. Chrome needs a window for `sidePanel.open`, known before the click
 * (the gesture ends at the first `await`), so the last focused window is tracked.
 */
export function listenForPanelOpeners(): void {
  let windowId: number | undefined;
  void browser.windows
    ?.getLastFocused()
    .then((w) => (windowId ??= w.id))
    .catch(() => undefined);
  browser.windows?.onFocusChanged.addListener((id) => {
    if (id !== browser.windows.WINDOW_ID_NONE) windowId = id;
  });
  const how: PanelOpening = {
    openPanel: () => openSidePanel(windowId),
    requestRoom: (roomId) => openRoomRequest.setValue(roomId),
    openTab: (url) => browser.tabs.create({ url }),
    pageUrl: browser.runtime.getURL('/sidepanel.html'),
  };
  browser.notifications.onClicked.addListener((id) => {
    const roomId = notificationRoom(id);
    if (!roomId) return;
    void openChatOn(roomId, how);
    void browser.notifications.clear(id);
  });
  browser.commands?.onCommand.addListener((command) => {
    if (command === 'open-chat') void openChatOn(null, how);
  });
}

/** The toolbar button's badge calls, the part of `action` (MV3) / `browserAction` (Firefox MV2) we use. */
export interface ToolbarAction {
  setBadgeText(details: { text: string }): Promise<void> | void;
  setBadgeBackgroundColor(details: { color: string }): Promise<void> | void;
}

/** Chrome MV3 names the toolbar button `action`; Firefox MV2 names it `browserAction` (it has no `action`). */
export function toolbarActionOf(api: { action?: ToolbarAction; browserAction?: ToolbarAction }): ToolbarAction | null {
  return api.action ?? api.browserAction ?? null;
}

/**
 * The toolbar badge: unread messages plus join requests. The returned function is called on every event;
 * the browser is told only when the text changes. A failing badge call is logged, never thrown into the
 * caller (it runs inside frame handling).
 */
export function createUnreadBadge(action: ToolbarAction | null): (count: number) => void {
  let badgeText: string | null = null;
  const call = (run: () => Promise<void> | void) => {
    try {
      void Promise.resolve(run()).catch((error) => console.warn('badge update failed', error));
    } catch (error) {
      console.warn('badge update failed', error);
    }
  };
  return (count) => {
    const text = count > 0 ? String(Math.min(count, 999)) : '';
    if (text === badgeText || !action) return;
    if (badgeText === null) call(() => action.setBadgeBackgroundColor({ color: '#4f46e5' }));
    badgeText = text;
    call(() => action.setBadgeText({ text }));
  };
}

/** Wakes the worker periodically so dropped connections come back even when no socket traffic did it. */
export function keepAlive(onWake: () => void): void {
  void browser.alarms.create('keep-alive', { periodInMinutes: 0.5 });
  browser.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === 'keep-alive') onWake();
  });
}
