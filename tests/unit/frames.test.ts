/**
 * The room's hot-path frames are spliced as text (party/frames.ts). Each one must be exactly the typed frame
 * it stands for: built text → JSON.parse → the schema clients validate with → deep-equal to that frame.
 */
import { ackText, directoryFrameText, presenceText, relayedText, roomFrameText, toJson, welcomeText } from '@/party/frames';
import {
  directoryServerFrameSchema,
  roomServerFrameSchema,
  type AckFrame,
  type DirectoryServerFrame,
  type PresenceFrame,
  type RelayedMessage,
  type RoomServerFrame,
  type WelcomeFrame,
} from '@/shared/protocol';

const ann = 'ab'.repeat(20);
const ben = 'cd'.repeat(32);
const room = 'ef'.repeat(16);
const id = '01'.repeat(16);
const link = '23'.repeat(16);
/** A record body is canonical JSON: quotes and backslashes that the splice must keep escaped. */
const record = { body: JSON.stringify({ v: 1, kind: 'genesis', room, by: ann, note: 'a "quoted" \\ path' }), sig: 'AAAA+/==' };

const relayed: RelayedMessage = { type: 'msg', seq: 42, id, epoch: 3, from: ann, ts: 1_717_171_717_171, ct: 'wcBMA+/x9==' };
const ack: AckFrame = { type: 'ack', id, seq: 42, ts: 1_717_171_717_171 };
const presence: PresenceFrame = { type: 'presence', online: [ann, ben] };
const welcome: WelcomeFrame = {
  type: 'welcome',
  room,
  mode: 'backup',
  epoch: 2,
  seq: 17,
  you: ben,
  chain: [record, record],
  online: [ann, ben],
  needKeys: [ben],
  requests: [{ fp: ben, key: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n', link, proof: 'AAAA', ts: 5 }],
  rotationDue: true,
};
const emptyWelcome: WelcomeFrame = { ...welcome, mode: 'ephemeral', epoch: 0, seq: 0, chain: [], online: [], needKeys: [], requests: [], rotationDue: false };

function spliceWelcome({ type: _type, chain, online, ...rest }: WelcomeFrame): string {
  return welcomeText({ ...rest, chain: toJson(chain), online: toJson(online) });
}

describe('room frames built as text', () => {
  it.each<[string, string, RoomServerFrame]>([
    ['relayed message', relayedText(relayed.seq, relayed.id, relayed.epoch, relayed.from, relayed.ts, relayed.ct), relayed],
    ['ack', ackText(ack.id, ack.seq, ack.ts), ack],
    ['presence', presenceText(toJson(presence.online)), presence],
    ['presence, nobody online', presenceText(toJson([])), { type: 'presence', online: [] }],
    ['welcome', spliceWelcome(welcome), welcome],
    ['welcome to an empty room', spliceWelcome(emptyWelcome), emptyWelcome],
    // The room passes `by: undefined` when nobody started the epoch; the key must not reach the text.
    ['epoch without its starter', roomFrameText({ type: 'epoch', epoch: 4, rotationDue: true, by: undefined }), { type: 'epoch', epoch: 4, rotationDue: true }],
    ['epoch with its starter', roomFrameText({ type: 'epoch', epoch: 4, rotationDue: false, by: ann }), { type: 'epoch', epoch: 4, rotationDue: false, by: ann }],
    ['chain update', roomFrameText({ type: 'chain', records: [record] }), { type: 'chain', records: [record] }],
  ])('%s parses back to the frame it stands for', (_name, text, frame) => {
    expect(roomServerFrameSchema.parse(JSON.parse(text))).toStrictEqual(frame);
    expect(Object.keys(JSON.parse(text) as object).sort()).toEqual(Object.keys(frame).sort());
  });

  it('would notice a splice that drifts from its frame', () => {
    // The check above can fail: a welcome spliced with another online set is not the welcome it claims to be.
    const drifted = welcomeText({ ...emptyWelcome, chain: toJson([]), online: toJson([ann]) });
    expect(roomServerFrameSchema.parse(JSON.parse(drifted))).not.toStrictEqual(emptyWelcome);
  });
});

describe('directory frames built as text', () => {
  it.each<[string, DirectoryServerFrame]>([
    ['invite', { type: 'invite', invite: { room, by: ann, ts: 9, body: '{"to":"…"}', sig: 'c2ln' } }],
    ['welcome', { type: 'welcome', you: ann, invites: [{ room, by: ben, ts: 9, body: '{"to":"…"}', sig: 'c2ln' }] }],
    ['challenge', { type: 'challenge', nonce: 'ff'.repeat(16), room: ann }],
  ])('%s parses back to the frame it stands for', (_name, frame) => {
    expect(directoryServerFrameSchema.parse(JSON.parse(directoryFrameText(frame)))).toStrictEqual(frame);
  });
});
