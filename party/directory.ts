/**
 * One identity's public directory entry and inbox, at /parties/directory/<fingerprint>.
 * The owner publishes its public key by proving possession of it; anyone may read the key (GET). An inviter
 * drops a signed "I added you to room R" notice here (POST, see inbox.ts for what is taken), which the owner's
 * client receives live or on its next connection, checks itself, and (from someone it does not know) shows as a
 * request before connecting anywhere.
 */
import type * as Party from 'partykit/server';
import { AUTH_CONTEXT, MAX_INVITE_CHARS, PARTY_DIRECTORY } from '../shared/constants';
import { readPublicKey, type PublicKey } from '../shared/crypto';
import { utf8 } from '../shared/encoding';
import {
  authChallengeText,
  directoryClientFrameSchema,
  fingerprintSchema,
  inviteRequestSchema,
  inviteSignedText,
  parseFrame,
  parseInviteFields,
  type DirectoryClientFrame,
  type DirectoryServerFrame,
  type InviteNotice,
} from '../shared/protocol';
import { directoryFrameText } from './frames';
import { clientAddress, CLOSE, json, PeerTable, preflight, sendText, verifyChallenge, type Peer } from './guard';
import { Inbox } from './inbox';

/** Senders' published keys this entry remembers (a published key never changes, so a remembered one stays right). */
const SENDER_KEY_CACHE = 256;

type Frame<T extends DirectoryClientFrame['type']> = Extract<DirectoryClientFrame, { type: T }>;

/** Sends one directory frame to one connection. */
function send(conn: Party.Connection, frame: DirectoryServerFrame): void {
  sendText(conn, directoryFrameText(frame));
}

export default class DirectoryServer implements Party.Server {
  /** The entry may leave memory between frames (hibernation): connections keep their state in their attachments (see PeerState). */
  readonly options: Party.ServerOptions = { hibernate: true };
  private readonly peers = new PeerTable();
  private publicKey: string | null = null;
  private readonly inbox: Inbox;
  private readonly senderKeys = new Map<string, PublicKey>();

  constructor(readonly room: Party.Room) {
    this.inbox = new Inbox(room.storage, room.id);
  }

  async onStart(): Promise<void> {
    this.publicKey = (await this.room.storage.get<string>('key')) ?? null;
    await this.inbox.load();
    // After a wake from hibernation: the open connections, as their attachments left them.
    this.peers.restore(this.room.getConnections());
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
    if (!this.peers.admit(peer)) return; // over its rate, or past its handshake deadline: told (and closed)
    const parsed = parseFrame(directoryClientFrameSchema, raw);
    if (!parsed.ok) return this.peers.fail(peer, parsed.code, parsed.message);
    const frame = parsed.frame;
    try {
      if (frame.type === 'ping') return send(conn, { type: 'pong' });
      if (frame.type === 'auth') return await this.onAuth(peer, frame);
      if (!peer.fp) return this.peers.fail(peer, 'not-authenticated', 'authenticate before sending frames');
      if (frame.type === 'invite-ack') await this.inbox.ack(frame.room);
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
    if (req.method === 'POST') return this.onInvite(req);
    if (req.method === 'PUT' && this.room.env.PARTYCHAT_TEST_HOOKS === '1') return this.testHook(req);
    return json({ error: 'method not allowed' }, 405);
  }

  /**
   * Only with PARTYCHAT_TEST_HOOKS=1 (POST is taken by invitations, so hooks are PUT): `{"hook":"hibernate"}` simulates
   * a hibernation and a wake as the room's hook does: the handshake timers stop, every field held in memory is
   * dropped (a fresh instance's fields over this one's), and `onStart` runs over the same storage and open sockets.
   */
  private async testHook(req: Party.Request): Promise<Response> {
    const body = (await req.json().catch(() => null)) as { hook?: string } | null;
    if (body?.hook !== 'hibernate') return json({ error: 'unknown hook' }, 400);
    this.peers.dispose();
    Object.assign(this, new DirectoryServer(this.room));
    await this.onStart();
    return json({ peers: this.peers.all().length, members: this.peers.members.size });
  }

  /**
   * An invitation notice. Only a fingerprint that published its key has an inbox (so junk ids hold nothing);
   * the notice must pass the inbox's checks (inbox.ts) and verify with the key its sender published.
   */
  private async onInvite(req: Party.Request): Promise<Response> {
    // The body is read before any answer: answering a request still being sent makes the runtime reset the connection.
    const text = await req.text();
    if (!fingerprintSchema.safeParse(this.room.id).success || !this.publicKey) {
      return json({ error: 'there is no inbox here: no key is published for this fingerprint' }, 404);
    }
    if (text.length > MAX_INVITE_CHARS + 512) return json({ error: 'the notice is too large' }, 413);
    let parsed;
    try {
      parsed = inviteRequestSchema.safeParse(JSON.parse(text));
    } catch {
      return json({ error: 'body must be JSON' }, 400);
    }
    const fields = parsed.success ? parseInviteFields(parsed.data.body) : null;
    if (!parsed.success || !fields) return json({ error: 'body must be {type:"invite", body, sig}: a signed notice' }, 400);
    const notice: InviteNotice = { room: fields.room, by: fields.by, ts: Date.now(), body: parsed.data.body, sig: parsed.data.sig };
    const early = this.inbox.refusal(fields, notice, notice.ts);
    if (early) return json({ error: early.error }, early.status);
    const key = await this.senderKey(fields.by);
    if (!key) return json({ error: 'the sender has not published a key' }, 403);
    if (!(await verifyChallenge(key, utf8(inviteSignedText(notice.body)), notice.sig))) {
      return json({ error: 'the signature does not verify with the key the sender published' }, 403);
    }
    const now = Date.now();
    const late = this.inbox.refusal(fields, notice, now);
    if (late) return json({ error: late.error }, late.status);
    await this.inbox.take(fields, notice, now);
    const frame = directoryFrameText({ type: 'invite', invite: notice });
    for (const p of this.peers.members) sendText(p.conn, frame);
    return json({ ok: true }, 202);
  }

  /** The key `fp` published in its own directory entry (asked of that entry), or null if none is. */
  private async senderKey(fp: string): Promise<PublicKey | null> {
    const known = this.senderKeys.get(fp);
    if (known) return known;
    if (fp === this.room.id && this.publicKey) return readPublicKey(this.publicKey);
    const entry = this.room.context.parties[PARTY_DIRECTORY];
    if (!entry) throw new Error('directory party is not configured');
    const res = await entry.get(fp).fetch({ method: 'GET' });
    if (!res.ok) return null;
    const body = (await res.json()) as { publicKey?: unknown };
    if (typeof body.publicKey !== 'string') return null;
    const key = await readPublicKey(body.publicKey).catch(() => null);
    if (!key || key.getFingerprint() !== fp) return null;
    if (this.senderKeys.size >= SENDER_KEY_CACHE) this.senderKeys.clear();
    this.senderKeys.set(fp, key);
    return key;
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
    send(peer.conn, { type: 'welcome', you: frame.fp, invites: this.inbox.notices });
  }
}
