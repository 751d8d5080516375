/**
 * The wire protocol between the extension and the party server: one schema per frame,
 * inbound (client → server) and outbound (server → client) kept apart, validated at both edges.
 */
import { z } from 'zod';
import { INVITE_CONTEXT, MAX_FRAME_CHARS, MAX_INVITE_CHARS, MAX_INVITE_NOTE_CHARS, MAX_MEMBERS, MAX_PROFILE_CHARS } from './constants';

export const fingerprintSchema = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'fingerprint must be 40 or 64 lowercase hex characters');
export const roomIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'room id must be 32 lowercase hex characters');
export const messageIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'message id must be 32 lowercase hex characters');
const base64 = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');
export const epochSchema = z.number().int().min(0).max(2 ** 31);
export const modeSchema = z.enum(['ephemeral', 'backup']);
export const roleSchema = z.enum(['admin', 'member']);

export type Fingerprint = z.infer<typeof fingerprintSchema>;
export type RoomMode = z.infer<typeof modeSchema>;
export type Role = z.infer<typeof roleSchema>;

/** A membership record: `body` is canonical JSON, `sig` a detached OpenPGP signature over it by `body.by`. */
export const signedRecordSchema = z.object({
  body: z.string().min(2).max(8 * 1024),
  sig: base64(2048),
});
export type SignedRecord = z.infer<typeof signedRecordSchema>;

/** A room key encrypted to one member and signed by the distributing member. */
export const keyEnvelopeSchema = z.object({
  to: fingerprintSchema,
  epoch: epochSchema,
  ct: base64(8 * 1024),
});
export type KeyEnvelope = z.infer<typeof keyEnvelopeSchema>;

export const linkIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'link id must be 32 lowercase hex characters');

/** The room key wrapped under a link's fragment-derived key (OpenPGP, signed by the admin), base64. */
export const escrowSchema = z.object({ link: linkIdSchema, epoch: epochSchema, ct: base64(8 * 1024) });
export type Escrow = z.infer<typeof escrowSchema>;

/** Someone asking to join through an approval link, as admins see it. */
export const joinRequestSchema = z.object({
  fp: fingerprintSchema,
  key: z.string().max(12 * 1024),
  link: linkIdSchema,
  proof: base64(200),
  /** The joiner's name sealed under the link's secret (shared/links.ts `sealJoinNote`): read by admins who hold the link. */
  note: base64(1024).optional(),
  ts: z.number(),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

/** An envelope as the server relayed it (and as clients keep it to hand to peers): the sender's signature is inside `ct`. */
export const envelopeSchema = z.object({
  seq: z.number().int().min(1),
  id: messageIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  ts: z.number(),
  ct: base64(MAX_FRAME_CHARS - 200),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/** A member's profile as the room keeps it: whose (`fp`, the member who sent it), the key epoch it is sealed under, the sealed payload. */
export const sealedProfileSchema = z.object({ fp: fingerprintSchema, epoch: epochSchema, ct: base64(MAX_PROFILE_CHARS) });
export type SealedProfile = z.infer<typeof sealedProfileSchema>;

/** Most envelopes in one history page or sync reply. */
export const MAX_PAGE_MESSAGES = 200;

/**
 * Ephemeral sync pages back from the newest: the last frame of a member's answer says where the page it answered
 * ends. `since` echoes the request; `next` is the `before` to ask for the following (older) page, null when that
 * member holds nothing older in the range; `held` (first page only) is how many envelopes it holds in the whole
 * range that the requester may read, so the requester can tell what it did not receive, also from senders it has
 * never heard from.
 */
export const syncPageSchema = z.object({
  since: z.number().int().min(0),
  next: z.number().int().min(1).nullable(),
  held: z.number().int().min(0).optional(),
});
export type SyncPage = z.infer<typeof syncPageSchema>;

// ── client → room ───────────────────────────────────────────────────────────
export const roomClientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), fp: fingerprintSchema, sig: base64(2048), genesis: signedRecordSchema.optional() }),
  /** A non-member asks in through a link: signs the challenge with `key`, proves it holds the link secret. */
  z.object({
    type: z.literal('join'),
    fp: fingerprintSchema,
    sig: base64(2048),
    key: z.string().max(12 * 1024),
    link: linkIdSchema,
    proof: base64(200),
    /** A self-signed join record extending the head the challenge named (used when the link needs no approval). */
    record: signedRecordSchema,
    /** The joiner's name for admins holding the link, sealed under its secret (shared/links.ts `sealJoinNote`). */
    note: base64(1024).optional(),
  }),
  /** Someone holding a link asks what it is before joining: proves the link secret over the challenge nonce, and nothing else about itself. */
  z.object({ type: z.literal('preview'), link: linkIdSchema, proof: base64(200) }),
  z.object({ type: z.literal('msg'), id: messageIdSchema, epoch: epochSchema, ct: base64(MAX_FRAME_CHARS - 200) }),
  /** An admin appends a signed membership record, with the key envelopes or escrow it needs. */
  z.object({
    type: z.literal('append'),
    record: signedRecordSchema,
    keys: z.array(keyEnvelopeSchema).max(8).optional(),
    escrow: escrowSchema.optional(),
  }),
  /** After a removal or a leave: a remaining member starts the next key epoch, with the first envelopes and refreshed escrows. */
  z.object({
    type: z.literal('rotate'),
    epoch: epochSchema,
    keys: z.array(keyEnvelopeSchema).max(32),
    escrows: z.array(escrowSchema).max(16),
  }),
  /** A member hands the room key to members who lack it (joined through a link without escrow). */
  z.object({ type: z.literal('keys'), keys: z.array(keyEnvelopeSchema).min(1).max(64) }),
  z.object({ type: z.literal('join-deny'), member: fingerprintSchema }),
  /** Backup mode: a page of stored envelopes after (or before) a sequence number. */
  z.object({
    type: z.literal('history'),
    after: z.number().int().min(0).optional(),
    before: z.number().int().min(1).optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_MESSAGES),
  }),
  /**
   * Ephemeral mode: ask online members (or the one named `to`, for a following page) for what we missed since
   * `since`, newest first, and below `before` when given.
   */
  z.object({ type: z.literal('sync-request'), since: z.number().int().min(0), before: z.number().int().min(1).optional(), to: fingerprintSchema.optional() }),
  /** Ephemeral mode: hand a member the original envelopes it missed; the last frame of a page carries `page`. */
  z.object({ type: z.literal('sync-reply'), to: fingerprintSchema, messages: z.array(envelopeSchema).max(MAX_PAGE_MESSAGES), page: syncPageSchema.optional() }),
  z.object({ type: z.literal('keys-ack'), kids: z.array(z.string().regex(/^[0-9a-f]{16}$/)).min(1).max(64) }),
  /** A member's own profile (its display name), sealed and signed under the room key of `epoch`: the server keeps the newest per member. */
  z.object({ type: z.literal('profile'), epoch: epochSchema, ct: base64(MAX_PROFILE_CHARS) }),
  z.object({ type: z.literal('ping') }),
]);
export type RoomClientFrame = z.infer<typeof roomClientFrameSchema>;
/** One kind of frame a client sends a room, by its `type`. */
export type RoomClientFrameOf<T extends RoomClientFrame['type']> = Extract<RoomClientFrame, { type: T }>;
export type AuthFrame = RoomClientFrameOf<'auth'>;
export type JoinFrame = RoomClientFrameOf<'join'>;
export type PreviewFrame = RoomClientFrameOf<'preview'>;
export type MsgFrame = RoomClientFrameOf<'msg'>;
export type AppendFrame = RoomClientFrameOf<'append'>;
export type RotateFrame = RoomClientFrameOf<'rotate'>;
export type KeysFrame = RoomClientFrameOf<'keys'>;
export type HistoryRequestFrame = RoomClientFrameOf<'history'>;
export type SyncReplyFrame = RoomClientFrameOf<'sync-reply'>;
/** The heartbeat, the same frame in both client protocols. */
export type PingFrame = RoomClientFrameOf<'ping'>;

// ── room → client ───────────────────────────────────────────────────────────
export const deliveredKeySchema = keyEnvelopeSchema.extend({ kid: z.string(), from: fingerprintSchema });
export type DeliveredKey = z.infer<typeof deliveredKeySchema>;

export const relayedMessageSchema = z.object({
  type: z.literal('msg'),
  seq: z.number().int().min(1),
  id: messageIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  ts: z.number(),
  ct: z.string(),
});
export type RelayedMessage = z.infer<typeof relayedMessageSchema>;

export const errorCodeSchema = z.enum([
  'bad-frame',
  'too-large',
  'rate-limited',
  'not-authenticated',
  'auth-failed',
  'not-member',
  'forbidden',
  'bad-record',
  'room-exists',
  'no-room',
  'bad-epoch',
  'room-full',
  'link-invalid',
  'link-expired',
  'link-used-up',
  'join-denied',
  'banned',
  'stale-head',
  'removed',
  /** A backup room's server stores as many messages (or bytes) as it keeps: the message was not stored or relayed. */
  'backup-full',
  /** A room holds as many join requests waiting for an answer as it keeps (MAX_PENDING_REQUESTS). */
  'requests-full',
  /** The identity already holds MAX_CONNECTIONS_PER_IDENTITY connections to the room. */
  'too-many-connections',
  /** An escrow link has handed out its key as often as it may in ESCROW_WINDOW_MS. */
  'link-busy',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

export const errorFrameSchema = z.object({ type: z.literal('error'), code: errorCodeSchema, message: z.string(), ref: z.string().optional() });
export type ErrorFrame = z.infer<typeof errorFrameSchema>;

export const roomServerFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), nonce: z.string(), room: z.string(), head: z.string().nullable().optional() }),
  z.object({
    type: z.literal('welcome'),
    room: roomIdSchema,
    mode: modeSchema,
    epoch: epochSchema,
    seq: z.number().int().min(0),
    you: fingerprintSchema,
    chain: z.array(signedRecordSchema).max(4 * MAX_MEMBERS),
    online: z.array(fingerprintSchema),
    /** Members still waiting for the room key (joined through a link while no one could hand it over). */
    needKeys: z.array(fingerprintSchema),
    /** Pending join requests; only admins receive them. */
    requests: z.array(joinRequestSchema),
    /** A member left or was removed and no one has started the next key epoch yet. */
    rotationDue: z.boolean(),
  }),
  /** The room moved to a new key epoch (keys follow as envelopes); `rotationDue` asks a member to start one. */
  z.object({ type: z.literal('epoch'), epoch: epochSchema, rotationDue: z.boolean(), by: fingerprintSchema.optional() }),
  z.object({ type: z.literal('join-pending'), reason: z.enum(['approval', 'key']) }),
  /**
   * The answer to a preview: the link's sealed preview from its signed record (null for links made before previews),
   * and what only the server says: whether the link needs approval and how many members the room has.
   */
  z.object({ type: z.literal('link-preview'), link: linkIdSchema, preview: z.string().max(2048).nullable(), approval: z.boolean(), members: z.number().int().min(0) }),
  z.object({ type: z.literal('escrow'), link: linkIdSchema, epoch: epochSchema, ct: z.string() }),
  z.object({ type: z.literal('join-request'), request: joinRequestSchema }),
  z.object({ type: z.literal('join-resolved'), member: fingerprintSchema, outcome: z.enum(['approved', 'denied', 'banned']) }),
  z.object({ type: z.literal('need-key'), members: z.array(fingerprintSchema) }),
  z.object({ type: z.literal('history'), messages: z.array(envelopeSchema), more: z.boolean(), direction: z.enum(['after', 'before']) }),
  z.object({ type: z.literal('sync-request'), from: fingerprintSchema, since: z.number().int().min(0), before: z.number().int().min(1).optional() }),
  z.object({ type: z.literal('sync-reply'), from: fingerprintSchema, messages: z.array(envelopeSchema), page: syncPageSchema.optional() }),
  relayedMessageSchema,
  z.object({ type: z.literal('ack'), id: messageIdSchema, seq: z.number().int().min(1), ts: z.number() }),
  z.object({ type: z.literal('chain'), records: z.array(signedRecordSchema) }),
  z.object({ type: z.literal('keys'), envelopes: z.array(deliveredKeySchema) }),
  z.object({ type: z.literal('presence'), online: z.array(fingerprintSchema) }),
  /** Sealed profiles as the room keeps them: every member's right after the welcome, then each one a member replaces. */
  z.object({ type: z.literal('profiles'), profiles: z.array(sealedProfileSchema).max(MAX_MEMBERS) }),
  errorFrameSchema,
  z.object({ type: z.literal('pong') }),
]);
export type RoomServerFrame = z.infer<typeof roomServerFrameSchema>;
/** One kind of frame a room sends a client, by its `type`. */
export type RoomServerFrameOf<T extends RoomServerFrame['type']> = Extract<RoomServerFrame, { type: T }>;
export type ChallengeFrame = RoomServerFrameOf<'challenge'>;
export type WelcomeFrame = RoomServerFrameOf<'welcome'>;
export type AckFrame = RoomServerFrameOf<'ack'>;
export type PresenceFrame = RoomServerFrameOf<'presence'>;
export type LinkPreviewFrame = RoomServerFrameOf<'link-preview'>;

// ── client → directory ──────────────────────────────────────────────────────
export const directoryClientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), fp: fingerprintSchema, sig: base64(2048), publicKey: z.string().max(16 * 1024).optional() }),
  z.object({ type: z.literal('invite-ack'), room: roomIdSchema }),
  z.object({ type: z.literal('ping') }),
]);
export type DirectoryClientFrame = z.infer<typeof directoryClientFrameSchema>;
export type DirectoryClientFrameOf<T extends DirectoryClientFrame['type']> = Extract<DirectoryClientFrame, { type: T }>;
export type DirectoryAuthFrame = DirectoryClientFrameOf<'auth'>;

/**
 * What an invitation notice says, as its sender signed it: the inbox it is for (`to`), the sender (`by`), the room,
 * the signed time and a random nonce (so a captured POST is refused once seen, and everywhere once stale), and an
 * optional note encrypted to the invitee (the room's name, so a request can say which room).
 */
export const inviteFieldsSchema = z
  .object({
    to: fingerprintSchema,
    by: fingerprintSchema,
    room: roomIdSchema,
    ts: z.number().int().min(0),
    nonce: z.string().regex(/^[0-9a-f]{32}$/, 'nonce must be 32 lowercase hex characters'),
    note: base64(MAX_INVITE_NOTE_CHARS).optional(),
  })
  .strict();
export type InviteFields = z.infer<typeof inviteFieldsSchema>;

/** A notice as the directory keeps and hands it to its owner: room and sender read from `body`, the server's receipt time, and the signed text with its signature, which the owner checks itself. */
export const inviteNoticeSchema = z.object({
  room: roomIdSchema,
  by: fingerprintSchema,
  ts: z.number(),
  body: z.string().max(MAX_INVITE_CHARS),
  sig: base64(2048),
});
export type InviteNotice = z.infer<typeof inviteNoticeSchema>;

/** The fields of a notice's signed JSON text, or null when it is not one. */
export function parseInviteFields(body: string): InviteFields | null {
  try {
    const parsed = inviteFieldsSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

// ── directory → client ──────────────────────────────────────────────────────
export const directoryServerFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), nonce: z.string(), room: z.string() }),
  z.object({ type: z.literal('welcome'), you: fingerprintSchema, invites: z.array(inviteNoticeSchema) }),
  z.object({ type: z.literal('invite'), invite: inviteNoticeSchema }),
  errorFrameSchema,
  z.object({ type: z.literal('pong') }),
]);
export type DirectoryServerFrame = z.infer<typeof directoryServerFrameSchema>;
export type DirectoryServerFrameOf<T extends DirectoryServerFrame['type']> = Extract<DirectoryServerFrame, { type: T }>;
export type DirectoryChallengeFrame = DirectoryServerFrameOf<'challenge'>;
export type DirectoryWelcomeFrame = DirectoryServerFrameOf<'welcome'>;

/**
 * Body of `POST /parties/directory/<fp>`: the inviter tells an identity it was added to a room. `body` is the JSON
 * text of `InviteFields`, `sig` the sender's detached signature over `inviteSignedText(body)`.
 */
export const inviteRequestSchema = z.object({ type: z.literal('invite'), body: z.string().max(MAX_INVITE_CHARS), sig: base64(2048) }).strict();
export type InviteRequest = z.infer<typeof inviteRequestSchema>;

export type ParseResult<T> = { ok: true; frame: T } | { ok: false; code: ErrorCode; message: string };

/** Parses and validates one text frame; never throws. `maxChars` defaults to the cap on frames a client may send. */
export function parseFrame<T>(schema: z.ZodType<T>, raw: unknown, maxChars = MAX_FRAME_CHARS): ParseResult<T> {
  if (typeof raw !== 'string') return { ok: false, code: 'bad-frame', message: 'frames must be JSON text' };
  if (raw.length > maxChars) {
    return { ok: false, code: 'too-large', message: `frame of ${raw.length} characters exceeds the ${maxChars} limit` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'bad-frame', message: 'frame is not valid JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') + ': ' : '';
    return { ok: false, code: 'bad-frame', message: `invalid frame: ${where}${issue?.message ?? 'unknown problem'}` };
  }
  return { ok: true, frame: result.data };
}

/** The text an invitation notice's signature covers: the notice's JSON text behind its own context string. */
export function inviteSignedText(body: string): string {
  return `${INVITE_CONTEXT}\n${body}`;
}

/** The text every auth signature covers: binds the party, the room and the server's fresh nonce. */
export function authChallengeText(context: string, party: string, room: string, nonce: string): string {
  return `${context}\n${party}\n${room}\n${nonce}`;
}
