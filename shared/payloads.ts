/**
 * What travels inside the encryption, between clients only: the server never sees these in clear.
 * Each signed payload names its room, epoch, sender and a per-sender counter so a receiver can
 * reject a message moved between rooms, a forged sender, a replay, and can notice a gap.
 */
import { z } from 'zod';
import { MAX_NAME_CHARS, MAX_QUOTE_CHARS, MAX_REACTION_CHARS, MAX_ROOM_NAME_CHARS, MAX_TEXT_CHARS } from './constants';
import { sha256Hex } from './encoding';
import { parseRecordBody, type Roster } from './membership';
import { epochSchema, fingerprintSchema, messageIdSchema, modeSchema, roomIdSchema, type SignedRecord } from './protocol';

/** A browser installation's id (16 hex), part of every message counter. */
const deviceSchema = z.string().regex(/^[0-9a-f]{16}$/);

/** What every message payload says about itself: where, under which key, who, from which device, its counter, its id and time. */
const messageFields = {
  v: z.literal(1),
  room: roomIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  /** The sending installation: counters run per identity and device, so a person's two browsers never collide. */
  dev: deviceSchema,
  ctr: z.number().int().min(1),
  id: messageIdSchema,
  ts: z.number(),
};

/** The message a reply answers, quoted as the replier saw it (their words: the receiver shows its own copy when it holds one). */
export const quoteSchema = z.object({ id: messageIdSchema, from: fingerprintSchema, text: z.string().max(MAX_QUOTE_CHARS) });
export type Quote = z.infer<typeof quoteSchema>;

export const textPayloadSchema = z.object({
  ...messageFields,
  t: z.literal('text'),
  text: z.string().min(1).max(MAX_TEXT_CHARS),
  reply: quoteSchema.optional(),
});
export type TextPayload = z.infer<typeof textPayloadSchema>;

/**
 * Actions on an earlier message (`target`, in the same room), each a signed message like any other, with its own
 * counter, so replays and gaps are caught the same way. Every member may react (one reaction each, `emoji` '' takes
 * it back); only the target's author may edit or delete it (receivers check the signed `from` against the
 * target's). A delete names the target's device and counter (`tdev`, `tctr`) when known, so a member who never
 * received the deleted message does not count it as missing, and drops it if a copy still turns up.
 */
export const reactPayloadSchema = z.object({ ...messageFields, t: z.literal('react'), target: messageIdSchema, emoji: z.string().max(MAX_REACTION_CHARS).regex(/^\S*$/u) });
export const editPayloadSchema = z.object({ ...messageFields, t: z.literal('edit'), target: messageIdSchema, text: z.string().min(1).max(MAX_TEXT_CHARS) });
export const deletePayloadSchema = z.object({
  ...messageFields,
  t: z.literal('delete'),
  target: messageIdSchema,
  tdev: deviceSchema.optional(),
  tctr: z.number().int().min(1).optional(),
});
export type ActionPayload = z.infer<typeof reactPayloadSchema> | z.infer<typeof editPayloadSchema> | z.infer<typeof deletePayloadSchema>;

/** Anything sealed under a room key by a member: a text or an action on one. */
export const messagePayloadSchema = z.discriminatedUnion('t', [textPayloadSchema, reactPayloadSchema, editPayloadSchema, deletePayloadSchema]);
export type MessagePayload = z.infer<typeof messagePayloadSchema>;

/**
 * A member's profile: its display name as it wants the room's members to see it. Sealed and signed under a room key
 * by that member (never by anyone else: receivers check the signer against `from` and the slot the server says it
 * came from), so the server keeps and relays it without reading it. `ts` only grows: an older profile a server
 * serves again is ignored.
 */
export const profilePayloadSchema = z.object({
  v: z.literal(1),
  t: z.literal('profile'),
  room: roomIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  ts: z.number(),
  // Printable: no control characters (line breaks, bidirectional overrides) in a name shown everywhere.
  name: z.string().trim().min(1).max(MAX_NAME_CHARS).regex(/^[^\p{Cc}\u202a-\u202e\u2066-\u2069]+$/u),
});
export type ProfilePayload = z.infer<typeof profilePayloadSchema>;

/**
 * A room key, signed by the member who hands it out, inside an envelope only its recipients can open.
 *
 * Who it is for is part of what is signed, so a recipient cannot re-encrypt the signed payload to someone
 * else and have it accepted as the sender's word ("surreptitious forwarding"). It is said one of two ways:
 * - `to`: the one member it is for. Single envelopes (an invite, earlier epochs' keys for a new member)
 *   and every envelope made before shared sealing; still accepted.
 * - `head`: the membership chain head (SHA-256 of the last record's body) the sender sealed at. One payload
 *   is sealed once for several members (`sealKeyEnvelopes`: each gets only its own session key packet), so
 *   it cannot name each of them; it says instead "this is the key of `epoch` for the members of `room` as of
 *   `head`". The chain is hash-linked, so `head` fixes that member set exactly (it is a digest of the
 *   whole membership history, stronger than a hash of a member list, and one the receiver can check from
 *   its own verified chain without being sent the list). A receiver accepts it only if it was a member at
 *   `head` and still is (`roomKeyIsFor`). Forwarding thus only ever reaches someone the sender sealed the
 *   key for: every member at `head` is entitled to the current key, whether or not it was in the batch.
 * Exactly one of the two is present.
 */
export const roomKeyPayloadSchema = z
  .object({
    v: z.literal(1),
    t: z.literal('room-key'),
    room: roomIdSchema,
    epoch: epochSchema,
    from: fingerprintSchema,
    to: fingerprintSchema.optional(),
    head: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** The room key, base64. */
    gek: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'room key must be 32 bytes of base64'),
    name: z.string().max(MAX_ROOM_NAME_CHARS),
    mode: modeSchema,
  })
  .refine((p) => (p.to === undefined) !== (p.head === undefined), 'a room key names either its one recipient or the chain head it was sealed at');
export type RoomKeyPayload = z.infer<typeof roomKeyPayloadSchema>;

/**
 * Whether a verified room key payload is addressed to `me`: its `to` names `me`, or `me` was a member at its
 * `head` and still is. `chain` and `roster` are our verified membership chain and the roster it proves; if
 * `head` is not (yet) in our chain the answer is no.
 */
export async function roomKeyIsFor(payload: RoomKeyPayload, me: string, chain: SignedRecord[], roster: Roster): Promise<boolean> {
  if (payload.to !== undefined) return payload.to === me;
  if (payload.head === undefined || !roster.members.has(me)) return false;
  if (payload.head === roster.head) return true;
  // Walk back from our head: finding `head` before any record that (re)admitted us means our current
  // membership already held at `head`; a later add or join of ours means we were not sealed for.
  for (const record of chain.slice(0, roster.length).reverse()) {
    if ((await sha256Hex(record.body)) === payload.head) return true;
    const body = parseRecordBody(record);
    if ((body.kind === 'add' || body.kind === 'join') && body.member === me) return false;
  }
  return false;
}

/** Parses JSON bytes against a schema; null if either step fails. */
export function parsePayload<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}

/** The room key as escrowed for an invite link: sealed under the link's wrap key, signed by the admin who made the link. */
export const escrowPayloadSchema = z.object({
  v: z.literal(1),
  t: z.literal('escrow-key'),
  room: roomIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  link: z.string().regex(/^[0-9a-f]{32}$/),
  gek: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'room key must be 32 bytes of base64'),
  name: z.string().max(MAX_ROOM_NAME_CHARS),
  mode: modeSchema,
});
export type EscrowPayload = z.infer<typeof escrowPayloadSchema>;

/** What every room-key and escrow payload says about the key: whose room, which epoch, who hands it out, the key, and the room's name and mode. */
export interface KeyGrant {
  room: string;
  epoch: number;
  from: string;
  /** The room key, base64. */
  gek: string;
  name: string;
  mode: RoomKeyPayload['mode'];
}

/** A room key payload for one member (`to`) or for every member at a chain head (`head`); see `roomKeyPayloadSchema`. */
export function roomKeyPayload(grant: KeyGrant, audience: { to: string } | { head: string }): RoomKeyPayload {
  return { v: 1, t: 'room-key', room: grant.room, epoch: grant.epoch, from: grant.from, ...audience, gek: grant.gek, name: grant.name, mode: grant.mode };
}

/** The room key escrowed for an invite link (sealed under the link's wrap key by the caller). */
export function escrowPayload(grant: KeyGrant, link: string): EscrowPayload {
  return { v: 1, t: 'escrow-key', room: grant.room, epoch: grant.epoch, from: grant.from, link, gek: grant.gek, name: grant.name, mode: grant.mode };
}
