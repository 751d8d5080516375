/** Invite links: creating (with the key escrowed if asked), listing, revoking, and the join frame a link joiner signs in with. */
import { sealWithGek } from '@/shared/crypto';
import { fromBase64, sha256Hex, utf8 } from '@/shared/encoding';
import { deriveLinkKeys, formatLink, fromBase64Url, newLinkId, newLinkSecret, parseLink, sealJoinNote, sealLinkPreview, signJoinProof, toBase64Url, type ParsedLink } from '@/shared/links';
import { createJoinRecord, createRecord, type LinkState } from '@/shared/membership';
import type { JoinFrame } from '@/shared/protocol';
import type { CreateLinkOptions, LinkView } from '@/utils/protocol-map';
import type { Challenge } from '../connection';
import { UserFacingError } from '../errors';
import { sameHost, type PartyHost } from '../host';
import type { RoomContext } from './context';
import { escrowFor } from './keys';
import { appendChange } from './membership';
import type { RoomSession } from './session';
import { linkLabel } from './views';

/** Most characters of a link's label. */
const MAX_LABEL_CHARS = 80;

/**
 * Creates an invite link: a signed link record, plus the room key escrowed under the link secret if asked. Returns its id.
 * The record carries the link's preview (room name, our name, approval) sealed under the link secret, which whoever
 * holds the link reads before deciding to join, and the server can neither read nor forge.
 */
export async function createLink(ctx: RoomContext, s: RoomSession, options: CreateLinkOptions): Promise<string> {
  const roster = s.requireLinkCreator(ctx.me.identity.fingerprint);
  if (options.approval && options.escrow) {
    throw new UserFacingError('escrow-with-approval', 'a link that needs approval cannot let the server hold the key');
  }
  if (options.maxUses !== null && (!Number.isInteger(options.maxUses) || options.maxUses < 1)) {
    throw new UserFacingError('invalid-input', 'the use limit must be a whole number of at least 1');
  }
  const epoch = s.currentEpoch();
  const gek = s.keyFor(epoch);
  if (!gek) throw new UserFacingError('no-key', 'we do not hold the current room key');
  const secret = newLinkSecret();
  const keys = await deriveLinkKeys(secret);
  const id = newLinkId();
  const label = options.label.trim().slice(0, MAX_LABEL_CHARS);
  const record = await createRecord<'link'>(
    roster,
    {
      kind: 'link',
      link: id,
      pub: keys.publicKey,
      approval: options.approval,
      escrow: options.escrow,
      expires: options.expiresInMs === null ? null : ctx.now() + options.expiresInMs,
      uses: options.maxUses,
      label: label ? await sealWithGek(fromBase64(gek), utf8(label), ctx.me.privateKey) : null,
      preview: await sealLinkPreview(secret, s.id, id, { room: s.record.name, by: ctx.me.identity.name, approval: options.approval }),
    },
    ctx.me.privateKey,
    ctx.now(),
  );
  const escrow = options.escrow ? await escrowFor(ctx, s, id, keys.wrapKey, epoch, gek) : undefined;
  await s.run(async () => {
    s.edit((r) => void (r.linkSecrets[id] = toBase64Url(secret)));
    await s.save();
  });
  await s.awaitChange(record, { type: 'append', record, escrow }, ctx.confirmTimeoutMs);
  return id;
}

/** Admins see every link; a member allowed to create links sees their own. */
export async function listLinks(ctx: RoomContext, s: RoomSession): Promise<LinkView[]> {
  const me = ctx.me.identity.fingerprint;
  const roster = s.requireLinkCreator(me);
  const admin = roster.members.get(me)?.role === 'admin';
  const views: LinkView[] = [];
  for (const link of roster.links.values()) if (admin || link.by === me) views.push(await linkView(ctx, s, link));
  return views.sort((a, b) => b.createdAt - a.createdAt);
}

export async function revokeLink(ctx: RoomContext, s: RoomSession, linkId: string): Promise<void> {
  const roster = s.requireAdmin(ctx.me.identity.fingerprint);
  if (!roster.links.get(linkId)?.active) throw new UserFacingError('link-invalid', 'this link is not active');
  await appendChange<'link-revoke'>(ctx, s, { kind: 'link-revoke', link: linkId });
}

/** Kills every link of the room at once; the server deletes their escrowed keys. */
export async function resetLinks(ctx: RoomContext, s: RoomSession): Promise<void> {
  s.requireAdmin(ctx.me.identity.fingerprint);
  await appendChange<'links-reset'>(ctx, s, { kind: 'links-reset' });
}

async function linkView(ctx: RoomContext, s: RoomSession, link: LinkState): Promise<LinkView> {
  const secret = s.record.linkSecrets[link.id];
  const genesis = s.record.chain[0];
  const pin = genesis ? await sha256Hex(genesis.body) : null;
  const host = ctx.host();
  const now = ctx.now();
  return {
    id: link.id,
    url: secret && pin ? formatLink(host.host, host.secure, s.id, link.id, fromBase64Url(secret), pin) : null,
    label: await linkLabel(s, link),
    approval: link.approval,
    escrow: link.escrow,
    expires: link.expires,
    maxUses: link.maxUses,
    uses: link.uses,
    active: link.active && (link.expires === null || link.expires > now) && (link.maxUses === null || link.uses < link.maxUses),
    createdBy: s.roster?.members.get(link.by)?.name ?? '',
    createdAt: link.createdAt,
  };
}

/** The join frame a link joiner answers the challenge with: key, proof of the link secret, and a self-signed join record. */
export async function joinFrame(ctx: RoomContext, s: RoomSession, joining: { link: string; secret: string }, challenge: Challenge, sig: string): Promise<JoinFrame> {
  const me = ctx.me.identity;
  const keys = await deriveLinkKeys(fromBase64Url(joining.secret));
  const proof = await signJoinProof(keys, s.id, joining.link, me.fingerprint);
  const record = await createJoinRecord({ room: s.id, head: challenge.head ?? '', member: me.fingerprint, key: me.publicKey, link: joining.link, proof }, ctx.me.privateKey, ctx.now());
  // Our name for the admins who hold the link (the key carries none), sealed under the link's secret.
  const note = await sealJoinNote(fromBase64Url(joining.secret), s.id, joining.link, me.fingerprint, me.name);
  return { type: 'join', fp: me.fingerprint, sig, key: me.publicKey, link: joining.link, proof, record, note };
}

/** An invite link as pasted or captured, for the server this browser uses; it must pin its room's genesis. */
export function parseJoinLink(url: string, host: PartyHost): ParsedLink & { genesis: string } {
  const link = parseLink(url);
  if (!link) throw new UserFacingError('not-a-link', 'this is not a PartyChat invite link (or its # part is missing)');
  if (!sameHost(link.host, host.host)) {
    throw new UserFacingError('other-server', `this link is for the server ${link.host}; this browser uses ${host.host}. Change the server in settings to join.`);
  }
  // Without the pin a server could answer the link with a room of its own: an old link is refused, not trusted.
  if (link.genesis === null) throw new UserFacingError('link-outdated', 'this link was made by an older PartyChat and does not name its room; ask for a new link');
  return { ...link, genesis: link.genesis };
}

/** Marks a room as being joined through a link: the next sign-in sends the join frame (see router.ts). */
export function beginJoin(s: RoomSession, link: { link: string; secret: Uint8Array; genesis: string }): void {
  s.edit((r) => void (r.joining = { link: link.link, secret: toBase64Url(link.secret), genesis: link.genesis, state: 'joining', error: null }));
}
