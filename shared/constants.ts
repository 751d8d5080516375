/** Bytes in a Group Ephemeral Key (AES-256). */
export const GEK_BYTES = 32;
/** Bytes in a random room id (128 bits), rendered as 32 hex characters. */
export const ROOM_ID_BYTES = 16;
/** Bytes in a random message id, rendered as 32 hex characters. */
export const MESSAGE_ID_BYTES = 16;
/** Bytes in an auth challenge nonce. */
export const NONCE_BYTES = 32;
/** Largest frame (UTF-16 code units of the JSON text) the server accepts. */
export const MAX_FRAME_CHARS = 64 * 1024;
/** Largest frame a client accepts from the server (history pages, long membership chains). */
export const MAX_SERVER_FRAME_CHARS = 4 * 1024 * 1024;
/** Characters of envelopes the server puts in one history page. */
export const HISTORY_PAGE_CHARS = 256 * 1024;
/** Longest message text a client will send, in characters. */
export const MAX_TEXT_CHARS = 8 * 1024;
/** Characters of the answered message a reply quotes. */
export const MAX_QUOTE_CHARS = 200;
/** Longest reaction (one emoji, possibly with modifiers and joiners), in UTF-16 code units. */
export const MAX_REACTION_CHARS = 16;
/** Longest display name, in characters. */
export const MAX_NAME_CHARS = 64;
/** Largest sealed profile (a member's name, sealed under the room key) the room keeps per member, base64 characters. */
export const MAX_PROFILE_CHARS = 4 * 1024;
/** Longest room name, in characters. */
export const MAX_ROOM_NAME_CHARS = 80;
/** Frames a connection may send per second on average (token refill rate). */
export const RATE_LIMIT_PER_SECOND = 20;
/** Burst of frames a connection may send at once (token bucket size). */
export const RATE_LIMIT_BURST = 60;
/** Interval between client heartbeats; keeps an MV3 service worker alive. */
export const HEARTBEAT_MS = 20_000;
/** Undelivered key envelopes the room keeps per member. */
export const MAX_PENDING_KEYS_PER_MEMBER = 64;
/** Undelivered invitation notices the directory keeps per identity (see also MAX_INBOX_CHARS). */
export const MAX_PENDING_INVITES = 20;
/** Characters of undelivered notices (their signed text and signature) the directory keeps per identity. */
export const MAX_INBOX_CHARS = 24 * 1024;
/** Largest invitation POST body, in characters. */
export const MAX_INVITE_CHARS = 4 * 1024;
/** Largest encrypted note (the room name for the invitee) in a notice, base64 characters. */
export const MAX_INVITE_NOTE_CHARS = 2 * 1024;
/** How old a notice's signed time may be when it is posted; older ones are refused as stale (a captured POST expires). */
export const INVITE_FRESH_MS = 10 * 60_000;
/** How far ahead of the server's clock a notice's signed time may be. */
export const INVITE_CLOCK_SKEW_MS = 60_000;
/** The window the invitation rate limits count in. */
export const INVITE_WINDOW_MS = 10 * 60_000;
/** Notices one sender may leave in one inbox per window. */
export const MAX_INVITES_PER_SENDER = 5;
/** Notices one inbox accepts per window, from all senders. */
export const MAX_INVITES_PER_INBOX = 30;
/** Members a room may hold. */
export const MAX_MEMBERS = 1000;
/**
 * Messages a backup room's server keeps at most. Past it (or past MAX_BACKUP_CHARS) a new message is refused with a
 * `backup-full` error to its sender (it stays in the sender's outbox), never stored by dropping older ones; messages
 * leave the backup only by the room's disappearing timer and retention settings. An admin may set a lower cap for the
 * room (the `backupLimit` room setting), never a higher one.
 */
export const MAX_BACKUP_MESSAGES = 100_000;
/** Characters of ciphertext (base64) a backup room's server keeps at most, over all its stored messages: 128 Mi. */
export const MAX_BACKUP_CHARS = 128 * 1024 * 1024;
/**
 * Join requests waiting for an admin's answer that a room keeps. Past it a new request is refused with a
 * `requests-full` error (the asker may try again once admins have answered some), so strangers holding an approval
 * link cannot fill the room's storage.
 */
export const MAX_PENDING_REQUESTS = 200;
/**
 * Connections one identity may hold signed in to one room at the same time (several devices and tabs). One more is
 * refused with a `too-many-connections` error and closed with close code 4030; the client waits
 * CONNECTION_LIMIT_RETRY_MS before it tries again.
 */
export const MAX_CONNECTIONS_PER_IDENTITY = 8;
/** How long a client waits before reconnecting after the server refused it for too many connections of its identity. */
export const CONNECTION_LIMIT_RETRY_MS = 60_000;
/**
 * Times the server hands out one escrow link's wrapped room key (one join each) per ESCROW_WINDOW_MS; a burst of that
 * many, refilled evenly over the window. Past it a join on the link is refused with a `link-busy` error, so a link that
 * leaked cannot be used to make the server encrypt and send the key over and over (or add members by the hundred).
 */
export const MAX_ESCROW_FETCHES_PER_LINK = 30;
/** The window MAX_ESCROW_FETCHES_PER_LINK counts in: one hour. */
export const ESCROW_WINDOW_MS = 60 * 60_000;
/** Context string in front of every signed invitation notice, so no other signature (auth, records) passes for one. */
export const INVITE_CONTEXT = 'partychat/invite/v1';
/** Context string mixed into every auth signature so it can't be reused elsewhere. */
export const AUTH_CONTEXT = 'partychat/auth/v1';
/** The default party host when the build sets none. */
export const DEFAULT_PARTY_HOST = 'localhost:1999';
/** PartyKit party names. */
export const PARTY_ROOM = 'main';
export const PARTY_DIRECTORY = 'directory';
