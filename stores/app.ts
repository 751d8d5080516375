/**
 * The UI's state: what the background worker reports (phase, identity, rooms), the open room with its
 * members and messages, busy flags per action, and the last failure. The background is reached only
 * through the injected `Backend`, so tests hand in a fake and the entrypoints the real one:
 *
 *   const store = useAppStore(pinia);
 *   void store.init(createExtensionBackend());
 */
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import type { RoomMode } from '@/shared/protocol';
import { BackendError, type Backend } from '@/utils/backend';
import type {
  AppState,
  CreateLinkOptions,
  LinkView,
  MemberView,
  MeView,
  MessageView,
  Phase,
  PushEvent,
  RequestOf,
  RequestType,
  ResponseOf,
  RoomDetail,
  RoomSummary,
  UserError,
} from '@/utils/protocol-map';

/** User-visible operations; each has a busy flag, and `lastErrorAction` names the one that failed last. */
export type ActionName =
  | 'load'
  | 'onboard'
  | 'unlock'
  | 'lock'
  | 'setHost'
  | 'createRoom'
  | 'openRoom'
  | 'sendMessage'
  | 'inviteContact'
  | 'createLink'
  | 'loadLinks'
  | 'revokeLink'
  | 'resetLinks'
  | 'joinByLink'
  | 'decideRequest';

/** What an admin can do with a pending join request. */
export type RequestDecision = 'approve' | 'deny' | 'ban';

/** How many messages the open room loads. */
export const MESSAGE_PAGE_SIZE = 200;

/** Turns anything thrown by a backend call into a `UserError`. */
export function toUserError(cause: unknown): UserError {
  if (cause instanceof BackendError) return cause.error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return { code: 'internal', message };
}

/**
 * Inserts `message` into `list` (kept in timestamp order), or replaces the one with the same id.
 * A `sent` message is never downgraded back to `sending` by a late reply.
 */
export function upsertMessage(list: MessageView[], message: MessageView): void {
  const index = list.findIndex((m) => m.id === message.id);
  if (index >= 0) {
    const existing = list[index];
    if (existing?.status === 'sent' && message.status === 'sending') return;
    list.splice(index, 1, message);
    return;
  }
  let at = list.length;
  while (at > 0 && (list[at - 1]?.ts ?? 0) > message.ts) at--;
  list.splice(at, 0, message);
}

/**
 * A freshly fetched page of messages, plus those already held that arrived after the page was taken
 * (pushed while the fetch was in flight).
 */
export function mergeFetchedMessages(fetched: MessageView[], held: MessageView[]): MessageView[] {
  const merged = [...fetched];
  const newestFetched = fetched.at(-1)?.ts ?? -Infinity;
  for (const message of held) {
    if (message.ts >= newestFetched && !fetched.some((m) => m.id === message.id)) upsertMessage(merged, message);
  }
  return merged;
}

/** The app store; call `init(backend)` once per page before relying on its state. */
export const useAppStore = defineStore('app', () => {
  const backend = shallowRef<Backend | null>(null);
  let unsubscribe: (() => void) | null = null;

  /** `loading` until the background has answered the first `getState`. */
  const phase = ref<Phase | 'loading'>('loading');
  const me = ref<MeView | null>(null);
  const host = ref('');
  const rooms = ref<RoomSummary[]>([]);
  const currentRoomId = ref<string | null>(null);
  /** Details of the open room; null while loading or when no room is open. */
  const roomDetail = ref<RoomDetail | null>(null);
  /** Messages per room id, oldest first. Only rooms opened in this session are held. */
  const messagesByRoom = reactive<Record<string, MessageView[]>>({});
  const busy = reactive<Record<ActionName, boolean>>({
    load: false,
    onboard: false,
    unlock: false,
    lock: false,
    setHost: false,
    createRoom: false,
    openRoom: false,
    sendMessage: false,
    inviteContact: false,
    createLink: false,
    loadLinks: false,
    revokeLink: false,
    resetLinks: false,
    joinByLink: false,
    decideRequest: false,
  });
  /** The open room's invite links (admins), newest first; null until loaded. */
  const links = ref<LinkView[] | null>(null);
  /** True while the invite panel is showing, so pushed events also refresh the links (their use counts). */
  const linksShown = ref(false);
  /** Join requests (by fingerprint) with a decision in flight, so their buttons can be disabled. */
  const decidingRequests = reactive(new Set<string>());
  const lastError = ref<UserError | null>(null);
  const lastErrorAction = ref<ActionName | null>(null);

  const currentRoom = computed<RoomSummary | null>(
    () => roomDetail.value ?? rooms.value.find((r) => r.id === currentRoomId.value) ?? null,
  );
  const currentMessages = computed<MessageView[]>(() =>
    currentRoomId.value ? (messagesByRoom[currentRoomId.value] ?? []) : [],
  );
  const isAdmin = computed(() => roomDetail.value?.myRole === 'admin');

  function call<K extends RequestType>(type: K, data: RequestOf<K>): Promise<ResponseOf<K>> {
    if (!backend.value) return Promise.reject(new BackendError({ code: 'internal', message: 'the store has no backend' }));
    return backend.value.request(type, data);
  }

  function fail(action: ActionName, cause: unknown): void {
    lastError.value = toUserError(cause);
    lastErrorAction.value = action;
  }

  /** Runs a user-initiated action: clears the previous error, sets the busy flag, records a failure. */
  async function run<T>(action: ActionName, work: () => Promise<T>): Promise<T | null> {
    clearError();
    busy[action] = true;
    try {
      return await work();
    } catch (cause) {
      fail(action, cause);
      return null;
    } finally {
      busy[action] = false;
    }
  }

  /** Clears the recorded failure (e.g. when the user dismisses it). */
  function clearError(): void {
    lastError.value = null;
    lastErrorAction.value = null;
  }

  /** The last failure if it came from `action`, else null: lets each form show its own error. */
  function errorFor(...actions: ActionName[]): UserError | null {
    return lastErrorAction.value && actions.includes(lastErrorAction.value) ? lastError.value : null;
  }

  function forgetRooms(): void {
    currentRoomId.value = null;
    roomDetail.value = null;
    links.value = null;
    for (const id of Object.keys(messagesByRoom)) delete messagesByRoom[id];
  }

  function applyState(state: AppState): void {
    phase.value = state.phase;
    me.value = state.me;
    host.value = state.host;
    rooms.value = state.rooms;
    // Decrypted content must not outlive the unlocked session.
    if (state.phase !== 'ready') forgetRooms();
  }

  function patchRoomSummary(roomId: string, patch: Partial<RoomSummary>): void {
    rooms.value = rooms.value.map((r) => (r.id === roomId ? { ...r, ...patch } : r));
  }

  async function fetchState(): Promise<void> {
    applyState(await call('getState', undefined));
  }

  async function fetchRoom(roomId: string): Promise<void> {
    try {
      const detail = await call('getRoom', { roomId });
      if (currentRoomId.value === roomId) roomDetail.value = detail;
    } catch (cause) {
      if (currentRoomId.value === roomId && toUserError(cause).code === 'no-room') closeRoom();
      throw cause;
    }
  }

  async function fetchMessages(roomId: string): Promise<void> {
    const fetched = await call('listMessages', { roomId, limit: MESSAGE_PAGE_SIZE });
    messagesByRoom[roomId] = mergeFetchedMessages(fetched, messagesByRoom[roomId] ?? []);
  }

  async function markRead(roomId: string): Promise<void> {
    await call('markRead', { roomId });
    patchRoomSummary(roomId, { unread: 0 });
  }

  /** Background refresh after a pushed event: failures are recorded but do not clear other errors. */
  async function refreshQuietly(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (cause) {
      fail('load', cause);
    }
  }

  let refreshing: Promise<void> | null = null;
  let refreshAgain = false;

  /**
   * Re-reads the state and the open room (details and messages) after pushed events. Events come in
   * bursts (every message also reports a state change), so one refresh runs at a time and any events
   * during it cause a single follow-up.
   */
  function refreshFromBackground(): Promise<void> {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        await refreshQuietly(async () => {
          await fetchState();
          const roomId = currentRoomId.value;
          if (roomId) await Promise.all([fetchRoom(roomId), fetchMessages(roomId), refreshLinks(roomId)]);
        });
      } while (refreshAgain);
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  /** Re-reads the links while the invite panel shows them; a failure here only leaves the old list. */
  async function refreshLinks(roomId: string): Promise<void> {
    if (!linksShown.value || roomDetail.value?.myRole !== 'admin') return;
    try {
      setLinks(roomId, await call('listLinks', { roomId }));
    } catch {
      // Not fatal: the panel keeps the list it has and the next event tries again.
    }
  }

  async function handleEvent(event: PushEvent): Promise<void> {
    if (event.type === 'message' && event.roomId === currentRoomId.value) {
      await showInOpenRoom(event.roomId, event.message);
      return;
    }
    if (event.type === 'message') upsertIfHeld(event.roomId, event.message);
    // Disappearing messages: drop them here too, or a refresh would keep them as "pushed while loading".
    if (event.type === 'expired' && messagesByRoom[event.roomId]) {
      messagesByRoom[event.roomId] = (messagesByRoom[event.roomId] ?? []).filter((m) => !event.ids.includes(m.id));
    }
    await refreshFromBackground();
  }

  async function showInOpenRoom(roomId: string, message: MessageView): Promise<void> {
    upsertMessage(messagesByRoom[roomId] ?? (messagesByRoom[roomId] = []), message);
    patchRoomSummary(roomId, { lastText: message.text, lastTs: message.ts, unread: 0 });
    if (!message.mine) await refreshQuietly(() => markRead(roomId));
  }

  function upsertIfHeld(roomId: string, message: MessageView): void {
    const held = messagesByRoom[roomId];
    if (held) upsertMessage(held, message);
  }

  /**
   * Connects the store to the background: subscribes to pushed events and loads the state.
   * Calling it again replaces the previous backend.
   */
  async function init(next: Backend): Promise<void> {
    dispose();
    backend.value = next;
    unsubscribe = next.subscribe((event) => void handleEvent(event));
    await refresh();
  }

  /** Stops listening to pushed events. */
  function dispose(): void {
    unsubscribe?.();
    unsubscribe = null;
  }

  /** Reloads the state from the background (also the retry after a failed first load). */
  async function refresh(): Promise<void> {
    await run('load', fetchState);
  }

  /** Creates the identity (slow: key generation). Resolves true once the phase is `ready`. */
  async function onboard(input: { name: string; passphrase: string; host?: string }): Promise<boolean> {
    const state = await run('onboard', () => call('onboard', input));
    if (state) applyState(state);
    return state !== null;
  }

  /** Unlocks the vault with the passphrase. Resolves true on success. */
  async function unlock(passphrase: string): Promise<boolean> {
    const state = await run('unlock', () => call('unlock', { passphrase }));
    if (state) applyState(state);
    return state !== null;
  }

  /** Locks the vault and forgets every decrypted message held by the UI. */
  async function lock(): Promise<void> {
    const state = await run('lock', () => call('lock', undefined));
    if (state) applyState(state);
  }

  /** Changes the server address. Resolves true on success. */
  async function setHost(nextHost: string): Promise<boolean> {
    const state = await run('setHost', () => call('setHost', { host: nextHost }));
    if (state) applyState(state);
    return state !== null;
  }

  /** Creates a room and opens it. Resolves the new room, or null on failure. */
  async function createRoom(input: { name: string; mode: RoomMode }): Promise<RoomSummary | null> {
    const room = await run('createRoom', () => call('createRoom', input));
    if (!room) return null;
    if (!rooms.value.some((r) => r.id === room.id)) rooms.value = [...rooms.value, room];
    await openRoom(room.id);
    return room;
  }

  /** Opens a room: loads its details and messages, then marks it read. On failure returns to the list. */
  async function openRoom(roomId: string): Promise<void> {
    if (currentRoomId.value !== roomId) {
      roomDetail.value = null;
      links.value = null;
    }
    currentRoomId.value = roomId;
    const opened = await run('openRoom', async () => {
      await Promise.all([fetchRoom(roomId), fetchMessages(roomId)]);
      if (currentRoomId.value === roomId) await markRead(roomId);
      return true;
    });
    if (!opened && currentRoomId.value === roomId && !roomDetail.value) closeRoom();
  }

  /** Goes back to the room list. */
  function closeRoom(): void {
    currentRoomId.value = null;
    roomDetail.value = null;
    links.value = null;
  }

  /** Sends a message to a room. Resolves true once the background accepted it (status `sending`). */
  async function sendMessage(roomId: string, text: string): Promise<boolean> {
    const message = await run('sendMessage', () => call('sendMessage', { roomId, text }));
    if (!message) return false;
    upsertMessage(messagesByRoom[roomId] ?? (messagesByRoom[roomId] = []), message);
    patchRoomSummary(roomId, { lastText: message.text, lastTs: message.ts });
    return true;
  }

  /** Invites the owner of a contact code into a room. Resolves the new member, or null on failure. */
  async function inviteContact(roomId: string, code: string): Promise<MemberView | null> {
    const member = await run('inviteContact', () => call('inviteContact', { roomId, code }));
    if (member && currentRoomId.value === roomId) await refreshQuietly(() => fetchRoom(roomId));
    return member;
  }

  /** Applies a fresh links list if it belongs to the room still open. */
  function setLinks(roomId: string, next: LinkView[]): void {
    if (currentRoomId.value === roomId) links.value = next;
  }

  /** Loads the open room's invite links (admins only). */
  async function loadLinks(roomId: string): Promise<void> {
    const list = await run('loadLinks', () => call('listLinks', { roomId }));
    if (list) setLinks(roomId, list);
  }

  /** Creates an invite link. Resolves the new link (its `url` is the full link), or null on failure. */
  async function createLink(roomId: string, options: CreateLinkOptions): Promise<LinkView | null> {
    const link = await run('createLink', () => call('createLink', { roomId, options }));
    if (!link) return null;
    const current = currentRoomId.value === roomId ? (links.value ?? []) : [];
    setLinks(roomId, [link, ...current.filter((l) => l.id !== link.id)]);
    await refreshQuietly(async () => setLinks(roomId, await call('listLinks', { roomId })));
    return link;
  }

  /** Revokes one link. Resolves true on success. */
  async function revokeLink(roomId: string, linkId: string): Promise<boolean> {
    const list = await run('revokeLink', () => call('revokeLink', { roomId, linkId }));
    if (list) setLinks(roomId, list);
    return list !== null;
  }

  /** Kills every link of the room (and their escrowed keys). Resolves true on success. */
  async function resetLinks(roomId: string): Promise<boolean> {
    const list = await run('resetLinks', () => call('resetLinks', { roomId }));
    if (list) setLinks(roomId, list);
    return list !== null;
  }

  /**
   * Starts joining through a pasted invite link and opens that room; progress then shows as the room's
   * `joinState`. Resolves the room, or null on failure (e.g. not a link, another server).
   */
  async function joinByLink(url: string): Promise<RoomSummary | null> {
    const room = await run('joinByLink', () => call('joinByLink', { url }));
    if (!room) return null;
    rooms.value = rooms.value.some((r) => r.id === room.id)
      ? rooms.value.map((r) => (r.id === room.id ? room : r))
      : [...rooms.value, room];
    await openRoom(room.id);
    return room;
  }

  /** Approves, denies or bans someone asking to join. Resolves true on success. */
  async function decideRequest(roomId: string, fingerprint: string, decision: RequestDecision): Promise<boolean> {
    const type = decision === 'approve' ? 'approveRequest' : decision === 'deny' ? 'denyRequest' : 'banRequester';
    decidingRequests.add(fingerprint);
    try {
      const detail = await run('decideRequest', () => call(type, { roomId, fingerprint }));
      if (!detail) return false;
      if (currentRoomId.value === roomId) roomDetail.value = detail;
      patchRoomSummary(roomId, { requests: detail.joinRequests.length });
      return true;
    } finally {
      decidingRequests.delete(fingerprint);
    }
  }

  return {
    phase,
    me,
    host,
    rooms,
    currentRoomId,
    roomDetail,
    links,
    linksShown,
    decidingRequests,
    messagesByRoom,
    busy,
    lastError,
    lastErrorAction,
    currentRoom,
    currentMessages,
    isAdmin,
    init,
    dispose,
    refresh,
    clearError,
    errorFor,
    onboard,
    unlock,
    lock,
    setHost,
    createRoom,
    openRoom,
    closeRoom,
    sendMessage,
    inviteContact,
    loadLinks,
    createLink,
    revokeLink,
    resetLinks,
    joinByLink,
    decideRequest,
  };
});

export type AppStore = ReturnType<typeof useAppStore>;
