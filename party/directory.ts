/**
 * One identity's public directory entry and inbox, at /parties/directory/<fingerprint>.
 * The owner publishes its public key by proving possession of it; anyone may read the key
 * (GET); rooms drop "you were added to room R" pointers here (POST), which the owner's client
 * receives live or on its next connection and then verifies against the room's signed chain.
 */
import type * as Party from 'partykit/server';
import { AUTH_CONTEXT, MAX_PENDING_INVITES, PARTY_DIRECTORY } from '../shared/constants';
import { readPublicKey } from '../shared/crypto';
import { utf8 } from '../shared/encoding';
import {
  authChallengeText,
  directoryClientFrameSchema,
  fingerprintSchema,
  inviteRequestSchema,
  parseFrame,
  type DirectoryClientFrame,
  type DirectoryServerFrame,
  type InviteNotice,
} from '../shared/protocol';
import { directoryFrameText } from './frames';
import { clientAddress, CLOSE, json, PeerTable, preflight, sendText, verifyChallenge, type Peer } from './guard';

type Frame<T extends DirectoryClientFrame['type']> = Extract<DirectoryClientFrame, { type: T }>;

/** Sends one directory frame to one connection. */
function send(conn: Party.Connection, frame: DirectoryServerFrame): void {
  sendText(conn, directoryFrameText(frame));
}

export default class DirectoryServer implements Party.Server {
  private readonly peers = new PeerTable();
  private publicKey: string | null = null;
  private invites: InviteNotice[] = [];

  constructor(readonly room: Party.Room) {}

  async onStart(): Promise<void> {
    this.publicKey = (await this.room.storage.get<string>('key')) ?? null;
    this.invites = (await this.room.storage.get<InviteNotice[]>('invites')) ?? [];
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext): void {
    const peer = this.peers.add(conn, clientAddress(ctx.request));
    if (!peer) return; // over the connection caps: refused and closed
    if (!fingerprintSchema.safeParse(this.room.id).success) {
      this.peers.fail(peer, 'no-room', 'directory entries are addressed by a lowercase hex fingerprint', { close: CLOSE.noRoom });
      return;
    }
    send(conn, { type: 'challenge', nonce: peer.nonce, room: this.room.id });
  }

  onClose(conn: Party.Connection): void {
    this.peers.remove(conn);
  }

  async onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Party.Connection): Promise<void> {
    const peer = this.peers.get(conn);
    if (!peer) return;
    if (!this.peers.admit(peer)) return this.peers.fail(peer, 'rate-limited', 'too many frames; slow down');
    const parsed = parseFrame(directoryClientFrameSchema, raw);
    if (!parsed.ok) return this.peers.fail(peer, parsed.code, parsed.message);
    const frame = parsed.frame;
    try {
      if (frame.type === 'ping') return send(conn, { type: 'pong' });
      if (frame.type === 'auth') return await this.onAuth(peer, frame);
      if (!peer.fp) return this.peers.fail(peer, 'not-authenticated', 'authenticate before sending frames');
      if (frame.type === 'invite-ack') {
        this.invites = this.invites.filter((i) => i.room !== frame.room);
        await this.room.storage.put('invites', this.invites);
      }
    } catch (error) {
      console.error('directory frame failed', error);
      this.peers.fail(peer, 'internal', 'the server could not process this frame');
    }
  }

  async onRequest(req: Party.Request): Promise<Response> {
    // The extension's key look-up is a simple GET (no preflight); a preflight is answered for GET, the only cross-origin use.
    if (req.method === 'OPTIONS') return preflight('GET, OPTIONS');
    if (req.method === 'GET') {
      if (!this.publicKey) return json({ error: 'no key is published for this fingerprint' }, 404);
      return json({ fingerprint: this.room.id, publicKey: this.publicKey });
    }
    if (req.method === 'POST') {
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        return json({ error: 'body must be JSON' }, 400);
      }
      const parsed = inviteRequestSchema.safeParse(body);
      if (!parsed.success) return json({ error: 'body must be {type:"invite", room, by}' }, 400);
      const notice: InviteNotice = { room: parsed.data.room, by: parsed.data.by, ts: Date.now() };
      this.invites = [...this.invites.filter((i) => i.room !== notice.room), notice].slice(-MAX_PENDING_INVITES);
      await this.room.storage.put('invites', this.invites);
      const text = directoryFrameText({ type: 'invite', invite: notice });
      for (const p of this.peers.members) sendText(p.conn, text);
      return json({ ok: true }, 202);
    }
    return json({ error: 'method not allowed' }, 405);
  }

  private async onAuth(peer: Peer, frame: Frame<'auth'>): Promise<void> {
    if (peer.fp) return this.peers.fail(peer, 'bad-frame', 'this connection is already authenticated');
    if (frame.fp !== this.room.id) {
      return this.peers.fail(peer, 'auth-failed', 'you can only sign in to your own directory entry', { close: CLOSE.authFailed });
    }
    const armored = this.publicKey ?? frame.publicKey;
    if (!armored) return this.peers.fail(peer, 'auth-failed', 'publish your public key with the first sign-in', { close: CLOSE.authFailed });
    let key;
    try {
      key = await readPublicKey(armored);
    } catch {
      return this.peers.fail(peer, 'bad-frame', 'the public key cannot be read', { close: CLOSE.authFailed });
    }
    const challenge = utf8(authChallengeText(AUTH_CONTEXT, PARTY_DIRECTORY, this.room.id, peer.nonce));
    if (key.getFingerprint() !== this.room.id || !(await verifyChallenge(key, challenge, frame.sig))) {
      return this.peers.fail(peer, 'auth-failed', 'the challenge signature does not verify with this key', { close: CLOSE.authFailed });
    }
    if (!this.publicKey) {
      await this.room.storage.put('key', armored);
      this.publicKey = armored;
    }
    if (this.peers.authenticate(peer, frame.fp) === null) return; // closed meanwhile
    send(peer.conn, { type: 'welcome', you: frame.fp, invites: this.invites });
  }
}
