/**
 * The UI's state: what the background worker reports (phase, identity, rooms), the open room with its
 * members and messages, busy flags per action, and the last failure. The background is reached only
 * through the injected `Backend`, so tests hand in a fake and the entrypoints the real one:
 *
 *   const store = useAppStore(pinia);
 *   void store.init(createExtensionBackend());
 *
 * One store, composed of parts by concern: `requests.ts` (backend, busy flags, errors), `session.ts`
 * (phase, identity, host), `rooms.ts` (room list, open room, links, admin actions) and `messages.ts`
 * (messages, sending, history). This file wires them together, and holds what spans them: opening,
 * leaving and forgetting a room, and pushed events.
 */
import { defineStore } from 'pinia';
import type { RoomMode } from '@/shared/protocol';
import type { Backend } from '@/utils/backend';
import type { PushEvent, RoomSummary } from '@/utils/protocol-map';
import { createMessages, MESSAGE_PAGE_SIZE } from './messages';
import { createRequests, type ActionName } from './requests';
import { createRooms } from './rooms';
import { createSession } from './session';

export { compareMessages, mergeMessages, upsertMessage } from './message-order';
export { LOAD_OLDER_TIMEOUT_MS, MESSAGE_PAGE_SIZE, OLDER_PAGE_SIZE, type MessageActionRequest, type OlderState } from './messages';
export { ACTIONS, toUserError, type ActionName } from './requests';
export type { MemberAction, RequestDecision } from './rooms';

/** The app store; call `init(backend)` once per page before relying on its state. */
export const useAppStore = defineStore('app', () => {
  const requests = createRequests();
  const { call, run, quietly } = requests;
  const rooms = createRooms(requests);
  const messages = createMessages(requests, rooms);
  const session = createSession(requests, rooms, messages);
  const { currentRoomId, roomDetail } = rooms.api;
  let unsubscribe: (() => void) | null = null;

  /** Opens a room: loads its details and messages, then marks it read. On failure returns to the list. */
  async function openRoom(roomId: string): Promise<void> {
    rooms.selectRoom(roomId);
    const opened = await run('openRoom', async () => {
      const [, fetched] = await Promise.all([rooms.fetchRoom(roomId), messages.fetchMessages(roomId)]);
      // A short first page is everything this browser holds; older history can only come from the server.
      if (fetched.length < MESSAGE_PAGE_SIZE) messages.olderState(roomId).localDone = true;
      if (currentRoomId.value === roomId) await messages.markRead(roomId);
      return true;
    });
    if (!opened && currentRoomId.value === roomId && !roomDetail.value) rooms.api.closeRoom();
  }

  /** Lists a room the background just answered with, and opens it. */
  async function listAndOpen(room: RoomSummary | null, replace: boolean): Promise<RoomSummary | null> {
    if (!room) return null;
    rooms.listRoom(room, replace);
    await openRoom(room.id);
    return room;
  }

  /** Creates a room and opens it. Resolves the new room, or null on failure. */
  async function createRoom(input: { name: string; mode: RoomMode }): Promise<RoomSummary | null> {
    return listAndOpen(await run('createRoom', () => call('createRoom', input)), false);
  }

  /**
   * Starts joining through an invite link the person confirmed after its preview, and opens that room; progress then shows as the room's
   * `joinState`. Resolves the room, or null on failure (e.g. not a link, another server).
   */
  async function joinByLink(url: string): Promise<RoomSummary | null> {
    const room = await run('joinByLink', () => call('joinByLink', { url }));
    // The background forgets a captured link once it is joined; so does this page, without waiting for the next state.
    if (room && session.api.capturedLink.value === url) session.api.capturedLink.value = null;
    return listAndOpen(room, true);
  }

  /**
   * Rooms this page is leaving or forgetting. The background pushes events while it does that (the
   * membership change, then the new state) and may answer a re-read of the room with `no-room` before
   * this page has its answer: the room is about to go, so pushed events do not re-read it.
   */
  const removing = new Set<string>();

  /** The room is open here and not on its way out. */
  function isOpen(roomId: string): boolean {
    return currentRoomId.value === roomId && !removing.has(roomId);
  }

  /** An action that removes a room from this browser: closes it if open and drops its messages. */
  function removingAction(action: ActionName, type: 'leaveRoom' | 'forgetRoom') {
    /** `successor`: for leaveRoom, the member the last admin names. */
    return async (roomId: string, successor?: string): Promise<boolean> => {
      removing.add(roomId);
      try {
        const state = await run(action, () => call(type, { roomId, ...(successor ? { successor } : {}) }));
        if (!state) return false;
        if (currentRoomId.value === roomId) rooms.api.closeRoom();
        messages.dropRoom(roomId);
        session.applyState(state);
        return true;
      } finally {
        removing.delete(roomId);
      }
    };
  }

  let refreshing: Promise<void> | null = null;
  let refreshAgain = false;
  let refreshMessagesAgain = false;

  /**
   * Re-reads the state and the open room after pushed events. Events come in bursts (every message also
   * reports a state change), so one refresh runs at a time and any events during it cause a single
   * follow-up. The open room's messages are re-read only when asked (`withMessages`): a room change or a
   * reconnect to the background; a state change alone cannot change them (messages arrive as `message`
   * events), and re-reading the newest page after every message would cost more than the message itself.
   */
  function refreshFromBackground(withMessages: boolean): Promise<void> {
    if (withMessages) refreshMessagesAgain = true;
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        const messagesToo = refreshMessagesAgain;
        refreshMessagesAgain = false;
        await quietly(async () => {
          await session.fetchState();
          const roomId = currentRoomId.value;
          if (roomId && isOpen(roomId)) {
            await Promise.all([rooms.fetchRoom(roomId), messagesToo ? messages.fetchMessages(roomId) : undefined, rooms.refreshLinks(roomId)]);
          }
        });
      } while (refreshAgain);
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  /** Takes a pushed room summary; a room the list does not show yet means re-reading the state. */
  function applySummary(room: RoomSummary, override: Partial<RoomSummary> = {}): boolean {
    const gapsChanged = rooms.applySummary(room, override);
    if (gapsChanged === null) void refreshFromBackground(false);
    return gapsChanged === true;
  }

  async function handleEvent(event: PushEvent): Promise<void> {
    if (event.type === 'message') {
      const open = isOpen(event.roomId);
      const gapsChanged = applySummary(event.room, open && !event.message.mine ? { unread: 0 } : {});
      if (open) {
        if (gapsChanged) void quietly(() => rooms.fetchRoom(event.roomId));
        await messages.showInOpenRoom(event.roomId, event.message);
      } else {
        messages.upsertIfHeld(event.roomId, event.message);
      }
      return;
    }
    if (event.type === 'summary') {
      applySummary(event.room);
      return;
    }
    // Disappearing messages: drop them, and remember them so a page fetched meanwhile cannot bring them back.
    if (event.type === 'expired') messages.removeExpired(event.roomId, event.ids);
    await refreshFromBackground(event.type === 'room' || event.type === 'resync');
  }

  /**
   * Connects the store to the background: subscribes to pushed events and loads the state.
   * Calling it again replaces the previous backend.
   */
  async function init(next: Backend): Promise<void> {
    dispose();
    requests.backend.value = next;
    unsubscribe = next.subscribe((event) => void handleEvent(event));
    await session.api.refresh();
  }

  /** Stops listening to pushed events. */
  function dispose(): void {
    unsubscribe?.();
    unsubscribe = null;
  }

  return {
    ...session.api,
    ...rooms.api,
    ...messages.api,
    busy: requests.busy,
    lastError: requests.lastError,
    lastErrorAction: requests.lastErrorAction,
    clearError: requests.clearError,
    errorFor: requests.errorFor,
    init,
    dispose,
    /** Tells the background which room this page shows, visible and focused (null: none); see `useViewingReport`. */
    reportViewing: (roomId: string | null): void => requests.backend.value?.setViewing(roomId),
    openRoom,
    createRoom,
    joinByLink,
    /** Leaves a room (the others move to a new key) and removes it from this browser; the last admin names a successor. */
    leaveRoom: removingAction('leaveRoom', 'leaveRoom'),
    /** Removes a room we never got into (a failed join) from this browser, and goes back to the list. Resolves true on success. */
    forgetRoom: removingAction('forgetRoom', 'forgetRoom'),
  };
});

export type AppStore = ReturnType<typeof useAppStore>;
