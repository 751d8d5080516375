/**
 * The message part of the app store: messages per room (only rooms opened in this session), sending,
 * marking read, disappearing messages, and loading earlier history page by page (this browser's
 * history first, then the server's backup in backup rooms).
 */
import { computed, reactive } from 'vue';
import type { MessageView, SendOptions } from '@/utils/protocol-map';
import { countNew, mergeMessages, upsertMessage } from './message-order';
import type { Requests } from './requests';
import type { Rooms } from './rooms';

/**
 * How many of the newest messages opening a room loads (and a resync re-reads): a few screens' worth,
 * so a room opens fast however long its history; scrolling up loads the rest, OLDER_PAGE_SIZE at a time.
 */
export const MESSAGE_PAGE_SIZE = 60;
/** How many older messages one scroll back loads from this browser's history. */
export const OLDER_PAGE_SIZE = 100;
/** How long to wait for the server's backup to answer a request for older messages. */
export const LOAD_OLDER_TIMEOUT_MS = 15_000;

/** What the user did to a message: reacted ('' takes a reaction back), edited or deleted their own. */
export type MessageActionRequest =
  | { type: 'react'; messageId: string; emoji: string }
  | { type: 'edit'; messageId: string; text: string }
  | { type: 'delete'; messageId: string };

/** Where loading a room's earlier history stands (rooms opened in this session). */
export interface OlderState {
  loading: boolean;
  /** Every message this browser holds is loaded. */
  localDone: boolean;
  /** Backup rooms: the server has nothing older either. */
  serverDone: boolean;
}

export function createMessages({ call, run, fail, quietly, busy }: Requests, rooms: Rooms) {
  const { currentRoomId } = rooms.api;
  /** Messages per room id, oldest first. Only rooms opened in this session are held. */
  const messagesByRoom = reactive<Record<string, MessageView[]>>({});
  /** Loading earlier history, per room id. */
  const olderByRoom = reactive<Record<string, OlderState>>({});
  /** Ids that disappeared (expired) per room, so a page fetched just before cannot bring them back. */
  const expiredIds = new Map<string, Set<string>>();

  const currentMessages = computed<MessageView[]>(() =>
    currentRoomId.value ? (messagesByRoom[currentRoomId.value] ?? []) : [],
  );

  /** Forgets what is held for one room (left or forgotten). */
  function dropRoom(roomId: string): void {
    delete messagesByRoom[roomId];
    delete olderByRoom[roomId];
    expiredIds.delete(roomId);
  }

  /** Forgets every decrypted message (the session ended). */
  function reset(): void {
    for (const id of Object.keys(messagesByRoom)) delete messagesByRoom[id];
    for (const id of Object.keys(olderByRoom)) delete olderByRoom[id];
    expiredIds.clear();
  }

  /** Reads the newest page and merges it into what is held (which may include older pages). */
  async function fetchMessages(roomId: string, limit = MESSAGE_PAGE_SIZE): Promise<MessageView[]> {
    const fetched = await call('listMessages', { roomId, limit });
    applyFetched(roomId, fetched);
    return fetched;
  }

  function applyFetched(roomId: string, fetched: MessageView[]): void {
    messagesByRoom[roomId] = mergeMessages(messagesByRoom[roomId] ?? [], fetched, expiredIds.get(roomId));
  }

  /** The room's scrollback state, through the reactive record (so the list sees its changes). */
  function olderState(roomId: string): OlderState {
    if (!olderByRoom[roomId]) olderByRoom[roomId] = { loading: false, localDone: false, serverDone: false };
    return olderByRoom[roomId];
  }

  /** Drops expired messages, and remembers them so a page fetched meanwhile cannot bring them back. */
  function removeExpired(roomId: string, ids: string[]): void {
    const gone = expiredIds.get(roomId) ?? new Set<string>();
    for (const id of ids) gone.add(id);
    expiredIds.set(roomId, gone);
    const held = messagesByRoom[roomId];
    if (held) messagesByRoom[roomId] = held.filter((m) => !gone.has(m.id));
  }

  async function markRead(roomId: string): Promise<void> {
    await call('markRead', { roomId });
    rooms.patchRoomSummary(roomId, { unread: 0 });
  }

  /** Marks read after pushed messages: one request at a time per room, and at most one more after it for a burst (e.g. older pages arriving). */
  const marking = new Map<string, { again: boolean; done: Promise<void> }>();
  function markReadCoalesced(roomId: string): Promise<void> {
    const current = marking.get(roomId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await markRead(roomId);
        } while (entry.again);
      } finally {
        marking.delete(roomId);
      }
    })();
    marking.set(roomId, entry);
    return entry.done;
  }

  /** A pushed message in the open room: shown, and the room marked read if someone else wrote it. */
  async function showInOpenRoom(roomId: string, message: MessageView): Promise<void> {
    if (expiredIds.get(roomId)?.has(message.id)) return;
    upsertMessage(messagesByRoom[roomId] ?? (messagesByRoom[roomId] = []), message);
    if (!message.mine) await quietly(() => markReadCoalesced(roomId));
  }

  /** A pushed message in another room: updated only if that room's messages are held. */
  function upsertIfHeld(roomId: string, message: MessageView): void {
    const held = messagesByRoom[roomId];
    if (held && !expiredIds.get(roomId)?.has(message.id)) upsertMessage(held, message);
  }

  /** Sends a message (optionally a reply) to a room. Resolves true once the background accepted it (status `sending`). */
  async function sendMessage(roomId: string, text: string, options: SendOptions = {}): Promise<boolean> {
    const message = await run('sendMessage', () => call('sendMessage', { roomId, text, ...(options.replyTo ? { options } : {}) }));
    if (!message) return false;
    upsertReply(roomId, message);
    rooms.patchRoomSummary(roomId, { lastText: message.text, lastTs: message.ts });
    return true;
  }

  /** Reacts to, edits or deletes a message; the changed message replaces the shown one. Resolves true if it went out. */
  async function messageAction(roomId: string, action: MessageActionRequest): Promise<boolean> {
    const changed = await run('messageAction', () => {
      if (action.type === 'react') return call('react', { roomId, messageId: action.messageId, emoji: action.emoji });
      if (action.type === 'edit') return call('editMessage', { roomId, messageId: action.messageId, text: action.text });
      return call('deleteMessage', { roomId, messageId: action.messageId });
    });
    if (!changed) return false;
    upsertIfHeld(roomId, changed);
    return true;
  }

  /**
   * The background's answer to a send or a retry: 'sending' never replaces 'failed', a refusal pushed before the
   * answer got here (a retry marks its row 'sending' itself first, so a 'failed' it meets is newer).
   */
  function upsertReply(roomId: string, message: MessageView): void {
    const held = messagesByRoom[roomId] ?? (messagesByRoom[roomId] = []);
    if (message.status === 'sending' && held.some((m) => m.id === message.id && m.status === 'failed')) return;
    upsertMessage(held, message);
  }

  /** Sends a failed message of ours again; the row shows what became of it. Resolves true if the background took it. */
  async function retryMessage(roomId: string, messageId: string): Promise<boolean> {
    const held = messagesByRoom[roomId];
    const failed = held?.find((m) => m.id === messageId && m.status === 'failed');
    if (held && failed) upsertMessage(held, { ...failed, status: 'sending', failure: null });
    const message = await run('messageAction', () => call('retryMessage', { roomId, messageId }));
    if (message) upsertReply(roomId, message);
    else if (held && failed) upsertMessage(held, failed);
    return message !== null;
  }

  /** Gives up on a failed message of ours: it goes from the list. Resolves true once the background dropped it. */
  async function discardMessage(roomId: string, messageId: string): Promise<boolean> {
    const done = await run('messageAction', async () => {
      await call('discardMessage', { roomId, messageId });
      return true;
    });
    if (done) removeExpired(roomId, [messageId]);
    return done === true;
  }

  /**
   * Loads earlier messages of a room (the reader scrolled to the top): first older pages of this
   * browser's history, then, once those are used up, the page before them from the server's backup
   * (backup rooms). Resolves how many messages were added; 0 when there is nothing more (or it failed:
   * failures are recorded under `loadOlder`, and the next scroll tries again).
   */
  async function loadOlderMessages(roomId: string): Promise<number> {
    const state = olderState(roomId);
    if (state.loading || !canLoadOlder(roomId)) return 0;
    state.loading = true;
    busy.loadOlder = true;
    try {
      if (!state.localDone) {
        const added = await loadOlderLocal(roomId, state);
        if (added > 0 || !state.localDone) return added;
      }
      return await loadOlderFromServer(roomId, state);
    } catch (cause) {
      fail('loadOlder', cause);
      return 0;
    } finally {
      state.loading = false;
      busy.loadOlder = false;
    }
  }

  /**
   * Whether earlier messages can be loaded now. A backup room whose local pages are used up asks the
   * server, which only works while connected: offline it cannot load more now (and must not look as if
   * it could, or the message list asks again on every render), though the server may still hold more.
   */
  function canLoadOlder(roomId: string): boolean {
    const state = olderByRoom[roomId];
    if (!state) return true;
    if (!state.localDone) return true;
    const room = rooms.roomById(roomId);
    return room?.mode === 'backup' && !room.removed && !state.serverDone && room.connected;
  }

  /** A backup room whose earlier messages wait on the server connection (never one we were removed from: it will not connect again). */
  function olderWaitsForConnection(roomId: string): boolean {
    const state = olderByRoom[roomId];
    const room = rooms.roomById(roomId);
    return !!state?.localDone && room?.mode === 'backup' && !room.removed && !state.serverDone && !room.connected;
  }

  async function loadOlderLocal(roomId: string, state: OlderState): Promise<number> {
    const held = messagesByRoom[roomId] ?? [];
    let cursor = held[0]?.id;
    if (!cursor) {
      state.localDone = true;
      return 0;
    }
    // The local history pages in arrival order, which can differ from display order (catch-up): a page
    // may then hold only messages already shown; step on from its oldest until something new comes.
    for (let round = 0; round < 20; round++) {
      const page: MessageView[] = await call('listMessages', { roomId, limit: OLDER_PAGE_SIZE, beforeId: cursor });
      const added = countNew(messagesByRoom[roomId] ?? [], page);
      applyFetched(roomId, page);
      if (page.length < OLDER_PAGE_SIZE) state.localDone = true;
      if (added > 0 || state.localDone) return added;
      cursor = page[0]?.id;
      if (!cursor) break;
    }
    state.localDone = true;
    return 0;
  }

  async function loadOlderFromServer(roomId: string, state: OlderState): Promise<number> {
    const room = rooms.api.rooms.value.find((r) => r.id === roomId);
    if (room?.mode !== 'backup' || state.serverDone) return 0;
    // Offline, the background cannot ask the server; that is not the end of the history.
    if (!room.connected) return 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), LOAD_OLDER_TIMEOUT_MS)));
    const count = await Promise.race([call('loadOlder', { roomId }), timeout]).finally(() => clearTimeout(timer));
    if (count === null) return 0;
    if (count === 0) {
      state.serverDone = true;
      return 0;
    }
    // They arrive as pushes too; the background stores them as its newest entries, so read those back
    // in case a push was missed.
    const before = messagesByRoom[roomId] ?? [];
    const fetched = await call('listMessages', { roomId, limit: Math.min(500, count + 50) });
    const added = countNew(before, fetched);
    applyFetched(roomId, fetched);
    return Math.max(added, count);
  }

  /** What components use (spread into the store). */
  const api = {
    messagesByRoom,
    olderByRoom,
    currentMessages,
    sendMessage,
    messageAction,
    retryMessage,
    discardMessage,
    loadOlderMessages,
    canLoadOlder,
    olderWaitsForConnection,
  };

  return { api, dropRoom, reset, fetchMessages, olderState, removeExpired, markRead, showInOpenRoom, upsertIfHeld };
}

export type Messages = ReturnType<typeof createMessages>;
