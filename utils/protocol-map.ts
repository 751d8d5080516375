/**
 * The typed request/response map between the UI (side panel, popup) and the background worker,
 * and the events the background pushes to open UI pages over the `ui` port.
 */
import type { RoomSettings } from '@/shared/membership';
import type { Role, RoomMode } from '@/shared/protocol';

export type { RoomSettings };

export type Phase = 'onboard' | 'locked' | 'ready';

export interface MeView {
  fingerprint: string;
  name: string;
  /** What someone else pastes to invite us: the fingerprint in groups of four. */
  contactCode: string;
}

export interface RoomSummary {
  id: string;
  name: string;
  mode: RoomMode;
  unread: number;
  lastText: string | null;
  lastTs: number | null;
  /** True while the background holds an authenticated connection to the room (`connection` is 'connected'). */
  connected: boolean;
  /** The room's connection as the background sees it (the panel also shows 'offline' while the browser has no network). */
  connection: ConnectionState;
  /** While reconnecting: when the next try is (ms since the epoch), if known; null otherwise. */
  retryAt: number | null;
  /** False until a key for the room has arrived (e.g. an invitation still being opened). */
  hasKey: boolean;
  /** Where joining through a link stands; null once we are in (or never joined by link). */
  joinState: JoinState | null;
  /** Why joining failed, when joinState is 'failed'. */
  joinError: UserError | null;
  /** Pending join requests (admins only). */
  requests: number;
  /** Messages known to be missing (counter gaps that no one has filled yet). */
  missing: number;
  /** We were removed from this room (or left it): read-only. */
  removed: boolean;
  /** The server refused our last message because this room's backup is full; it waits in the outbox (until an ack). */
  backupFull: boolean;
  /** Muted by the user: no browser notification for its messages. */
  muted: boolean;
  /** Stored messages that could not be read and were moved aside, until dismissed (`dismissUnreadable`). */
  unreadable: number;
}

/**
 * connected: signed in to the room's server; reconnecting: the connection dropped or is still being made, and the
 * background keeps trying (with backoff); offline: not trying (the server refused us for good, the room is closed,
 * or we are no longer in it), or, in the panel, the browser has no network.
 */
export type ConnectionState = 'connected' | 'reconnecting' | 'offline';

/** joining: talking to the server; pending-approval: an admin must accept; waiting-member: admitted, waiting for an online member to hand over the key; failed: see joinError. */
export type JoinState = 'joining' | 'pending-approval' | 'waiting-member' | 'failed';

export interface JoinRequestView {
  fingerprint: string;
  name: string;
  contactCode: string;
  /** Label of the link they used, if any. */
  linkLabel: string | null;
  ts: number;
}

export interface LinkView {
  id: string;
  /** The full link, only for links created in this browser (the secret is never stored elsewhere). */
  url: string | null;
  label: string | null;
  approval: boolean;
  escrow: boolean;
  expires: number | null;
  maxUses: number | null;
  uses: number;
  active: boolean;
  createdBy: string;
  createdAt: number;
}

/**
 * What an invite link tells before joining. `roomName`, `createdBy` and `approval` come from the preview the link's
 * creator sealed under the link secret (`sealed`: the server can neither read nor forge them); a link made before
 * previews has none (`sealed` false: name and creator unknown, approval only as the server says). `members` is
 * always only what the server says.
 */
export interface LinkPreviewView {
  roomId: string;
  roomName: string | null;
  createdBy: string | null;
  approval: boolean;
  members: number;
  sealed: boolean;
  /** We are already in this room: confirming opens it. */
  member: boolean;
}

export interface CreateLinkOptions {
  approval: boolean;
  escrow: boolean;
  /** Lifetime in milliseconds, or null for never. */
  expiresInMs: number | null;
  maxUses: number | null;
  label: string;
}

export interface MemberView {
  fingerprint: string;
  name: string;
  role: Role;
  online: boolean;
  me: boolean;
  contactCode: string;
  /** False for a member the server lists but no admin signed in (a server-injected member): shown with a warning, never sent a key. */
  verified: boolean;
  /** Admins always; members once an admin allowed it. */
  canCreateLinks: boolean;
  /** The room's creator: no other admin can demote or remove them. */
  creator: boolean;
  /** We compared safety numbers with them and marked them verified (dropped if their key changes); absent: not. */
  contactVerified?: boolean;
  /** Their key is not the one pinned for them, or they present under a contact's name with another key; absent: none. */
  keyWarning?: KeyWarningView | null;
}

/**
 * key-changed: a key other than the one pinned when we first met them; lookalike: first seen under the name of
 * a contact we already knew (`of`), with another key.
 */
export interface KeyWarningView {
  kind: 'key-changed' | 'lookalike';
  of: string | null;
}

export interface RoomDetail extends RoomSummary {
  members: MemberView[];
  myRole: Role;
  epoch: number;
  /** Pending join requests (admins only). */
  joinRequests: JoinRequestView[];
  settings: RoomSettings;
  /** Whether we may create invite links here (admins, and members an admin allowed). */
  canCreateLinks: boolean;
  /** Identities banned from asking to join (admins see them to lift a ban). */
  banned: Array<{ fingerprint: string; contactCode: string }>;
  /** Missing messages per sender, by name: shown, not hidden. */
  gaps: Array<{ fingerprint: string; name: string; count: number }>;
  /** Members whose key is not the pinned one, or who present as a contact with another key: a banner in every room they share. */
  keyWarnings: Array<{ fingerprint: string; name: string } & KeyWarningView>;
}

/**
 * How someone's membership changed: a link join, an add by contact code, an approved request, a removal, a leave,
 * a link permission, a role change; `left-successor`: `by` left and made `member` an admin.
 */
export type MemberChange =
  | 'joined'
  | 'added'
  | 'approved'
  | 'removed'
  | 'left'
  | 'left-successor'
  | 'links-allowed'
  | 'links-denied'
  | 'promoted'
  | 'demoted';

/** A room change shown as a line in the chat. `member` events name who changed (`member`) and who did it (`by`, fingerprints). */
export type RoomEventView =
  | { type: 'settings'; settings: RoomSettings; byName: string }
  | { type: 'member'; change: MemberChange; member: string; memberName: string; by: string; byName: string };

/** failed: the server refused it, sealing failed or storage is full (`failure` says which); reconnecting does not fix it, Retry may. */
export type MessageStatus = 'sending' | 'sent' | 'received' | 'failed';

/**
 * Why a message of ours was not sent: `code` is the server's error code (e.g. 'too-large', 'backup-full') or one of
 * our own ('storage-full', 'seal-failed'); the UI shows a localized reason per known code, else `message`.
 */
export interface SendFailure {
  code: string;
  message: string;
}

export interface MessageView {
  id: string;
  roomId: string;
  from: string;
  fromName: string;
  text: string;
  ts: number;
  mine: boolean;
  status: MessageStatus;
  /** Why it failed, when `status` is 'failed'; absent or null otherwise. */
  failure?: SendFailure | null;
  /** Server sequence number; null while sending. Lists are ordered by it. */
  seq: number | null;
  /** 'event': a room change (e.g. the disappearing timer, someone joining), rendered from `event`, not `text`. */
  kind: 'text' | 'event';
  event: RoomEventView | null;
  expiresAt: number | null;
  /** The message this one answers: our own copy's text when we hold it, else the sender's quote. */
  reply: { id: string; from: string; fromName: string; text: string } | null;
  /** Reactions grouped by emoji, in the order first chosen; `mine` when one of them is ours. */
  reactions: Array<{ emoji: string; count: number; mine: boolean }>;
  /** Its author changed the text after sending it. */
  edited: boolean;
  /** Its author deleted it for everyone: `text` is empty. */
  deleted: boolean;
}

/** How a message is sent: optionally as a reply to one in the same room. */
export interface SendOptions {
  replyTo?: string;
}

/** An identity bundle to carry to another browser: passphrase-encrypted, armored. */
export interface IdentityExport {
  fileName: string;
  content: string;
}

/** An invitation from someone who is not a contact yet: nothing connects to the room until it is accepted. */
export interface InvitationView {
  room: string;
  /** Fingerprint of the inviter (their signature on the invitation checked with their published key). */
  by: string;
  /** The inviter's name, from the note sealed to us in the invitation (or, for identities made before private profiles, their key). */
  name: string;
  contactCode: string;
  /** The room's name as the inviter gave it (unverified until joined), or null. */
  roomName: string | null;
  ts: number;
}

/** accept: join, and their later invitations join by themselves; decline: drop it; block: drop it and all of theirs for good. */
export type InvitationDecision = 'accept' | 'decline' | 'block';

export interface AppState {
  phase: Phase;
  me: MeView | null;
  host: string;
  rooms: RoomSummary[];
  /** Invitations waiting for an answer (empty unless unlocked). */
  invitations: InvitationView[];
  /** Whether message notifications show the text (a setting, off by default). */
  notificationPreviews: boolean;
  /** An invite link opened in a tab, waiting for the person to preview and confirm (or dismiss) it. */
  capturedLink: string | null;
  /** Rooms whose stored record could not be read and was moved aside (no longer listed), until dismissed. */
  unreadableRooms: number;
}

export interface ProtocolMap {
  getState: { req: void; res: AppState };
  onboard: { req: { name: string; passphrase: string; host?: string }; res: AppState };
  unlock: { req: { passphrase: string }; res: AppState };
  lock: { req: void; res: AppState };
  setHost: { req: { host: string }; res: AppState };
  createRoom: { req: { name: string; mode: RoomMode }; res: RoomSummary };
  getRoom: { req: { roomId: string }; res: RoomDetail };
  listMessages: { req: { roomId: string; limit?: number; beforeId?: string }; res: MessageView[] };
  sendMessage: { req: { roomId: string; text: string; options?: SendOptions }; res: MessageView };
  /** Our reaction to a message ('' takes it back); returns the message as it is now. */
  react: { req: { roomId: string; messageId: string; emoji: string }; res: MessageView };
  /** Changes the text of one of our own messages for everyone. */
  editMessage: { req: { roomId: string; messageId: string; text: string }; res: MessageView };
  /** Deletes one of our own messages for everyone. */
  deleteMessage: { req: { roomId: string; messageId: string }; res: MessageView };
  /** Sends a message of ours that failed again (same id); answers with it as it is now ('sending', or 'failed' again). */
  retryMessage: { req: { roomId: string; messageId: string }; res: MessageView };
  /** Gives up on a message of ours that failed: it is removed from this browser and never sent. */
  discardMessage: { req: { roomId: string; messageId: string }; res: void };
  inviteContact: { req: { roomId: string; code: string }; res: MemberView };
  markRead: { req: { roomId: string }; res: void };
  createLink: { req: { roomId: string; options: CreateLinkOptions }; res: LinkView };
  listLinks: { req: { roomId: string }; res: LinkView[] };
  revokeLink: { req: { roomId: string; linkId: string }; res: LinkView[] };
  resetLinks: { req: { roomId: string }; res: LinkView[] };
  /** What a pasted or captured link says about its room, asked without telling the room who asks. */
  previewLink: { req: { url: string }; res: LinkPreviewView };
  /** Joins through a link the person confirmed (after its preview). */
  joinByLink: { req: { url: string }; res: RoomSummary };
  /** Forgets a captured link the person did not want. */
  dismissLink: { req: { url: string }; res: AppState };
  approveRequest: { req: { roomId: string; fingerprint: string }; res: RoomDetail };
  denyRequest: { req: { roomId: string; fingerprint: string }; res: RoomDetail };
  banRequester: { req: { roomId: string; fingerprint: string }; res: RoomDetail };
  setRoomSettings: { req: { roomId: string; settings: RoomSettings }; res: RoomDetail };
  /** Loads older messages from the server's backup (backup rooms), returns how many arrived. */
  loadOlder: { req: { roomId: string }; res: number };
  exportIdentity: { req: { passphrase: string }; res: IdentityExport };
  /** Admins allow (or stop allowing) a member to create invite links. */
  setLinkPermission: { req: { roomId: string; fingerprint: string; allowed: boolean }; res: RoomDetail };
  unban: { req: { roomId: string; fingerprint: string }; res: RoomDetail };
  /** Admins remove a member; the room moves to a new key the removed member never sees. */
  removeMember: { req: { roomId: string; fingerprint: string }; res: RoomDetail };
  /** Admins make a member an admin (`admin`) or take the rights away (`member`). */
  setMemberRole: { req: { roomId: string; fingerprint: string; role: Role }; res: RoomDetail };
  /** Leave a room: signs a leave record, then forgets the room in this browser. The last admin names a `successor`. */
  leaveRoom: { req: { roomId: string; successor?: string }; res: AppState };
  /** Removes a room we never got into (a failed or abandoned join) from this browser. */
  forgetRoom: { req: { roomId: string }; res: AppState };
  importIdentity: { req: { content: string; passphrase: string; host?: string }; res: AppState };
  /** Mutes (or unmutes) a room's notifications in this browser. */
  setRoomMuted: { req: { roomId: string; muted: boolean }; res: RoomSummary };
  /** Dismisses the room's "N messages could not be read" notice (the items stay aside). */
  dismissUnreadable: { req: { roomId: string }; res: RoomSummary };
  /** Dismisses the notice of rooms that could not be read. */
  dismissUnreadableRooms: { req: void; res: AppState };
  /** Whether message notifications show the message text. */
  setNotificationPreviews: { req: { enabled: boolean }; res: AppState };
  /** Answers an invitation request (see `InvitationDecision`). */
  decideInvitation: { req: { roomId: string; decision: InvitationDecision }; res: AppState };
  /** Marks a member verified after comparing safety numbers (or takes the mark back); answers with the room as it is now. */
  setContactVerified: { req: { roomId: string; fingerprint: string; verified: boolean }; res: RoomDetail };
}

export type RequestType = keyof ProtocolMap;
export type RequestOf<K extends RequestType> = ProtocolMap[K]['req'];
export type ResponseOf<K extends RequestType> = ProtocolMap[K]['res'];

/** Failure codes a user can see; the UI shows `t('error.<code>')`. */
export type UserErrorCode =
  | 'wrong-passphrase'
  | 'locked'
  | 'invalid-input'
  | 'contact-not-found'
  | 'contact-key-mismatch'
  | 'already-member'
  | 'not-admin'
  | 'no-room'
  | 'no-key'
  | 'offline'
  | 'server'
  | 'internal'
  | 'not-a-link'
  | 'other-server'
  | 'link-invalid'
  | 'link-outdated'
  | 'room-forged'
  | 'preview-forged'
  | 'link-expired'
  | 'link-used-up'
  | 'join-denied'
  | 'banned'
  | 'escrow-with-approval'
  | 'bad-import'
  | 'removed'
  | 'successor-needed'
  | 'role-refused'
  | 'requests-full'
  | 'link-busy'
  | 'store-too-new'
  | 'storage-full';

export interface UserError {
  code: UserErrorCode;
  /** English detail for logs and as a fallback. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: UserError };

export interface RequestEnvelope<K extends RequestType = RequestType> {
  kind: 'partychat-request';
  type: K;
  data: RequestOf<K>;
}

/** Pushed from background to every open UI page. */
export type PushEvent =
  | { type: 'state' }
  /** Made by the UI's own connection after it reconnected to a restarted worker: events may have been missed. */
  | { type: 'resync' }
  | { type: 'room'; roomId: string }
  /** A message arrived or changed (`updated`: an edit, delete or reaction changed one already shown); `room` is the room's summary after it (unread count, preview). */
  | { type: 'message'; roomId: string; message: MessageView; room: RoomSummary; updated?: true }
  /** Only a room's summary changed (e.g. marked read). */
  | { type: 'summary'; room: RoomSummary }
  | { type: 'expired'; roomId: string; ids: string[] }
  | { type: 'join-request'; roomId: string; roomName: string; name: string };

export const UI_PORT_NAME = 'ui';

/** Sent by a UI page over its `ui` port: the room it shows while visible and focused (null: none), so that room does not notify. */
export interface ViewingMessage {
  kind: 'partychat-viewing';
  roomId: string | null;
}

export function isViewingMessage(message: unknown): message is ViewingMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { kind, roomId } = message as { kind?: unknown; roomId?: unknown };
  return kind === 'partychat-viewing' && (roomId === null || typeof roomId === 'string');
}
