/**
 * The signed membership chain. Every change to who is in a room is a record signed by an admin,
 * hash-linked to the record before it. The server and every client replay the chain and accept
 * a member only if every link verifies: the server's word alone never makes anyone a member.
 */
import { z } from 'zod';
import { MAX_BACKUP_MESSAGES, MAX_MEMBERS } from './constants';
import { displayNameOf, readPublicKey, signDetached, verifyDetached, type PrivateKey } from './crypto';
import { sha256Hex, utf8 } from './encoding';
import { verifyJoinProof } from './links';
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

const linked = {
  v: z.literal(1),
  room: roomIdSchema,
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  by: fingerprintSchema,
  ts: z.number(),
};
const linkIdSchema = z.string().regex(/^[0-9a-f]{32}$/);

/** An admin adds a member directly (contact code) or approves a link request (`via`). */
const addBodySchema = z.object({
  ...linked,
  kind: z.literal('add'),
  member: fingerprintSchema,
  key: armoredPublicKey,
  role: roleSchema,
  via: linkIdSchema.optional(),
});

/** An admin creates an invite link; `pub` is the link's Ed25519 public key (raw, base64). */
const linkBodySchema = z.object({
  ...linked,
  kind: z.literal('link'),
  link: linkIdSchema,
  pub: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
  approval: z.boolean(),
  escrow: z.boolean(),
  expires: z.number().nullable(),
  uses: z.number().int().min(1).max(100_000).nullable(),
  /** The link's label, encrypted and signed with the room key (OpenPGP, base64); members read it, the server can't. */
  label: z.string().max(4096).nullable(),
  /**
   * What the link shows before joining (room name, creator's name, approval), sealed under a key derived from the
   * link secret (see shared/links.ts), base64; absent on links made before previews.
   */
  preview: z.string().max(2048).regex(/^[A-Za-z0-9+/]+={0,2}$/).optional(),
});

const revokeBodySchema = z.object({ ...linked, kind: z.literal('link-revoke'), link: linkIdSchema });
const resetBodySchema = z.object({ ...linked, kind: z.literal('links-reset') });

/** A joiner admits itself through a no-approval link: self-signed, carrying proof it held the link secret. */
const joinBodySchema = z.object({
  ...linked,
  kind: z.literal('join'),
  member: fingerprintSchema,
  key: armoredPublicKey,
  link: linkIdSchema,
  proof: z.string().regex(/^[A-Za-z0-9+/]{86}==$/),
});

/** An admin bans an identity from requesting to join, or lifts the ban. */
const banBodySchema = z.object({ ...linked, kind: z.literal('ban'), member: fingerprintSchema });
const unbanBodySchema = z.object({ ...linked, kind: z.literal('unban'), member: fingerprintSchema });

/** An admin removes a member; a member leaves (self-signed). Either way the room moves to a new key epoch. */
const removeBodySchema = z.object({ ...linked, kind: z.literal('remove'), member: fingerprintSchema });
/**
 * A leaving admin may name a `successor` (a remaining member), who becomes an admin with the same record;
 * the last admin must, while anyone else is in the room.
 */
const leaveBodySchema = z.object({ ...linked, kind: z.literal('leave'), member: fingerprintSchema, successor: fingerprintSchema.optional() });

/** An admin makes a member an admin, or takes an admin's rights away (see `applyRole` for who may demote whom). */
const roleBodySchema = z.object({ ...linked, kind: z.literal('role'), member: fingerprintSchema, role: roleSchema });

/** An admin allows (or stops allowing) a member to create invite links. */
const grantBodySchema = z.object({ ...linked, kind: z.literal('grant'), member: fingerprintSchema, canCreateLinks: z.boolean() });

/** Disappearing-message timers an admin can pick (ms; null = off). */
export const DISAPPEAR_CHOICES_MS = [null, 30_000, 300_000, 3_600_000, 86_400_000, 604_800_000, 2_419_200_000] as const;

export const roomSettingsSchema = z.object({
  /** Messages disappear this long after they were sent; null keeps them. */
  disappearMs: z.number().int().positive().nullable(),
  /** Backup mode: whether a new member may read messages from before they joined. */
  shareHistory: z.boolean(),
  /** Backup mode: the server keeps at most this many days / messages (null = no limit). */
  retentionDays: z.number().int().min(1).max(3650).nullable(),
  retentionCount: z.number().int().min(100).max(10_000_000).nullable(),
  /**
   * Backup mode: the server refuses new messages once it stores this many (null or absent: the server's own
   * MAX_BACKUP_MESSAGES). An admin can only lower the cap: a value above the server's maximum does not verify.
   * Optional, so records signed before it existed still verify.
   */
  backupLimit: z.number().int().min(1).max(MAX_BACKUP_MESSAGES).nullable().optional(),
});
export type RoomSettings = z.infer<typeof roomSettingsSchema>;
export const DEFAULT_SETTINGS: RoomSettings = { disappearMs: null, shareHistory: false, retentionDays: null, retentionCount: null };

/** An admin changes the room's settings; shown in the chat as an event. */
const settingsBodySchema = z.object({ ...linked, kind: z.literal('settings'), settings: roomSettingsSchema });

export const recordBodySchema = z.discriminatedUnion('kind', [
  genesisBodySchema,
  addBodySchema,
  linkBodySchema,
  revokeBodySchema,
  resetBodySchema,
  joinBodySchema,
  banBodySchema,
  unbanBodySchema,
  grantBodySchema,
  removeBodySchema,
  leaveBodySchema,
  roleBodySchema,
  settingsBodySchema,
]);
export type RecordBody = z.infer<typeof recordBodySchema>;

export class ChainError extends Error {}

export interface Member {
  fingerprint: string;
  publicKey: string;
  name: string;
  role: Role;
  addedBy: string;
  addedAt: number;
  /** The link this member came in through, if any. */
  via: string | null;
  /** Admins always may; a member only after an admin's grant record. */
  canCreateLinks: boolean;
}

/** An invite link as the chain defines it. */
export interface LinkState {
  id: string;
  pub: string;
  approval: boolean;
  escrow: boolean;
  expires: number | null;
  maxUses: number | null;
  uses: number;
  active: boolean;
  by: string;
  createdAt: number;
  label: string | null;
  /** The sealed preview (see the link record), or null for a link made before previews. */
  preview: string | null;
}

/** The roster a chain proves: who is in the room, with which key and role. */
export interface Roster {
  room: string;
  mode: RoomMode;
  /** The genesis signer: no other admin can demote or remove them. */
  creator: string;
  members: Map<string, Member>;
  links: Map<string, LinkState>;
  banned: Set<string>;
  settings: RoomSettings;
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

type Linked = 'v' | 'room' | 'prev' | 'by' | 'ts';
type Body<K extends RecordBody['kind']> = Extract<RecordBody, { kind: K }>;
/** The fields a caller provides for a record of kind K; chain position, signer and time are filled in. */
export type RecordFields<K extends Exclude<RecordBody['kind'], 'genesis'>> = Omit<Body<K>, Linked>;

/** Signs a new record that extends `roster`'s chain. */
export function createRecord<K extends Exclude<RecordBody['kind'], 'genesis'>>(
  roster: Roster,
  fields: RecordFields<K>,
  signer: PrivateKey,
  now = Date.now(),
): Promise<SignedRecord> {
  const body = { v: 1, room: roster.room, prev: roster.head, by: signer.getFingerprint(), ts: now, ...fields } as RecordBody;
  return sign(body, signer);
}

export function createAddRecord(
  roster: Roster,
  member: { fingerprint: string; publicKey: string; role: Role; via?: string },
  signer: PrivateKey,
  now = Date.now(),
): Promise<SignedRecord> {
  return createRecord<'add'>(
    roster,
    { kind: 'add', member: member.fingerprint, key: member.publicKey, role: member.role, ...(member.via ? { via: member.via } : {}) },
    signer,
    now,
  );
}

/**
 * A link joiner's self-signed join record. It extends the head the server's challenge named (the joiner
 * holds no verified chain yet); the link proof shows it holds the link's secret.
 */
export function createJoinRecord(
  join: { room: string; head: string; member: string; key: string; link: string; proof: string },
  signer: PrivateKey,
  now = Date.now(),
): Promise<SignedRecord> {
  return sign({ v: 1, kind: 'join', room: join.room, prev: join.head, by: join.member, ts: now, member: join.member, key: join.key, link: join.link, proof: join.proof }, signer);
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
      [body.by, { fingerprint: body.by, ...creator, role: 'admin', addedBy: body.by, addedAt: body.ts, via: null, canCreateLinks: true }],
    ]);
    return { room, mode: body.mode, creator: body.by, members, links: new Map(), banned: new Set(), settings: DEFAULT_SETTINGS, head, length: 1 };
  }

  if (!roster) throw new ChainError('chain must start with a genesis record');
  if (body.prev !== roster.head) throw new ChainError('record does not extend the current chain');
  const next: Roster = { ...roster, head, length: roster.length + 1 };

  if (body.kind === 'leave') {
    const leaver = roster.members.get(body.member);
    if (body.by !== body.member || !leaver) throw new ChainError('a member leaves by signing their own leave record');
    if (!(await verifyDetached(await readPublicKey(leaver.publicKey), utf8(record.body), record.sig))) throw new ChainError('leave signature does not verify');
    const remaining = withoutMember(next, body.member);
    if (body.successor !== undefined) {
      if (leaver.role !== 'admin') throw new ChainError('only an admin names a successor');
      const successor = remaining.members.get(body.successor);
      if (!successor) throw new ChainError('the successor must be another member of the room');
      remaining.members.set(body.successor, { ...successor, role: 'admin', canCreateLinks: true });
    } else if (leaver.role === 'admin' && remaining.members.size > 0 && adminCount(remaining) === 0) {
      throw new ChainError('the last admin names a successor before leaving');
    }
    return remaining;
  }

  if (body.kind === 'join') {
    // Self-signed by the joiner; authority comes from the admin-signed link record and the proof.
    if (body.by !== body.member) throw new ChainError('a join record is signed by the joiner');
    const link = roster.links.get(body.link);
    if (!link || !link.active) throw new ChainError('the link was revoked or never existed');
    if (link.approval) throw new ChainError('this link needs an admin to approve each join');
    if (link.expires !== null && body.ts > link.expires) throw new ChainError('the link had expired');
    if (link.maxUses !== null && link.uses >= link.maxUses) throw new ChainError('the link was used up');
    if (roster.banned.has(body.member)) throw new ChainError('this identity is banned from the room');
    if (!(await verifyJoinProof(link.pub, room, link.id, body.member, body.proof))) throw new ChainError('the join proof does not match the link');
    const joiner = await memberFromKey(body.key, body.member);
    if (!(await verifyDetached(await readPublicKey(body.key), utf8(record.body), record.sig))) throw new ChainError('join signature does not verify');
    return withMember(next, roster, body.member, { ...joiner, role: 'member', addedBy: link.by, addedAt: body.ts, via: link.id, canCreateLinks: false }, link.id);
  }

  const signer = roster.members.get(body.by);
  const allowed = signer && (signer.role === 'admin' || (body.kind === 'link' && signer.canCreateLinks));
  if (!signer || !allowed) throw new ChainError('record is not signed by an admin of the room');
  if (!(await verifyDetached(await readPublicKey(signer.publicKey), utf8(record.body), record.sig))) {
    throw new ChainError('record signature does not verify');
  }

  switch (body.kind) {
    case 'add': {
      if (roster.banned.has(body.member)) throw new ChainError('this identity is banned from the room');
      if (body.via && !roster.links.has(body.via)) throw new ChainError('the add names a link that does not exist');
      const added = await memberFromKey(body.key, body.member);
      return withMember(next, roster, body.member, { ...added, role: body.role, addedBy: body.by, addedAt: body.ts, via: body.via ?? null, canCreateLinks: body.role === 'admin' }, body.via);
    }
    case 'link': {
      if (roster.links.has(body.link)) throw new ChainError('a link with this id already exists');
      if (body.approval && body.escrow) throw new ChainError('a link with join approval cannot escrow the key');
      const links = new Map(roster.links);
      links.set(body.link, {
        id: body.link,
        pub: body.pub,
        approval: body.approval,
        escrow: body.escrow,
        expires: body.expires,
        maxUses: body.uses,
        uses: 0,
        active: true,
        by: body.by,
        createdAt: body.ts,
        label: body.label,
        preview: body.preview ?? null,
      });
      return { ...next, links };
    }
    case 'link-revoke': {
      const link = roster.links.get(body.link);
      if (!link) throw new ChainError('no such link');
      const links = new Map(roster.links);
      links.set(body.link, { ...link, active: false });
      return { ...next, links };
    }
    case 'links-reset': {
      const links = new Map([...roster.links].map(([id, link]) => [id, { ...link, active: false }]));
      return { ...next, links };
    }
    case 'settings': {
      if (body.settings.disappearMs !== null && !DISAPPEAR_CHOICES_MS.includes(body.settings.disappearMs as never)) {
        throw new ChainError('unsupported disappearing-message timer');
      }
      return { ...next, settings: body.settings };
    }
    case 'ban': {
      if (roster.members.has(body.member)) throw new ChainError('members cannot be banned; only people asking to join');
      const banned = new Set(roster.banned);
      banned.add(body.member);
      return { ...next, banned };
    }
    case 'unban': {
      if (!roster.banned.has(body.member)) throw new ChainError('this identity is not banned');
      const banned = new Set(roster.banned);
      banned.delete(body.member);
      return { ...next, banned };
    }
    case 'remove': {
      if (!roster.members.has(body.member)) throw new ChainError('this person is not a member');
      if (body.member === body.by) throw new ChainError('to leave, sign a leave record');
      if (body.member === roster.creator) throw new ChainError('the room\'s creator cannot be removed by another admin');
      return withoutMember(next, body.member);
    }
    case 'role':
      return applyRole(next, roster, body);
    case 'grant': {
      const member = roster.members.get(body.member);
      if (!member) throw new ChainError('only members can be allowed to create links');
      if (member.role === 'admin') throw new ChainError('admins can always create links');
      const members = new Map(roster.members);
      members.set(body.member, { ...member, canCreateLinks: body.canCreateLinks });
      return { ...next, members };
    }
  }
}

function adminCount(roster: Roster): number {
  return [...roster.members.values()].filter((m) => m.role === 'admin').length;
}

/**
 * A role change (already checked to be signed by an admin). The creator's role changes only by their own
 * record; an admin steps down only while another admin remains, so a room always keeps one.
 */
function applyRole(next: Roster, roster: Roster, body: Body<'role'>): Roster {
  const member = roster.members.get(body.member);
  if (!member) throw new ChainError('this person is not a member');
  if (member.role === body.role) throw new ChainError(`this member is already ${body.role === 'admin' ? 'an admin' : 'not an admin'}`);
  if (body.role === 'member') {
    if (body.member === roster.creator && body.by !== roster.creator) throw new ChainError('the room\'s creator cannot be demoted by another admin');
    if (adminCount(roster) <= 1) throw new ChainError('the last admin cannot step down; make someone else an admin first');
  }
  const members = new Map(roster.members);
  members.set(body.member, { ...member, role: body.role, canCreateLinks: body.role === 'admin' });
  return { ...next, members };
}

function withoutMember(next: Roster, fingerprint: string): Roster {
  const members = new Map(next.members);
  members.delete(fingerprint);
  return { ...next, members };
}

function withMember(next: Roster, roster: Roster, fingerprint: string, member: Omit<Member, 'fingerprint'>, via?: string): Roster {
  if (roster.members.has(fingerprint)) throw new ChainError('member is already in the room');
  if (roster.members.size >= MAX_MEMBERS) throw new ChainError(`a room holds at most ${MAX_MEMBERS} members`);
  const members = new Map(roster.members);
  members.set(fingerprint, { fingerprint, ...member });
  let links = roster.links;
  const link = via ? roster.links.get(via) : undefined;
  if (link) {
    links = new Map(roster.links);
    links.set(link.id, { ...link, uses: link.uses + 1 });
  }
  return { ...next, members, links };
}

/** Replays a whole chain from its genesis record; throws ChainError at the first bad link. */
export async function verifyChain(room: string, records: SignedRecord[]): Promise<Roster> {
  const { roster, rejected } = await verifyChainPrefix(room, records);
  if (rejected) throw new ChainError(rejected.reason);
  return roster;
}

/**
 * Replays as much of a chain as verifies. Whatever follows the first bad record is not trusted:
 * it is returned so a client can show (and refuse keys to) members the server claims but nobody signed.
 */
export async function verifyChainPrefix(
  room: string,
  records: SignedRecord[],
): Promise<{ roster: Roster; verified: number; rejected: { index: number; reason: string; unverified: string[] } | null }> {
  let roster: Roster | null = null;
  for (const [i, record] of records.entries()) {
    try {
      roster = await applyRecord(roster, record, room);
    } catch (error) {
      if (!roster) throw error;
      const unverified = records.slice(i).flatMap((r) => {
        try {
          const body = parseRecordBody(r);
          return 'member' in body && !roster?.members.has(body.member) ? [body.member] : [];
        } catch {
          return [];
        }
      });
      return { roster, verified: i, rejected: { index: i, reason: error instanceof Error ? error.message : String(error), unverified } };
    }
  }
  if (!roster) throw new ChainError('chain is empty');
  return { roster, verified: records.length, rejected: null };
}
