/**
 * The shapes of the sealed records as this code reads them (services/records.ts, contacts.ts, invitations.ts),
 * checked after opening so a record of the wrong shape is moved aside (services/quarantine.ts) rather than
 * breaking whoever reads it. Only what the code relies on is checked; fields it does not know are kept.
 */
import { z } from 'zod';

const counters = z.record(z.string(), z.number());

export const storedMessageShape = z
  .object({
    id: z.string(),
    from: z.string(),
    fromName: z.string(),
    text: z.string(),
    ts: z.number(),
    seq: z.number().nullable(),
    mine: z.boolean(),
    // Any string: a status added later (the UI shows what it knows) must not set a message aside.
    status: z.string(),
    kind: z.enum(['text', 'event', 'action']),
    event: z.object({ type: z.string() }).passthrough().nullable(),
    env: z.object({ seq: z.number(), id: z.string(), epoch: z.number(), from: z.string(), ts: z.number(), ct: z.string() }).passthrough().nullable(),
    expiresAt: z.number().nullable(),
    reactions: z.record(z.string(), z.object({ emoji: z.string(), ts: z.number() }).passthrough()).optional(),
  })
  .passthrough();

/** Fields a record from an older release may lack are optional (the session fills them in: room/session.ts). */
export const roomRecordShape = z
  .object({
    id: z.string(),
    mode: z.enum(['ephemeral', 'backup']),
    keys: z.record(z.string(), z.string()),
    chain: z.array(z.object({}).passthrough()),
  })
  .merge(
    z
      .object({
        name: z.string(),
        createdAt: z.number(),
        myCtr: z.number(),
        peerCtr: counters,
        missing: z.record(z.string(), z.array(z.union([z.number(), z.tuple([z.number(), z.number()])]))),
        lastSeq: z.number(),
        unread: z.number(),
        pages: z.number().int().min(0),
        pageExpiry: z.array(z.number().nullable()),
        outbox: z.array(z.object({ id: z.string(), epoch: z.number(), ct: z.string() }).passthrough()),
        linkSecrets: z.record(z.string(), z.string()),
        removed: z.boolean(),
        profiles: z.record(z.string(), z.object({ name: z.string(), ts: z.number() }).passthrough()),
      })
      .partial(),
  )
  .passthrough();

export const contactBookShape = z.object({
  contacts: z.array(
    z.object({ fingerprint: z.string(), name: z.string(), keyDigest: z.string(), firstSeen: z.number(), verified: z.boolean() }).passthrough(),
  ),
});

export const invitationBookShape = z.object({
  requests: z.array(z.object({ room: z.string(), by: z.string(), name: z.string(), roomName: z.string().nullable(), ts: z.number() }).passthrough()),
  accepted: z.array(z.string()),
  blocked: z.array(z.string()),
});
