/**
 * Room keys: the only module that seals a room key for someone or takes one in. Rotation after a
 * removal, answering `need-key`, earlier epochs for a new member, escrow for links, re-sealing the
 * outbox under a new key, and accepting key envelopes and escrowed keys.
 */
import { decryptFor, generateGek, openKeyEnvelope, openWithGek, readPublicKey, sealKeyEnvelope, sealKeyEnvelopes, sealWithGek } from '@/shared/crypto';
import { fromBase64, fromUtf8, toBase64, utf8 } from '@/shared/encoding';
import { deriveLinkKeys, fromBase64Url } from '@/shared/links';
import { openPayload, sealPayload } from '@/shared/message-envelope';
import { parseRecordBody, type Member, type Roster } from '@/shared/membership';
import {
  escrowPayload,
  escrowPayloadSchema,
  parsePayload,
  roomKeyIsFor,
  roomKeyPayload,
  roomKeyPayloadSchema,
  type EscrowPayload,
  type KeyGrant,
  type RoomKeyPayload,
} from '@/shared/payloads';
import type { DeliveredKey, Escrow, KeyEnvelope, RoomServerFrame, SignedRecord } from '@/shared/protocol';
import { describe, type RoomContext } from './context';
import type { RoomSession } from './session';

type PublicKey = Awaited<ReturnType<typeof readPublicKey>>;

/** How long members wait for the remover to start the next key epoch before one of them does. */
const ROTATION_GRACE_MS = 1_500;
/** Key envelopes carried in the rotate frame itself; the rest follow in `keys` frames. */
const ROTATE_FIRST_KEYS = 32;
/** Most key envelopes in one `keys` frame. */
const KEYS_PER_FRAME = 64;
/** Most escrows in one rotate frame. */
const ROTATE_ESCROWS = 16;

function grant(ctx: RoomContext, s: RoomSession, epoch: number, gek: string): KeyGrant {
  return { room: s.id, epoch, from: ctx.me.identity.fingerprint, gek, name: s.record.name, mode: s.record.mode };
}

function sendKeys(s: RoomSession, keys: KeyEnvelope[]): void {
  for (let i = 0; i < keys.length; i += KEYS_PER_FRAME) s.send({ type: 'keys', keys: keys.slice(i, i + KEYS_PER_FRAME) });
}

// ── who may send under a key, start an epoch, replace an escrow (issue 9, attacks 3 and 7) ──

/**
 * A member left or was removed: every key we hold (and the server's current epoch) is one they may hold, so nothing
 * more goes out under it; messages wait in the outbox until the next epoch's key, then `resealOutbox` sends them.
 * `upTo` defaults to the newest epoch we hold or the server is at.
 */
export function retireHeldEpochs(s: RoomSession, upTo = Math.max(s.currentEpoch(), s.serverEpoch)): boolean {
  if (upTo <= s.retiredEpoch) return false;
  s.edit((r) => void (r.retiredEpoch = upTo));
  return true;
}

/** Whether a message may go out under `epoch` now: the room's current epoch, a key we hold, and no departed member holds it. */
export function maySendAt(s: RoomSession, epoch: number): boolean {
  return epoch > s.retiredEpoch && epoch >= s.serverEpoch && s.keyFor(epoch) !== undefined;
}

/**
 * The welcome told us where the room stands: if a rotation is due, or the chain shows a member left or was removed
 * since we last verified it (`news`; a server could keep quiet about the rotation), the keys we hold are retired.
 */
export function noteWelcomeEpoch(ctx: RoomContext, s: RoomSession, rotationDue: boolean, news: readonly SignedRecord[]): void {
  if (rotationDue) retireHeldEpochs(s);
  else if (news.some((record) => isDeparture(record, ctx.me.identity.fingerprint))) retireHeldEpochs(s, s.currentEpoch());
}

function isDeparture(record: SignedRecord, except?: string): boolean {
  const body = parseRecordBody(record);
  return (body.kind === 'remove' || body.kind === 'leave') && body.member !== except;
}

/**
 * Whether `member` may have started key epoch `epoch`. Every epoch follows a removal or a leave (the server accepts a
 * rotation from anyone else only while one is due), so a member who is not an admin can introduce at most as many
 * epochs as the verified chain has departures; an admin may start one at any time.
 */
function mayStartEpoch(s: RoomSession, member: Member, epoch: number): boolean {
  if (member.role === 'admin' || epoch === 0) return true;
  let departures = 0;
  for (const record of s.record.chain) if (isDeparture(record as SignedRecord)) departures++;
  return epoch <= departures;
}

/** Whether we may put a link's escrowed key in a rotation: its creator while it may create links, or an admin (as the server checks). */
function mayReplaceEscrow(roster: Roster, me: string, linkCreator: string): boolean {
  const member = roster.members.get(me);
  return member?.role === 'admin' || (linkCreator === me && !!member?.canCreateLinks);
}

/** The room's current key, sealed to one new member (an invite or an approved join request). */
export async function sealCurrentKeyFor(ctx: RoomContext, s: RoomSession, fingerprint: string, recipient: PublicKey): Promise<KeyEnvelope> {
  const epoch = s.currentEpoch();
  const gek = s.keyFor(epoch);
  if (!gek) throw new Error('no current room key');
  const payload = roomKeyPayload(grant(ctx, s, epoch, gek), { to: fingerprint });
  return { to: fingerprint, epoch, ct: await sealKeyEnvelope(utf8(JSON.stringify(payload)), recipient, ctx.me.privateKey) };
}

/** The room key escrowed for an invite link: sealed under the link's wrap key, signed by us. */
export async function escrowFor(ctx: RoomContext, s: RoomSession, link: string, wrapKey: Uint8Array, epoch: number, gek: string): Promise<Escrow> {
  const payload = escrowPayload(grant(ctx, s, epoch, gek), link);
  return { link, epoch, ct: await sealWithGek(wrapKey, utf8(JSON.stringify(payload)), ctx.me.privateKey) };
}

/** With "new members can read earlier history" on, a new member also gets the keys of earlier epochs, each encrypted to them. */
export async function shareEarlierKeys(ctx: RoomContext, s: RoomSession, fingerprint: string, recipient: PublicKey): Promise<void> {
  if (!s.roster?.settings.shareHistory) return;
  const current = s.currentEpoch();
  const keys: KeyEnvelope[] = [];
  for (const [epochText, gek] of Object.entries(s.record.keys)) {
    const epoch = Number(epochText);
    if (epoch >= current) continue;
    const payload = roomKeyPayload(grant(ctx, s, epoch, gek), { to: fingerprint });
    keys.push({ to: fingerprint, epoch, ct: await sealKeyEnvelope(utf8(JSON.stringify(payload)), recipient, ctx.me.privateKey) });
  }
  sendKeys(s, keys);
}

/** Hands the room key to members who joined without one, but only to members the chain proves. */
export async function answerNeedKeys(ctx: RoomContext, s: RoomSession, fingerprints: string[]): Promise<void> {
  const epoch = s.currentEpoch();
  const gek = s.keyFor(epoch);
  const roster = s.roster;
  // Only the key the room is at now helps; an older one would only confuse.
  if (!gek || !roster || epoch !== s.serverEpoch) return;
  const recipients = [];
  for (const fp of fingerprints) {
    if (fp === ctx.me.identity.fingerprint) continue;
    const member = roster.members.get(fp);
    if (!member) {
      s.flagUnverified([fp], 'the server asked us to hand the room key to someone no admin or link admitted');
      ctx.emit({ type: 'room', roomId: s.id });
      continue;
    }
    const key = await readPublicKey(member.publicKey);
    recipients.push({ fingerprint: fp, key });
    await shareEarlierKeys(ctx, s, fp, key);
  }
  if (!recipients.length) return;
  const keys = await sealForMembers(ctx, s, epoch, gek, recipients, roster.head);
  s.send({ type: 'keys', keys });
}

/** One payload for every recipient, sealed once; several are named by the chain head, one by `to` (see RoomKeyPayload). */
async function sealForMembers(ctx: RoomContext, s: RoomSession, epoch: number, gek: string, recipients: Array<{ fingerprint: string; key: PublicKey }>, head: string): Promise<KeyEnvelope[]> {
  const only = recipients.length === 1 ? recipients[0]?.fingerprint : undefined;
  const payload = roomKeyPayload(grant(ctx, s, epoch, gek), only ? { to: only } : { head });
  const sealed = await sealKeyEnvelopes(utf8(JSON.stringify(payload)), recipients, ctx.me.privateKey);
  return [...sealed].map(([to, ct]) => ({ to, epoch, ct }));
}

/**
 * After a removal or a leave, someone still in the room must start the next key epoch: the admin who
 * removed, or else the online member with the smallest fingerprint (`anyone`: us, when they did not). Duplicates are refused by the server.
 */
export async function maybeRotate(ctx: RoomContext, s: RoomSession, remover: string | null, anyone = false): Promise<void> {
  // Whoever starts it, nothing more is sent under the keys the departed member holds (kept across restarts).
  if (retireHeldEpochs(s)) await s.save();
  const me = ctx.me.identity.fingerprint;
  const roster = s.roster;
  if (!roster?.members.has(me) || s.record.removed) return;
  const online = [...s.online, me].filter((fp) => roster.members.has(fp)).sort();
  const designated = anyone ? me : remover && roster.members.has(remover) && s.online.has(remover) ? remover : online[0];
  if (designated !== me) return;
  const epoch = s.serverEpoch + 1;
  if (s.keyFor(epoch) || s.rotation?.epoch === epoch) return;
  const gek = toBase64(generateGek());
  const recipients = [];
  for (const member of roster.members.values()) recipients.push({ fingerprint: member.fingerprint, key: await readPublicKey(member.publicKey) });
  const keys = await sealForMembers(ctx, s, epoch, gek, recipients, roster.head);
  // Escrowed copies of links we hold the secret of follow the key; the server retires the rest.
  const escrows: Escrow[] = [];
  for (const link of roster.links.values()) {
    const secret = s.record.linkSecrets[link.id];
    if (!link.active || !link.escrow || !secret || !mayReplaceEscrow(roster, me, link.by)) continue;
    const { wrapKey } = await deriveLinkKeys(fromBase64Url(secret));
    escrows.push(await escrowFor(ctx, s, link.id, wrapKey, epoch, gek));
  }
  s.rotation = { epoch, gek, rest: keys.slice(ROTATE_FIRST_KEYS) };
  if (!s.send({ type: 'rotate', epoch, keys: keys.slice(0, ROTATE_FIRST_KEYS), escrows: escrows.slice(0, ROTATE_ESCROWS) })) s.rotation = null;
}

/** The server says a rotation is due: give the member who removed someone a moment to do it, then step in if nobody did. */
export function rotateIfStillDue(ctx: RoomContext, s: RoomSession, anyone = false): void {
  const epoch = s.serverEpoch;
  setTimeout(
    () => {
      if (s.serverEpoch !== epoch || s.disposed) return;
      void s.run(() => maybeRotate(ctx, s, null, anyone));
      // Messages wait for the next epoch now, so the room cannot wait on a designated member who never starts it
      // (gone, or hostile): after a second grace any member still here does (the server takes the first).
      if (!anyone) rotateIfStillDue(ctx, s, true);
    },
    anyone ? 2 * ROTATION_GRACE_MS : ROTATION_GRACE_MS,
  );
}

/** The server moved the room to an epoch: if it is the one we proposed, our key becomes the room's and the other envelopes go out. */
export async function onEpoch(ctx: RoomContext, s: RoomSession, frame: Extract<RoomServerFrame, { type: 'epoch' }>): Promise<void> {
  s.serverEpoch = frame.epoch;
  const ours = s.rotation;
  if (ours && ours.epoch === frame.epoch && frame.by === ctx.me.identity.fingerprint) {
    s.adoptKey(ours.epoch, ours.gek);
    await s.save();
    sendKeys(s, ours.rest);
    await resealOutbox(ctx, s);
  }
  if (ours && ours.epoch <= frame.epoch) s.rotation = null;
  if (frame.rotationDue) {
    if (retireHeldEpochs(s)) await s.save();
    rotateIfStillDue(ctx, s);
  }
  ctx.emit({ type: 'state' });
}

/** Messages still unsent at an old epoch are sealed again with the room's current key (same id and counter). */
export async function resealOutbox(ctx: RoomContext, s: RoomSession): Promise<void> {
  const epoch = s.currentEpoch();
  const gek = s.keyFor(epoch);
  if (!gek || !maySendAt(s, epoch)) return;
  let changed = false;
  for (const item of s.record.outbox) {
    if (item.epoch >= epoch) continue;
    const old = s.keyFor(item.epoch);
    if (!old) continue;
    const binding = { room: s.id, epoch: item.epoch, from: ctx.me.identity.fingerprint, id: item.id };
    const payload = await openPayload(fromBase64(old), item.ct, binding, ctx.me.privateKey.toPublic()).catch(() => null);
    if (!payload) continue;
    const ct = await sealPayload(fromBase64(gek), { ...payload, epoch }, ctx.me.privateKey);
    s.edit((record) => {
      const held = record.outbox.find((o) => o.id === item.id);
      if (held) Object.assign(held, { ct, epoch });
    });
    changed = true;
    if (!item.failed) s.send({ type: 'msg', id: item.id, epoch, ct });
  }
  if (changed) await s.save();
}

/** Key envelopes delivered to us: each must come from a verified member, open with our key, and be meant for us in this room. */
export async function onKeys(ctx: RoomContext, s: RoomSession, envelopes: DeliveredKey[]): Promise<void> {
  const me = ctx.me.identity.fingerprint;
  const acked: string[] = [];
  for (const envelope of envelopes) {
    const sender = s.roster?.members.get(envelope.from);
    if (!sender || envelope.to !== me) {
      s.reject('key envelope from someone outside the verified membership');
      continue;
    }
    let payload: RoomKeyPayload | null;
    try {
      const plain = await openKeyEnvelope(envelope.ct, ctx.me.privateKey, await readPublicKey(sender.publicKey));
      payload = parsePayload(roomKeyPayloadSchema, fromUtf8(plain));
    } catch (error) {
      s.reject(`key envelope rejected: ${describe(error)}`);
      continue;
    }
    if (
      !payload ||
      payload.room !== s.id ||
      payload.from !== envelope.from ||
      payload.epoch !== envelope.epoch ||
      !s.roster ||
      !(await roomKeyIsFor(payload, me, [...s.record.chain], s.roster))
    ) {
      s.reject('key envelope does not match this room, epoch or recipient');
      continue;
    }
    if (!mayStartEpoch(s, sender, payload.epoch)) {
      // Left unacknowledged: a key we refuse is not one the server may count as delivered.
      s.reject(`a key for epoch ${payload.epoch} from ${sender.name}, who may not start a key epoch: no member left since the last one`);
      continue;
    }
    if (s.adoptKey(payload.epoch, payload.gek) === 'conflict') {
      // The first key for an epoch stays: a member cannot swap another member onto a key of their own.
      s.reject(`a different room key for epoch ${payload.epoch} from ${sender.name}; kept the one already held`);
      acked.push(envelope.kid);
      continue;
    }
    const name = payload.name;
    s.edit((record) => {
      if (!record.name) record.name = name;
      record.joining = null;
    });
    acked.push(envelope.kid);
  }
  await s.save();
  if (acked.length) s.send({ type: 'keys-ack', kids: acked });
  await resealOutbox(ctx, s);
  ctx.emit({ type: 'state' });
}

/** The server handed over the escrowed key: unwrap with the link secret, verify the signature of the link's creator. */
export async function onEscrow(ctx: RoomContext, s: RoomSession, frame: Extract<RoomServerFrame, { type: 'escrow' }>): Promise<void> {
  const joining = s.record.joining;
  const link = s.roster?.links.get(frame.link);
  if (!joining || joining.link !== frame.link || !link) return s.reject('escrowed key for a link we did not use');
  const roster = s.roster;
  const creator = roster?.members.get(link.by);
  if (!roster || !creator) return s.reject('escrowed key from someone outside the verified membership');
  // Sealed by the link's creator, or refreshed in a rotation by an admin (the only other members allowed to; see onRotate on the server).
  const signers = [creator, ...[...roster.members.values()].filter((m) => m.role === 'admin' && m.fingerprint !== creator.fingerprint)];
  let payload: EscrowPayload | null = null;
  let signer: Member | null = null;
  try {
    const wrapped = toBase64(await decryptFor(ctx.me.privateKey, frame.ct));
    const { wrapKey } = await deriveLinkKeys(fromBase64Url(joining.secret));
    let failure: unknown = null;
    for (const candidate of signers) {
      const plain = await openWithGek(wrapKey, wrapped, await readPublicKey(candidate.publicKey)).catch((error: unknown) => {
        failure ??= error;
        return null;
      });
      if (!plain) continue;
      payload = parsePayload(escrowPayloadSchema, fromUtf8(plain));
      signer = candidate;
      break;
    }
    if (!signer) throw failure ?? new Error('no signature of the link creator or an admin');
  } catch (error) {
    return s.reject(`escrowed key rejected: ${describe(error)}`);
  }
  if (!payload || !signer || payload.room !== s.id || payload.link !== frame.link || payload.from !== signer.fingerprint || payload.epoch !== frame.epoch) {
    return s.reject('escrowed key does not match this room, link or epoch');
  }
  if (signer !== creator && !mayReplaceEscrow(roster, signer.fingerprint, link.by)) return s.reject('escrowed key from someone who may not replace it');
  if (!mayStartEpoch(s, signer, payload.epoch)) return s.reject(`escrowed key for epoch ${payload.epoch} from ${signer.name}, who may not start a key epoch`);
  if (s.adoptKey(payload.epoch, payload.gek) === 'conflict') return s.reject(`a different escrowed room key for epoch ${payload.epoch}; kept the one already held`);
  const name = payload.name;
  s.edit((record) => {
    if (!record.name) record.name = name;
    record.joining = null;
  });
  await s.save();
  ctx.emit({ type: 'state' });
  ctx.emit({ type: 'room', roomId: s.id });
}
