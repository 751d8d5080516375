/**
 * A hostile member for attack tests: a real member of a room (its keys came through the product, see
 * `turnMalicious`) that speaks the wire protocol by hand and sends what the UI never would: messages it seals
 * itself with chosen payload fields, key envelopes to chosen recipients, sync replies with chosen envelopes and
 * `seq` values, membership records it signs itself. All cryptography is the product's own (`shared/`).
 */
import { PARTY_ROOM } from '@/shared/constants';
import { readPublicKey, sealKeyEnvelope, sealWithGek, signDetached, type PrivateKey, type PublicKey } from '@/shared/crypto';
import { fromBase64, randomHex, utf8 } from '@/shared/encoding';
import { sealMessage } from '@/shared/message-envelope';
import type { MessageHeader } from '@/shared/message-seal';
import { createRecord, verifyChainPrefix, type RecordBody, type RecordFields, type Roster } from '@/shared/membership';
import type { MessagePayload, RoomKeyPayload, TextPayload } from '@/shared/payloads';
import type { Envelope, KeyEnvelope, SignedRecord } from '@/shared/protocol';
import { identityKeyOf, storedRoom, type TestClient } from '../node-client';
import { rawSocket, signIn, type RawSocket } from '../raw-socket';

/** A message payload (a text by default, or an action: `t`, `target`…) with any field chosen; whatever is left out gets the honest value. */
export type TextFields = Partial<Omit<TextPayload, 't'>> & { t?: MessagePayload['t'] } & Record<string, unknown>;
/** A room key payload with any field chosen (`to` or `head`, `gek`, `epoch`…). */
export type RoomKeyFields = Partial<RoomKeyPayload> & Record<string, unknown>;

export interface SealedText {
  payload: TextFields;
  id: string;
  epoch: number;
  ct: string;
}

export class MaliciousMember {
  socket: RawSocket | null = null;
  /** The welcome of the last `connect`. */
  welcome: Record<string, unknown> | null = null;
  /** The next counter `seal` uses when none is chosen (continues the real device's counter). */
  ctr: number;

  constructor(
    readonly fp: string,
    readonly name: string,
    readonly key: PrivateKey,
    readonly publicKey: string,
    /** The device id of the browser whose keys these are. */
    readonly device: string,
    readonly roomId: string,
    /** Room keys by epoch, base64, as the member holds them. */
    readonly keys: Record<string, string>,
    lastCtr: number,
    /** Where `connect` goes: the real server, or a lying server in front of it. */
    readonly host: string,
  ) {
    this.ctr = lastCtr + 1;
  }

  /** Signs in on a raw socket as this member (answers the challenge with the real key); resolves with the welcome. */
  async connect(host = this.host): Promise<Record<string, unknown>> {
    this.socket?.close();
    const socket = await rawSocket(host, PARTY_ROOM, this.roomId);
    this.socket = socket;
    await signIn(socket, this.roomId, this.fp, this.key);
    this.welcome = await socket.next('welcome');
    return this.welcome;
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  gek(epoch = 0): Uint8Array {
    const gek = this.keys[String(epoch)];
    if (!gek) throw new Error(`${this.name} holds no room key for epoch ${epoch}`);
    return fromBase64(gek);
  }

  /**
   * Seals a text payload with the room key and signs it with our key; every field may be chosen (`sealEpoch`: the key
   * used). Format v1 (what the extension sends) unless `format: 'openpgp'` (the older format, which members still open).
   * In v1 the signed header (room, epoch, sender, device, counter, id) is by default what the envelope will say when we
   * send it (this room, `sealEpoch`, us), so a forged payload field gets past decryption to the receiver's payload
   * checks; `header` chooses any of it (a header for another room, epoch, sender or id).
   */
  async seal(fields: TextFields = {}, options: { sealEpoch?: number; signer?: PrivateKey; format?: 'v1' | 'openpgp'; header?: Partial<MessageHeader> } = {}): Promise<SealedText> {
    const payload: TextFields = {
      v: 1,
      t: 'text',
      room: this.roomId,
      epoch: 0,
      from: this.fp,
      dev: this.device,
      ctr: fields.ctr ?? this.ctr++,
      id: randomHex(16),
      ts: Date.now(),
      text: 'hello',
      ...fields,
    };
    const epoch = options.sealEpoch ?? (typeof payload.epoch === 'number' ? payload.epoch : 0);
    const bytes = utf8(JSON.stringify(payload));
    const signer = options.signer ?? this.key;
    const header: MessageHeader = {
      room: this.roomId,
      epoch,
      from: this.fp,
      dev: String(payload.dev),
      ctr: typeof payload.ctr === 'number' && Number.isSafeInteger(payload.ctr) && payload.ctr >= 0 ? payload.ctr : 0,
      id: String(payload.id),
      ...options.header,
    };
    const ct = options.format === 'openpgp' ? await sealWithGek(this.gek(epoch), bytes, signer) : await sealMessage(this.gek(epoch), header, bytes, signer);
    return { payload, id: String(payload.id), epoch, ct };
  }

  /** Sends a sealed message as a `msg` frame (envelope id and epoch may differ from the payload's); waits for the server's ack. */
  async send(sealed: SealedText, envelope: { id?: string; epoch?: number } = {}): Promise<Record<string, unknown>> {
    const socket = this.requireSocket();
    const id = envelope.id ?? sealed.id;
    socket.send({ type: 'msg', id, epoch: envelope.epoch ?? sealed.epoch, ct: sealed.ct });
    return socket.next('ack');
  }

  /** An envelope as a relay or a peer would hand it over, with a chosen `seq` (and any other field). */
  envelope(sealed: SealedText, fields: Partial<Envelope> = {}): Envelope {
    return { seq: 1, id: sealed.id, epoch: sealed.epoch, from: this.fp, ts: Date.now(), ct: sealed.ct, ...fields };
  }

  /** Sends a `sync-reply` to a member with envelopes of our choosing (the server relays it as from us). */
  syncReply(to: string, messages: Envelope[]): void {
    this.requireSocket().send({ type: 'sync-reply', to, messages });
  }

  /** Seals a room key payload (fields chosen) to `recipient`'s public key, signed by us: the `ct` of a key envelope. */
  async sealRoomKey(recipient: PublicKey | string, fields: RoomKeyFields): Promise<string> {
    const payload: RoomKeyFields = { v: 1, t: 'room-key', room: this.roomId, epoch: 0, from: this.fp, gek: this.keys['0'] ?? '', name: 'room', mode: 'ephemeral', ...fields };
    const key = typeof recipient === 'string' ? await readPublicKey(recipient) : recipient;
    return sealKeyEnvelope(utf8(JSON.stringify(payload)), key, this.key);
  }

  /** Sends key envelopes as a `keys` frame. */
  sendKeys(keys: KeyEnvelope[]): void {
    this.requireSocket().send({ type: 'keys', keys });
  }

  /** The roster our last welcome's chain proves (its verified prefix). */
  async roster(): Promise<Roster> {
    const chain = (this.welcome?.chain ?? []) as SignedRecord[];
    return (await verifyChainPrefix(this.roomId, chain)).roster;
  }

  /** A membership record extending `roster` (default: the welcome's), signed by us whatever authority it needs. */
  async signRecord<K extends Exclude<RecordBody['kind'], 'genesis'>>(fields: RecordFields<K>, roster?: Roster): Promise<SignedRecord> {
    return createRecord<K>(roster ?? (await this.roster()), fields, this.key);
  }

  /** Signs any record body we like (e.g. one that claims another signer in `by`). */
  async signBody(body: Record<string, unknown>): Promise<SignedRecord> {
    const text = JSON.stringify(body);
    return { body: text, sig: await signDetached(this.key, utf8(text)) };
  }

  /** Sends an `append` frame with a record (and key envelopes) of our making. */
  append(record: SignedRecord, keys?: KeyEnvelope[]): void {
    this.requireSocket().send({ type: 'append', record, ...(keys ? { keys } : {}) });
  }

  private requireSocket(): RawSocket {
    if (!this.socket) throw new Error(`${this.name} is not connected: call connect() first`);
    return this.socket;
  }
}

/**
 * Turns a client that joined a room through the product into a malicious member: its ChatService stops
 * (closes every connection) and its identity key, device id, room keys and counter are taken over.
 * `host` is where `connect` goes (default: the client's server).
 */
export async function turnMalicious(client: TestClient, roomId: string, host: string): Promise<MaliciousMember> {
  const state = await client.chat.getState();
  const me = state.me;
  if (!me) throw new Error('the client must be onboarded and unlocked before it turns malicious');
  await client.chat.settled();
  client.chat.closeAll();
  const key = await identityKeyOf(client);
  const room = await storedRoom(client, roomId);
  if (!room.keys['0']) throw new Error('the client holds no room key yet: wait for hasKey before turning it malicious');
  const device = (await client.local.get('device')) ?? '';
  return new MaliciousMember(me.fingerprint, me.name, key, key.toPublic().armor(), device, roomId, { ...room.keys }, room.myCtr, host);
}

/** The public key the directory publishes for a fingerprint (as the product looks it up). */
export async function publishedKey(host: string, fp: string): Promise<string> {
  const res = await fetch(`http://${host}/parties/directory/${fp}`);
  if (!res.ok) throw new Error(`no published key for ${fp}: ${res.status}`);
  return ((await res.json()) as { publicKey: string }).publicKey;
}
