/**
 * The room part of the app store: the room list, the open room with its details (members, join
 * requests, settings) and invite links, and the admin actions on them. Opening a room also loads its
 * messages, so that lives where both meet (`stores/app.ts`).
 */
import { computed, reactive, ref } from 'vue';
import type { CreateLinkOptions, LinkView, MemberView, RoomDetail, RoomSettings, RoomSummary } from '@/utils/protocol-map';
import { toUserError, type ActionName, type Requests } from './requests';

/** What an admin can do with a pending join request. */
export type RequestDecision = 'approve' | 'deny' | 'ban';

/** Admin actions on a member or a banned identity. */
export type MemberAction = 'remove' | 'allow-links' | 'deny-links' | 'unban' | 'promote' | 'demote';

export function createRooms({ call, run, quietly }: Requests) {
  const rooms = ref<RoomSummary[]>([]);
  const currentRoomId = ref<string | null>(null);
  /** Details of the open room; null while loading or when no room is open. */
  const roomDetail = ref<RoomDetail | null>(null);
  /** The open room's invite links (admins), newest first; null until loaded. */
  const links = ref<LinkView[] | null>(null);
  /** True while the invite panel is showing, so pushed events also refresh the links (their use counts). */
  const linksShown = ref(false);
  /** Join requests (by fingerprint) with a decision in flight, so their buttons can be disabled. */
  const decidingRequests = reactive(new Set<string>());

  const currentRoom = computed<RoomSummary | null>(
    () => roomDetail.value ?? rooms.value.find((r) => r.id === currentRoomId.value) ?? null,
  );
  const isAdmin = computed(() => roomDetail.value?.myRole === 'admin');

  function roomById(roomId: string): RoomSummary | null {
    return rooms.value.find((r) => r.id === roomId) ?? (roomDetail.value?.id === roomId ? roomDetail.value : null);
  }

  function patchRoomSummary(roomId: string, patch: Partial<RoomSummary>): void {
    rooms.value = rooms.value.map((r) => (r.id === roomId ? { ...r, ...patch } : r));
  }

  /** Adds a room to the list, or replaces the listed one with `room` when `replace`. */
  function listRoom(room: RoomSummary, replace: boolean): void {
    if (!rooms.value.some((r) => r.id === room.id)) rooms.value = [...rooms.value, room];
    else if (replace) rooms.value = rooms.value.map((r) => (r.id === room.id ? room : r));
  }

  /**
   * Takes a room's summary pushed with an event, instead of re-reading the whole state for it. Returns
   * whether its count of missing messages changed (the open room then re-reads its details for the
   * gaps), or null for a room the list does not show yet.
   */
  function applySummary(room: RoomSummary, override: Partial<RoomSummary> = {}): boolean | null {
    const held = rooms.value.find((r) => r.id === room.id);
    if (!held) return null;
    rooms.value = rooms.value.map((r) => (r.id === room.id ? { ...room, ...override } : r));
    return held.missing !== room.missing;
  }

  /** Makes `roomId` the open room; its details and links are dropped when it was another one. */
  function selectRoom(roomId: string): void {
    if (currentRoomId.value !== roomId) {
      roomDetail.value = null;
      links.value = null;
    }
    currentRoomId.value = roomId;
  }

  /** Goes back to the room list. */
  function closeRoom(): void {
    currentRoomId.value = null;
    roomDetail.value = null;
    links.value = null;
  }

  async function fetchRoom(roomId: string): Promise<void> {
    try {
      const detail = await call('getRoom', { roomId });
      if (currentRoomId.value === roomId) roomDetail.value = detail;
    } catch (cause) {
      // The page has moved on (back to the list, or the room was left meanwhile): nobody asked any more.
      if (currentRoomId.value !== roomId) return;
      if (toUserError(cause).code === 'no-room') closeRoom();
      throw cause;
    }
  }

  /** Applies a fresh links list if it belongs to the room still open. */
  function setLinks(roomId: string, next: LinkView[]): void {
    if (currentRoomId.value === roomId) links.value = next;
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

  /** An action on a room answered with the room's links: shows them. Resolves true on success. */
  function linksAction<A extends unknown[]>(action: ActionName, request: (roomId: string, ...args: A) => Promise<LinkView[]>) {
    return async (roomId: string, ...args: A): Promise<boolean> => {
      const list = await run(action, () => request(roomId, ...args));
      if (list) setLinks(roomId, list);
      return list !== null;
    };
  }

  /** An action on a room answered with the room's details: shows them if it is open. Resolves true on success. */
  function detailAction<A extends unknown[]>(action: ActionName, request: (roomId: string, ...args: A) => Promise<RoomDetail>) {
    return async (roomId: string, ...args: A): Promise<boolean> => {
      const detail = await run(action, () => request(roomId, ...args));
      if (detail && currentRoomId.value === roomId) roomDetail.value = detail;
      return detail !== null;
    };
  }

  /** Invites the owner of a contact code into a room. Resolves the new member, or null on failure. */
  async function inviteContact(roomId: string, code: string): Promise<MemberView | null> {
    const member = await run('inviteContact', () => call('inviteContact', { roomId, code }));
    if (member && currentRoomId.value === roomId) await quietly(() => fetchRoom(roomId));
    return member;
  }

  /** Creates an invite link. Resolves the new link (its `url` is the full link), or null on failure. */
  async function createLink(roomId: string, options: CreateLinkOptions): Promise<LinkView | null> {
    const link = await run('createLink', () => call('createLink', { roomId, options }));
    if (!link) return null;
    const current = currentRoomId.value === roomId ? (links.value ?? []) : [];
    setLinks(roomId, [link, ...current.filter((l) => l.id !== link.id)]);
    await quietly(async () => setLinks(roomId, await call('listLinks', { roomId })));
    return link;
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

  /** Mutes (or unmutes) a room's notifications in this browser. Resolves true on success. */
  async function setRoomMuted(roomId: string, muted: boolean): Promise<boolean> {
    const room = await run('setRoomMuted', () => call('setRoomMuted', { roomId, muted }));
    if (!room) return false;
    applySummary(room);
    if (roomDetail.value?.id === roomId) roomDetail.value = { ...roomDetail.value, muted: room.muted };
    return true;
  }

  /** Dismisses the room's "N messages could not be read" notice. Resolves true on success. */
  async function dismissUnreadable(roomId: string): Promise<boolean> {
    const room = await run('dismissUnreadable', () => call('dismissUnreadable', { roomId }));
    if (!room) return false;
    applySummary(room);
    if (roomDetail.value?.id === roomId) roomDetail.value = { ...roomDetail.value, unreadable: room.unreadable };
    return true;
  }

  /** What components use (spread into the store). */
  const api = {
    rooms,
    currentRoomId,
    roomDetail,
    links,
    linksShown,
    decidingRequests,
    currentRoom,
    isAdmin,
    closeRoom,
    inviteContact,
    createLink,
    decideRequest,
    setRoomMuted,
    dismissUnreadable,
    /** Loads the open room's invite links (admins only). */
    loadLinks: linksAction('loadLinks', (roomId) => call('listLinks', { roomId })),
    /** Revokes one link. Resolves true on success. */
    revokeLink: linksAction('revokeLink', (roomId, linkId: string) => call('revokeLink', { roomId, linkId })),
    /** Kills every link of the room (and their escrowed keys). Resolves true on success. */
    resetLinks: linksAction('resetLinks', (roomId) => call('resetLinks', { roomId })),
    /** Admins change the room's settings (disappearing timer; backup rooms: history sharing, retention). Resolves true on success. */
    saveRoomSettings: detailAction('saveSettings', (roomId, settings: RoomSettings) => call('setRoomSettings', { roomId, settings })),
    /** Marks another member verified after comparing safety numbers, or takes the mark back. Resolves true on success. */
    setContactVerified: detailAction('verifyContact', (roomId, fingerprint: string, verified: boolean) => call('setContactVerified', { roomId, fingerprint, verified })),
    /** Admin actions on a member or a banned identity: remove, allow or stop link creation, promote or demote, lift a ban. */
    memberAction: detailAction('memberAction', (roomId, action: MemberAction, fingerprint: string) => {
      if (action === 'remove') return call('removeMember', { roomId, fingerprint });
      if (action === 'unban') return call('unban', { roomId, fingerprint });
      if (action === 'promote' || action === 'demote') return call('setMemberRole', { roomId, fingerprint, role: action === 'promote' ? 'admin' : 'member' });
      return call('setLinkPermission', { roomId, fingerprint, allowed: action === 'allow-links' });
    }),
  };

  return { api, roomById, patchRoomSummary, listRoom, applySummary, selectRoom, fetchRoom, refreshLinks };
}

export type Rooms = ReturnType<typeof createRooms>;
