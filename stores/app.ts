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
  IdentityExport,
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
  RoomSettings,
  RoomSummary,
  UserError,
} from '@/utils/protocol-map';
import { countNew, mergeMessages, upsertMessage } from './messages';

export { compareMessages, mergeMessages, upsertMessage } from './messages';

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
  | 'decideRequest'
  | 'saveSettings'
  | 'loadOlder'
  | 'exportIdentity'
  | 'importIdentity'
  | 'forgetRoom'
  | 'memberAction'
  | 'leaveRoom';

/** What an admin can do with a pending join request. */
export type RequestDecision = 'approve' | 'deny' | 'ban';

/**
 * How many of the newest messages opening a room loads (and a resync re-reads): a few screens' worth,
 * so a room opens fast however long its history; scrolling up loads the rest, OLDER_PAGE_SIZE at a time.
 */
export const MESSAGE_PAGE_SIZE = 60;
/** How many older messages one scroll back loads from this browser's history. */
export const OLDER_PAGE_SIZE = 100;
/** How long to wait for the server's backup to answer a request for older messages. */
export const LOAD_OLDER_TIMEOUT_MS = 15_000;

/** Where loading a room's earlier history stands (rooms opened in this session). */
export interface OlderState {
  loading: boolean;
  /** Every message this browser holds is loaded. */
  localDone: boolean;
  /** Backup rooms: the server has nothing older either. */
  serverDone: boolean;
}

/** Turns anything thrown by a backend call into a `UserError`. */
export function toUserError(cause: unknown): UserError {
  if (cause instanceof BackendError) return cause.error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return { code: 'internal', message };
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
    saveSettings: false,
    memberAction: false,
    leaveRoom: false,
    loadOlder: false,
    exportIdentity: false,
    importIdentity: false,
    forgetRoom: false,
  });
  /** Loading earlier history, per room id. */
  const olderByRoom = reactive<Record<string, OlderState>>({});
  /** Ids that disappeared (expired) per room, so a page fetched just before cannot bring them back. */
  const expiredIds = new Map<string, Set<string>>();
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
    for (const id of Object.keys(olderByRoom)) delete olderByRoom[id];
    expiredIds.clear();
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

  function removeExpired(roomId: string, ids: string[]): void {
    const gone = expiredIds.get(roomId) ?? new Set<string>();
    for (const id of ids) gone.add(id);
    expiredIds.set(roomId, gone);
    const held = messagesByRoom[roomId];
    if (held) messagesByRoom[roomId] = held.filter((m) => !gone.has(m.id));
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
        await refreshQuietly(async () => {
          await fetchState();
          const roomId = currentRoomId.value;
          if (roomId) await Promise.all([fetchRoom(roomId), messagesToo ? fetchMessages(roomId) : undefined, refreshLinks(roomId)]);
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
    if (event.type === 'message') {
      const open = event.roomId === currentRoomId.value;
      const gapsChanged = applySummary(event.room, open && !event.message.mine ? { unread: 0 } : {});
      if (open) {
        if (gapsChanged) void refreshQuietly(() => fetchRoom(event.roomId));
        await showInOpenRoom(event.roomId, event.message);
      } else {
        upsertIfHeld(event.roomId, event.message);
      }
      return;
    }
    if (event.type === 'summary') {
      applySummary(event.room);
      return;
    }
    // Disappearing messages: drop them, and remember them so a page fetched meanwhile cannot bring them back.
    if (event.type === 'expired') removeExpired(event.roomId, event.ids);
    await refreshFromBackground(event.type === 'room' || event.type === 'resync');
  }

  /**
   * Takes a room's summary pushed with an event, instead of re-reading the whole state for it. Returns
   * whether its count of missing messages changed (the open room then re-reads its details for the gaps).
   */
  function applySummary(room: RoomSummary, override: Partial<RoomSummary> = {}): boolean {
    const held = rooms.value.find((r) => r.id === room.id);
    if (!held) {
      void refreshFromBackground(false); // a room this list does not show yet
      return false;
    }
    rooms.value = rooms.value.map((r) => (r.id === room.id ? { ...room, ...override } : r));
    return held.missing !== room.missing;
  }

  async function showInOpenRoom(roomId: string, message: MessageView): Promise<void> {
    if (expiredIds.get(roomId)?.has(message.id)) return;
    upsertMessage(messagesByRoom[roomId] ?? (messagesByRoom[roomId] = []), message);
    if (!message.mine) await refreshQuietly(() => markReadCoalesced(roomId));
  }

  function upsertIfHeld(roomId: string, message: MessageView): void {
    const held = messagesByRoom[roomId];
    if (held && !expiredIds.get(roomId)?.has(message.id)) upsertMessage(held, message);
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
      const [, fetched] = await Promise.all([fetchRoom(roomId), fetchMessages(roomId)]);
      // A short first page is everything this browser holds; older history can only come from the server.
      if (fetched.length < MESSAGE_PAGE_SIZE) olderState(roomId).localDone = true;
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
    const room = roomById(roomId);
    return room?.mode === 'backup' && !state.serverDone && room.connected;
  }

  /** A backup room whose earlier messages wait on the server connection. */
  function olderWaitsForConnection(roomId: string): boolean {
    const state = olderByRoom[roomId];
    const room = roomById(roomId);
    return !!state?.localDone && room?.mode === 'backup' && !state.serverDone && !room.connected;
  }

  function roomById(roomId: string): RoomSummary | null {
    return rooms.value.find((r) => r.id === roomId) ?? (roomDetail.value?.id === roomId ? roomDetail.value : null);
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
    const room = rooms.value.find((r) => r.id === roomId);
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

  /** Admins change the room's settings (disappearing timer; backup rooms: history sharing, retention). Resolves true on success. */
  async function saveRoomSettings(roomId: string, settings: RoomSettings): Promise<boolean> {
    const detail = await run('saveSettings', () => call('setRoomSettings', { roomId, settings }));
    if (!detail) return false;
    if (currentRoomId.value === roomId) roomDetail.value = detail;
    return true;
  }

  /** Packs the identity for another browser; needs the identity's passphrase. Resolves the file, or null on failure. */
  async function exportIdentity(passphrase: string): Promise<IdentityExport | null> {
    return run('exportIdentity', () => call('exportIdentity', { passphrase }));
  }

  /** Sets this browser up with an identity exported from another one (only before onboarding). Resolves true once ready. */
  async function importIdentity(input: { content: string; passphrase: string; host?: string }): Promise<boolean> {
    const state = await run('importIdentity', () => call('importIdentity', input));
    if (state) applyState(state);
    return state !== null;
  }

  /** Removes a room we never got into (a failed join) from this browser, and goes back to the list. Resolves true on success. */
  /** Admin actions on a member or a banned identity: remove, allow or stop link creation, lift a ban. */
  async function memberAction(roomId: string, action: 'remove' | 'allow-links' | 'deny-links' | 'unban', fingerprint: string): Promise<boolean> {
    const detail = await run('memberAction', () =>
      action === 'remove'
        ? call('removeMember', { roomId, fingerprint })
        : action === 'unban'
          ? call('unban', { roomId, fingerprint })
          : call('setLinkPermission', { roomId, fingerprint, allowed: action === 'allow-links' }),
    );
    if (detail && currentRoomId.value === roomId) roomDetail.value = detail;
    return detail !== null && detail !== undefined;
  }

  /** Leaves a room (the others move to a new key) and removes it from this browser. */
  async function leaveRoom(roomId: string): Promise<boolean> {
    const state = await run('leaveRoom', () => call('leaveRoom', { roomId }));
    if (!state) return false;
    if (currentRoomId.value === roomId) closeRoom();
    delete messagesByRoom[roomId];
    delete olderByRoom[roomId];
    applyState(state);
    return true;
  }

  async function forgetRoom(roomId: string): Promise<boolean> {
    const state = await run('forgetRoom', () => call('forgetRoom', { roomId }));
    if (!state) return false;
    if (currentRoomId.value === roomId) closeRoom();
    delete messagesByRoom[roomId];
    delete olderByRoom[roomId];
    expiredIds.delete(roomId);
    applyState(state);
    return true;
  }

  return {
    memberAction,
    leaveRoom,
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
    olderByRoom,
    canLoadOlder,
    loadOlderMessages,
    olderWaitsForConnection,
    saveRoomSettings,
    exportIdentity,
    importIdentity,
    forgetRoom,
  };
});

export type AppStore = ReturnType<typeof useAppStore>;
