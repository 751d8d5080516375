/**
 * A room's connection: signing in (as a member, as the creator, or as a link joiner), and where each
 * frame the server sends goes. Every frame runs in the room's queue; refusals and error frames end here.
 */
import { AUTH_CONTEXT, PARTY_ROOM } from '@/shared/constants';
import { signDetached } from '@/shared/crypto';
import { utf8 } from '@/shared/encoding';
import { authChallengeText, roomServerFrameSchema, type AuthFrame, type ErrorFrame, type JoinFrame, type RoomServerFrame } from '@/shared/protocol';
import type { UserErrorCode } from '@/utils/protocol-map';
import { PartyConnection } from '../connection';
import { UserFacingError } from '../errors';
import type { RoomContext } from './context';
import { answerNeedKeys, onEpoch, onEscrow, onKeys, resealOutbox } from './keys';
import { joinFrame } from './links';
import { onChain, onJoinRequest, onJoinResolved, onWelcome, setJoinState } from './membership';
import { ingest, onAck, onHistory, onMessageRefused, onPresence, onSyncReply, onSyncRequest, resendOutbox } from './messages';
import { onProfiles, refreshProfiles, resetProfileState } from './profiles';
import type { RoomSession } from './session';

/** Pause before resending the outbox after the server said we were over its rate. */
const RESEND_AFTER_MS = 1_500;

/** Server refusals of a join, as the UI names them. */
const JOIN_ERRORS: Partial<Record<string, UserErrorCode>> = {
  'link-invalid': 'link-invalid',
  'link-expired': 'link-expired',
  'link-used-up': 'link-used-up',
  'join-denied': 'join-denied',
  banned: 'banned',
  'bad-record': 'server',
  'auth-failed': 'server',
  'no-room': 'link-invalid',
  'requests-full': 'requests-full',
  'link-busy': 'link-busy',
};

/** Error frames that refuse the oldest membership change still waiting for confirmation. */
const CHANGE_REFUSALS = new Set(['bad-record', 'forbidden', 'room-full', 'bad-frame', 'stale-head']);

/** Signs a server's challenge for a party room (a chat room, or our directory entry). */
export function signChallenge(ctx: RoomContext, party: string, room: string, nonce: string): Promise<string> {
  return signDetached(ctx.me.privateKey, utf8(authChallengeText(AUTH_CONTEXT, party, room, nonce)));
}

/** Opens (or reopens) the room's connection. */
export function connectRoom(ctx: RoomContext, s: RoomSession): void {
  s.conn?.close();
  const me = ctx.me.identity;
  s.conn = new PartyConnection({
    target: { ...ctx.host(), party: PARTY_ROOM, room: s.id },
    openSocket: ctx.openSocket,
    schema: roomServerFrameSchema,
    authenticate: async (challenge): Promise<AuthFrame | JoinFrame> => {
      const sig = await signChallenge(ctx, PARTY_ROOM, s.id, challenge.nonce);
      const joining = s.record.joining;
      if (joining && !s.roster?.members.has(me.fingerprint)) return joinFrame(ctx, s, joining, challenge, sig);
      const genesis = s.record.pendingGenesis;
      return { type: 'auth', fp: me.fingerprint, sig, genesis: genesis ? { ...genesis } : undefined };
    },
    onFrame: (frame) => route(ctx, s, frame),
    onStatus: (status, error) => {
      if (status !== 'ready') s.online.clear();
      if (status === 'refused' && error) void onRefused(ctx, s, error);
      ctx.emit({ type: 'room', roomId: s.id });
    },
  });
}

/** Where each frame goes; all but presence and a resolved join request wait their turn in the room's queue. */
export function route(ctx: RoomContext, s: RoomSession, frame: RoomServerFrame): Promise<void> | void {
  switch (frame.type) {
    case 'welcome':
      resetProfileState(s);
      return s.run(() => onWelcome(ctx, s, frame));
    case 'chain':
      return s.run(() => onChain(ctx, s, frame.records).then(() => refreshProfiles(ctx, s)));
    case 'keys':
      return s.run(() => onKeys(ctx, s, frame.envelopes).then(() => refreshProfiles(ctx, s)));
    case 'profiles':
      return s.run(() => onProfiles(ctx, s, frame.profiles));
    case 'msg':
      return s.run(() => ingest(ctx, s, frame, 'live'));
    case 'history':
      return s.run(() => onHistory(ctx, s, frame));
    case 'sync-request':
      return s.run(() => onSyncRequest(ctx, s, frame.from, frame.since, frame.before));
    case 'sync-reply':
      return s.run(() => onSyncReply(ctx, s, frame.from, frame.messages, frame.page));
    case 'ack':
      return s.run(() => onAck(ctx, s, frame.id, frame.seq, frame.ts));
    case 'presence':
      return onPresence(ctx, s, frame.online);
    case 'error':
      return onServerError(ctx, s, frame);
    case 'join-pending':
      return s.run(() => setJoinState(ctx, s, frame.reason === 'approval' ? 'pending-approval' : 'waiting-member'));
    case 'escrow':
      return s.run(() => onEscrow(ctx, s, frame).then(() => refreshProfiles(ctx, s)));
    case 'need-key':
      return s.run(() => answerNeedKeys(ctx, s, frame.members));
    case 'epoch':
      return s.run(() => onEpoch(ctx, s, frame).then(() => refreshProfiles(ctx, s)));
    case 'join-request':
      return s.run(() => onJoinRequest(ctx, s, frame.request, true));
    case 'join-resolved':
      return onJoinResolved(ctx, s, frame.member);
  }
}

/** The server refused the connection for good (see FATAL in connection.ts). */
async function onRefused(ctx: RoomContext, s: RoomSession, error: ErrorFrame): Promise<void> {
  // We created the room but missed the server's welcome: it exists now, so sign in as a member.
  if (error.code === 'room-exists' && s.record.pendingGenesis) {
    await s.run(async () => {
      s.edit((r) => void (r.pendingGenesis = null));
      await s.save();
    });
    s.conn?.retry();
    return;
  }
  if (error.code === 'removed') {
    await s.run(async () => {
      s.edit((r) => void (r.removed = true));
      await s.save();
    });
    ctx.emit({ type: 'state' });
    return;
  }
  if (error.code === 'stale-head' && s.record.joining) {
    s.conn?.retry();
    return;
  }
  if (s.record.joining) {
    const code = JOIN_ERRORS[error.code] ?? 'server';
    await s.run(async () => {
      s.edit((r) => {
        if (r.joining) r.joining = { ...r.joining, state: 'failed', error: { code, message: error.message } };
      });
      await s.save();
    });
    ctx.emit({ type: 'state' });
    return;
  }
  ctx.onRejected(s.id, `server refused the connection: ${error.code}`);
}

/** An error frame on a live connection: re-seal, resend later, or fail the change it refused. */
function onServerError(ctx: RoomContext, s: RoomSession, frame: ErrorFrame): void {
  console.warn(`room ${s.id} error:`, frame.code, frame.message);
  if (frame.code === 'bad-epoch' && frame.ref) void s.run(() => resealOutbox(ctx, s));
  // Over the server's rate: what was dropped is still in the outbox; send it again shortly (the server drops duplicates).
  if (frame.code === 'rate-limited' && !s.resendTimer) {
    s.resendTimer = setTimeout(() => {
      s.resendTimer = null;
      resendOutbox(s);
    }, RESEND_AFTER_MS);
  }
  // The backup is full: the room says why; the refused message shows failed, with Retry (see onMessageRefused).
  if (frame.code === 'backup-full' && !s.backupFull) {
    s.backupFull = true;
    ctx.emit({ type: 'state' });
  }
  // A message it refused for a reason a resend does not fix is marked failed (see onMessageRefused).
  const failure = { code: frame.code, message: frame.message };
  if (frame.ref || !CHANGE_REFUSALS.has(frame.code)) void s.run(() => onMessageRefused(ctx, s, frame.ref, failure));
  else s.failOldestChange(new UserFacingError(frame.code === 'forbidden' ? 'not-admin' : 'server', frame.message));
}
