/**
 * Who is in a room: the welcome and its chain (verified, and only ever extended), chain changes as the
 * server relays them, join requests (admins), and the changes we sign ourselves: invites, approvals,
 * bans, grants, settings, removals and leaving.
 */
import { displayNameOf, generateGek, readPublicKey, unnamed, type PublicKey } from '@/shared/crypto';
import { randomHex, sha256Hex, toBase64 } from '@/shared/encoding';
import { fromBase64Url, openJoinNote, verifyJoinProof } from '@/shared/links';
import {
  applyRecord,
  createAddRecord,
  createGenesis,
  createRecord,
  DISAPPEAR_CHOICES_MS,
  parseRecordBody,
  roomSettingsSchema,
  verifyChain,
  verifyChainPrefix,
  type RecordBody,
  type RecordFields,
  type RoomSettings,
  type Roster,
} from '@/shared/membership';
import { MAX_ROOM_NAME_CHARS, ROOM_ID_BYTES } from '@/shared/constants';
import type { JoinRequest, RoomMode, RoomServerFrame, SignedRecord } from '@/shared/protocol';
import { UserFacingError } from '../errors';
import type { MemberChange, RoomEvent, RoomRecord, StoredMessage } from '../records';
import { describe, type RoomContext } from './context';
import { answerNeedKeys, maybeRotate, noteWelcomeEpoch, resealOutbox, rotateIfStillDue, sealCurrentKeyFor, shareEarlierKeys } from './keys';
import { requestCatchUp, resendOutbox } from './messages';
import { emptyRoom, type DeepReadonly, type RoomSession } from './session';
import { emitMessage } from './views';

/** Record kinds an admin (or a member allowed to) appends with no key material attached. */
type PlainChange = 'link-revoke' | 'links-reset' | 'ban' | 'unban' | 'grant' | 'settings' | 'remove' | 'role';

/** True if `next` keeps every record of `known` in place, the genesis included (the server may only append: no fork, no rollback). */
export function extendsChain(known: DeepReadonly<SignedRecord[]>, next: SignedRecord[]): boolean {
  if (next.length < known.length) return false;
  return known.every((record, i) => next[i]?.body === record.body && next[i]?.sig === record.sig);
}

/** Members a (possibly invalid) record claims to add. */
function recordMembers(record: SignedRecord): string[] {
  try {
    const body = parseRecordBody(record);
    return 'member' in body ? [body.member] : [];
  } catch {
    return [];
  }
}

function flag(ctx: RoomContext, s: RoomSession, fingerprints: string[], reason: string): void {
  s.flagUnverified(fingerprints, reason);
  ctx.emit({ type: 'room', roomId: s.id });
}

/** A new room of ours: its genesis (we are its admin), its first key, and the roster the genesis proves. */
export async function newRoom(ctx: RoomContext, name: string, mode: RoomMode): Promise<{ record: RoomRecord; roster: Roster }> {
  const cleanName = name.trim();
  if (!cleanName || cleanName.length > MAX_ROOM_NAME_CHARS) throw new UserFacingError('invalid-input', `room name must be 1–${MAX_ROOM_NAME_CHARS} characters`);
  const id = randomHex(ROOM_ID_BYTES);
  const genesis = await createGenesis(id, mode, ctx.me.privateKey, ctx.now());
  const record = { ...emptyRoom(id, mode, ctx.now()), name: cleanName, keys: { '0': toBase64(generateGek()) }, chain: [genesis], pendingGenesis: genesis };
  return { record, roster: await verifyChain(id, [genesis]) };
}

/** True if the chain starts at the genesis an invite link pinned (SHA-256 hex of its body). */
async function startsAtPin(chain: SignedRecord[], pin: string | undefined): Promise<boolean> {
  const genesis = chain[0];
  return typeof pin === 'string' && genesis !== undefined && (await sha256Hex(genesis.body)) === pin;
}

/**
 * A link joiner was served a room other than the one its link pins: nothing of it is adopted, the join fails
 * for good (no key from that room is ever taken: keys and escrow need the verified roster this leaves unset).
 */
async function refuseForgedRoom(ctx: RoomContext, s: RoomSession, pinned: boolean): Promise<void> {
  const reason = pinned
    ? 'the server sent a membership chain that does not start at the genesis the invite link names'
    : 'this join started from a link that does not name its room';
  s.reject(reason);
  s.edit((r) => {
    if (r.joining) r.joining = { ...r.joining, state: 'failed', error: { code: pinned ? 'room-forged' : 'link-outdated', message: reason } };
  });
  await s.save();
  s.conn?.close();
  ctx.emit({ type: 'room', roomId: s.id });
  ctx.emit({ type: 'state' });
}

/** The server let us in: verify its chain against what we verified before, then catch up and hand out keys. */
export async function onWelcome(ctx: RoomContext, s: RoomSession, frame: Extract<RoomServerFrame, { type: 'welcome' }>): Promise<void> {
  // A link joiner trusts only the room its link pins; a member, only a chain extending the one it verified.
  const joining = s.record.joining;
  if (joining && !(await startsAtPin(frame.chain, joining.genesis))) {
    await refuseForgedRoom(ctx, s, typeof joining.genesis === 'string');
    return;
  }
  let verified;
  try {
    verified = await verifyChainPrefix(s.id, frame.chain);
  } catch (error) {
    s.reject(`membership chain does not verify: ${describe(error)}`);
    return;
  }
  const trusted = frame.chain.slice(0, verified.verified);
  const known = s.record.chain.length;
  if (!extendsChain(s.record.chain, trusted)) {
    s.reject('the server sent a membership chain that rewrites the one we verified before');
    return;
  }
  if (verified.rejected) flag(ctx, s, verified.rejected.unverified, verified.rejected.reason);
  if (!verified.roster.members.has(ctx.me.identity.fingerprint)) {
    s.reject('the verified chain does not include us');
    return;
  }
  s.adoptChain(trusted, verified.roster);
  s.online = new Set(frame.online);
  s.serverSeq = frame.seq;
  s.serverEpoch = frame.epoch;
  noteWelcomeEpoch(ctx, s, frame.rotationDue, known > 0 ? trusted.slice(known) : []);
  // A catch-up the last connection did not finish stays owed: live messages since may have moved lastSeq past it.
  const owed = s.syncSince;
  s.syncSince = frame.seq > s.record.lastSeq ? Math.min(s.record.lastSeq, owed ?? Infinity) : owed;
  const mode = verified.roster.mode;
  s.edit((record) => {
    record.mode = mode;
    record.pendingGenesis = null;
    if (record.joining && record.joining.state !== 'waiting-member') record.joining = { ...record.joining, state: 'waiting-member' };
  });
  s.requests.clear();
  for (const request of frame.requests) await onJoinRequest(ctx, s, request, false);
  // Settings and membership changed while we were away (not on a first join: the chain's history is not news to a newcomer).
  if (known > 0) for (const record of trusted.slice(known)) await noteRecord(ctx, s, record);
  await s.save();
  resendOutbox(s);
  await answerNeedKeys(ctx, s, frame.needKeys);
  await resealOutbox(ctx, s);
  if (frame.rotationDue) rotateIfStillDue(ctx, s);
  requestCatchUp(s);
  ctx.emit({ type: 'room', roomId: s.id });
  ctx.emit({ type: 'state' });
}

/** Records the server relays: each one applied to the verified roster, or the rest refused. */
export async function onChain(ctx: RoomContext, s: RoomSession, records: SignedRecord[]): Promise<void> {
  if (!s.roster) return;
  let roster = s.roster;
  for (const record of records) {
    try {
      roster = await applyRecord(roster, record, s.id);
    } catch (error) {
      s.settleChange(record.body, new UserFacingError('server', 'the server relayed an invalid record'));
      flag(ctx, s, recordMembers(record), `membership record rejected: ${describe(error)}`);
      break;
    }
    s.adoptChain([...s.record.chain, record], roster);
    await noteRecord(ctx, s, record);
    s.settleChange(record.body);
    const body = parseRecordBody(record);
    if (body.kind === 'remove' || body.kind === 'leave') {
      if (body.member === ctx.me.identity.fingerprint) s.edit((r) => void (r.removed = true));
      else await maybeRotate(ctx, s, body.kind === 'remove' ? body.by : null);
    }
  }
  await s.save();
  ctx.emit({ type: 'room', roomId: s.id });
}

/** A member's display name: as the room knows it, else from the key of the record that let them in (members who left or were removed), else `unnamed`. */
async function nameIn(s: RoomSession, fingerprint: string): Promise<string> {
  const known = s.knownName(fingerprint);
  if (known) return known;
  for (const record of [...s.record.chain].reverse()) {
    try {
      const body = parseRecordBody(record);
      if ((body.kind === 'add' || body.kind === 'join') && body.member === fingerprint) return s.nameOf(fingerprint, displayNameOf(await readPublicKey(body.key)));
      if (body.kind === 'genesis' && body.by === fingerprint) return s.nameOf(fingerprint, displayNameOf(await readPublicKey(body.key)));
    } catch {
      // A record we could not read names no one.
    }
  }
  return s.nameOf(fingerprint);
}

/** The chat line a chain record shows, if any: settings and membership changes. */
async function eventOf(s: RoomSession, body: RecordBody): Promise<RoomEvent | null> {
  const byName = await nameIn(s, body.by);
  if (body.kind === 'settings') return { type: 'settings', settings: body.settings, by: body.by, byName };
  let change: MemberChange;
  if (body.kind === 'join') change = 'joined';
  else if (body.kind === 'add') change = body.via ? 'approved' : 'added';
  else if (body.kind === 'remove') change = 'removed';
  else if (body.kind === 'leave' && body.successor) return memberEvent(s, 'left-successor', body.successor, body.by, byName);
  else if (body.kind === 'leave') change = 'left';
  else if (body.kind === 'grant') change = body.canCreateLinks ? 'links-allowed' : 'links-denied';
  else if (body.kind === 'role') change = body.role === 'admin' ? 'promoted' : 'demoted';
  else return null;
  return memberEvent(s, change, body.member, body.by, byName);
}

async function memberEvent(s: RoomSession, change: MemberChange, member: string, by: string, byName: string): Promise<RoomEvent> {
  const memberName = member === by ? byName : await nameIn(s, member);
  return { type: 'member', change, member, memberName, by, byName };
}

/**
 * Shows a settings or membership change in the chat, once per record (its id is the record's hash).
 * Called after the record was adopted, so the roster and chain include it.
 */
async function noteRecord(ctx: RoomContext, s: RoomSession, record: SignedRecord): Promise<void> {
  const body = parseRecordBody(record);
  const event = await eventOf(s, body);
  if (!event) return;
  const stored: StoredMessage = {
    id: (await sha256Hex(record.body)).slice(0, 32),
    from: body.by,
    fromName: event.byName,
    text: '',
    ts: body.ts,
    // Placed after the last message we had when the change arrived.
    seq: s.record.lastSeq,
    mine: body.by === ctx.me.identity.fingerprint,
    status: 'received',
    kind: 'event',
    event,
    env: null,
    expiresAt: null,
  };
  await s.edit((r) => ctx.history.append(r, stored));
  emitMessage(ctx, s, stored);
}

/** The name a link joiner sealed for the admins holding the link (we do if we made it in this browser); '' if we cannot read it. */
async function joinerName(s: RoomSession, request: JoinRequest): Promise<string> {
  const secret = s.record.linkSecrets[request.link];
  if (!secret || !request.note) return '';
  return (await openJoinNote(fromBase64Url(secret), s.id, request.link, request.fp, request.note)) ?? '';
}

/** Someone asks to join through an approval link: listed only if their key and proof of the link secret check out. */
export async function onJoinRequest(ctx: RoomContext, s: RoomSession, request: JoinRequest, notify: boolean): Promise<void> {
  const link = s.roster?.links.get(request.link);
  let name = '';
  try {
    const key = await readPublicKey(request.key);
    if (key.getFingerprint() !== request.fp) throw new Error('key does not match fingerprint');
    if (!link || !(await verifyJoinProof(link.pub, s.id, link.id, request.fp, request.proof))) throw new Error('no proof of the link secret');
    name = (await joinerName(s, request)) || displayNameOf(key) || unnamed(request.fp);
  } catch (error) {
    s.reject(`join request ignored: ${describe(error)}`);
    return;
  }
  s.requests.set(request.fp, { ...request, name });
  if (notify) ctx.emit({ type: 'join-request', roomId: s.id, roomName: s.record.name, name });
  ctx.emit({ type: 'state' });
  ctx.emit({ type: 'room', roomId: s.id });
}

export function onJoinResolved(ctx: RoomContext, s: RoomSession, member: string): void {
  s.requests.delete(member);
  ctx.emit({ type: 'state' });
  ctx.emit({ type: 'room', roomId: s.id });
}

/** Where our own join through a link stands (the server told us). */
export async function setJoinState(ctx: RoomContext, s: RoomSession, state: 'pending-approval' | 'waiting-member'): Promise<void> {
  if (!s.record.joining) return;
  s.edit((record) => {
    if (record.joining) record.joining = { ...record.joining, state, error: null };
  });
  await s.save();
  ctx.emit({ type: 'state' });
}

/** Signs a change that extends the verified chain and waits for the server to relay it. Not inside `run`: the relay is. */
export async function appendChange<K extends PlainChange>(ctx: RoomContext, s: RoomSession, fields: RecordFields<K>): Promise<void> {
  const record = await createRecord<K>(s.requireRoster(), fields, ctx.me.privateKey, ctx.now());
  await s.awaitChange(record, { type: 'append', record }, ctx.confirmTimeoutMs);
}

/** Adds someone (an invite by contact code, or an approved request) with the current room key sealed to them. */
export async function addMember(ctx: RoomContext, s: RoomSession, fingerprint: string, publicKey: string, via?: string): Promise<void> {
  s.requireRoster();
  if (!s.keyFor(s.currentEpoch())) throw new UserFacingError('no-key', 'we do not hold the current room key');
  const key = await readPublicKey(publicKey);
  const epoch = s.currentEpoch();
  try {
    await appendAdd(ctx, s, fingerprint, publicKey, key, via);
  } catch (error) {
    // A key epoch started while the add was on its way (we, or another member, rotated after a departure): the
    // server refused an envelope for the old epoch. Once that epoch's news is in, add them with the new key.
    await s.settled();
    if (s.currentEpoch() === epoch) throw error;
    await appendAdd(ctx, s, fingerprint, publicKey, key, via);
  }
  await shareEarlierKeys(ctx, s, fingerprint, key);
}

async function appendAdd(ctx: RoomContext, s: RoomSession, fingerprint: string, publicKey: string, key: PublicKey, via?: string): Promise<void> {
  const record = await createAddRecord(s.requireRoster(), { fingerprint, publicKey, role: 'member', ...(via ? { via } : {}) }, ctx.me.privateKey, ctx.now());
  const envelope = await sealCurrentKeyFor(ctx, s, fingerprint, key);
  await s.awaitChange(record, { type: 'append', record, keys: [envelope] }, ctx.confirmTimeoutMs);
}

/** Checks before inviting someone by contact code (before their key is looked up). */
export function checkInvite(ctx: RoomContext, s: RoomSession, fingerprint: string): void {
  const roster = s.requireRoster();
  if (roster.members.get(ctx.me.identity.fingerprint)?.role !== 'admin') throw new UserFacingError('not-admin', 'only admins can invite');
  if (roster.members.has(fingerprint)) throw new UserFacingError('already-member', 'this person is already in the room');
  if (s.conn?.status !== 'ready') throw new UserFacingError('offline', 'not connected to the server');
}

export async function approveRequest(ctx: RoomContext, s: RoomSession, fingerprint: string): Promise<void> {
  s.requireAdmin(ctx.me.identity.fingerprint);
  const request = s.requests.get(fingerprint);
  if (!request) throw new UserFacingError('no-room', 'this request is no longer pending');
  await addMember(ctx, s, fingerprint, request.key, request.link);
  s.requests.delete(fingerprint);
}

export function denyRequest(ctx: RoomContext, s: RoomSession, fingerprint: string): void {
  s.requireAdmin(ctx.me.identity.fingerprint);
  if (!s.send({ type: 'join-deny', member: fingerprint })) throw new UserFacingError('offline', 'not connected to the server');
  s.requests.delete(fingerprint);
  ctx.emit({ type: 'state' });
}

/** Bans someone asking to join: their requests are refused from now on. */
export async function banRequester(ctx: RoomContext, s: RoomSession, fingerprint: string): Promise<void> {
  s.requireAdmin(ctx.me.identity.fingerprint);
  await appendChange<'ban'>(ctx, s, { kind: 'ban', member: fingerprint });
  s.requests.delete(fingerprint);
}

export async function unban(ctx: RoomContext, s: RoomSession, fingerprint: string): Promise<void> {
  const roster = s.requireAdmin(ctx.me.identity.fingerprint);
  if (!roster.banned.has(fingerprint)) throw new UserFacingError('invalid-input', 'this identity is not banned');
  await appendChange<'unban'>(ctx, s, { kind: 'unban', member: fingerprint });
}

export async function setLinkPermission(ctx: RoomContext, s: RoomSession, fingerprint: string, allowed: boolean): Promise<void> {
  const member = s.requireAdmin(ctx.me.identity.fingerprint).members.get(fingerprint);
  if (!member) throw new UserFacingError('no-room', 'this person is not a member of the room');
  if (member.role === 'admin') throw new UserFacingError('invalid-input', 'admins can always create links');
  if (member.canCreateLinks !== allowed) await appendChange<'grant'>(ctx, s, { kind: 'grant', member: fingerprint, canCreateLinks: allowed });
}

/**
 * Makes a member an admin or takes an admin's rights away (the chain's rules, checked here first for a clear
 * error: nobody else demotes the room's creator, and the last admin does not step down).
 */
export async function setRole(ctx: RoomContext, s: RoomSession, fingerprint: string, role: 'admin' | 'member'): Promise<void> {
  const roster = s.requireAdmin(ctx.me.identity.fingerprint);
  const member = roster.members.get(fingerprint);
  if (!member) throw new UserFacingError('no-room', 'this person is not a member of the room');
  if (member.role === role) return;
  if (role === 'member') {
    if (fingerprint === roster.creator && fingerprint !== ctx.me.identity.fingerprint) {
      throw new UserFacingError('role-refused', 'the room\'s creator keeps their admin rights');
    }
    if ([...roster.members.values()].filter((m) => m.role === 'admin').length <= 1) {
      throw new UserFacingError('role-refused', 'the last admin cannot step down; make someone else an admin first');
    }
  }
  await appendChange<'role'>(ctx, s, { kind: 'role', member: fingerprint, role });
}

/** Admins change the disappearing timer (and backup retention); every member sees it as a signed event. */
export async function setSettings(ctx: RoomContext, s: RoomSession, settings: RoomSettings): Promise<void> {
  s.requireAdmin(ctx.me.identity.fingerprint);
  const parsed = roomSettingsSchema.safeParse(settings);
  if (!parsed.success || (parsed.data.disappearMs !== null && !DISAPPEAR_CHOICES_MS.includes(parsed.data.disappearMs as never))) {
    throw new UserFacingError('invalid-input', 'unsupported room settings');
  }
  await appendChange<'settings'>(ctx, s, { kind: 'settings', settings: parsed.data });
}

/** Removes a member; we then start the next key epoch, which they never receive. */
export async function removeMember(ctx: RoomContext, s: RoomSession, fingerprint: string): Promise<void> {
  const roster = s.requireAdmin(ctx.me.identity.fingerprint);
  if (fingerprint === ctx.me.identity.fingerprint) throw new UserFacingError('invalid-input', 'to leave the room, use Leave');
  if (!roster.members.has(fingerprint)) throw new UserFacingError('no-room', 'this person is not a member of the room');
  await appendChange<'remove'>(ctx, s, { kind: 'remove', member: fingerprint });
}

/**
 * Signs our leave (the remaining members move to a new key) and marks the room removed here. The last admin
 * names a `successor`, a remaining member who becomes an admin with the same record.
 */
export async function leave(ctx: RoomContext, s: RoomSession, successor?: string): Promise<void> {
  const me = ctx.me.identity.fingerprint;
  if (s.roster?.members.has(me) && !s.record.removed) {
    const roster = s.roster;
    const admin = roster.members.get(me)?.role === 'admin';
    if (successor !== undefined && (!admin || successor === me || !roster.members.has(successor))) {
      throw new UserFacingError('invalid-input', 'the successor must be another member, named by an admin');
    }
    const otherAdmins = [...roster.members.values()].filter((m) => m.role === 'admin' && m.fingerprint !== me).length;
    if (admin && successor === undefined && otherAdmins === 0 && roster.members.size > 1) {
      throw new UserFacingError('successor-needed', 'the last admin names a successor before leaving');
    }
    const fields = { kind: 'leave' as const, member: me, ...(successor === undefined ? {} : { successor }) };
    const record = await createRecord<'leave'>(roster, fields, ctx.me.privateKey, ctx.now());
    await s.awaitChange(record, { type: 'append', record }, ctx.confirmTimeoutMs);
  }
  s.edit((record) => void (record.removed = true));
}
