/**
 * What an invite link says about its room, asked before joining and without saying who asks. A one-off
 * connection answers the room's challenge with a proof of the link secret over its nonce (no fingerprint,
 * no key, no name); the server answers with the link's sealed preview from its signed record and its own
 * word on approval and the member count. The sealed part (room name, creator's name, approval) opens only
 * with the link secret and is bound to the room and link, so the server can neither read nor forge it: a
 * preview that does not open, or a server whose word on approval differs from it, is refused as forged.
 */
import { MAX_SERVER_FRAME_CHARS, PARTY_ROOM } from '@/shared/constants';
import { deriveLinkKeys, openLinkPreview, signPreviewProof, type ParsedLink } from '@/shared/links';
import { parseFrame, roomServerFrameSchema, type ErrorFrame, type LinkPreviewFrame, type PreviewFrame } from '@/shared/protocol';
import type { LinkPreviewView, UserErrorCode } from '@/utils/protocol-map';
import type { SocketFactory } from '../connection';
import { UserFacingError } from '../errors';
import type { PartyHost } from '../host';

/** How long a preview waits for the server. */
const PREVIEW_TIMEOUT_MS = 10_000;

/** Refusals a person can act on keep their code; anything else is the server's fault. */
const PASSED_ON: UserErrorCode[] = ['link-invalid', 'link-expired', 'link-used-up'];

function refusal(frame: ErrorFrame): UserFacingError {
  if (frame.code === 'no-room') return new UserFacingError('link-invalid', 'no room exists for this link');
  const code = PASSED_ON.find((c) => c === frame.code) ?? 'server';
  return new UserFacingError(code, frame.message);
}

/** Asks the link's room for its preview over a connection of its own, which is closed once answered. */
export async function askPreview(openSocket: SocketFactory, host: PartyHost, link: ParsedLink, timeoutMs = PREVIEW_TIMEOUT_MS): Promise<LinkPreviewFrame> {
  const keys = await deriveLinkKeys(link.secret);
  return new Promise((resolve, reject) => {
    const socket = openSocket({ host: host.host, secure: host.secure, party: PARTY_ROOM, room: link.room });
    let done = false;
    const finish = (outcome: { frame: LinkPreviewFrame } | { error: UserFacingError }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close(1000, 'preview done');
      if ('frame' in outcome) resolve(outcome.frame);
      else reject(outcome.error);
    };
    const timer = setTimeout(() => finish({ error: new UserFacingError('offline', 'the server did not answer the link preview') }), timeoutMs);
    socket.addEventListener('message', (event) => {
      const parsed = parseFrame(roomServerFrameSchema, event.data, MAX_SERVER_FRAME_CHARS);
      if (!parsed.ok || done) return;
      const frame = parsed.frame;
      if (frame.type === 'challenge') {
        void signPreviewProof(keys, link.room, link.link, frame.nonce).then((proof) => {
          const ask: PreviewFrame = { type: 'preview', link: link.link, proof };
          if (!done) socket.send(JSON.stringify(ask));
        });
      } else if (frame.type === 'link-preview') {
        finish({ frame });
      } else if (frame.type === 'error') {
        finish({ error: refusal(frame) });
      }
    });
  });
}

/** Checks the server's answer against the link and opens the sealed part. */
export async function previewView(link: ParsedLink, frame: LinkPreviewFrame): Promise<LinkPreviewView> {
  const forged = () => new UserFacingError('preview-forged', "the server's description of this link does not match the link; do not trust this server");
  if (frame.link !== link.link) throw forged();
  const base = { roomId: link.room, members: frame.members, member: false };
  if (frame.preview === null) return { ...base, roomName: null, createdBy: null, approval: frame.approval, sealed: false };
  const sealed = await openLinkPreview(link.secret, link.room, link.link, frame.preview);
  if (!sealed || sealed.approval !== frame.approval) throw forged();
  return { ...base, roomName: sealed.room, createdBy: sealed.by, approval: sealed.approval, sealed: true };
}
