/**
 * What travels inside the encryption, between clients only: the server never sees these in clear.
 * Each signed payload names its room, epoch, sender and a per-sender counter so a receiver can
 * reject a message moved between rooms, a forged sender, a replay, and can notice a gap.
 */
import { z } from 'zod';
import { MAX_ROOM_NAME_CHARS, MAX_TEXT_CHARS } from './constants';
import { epochSchema, fingerprintSchema, messageIdSchema, modeSchema, roomIdSchema } from './protocol';

export const textPayloadSchema = z.object({
  v: z.literal(1),
  t: z.literal('text'),
  room: roomIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  /** The sending installation: counters run per identity and device, so a person's two browsers never collide. */
  dev: z.string().regex(/^[0-9a-f]{16}$/),
  ctr: z.number().int().min(1),
  id: messageIdSchema,
  ts: z.number(),
  text: z.string().min(1).max(MAX_TEXT_CHARS),
});
export type TextPayload = z.infer<typeof textPayloadSchema>;

export const roomKeyPayloadSchema = z.object({
  v: z.literal(1),
  t: z.literal('room-key'),
  room: roomIdSchema,
  epoch: epochSchema,
  from: fingerprintSchema,
  to: fingerprintSchema,
  /** The room key, base64. */
  gek: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'room key must be 32 bytes of base64'),
  name: z.string().max(MAX_ROOM_NAME_CHARS),
  mode: modeSchema,
});
export type RoomKeyPayload = z.infer<typeof roomKeyPayloadSchema>;

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
