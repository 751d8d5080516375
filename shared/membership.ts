/**
 * The signed membership chain. Every change to who is in a room is a record signed by an admin,
 * hash-linked to the record before it. The server and every client replay the chain and accept
 * a member only if every link verifies: the server's word alone never makes anyone a member.
 */
import { z } from 'zod';
import { MAX_MEMBERS } from './constants';
import { displayNameOf, readPublicKey, signDetached, verifyDetached, type PrivateKey } from './crypto';
import { sha256Hex, utf8 } from './encoding';
import { fingerprintSchema, modeSchema, roleSchema, roomIdSchema, type Role, type RoomMode, type SignedRecord } from './protocol';

const armoredPublicKey = z.string().min(100).max(12 * 1024).startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----');

const genesisBodySchema = z.object({
  v: z.literal(1),
  kind: z.literal('genesis'),
  room: roomIdSchema,
  mode: modeSchema,
  by: fingerprintSchema,
  key: armoredPublicKey,
  ts: z.number(),
});

const addBodySchema = z.object({
  v: z.literal(1),
  kind: z.literal('add'),
  room: roomIdSchema,
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  by: fingerprintSchema,
  member: fingerprintSchema,
  key: armoredPublicKey,
  role: roleSchema,
  ts: z.number(),
});

export const recordBodySchema = z.discriminatedUnion('kind', [genesisBodySchema, addBodySchema]);
export type RecordBody = z.infer<typeof recordBodySchema>;

export class ChainError extends Error {}

export interface Member {
  fingerprint: string;
  publicKey: string;
  name: string;
  role: Role;
  addedBy: string;
  addedAt: number;
}

/** The roster a chain proves: who is in the room, with which key and role. */
export interface Roster {
  room: string;
  mode: RoomMode;
  members: Map<string, Member>;
  /** SHA-256 of the last record's body; the next record's `prev`. */
  head: string;
  length: number;
}

export function parseRecordBody(record: SignedRecord): RecordBody {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    throw new ChainError('record body is not JSON');
  }
  const parsed = recordBodySchema.safeParse(json);
  if (!parsed.success) throw new ChainError(`record body is invalid: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

async function sign(body: RecordBody, signer: PrivateKey): Promise<SignedRecord> {
  const text = JSON.stringify(body);
  return { body: text, sig: await signDetached(signer, utf8(text)) };
}

export function createGenesis(room: string, mode: RoomMode, signer: PrivateKey, now = Date.now()): Promise<SignedRecord> {
  const key = signer.toPublic().armor();
  return sign({ v: 1, kind: 'genesis', room, mode, by: signer.getFingerprint(), key, ts: now }, signer);
}

export function createAddRecord(
  roster: Roster,
  member: { fingerprint: string; publicKey: string; role: Role },
  signer: PrivateKey,
  now = Date.now(),
): Promise<SignedRecord> {
  return sign(
    {
      v: 1,
      kind: 'add',
      room: roster.room,
      prev: roster.head,
      by: signer.getFingerprint(),
      member: member.fingerprint,
      key: member.publicKey,
      role: member.role,
      ts: now,
    },
    signer,
  );
}

async function memberFromKey(armored: string, expectedFingerprint: string): Promise<{ publicKey: string; name: string }> {
  let key;
  try {
    key = await readPublicKey(armored);
  } catch {
    throw new ChainError('record carries an unreadable public key');
  }
  if (key.getFingerprint() !== expectedFingerprint) throw new ChainError('record key does not match its fingerprint');
  return { publicKey: armored, name: displayNameOf(key) };
}

/**
 * Applies one record to a roster (or starts one from a genesis record), verifying the signature,
 * the hash link and the signer's authority. Returns a new roster; never mutates the input.
 */
export async function applyRecord(roster: Roster | null, record: SignedRecord, room: string): Promise<Roster> {
  const body = parseRecordBody(record);
  if (body.room !== room) throw new ChainError('record belongs to another room');
  const head = await sha256Hex(record.body);

  if (body.kind === 'genesis') {
    if (roster) throw new ChainError('a room has exactly one genesis record');
    const creator = await memberFromKey(body.key, body.by);
    if (!(await verifyDetached(await readPublicKey(body.key), utf8(record.body), record.sig))) {
      throw new ChainError('genesis signature does not verify');
    }
    const members = new Map<string, Member>([
      [body.by, { fingerprint: body.by, ...creator, role: 'admin', addedBy: body.by, addedAt: body.ts }],
    ]);
    return { room, mode: body.mode, members, head, length: 1 };
  }

  if (!roster) throw new ChainError('chain must start with a genesis record');
  if (body.prev !== roster.head) throw new ChainError('record does not extend the current chain');
  const signer = roster.members.get(body.by);
  if (!signer || signer.role !== 'admin') throw new ChainError('record is not signed by an admin of the room');
  if (!(await verifyDetached(await readPublicKey(signer.publicKey), utf8(record.body), record.sig))) {
    throw new ChainError('record signature does not verify');
  }
  if (roster.members.has(body.member)) throw new ChainError('member is already in the room');
  if (roster.members.size >= MAX_MEMBERS) throw new ChainError(`a room holds at most ${MAX_MEMBERS} members`);
  const added = await memberFromKey(body.key, body.member);
  const members = new Map(roster.members);
  members.set(body.member, { fingerprint: body.member, ...added, role: body.role, addedBy: body.by, addedAt: body.ts });
  return { ...roster, members, head, length: roster.length + 1 };
}

/** Replays a whole chain from its genesis record; throws ChainError at the first bad link. */
export async function verifyChain(room: string, records: SignedRecord[]): Promise<Roster> {
  let roster: Roster | null = null;
  for (const record of records) roster = await applyRecord(roster, record, room);
  if (!roster) throw new ChainError('chain is empty');
  return roster;
}
