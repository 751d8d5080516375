/**
 * The shapes the background keeps in extension storage (identity, rooms, history pages, session).
 * Secret-bearing values are sealed (AES-GCM under the vault key, see sealed.ts) before they are written;
 * nothing here holds a raw Uint8Array. Only the background reads these: the UI sees views (utils/protocol-map.ts).
 */
import type { RoomSettings } from '@/shared/membership';
import type { Envelope, RoomMode, SignedRecord } from '@/shared/protocol';
import type { JoinState, MemberChange, MessageStatus, SendFailure, UserError } from '@/utils/protocol-map';
import type { Sealed } from './sealed';

/** The identity created at onboarding. */
export interface StoredIdentity {
  /** Display name. Identities made before private profiles also carry it as their OpenPGP user ID; newer keys carry an empty one. */
  name: string;
  /** OpenPGP fingerprint, lowercase hex: the user's id everywhere. */
  fingerprint: string;
  /** Armored public key. */
  publicKey: string;
  /** Armored private key, encrypted under the passphrase (Argon2 S2K, AEAD). */
  encryptedPrivateKey: string;
  /** The vault key (seals rooms and history), encrypted to our own public key, base64. */
  vaultKey: string;
  createdAt: number;
}

export interface Settings {
  /** Party server address as typed, e.g. `localhost:1999` or `https://chat.example.org`. */
  host: string;
  /** Show a message's text in its browser notification (off unless the user turned it on; absent: off). */
  notificationPreviews?: boolean;
}

/** A message we sent that the server has not acknowledged yet; resent as-is (same id) after reconnecting. */
export interface OutboxItem {
  id: string;
  epoch: number;
  ct: string;
  /** Sent before its history page was written; set until that write is done (see ChatService.sendMessage). */
  unwritten?: true;
  /** The server refused it for a reason reconnecting does not fix: kept, not resent, until the person retries or discards it. */
  failed?: SendFailure;
}

/** Everything we know about one room; stored sealed under `room:<id>`. */
export interface RoomRecord {
  id: string;
  /** Room name: from our own creation, or from the key envelope that admitted us. Empty until known. */
  name: string;
  mode: RoomMode;
  createdAt: number;
  /** Room keys by epoch, base64. */
  keys: Record<string, string>;
  /** The signed membership chain as last verified. */
  chain: SignedRecord[];
  /** Our genesis record until the server confirms the room exists. */
  pendingGenesis: SignedRecord | null;
  /** Our counter on this device: the last `ctr` we signed. */
  myCtr: number;
  /** Highest counter seen per sender device (`<fingerprint>:<device>`), to drop replays and notice gaps. */
  peerCtr: Record<string, number>;
  /**
   * Counters that have not arrived yet, per sender device, as inclusive ranges: shown as gaps, accepted if they
   * turn up. (Stored before ranges: a list of counters, turned into ranges on opening; see `normalizeGaps`.)
   */
  missing: Record<string, Array<[number, number]>>;
  /** Lowest counter seen per sender device (absent for devices first seen before it was kept): older ones are accepted too. */
  peerLow?: Record<string, number>;
  /**
   * Per sender device with gaps revealed by a message sent under a disappearing timer: when the skipped
   * messages (sent before it) will have disappeared anyway. The sweep forgets those gaps then.
   */
  missingUntil?: Record<string, number>;
  /** Highest server sequence number seen. */
  lastSeq: number;
  /** Backup rooms: the oldest server sequence loaded by scrolling back; 0 when the start is reached, null before any. */
  oldestLoaded: number | null;
  unread: number;
  lastText: string | null;
  lastTs: number | null;
  /** Number of history pages (`page:<id>:<n>`, n from 0). */
  pages: number;
  /** Earliest expiry among each page's messages (null: nothing in it expires), so sweeps touch only due pages. */
  pageExpiry: Array<number | null>;
  outbox: OutboxItem[];
  /**
   * Set while joining through an invite link: the link id, its secret (base64url) and the genesis it pins (SHA-256
   * hex of the genesis record body; a chain starting anywhere else is refused), kept until we hold the key.
   */
  joining: { link: string; secret: string; genesis: string; state: JoinState; error: UserError | null } | null;
  /** Secrets (base64url) of the invite links created in this browser, so their full URL can be shown again. */
  linkSecrets: Record<string, string>;
  /** Epochs up to this one have keys a member who left or was removed holds: nothing is sent under them (absent: none). */
  retiredEpoch?: number;
  /** We were removed from the room: history stays readable here, nothing new arrives. */
  removed: boolean;
  /** Muted by the user: its messages never show a browser notification (absent: not muted). */
  muted?: boolean;
  /** Id of the newest text shown as the room's preview (absent in records from before message actions). */
  lastId?: string;
  /** Actions that arrived before their target (at most MAX_PENDING_ACTIONS). */
  pendingActions?: PendingAction[];
  /** Members' names from their verified profiles (services/room/profiles.ts), with the signed time of each (absent: none yet). */
  profiles?: Record<string, { name: string; ts: number }>;
}

export type { MemberChange };

/** A room event shown in the chat (not a message anyone typed): a settings change, or a membership change. */
export type RoomEvent =
  | { type: 'settings'; settings: RoomSettings; by: string; byName: string }
  | { type: 'member'; change: MemberChange; member: string; memberName: string; by: string; byName: string };

/** What an action message did to its target (kept with the action's envelope, to hand to a member who missed it). */
export type MessageAction =
  | { type: 'react'; target: string; emoji: string }
  | { type: 'edit'; target: string; text: string }
  | { type: 'delete'; target: string };

/** An action whose target had not arrived (or was beyond the pages searched): applied when the target turns up. */
export interface PendingAction {
  from: string;
  ts: number;
  action: MessageAction;
  /** When it stops waiting (the room's timer, or a day). */
  until: number;
}

/** One message as kept in local history. */
export interface StoredMessage {
  id: string;
  from: string;
  fromName: string;
  text: string;
  ts: number;
  seq: number | null;
  mine: boolean;
  status: MessageStatus;
  /** Why it was not sent, while `status` is 'failed'. */
  failure?: SendFailure;
  /** 'action': a reaction, edit or delete, applied to its target and never shown itself (see `action`). */
  kind: 'text' | 'event' | 'action';
  event: RoomEvent | null;
  action?: MessageAction;
  /** The sender's device and counter (texts since message actions), so deleting it can name them. */
  dev?: string;
  ctr?: number;
  /** The message this one answers, as quoted by its sender, with the name we knew them by. */
  reply?: { id: string; from: string; fromName: string; text: string };
  /** One reaction per member (fingerprint → emoji) and when they chose it (a later choice wins). */
  reactions?: Record<string, { emoji: string; ts: number }>;
  /** When its author last edited it. */
  editedAt?: number;
  /** Deleted by its author for everyone: text, quote, reactions and envelope are gone. */
  deleted?: true;
  /** The key epoch it was sent at (to re-seal an unsent message after a rotation). */
  epoch?: number;
  /** The original signed envelope, kept so we can hand it to a member who missed it (ephemeral sync). */
  env: Envelope | null;
  /** When the disappearing timer deletes it; null if it stays. */
  expiresAt: number | null;
}

/** A stored item that could not be read, moved aside (services/quarantine.ts): listed under `quarantine`. */
export interface QuarantineEntry {
  /** Where the item was moved: `quarantine:<from>:<at>`. */
  key: `quarantine:${string}`;
  /** The key it was read from (`page:<room>:<n>`, `room:<id>`, `contacts`, `invitations`). */
  from: string;
  /** The room it belonged to, if any. */
  room: string | null;
  /** Messages it held (at least: an unreadable page counts as full unless it is the newest); 0 for other items. */
  count: number;
  reason: string;
  at: number;
  /** The person saw the notice and dismissed it. */
  dismissed?: true;
}

/** The aside copy: the stored value as it was, or the part that opened but did not fit, sealed again under its new key. */
export type QuarantinedValue = { stored: unknown } | { resealed: Sealed };

/** Items in `storage.local` (persist across restarts). */
export interface LocalItems {
  /** The layout version of everything stored here (services/migrations.ts); absent: 1. */
  schema: number;
  identity: StoredIdentity;
  /** This installation's device id (16 hex), part of every message counter. */
  device: string;
  settings: Settings;
  /** Ids of the rooms we belong to, newest last. */
  roomIndex: string[];
  /** Invitation requests waiting for the person, and the senders accepted or blocked (services/invitations.ts), sealed. */
  invitations: Sealed;
  /** Contacts: pinned keys, verified marks and key warnings (services/contacts.ts), sealed. */
  contacts: Sealed;
  [room: `room:${string}`]: Sealed;
  /** A page of up to HISTORY_PAGE_SIZE StoredMessage, sealed: `page:<roomId>:<n>`. */
  [page: `page:${string}`]: Sealed;
  /** What was moved aside because it could not be read, oldest first (at most MAX_QUARANTINED). */
  quarantine: QuarantineEntry[];
  [aside: `quarantine:${string}`]: QuarantinedValue;
}

/** The unlocked identity, only in `storage.session` (memory, gone when the browser closes). */
export interface UnlockedSession {
  /** Armored, decrypted private key. */
  privateKey: string;
  /** Vault key, base64. */
  vaultKey: string;
}

export interface SessionItems {
  unlocked: UnlockedSession;
  /** An invite link opened in a tab, kept until the person confirms (joins) or dismisses it after its preview. */
  capturedLink: string;
}
