/**
 * Private profiles: a member's display name never reaches the server in clear. Keys carry no name; each member
 * seals its own profile (name and signed time) under the room key and the server keeps the newest per member,
 * handing every member all of them after the welcome and each replacement as it comes. A member seals it again
 * under each new key epoch, so members who joined later (and hold only newer keys) can read it.
 *
 * What a receiver checks: the profile opens under the room key of the epoch it claims, is signed by the member
 * whose slot the server says it fills, names that member, this room and that epoch, and is newer than the profile
 * already held (a server serving an old profile again cannot rename anyone back). A profile for an epoch we hold
 * no key for yet waits until we do.
 */
import { openWithGek, readPublicKey, sealWithGek } from '@/shared/crypto';
import { fromBase64, fromUtf8, utf8 } from '@/shared/encoding';
import { parsePayload, profilePayloadSchema, type ProfilePayload } from '@/shared/payloads';
import type { SealedProfile } from '@/shared/protocol';
import { describe, type RoomContext } from './context';
import type { RoomSession } from './session';

/** A new connection: the server will say what it holds as our profile in the frame after its welcome. */
export function resetProfileState(s: RoomSession): void {
  s.profileOnServer = undefined;
}

/** The server's `profiles` frame: the whole set after the welcome, then single replacements. */
export async function onProfiles(ctx: RoomContext, s: RoomSession, profiles: SealedProfile[]): Promise<void> {
  if (s.profileOnServer === undefined) s.profileOnServer = null;
  for (const profile of profiles) s.sealedProfiles.set(profile.fp, profile);
  await refreshProfiles(ctx, s);
}

/**
 * Opens the profiles waiting for a key we now hold, then makes sure the server holds ours, sealed under the
 * newest epoch we may send under. Runs after every frame that can bring a key or a member.
 */
export async function refreshProfiles(ctx: RoomContext, s: RoomSession): Promise<void> {
  let renamed = false;
  for (const [fp, sealed] of s.sealedProfiles) {
    const gek = s.keyFor(sealed.epoch);
    if (!gek || !s.roster) continue;
    s.sealedProfiles.delete(fp);
    renamed = (await openProfile(ctx, s, sealed, gek)) || renamed;
  }
  if (renamed) {
    await s.save();
    ctx.emit({ type: 'room', roomId: s.id });
  }
  await publishProfile(ctx, s);
}

/** Checks and takes one sealed profile; true if it renamed someone. */
async function openProfile(ctx: RoomContext, s: RoomSession, sealed: SealedProfile, gek: string): Promise<boolean> {
  const me = ctx.me.identity.fingerprint;
  const member = s.roster?.members.get(sealed.fp);
  if (!member) return false; // not (or no longer) a member: nothing of theirs is shown
  let payload: ProfilePayload | null;
  try {
    const plain = await openWithGek(fromBase64(gek), sealed.ct, await readPublicKey(member.publicKey));
    payload = parsePayload(profilePayloadSchema, fromUtf8(plain));
  } catch (error) {
    if (sealed.fp !== me) s.reject(`profile of ${sealed.fp} does not open as theirs: ${describe(error)}`);
    return false;
  }
  if (!payload || payload.room !== s.id || payload.from !== sealed.fp || payload.epoch !== sealed.epoch) {
    if (sealed.fp !== me) s.reject(`profile of ${sealed.fp} names another room, member or epoch`);
    return false;
  }
  if (sealed.fp === me) {
    s.profileOnServer = { epoch: sealed.epoch, name: payload.name };
    return false;
  }
  const held = s.record.profiles?.[sealed.fp];
  if (held && held.ts >= payload.ts) return false; // the same profile again, or an older one a server replays
  s.adoptProfile(sealed.fp, { name: payload.name, ts: payload.ts });
  return true;
}

/** Seals our profile under the newest epoch we may send under, unless the server already holds exactly that. */
async function publishProfile(ctx: RoomContext, s: RoomSession): Promise<void> {
  const me = ctx.me.identity;
  if (s.profileOnServer === undefined || s.conn?.status !== 'ready' || s.record.removed || !s.roster?.members.has(me.fingerprint)) return;
  const epoch = s.currentEpoch();
  const gek = s.keyFor(epoch);
  if (!gek || epoch <= s.retiredEpoch) return; // wait for the next epoch's key
  const held = s.profileOnServer;
  if (held && held.epoch === epoch && held.name === me.name) return;
  const payload: ProfilePayload = { v: 1, t: 'profile', room: s.id, epoch, from: me.fingerprint, ts: ctx.now(), name: me.name };
  const ct = await sealWithGek(fromBase64(gek), utf8(JSON.stringify(payload)), ctx.me.privateKey);
  if (s.send({ type: 'profile', epoch, ct })) s.profileOnServer = { epoch, name: me.name };
}
