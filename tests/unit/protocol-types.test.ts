/**
 * Compile-time guards: the frame types stay exactly what the schemas say, and the edges that send them stay
 * typed, so a frame type cannot silently widen to `unknown`. `npm run compile` (vue-tsc) checks these; at run
 * time `expectTypeOf` does nothing, so each assertion here fails the type check, not the test run.
 */
import { ackText, relayedText, welcomeText, type Json } from '@/party/frames';
import type { Challenge, PartyConnection } from '@/services/connection';
import type {
  AuthFrame,
  DirectoryAuthFrame,
  DirectoryClientFrame,
  DirectoryServerFrame,
  JoinFrame,
  PreviewFrame,
  MsgFrame,
  RoomClientFrame,
  RoomClientFrameOf,
  RoomServerFrame,
  RoomServerFrameOf,
  SignedRecord,
} from '@/shared/protocol';

type RoomConnection = PartyConnection<RoomServerFrame, RoomClientFrame>;
type DirectoryConnection = PartyConnection<DirectoryServerFrame, DirectoryClientFrame>;

describe('frame types', () => {
  it('a client msg frame has exactly the schema fields', () => {
    expectTypeOf<MsgFrame>().toEqualTypeOf<{ type: 'msg'; id: string; epoch: number; ct: string }>();
    expectTypeOf<RoomClientFrameOf<'msg'>>().toEqualTypeOf<MsgFrame>();
  });

  it('a relayed msg and an ack have exactly the schema fields', () => {
    expectTypeOf<RoomServerFrameOf<'msg'>>().toEqualTypeOf<{ type: 'msg'; seq: number; id: string; epoch: number; from: string; ts: number; ct: string }>();
    expectTypeOf<RoomServerFrameOf<'ack'>>().toEqualTypeOf<{ type: 'ack'; id: string; seq: number; ts: number }>();
  });

  it('the auth and join frames have exactly the schema fields', () => {
    expectTypeOf<AuthFrame>().toEqualTypeOf<{ type: 'auth'; fp: string; sig: string; genesis?: SignedRecord | undefined }>();
    expectTypeOf<JoinFrame>().toEqualTypeOf<{ type: 'join'; fp: string; sig: string; key: string; link: string; proof: string; record: SignedRecord; note?: string | undefined }>();
    // A previewer says nothing about itself: a link and a proof of its secret.
    expectTypeOf<PreviewFrame>().toEqualTypeOf<{ type: 'preview'; link: string; proof: string }>();
    expectTypeOf<DirectoryAuthFrame>().toEqualTypeOf<{ type: 'auth'; fp: string; sig: string; publicKey?: string | undefined }>();
  });

  it('the unions are unions of known frames, not unknown or any', () => {
    expectTypeOf<RoomClientFrame>().not.toBeUnknown();
    expectTypeOf<RoomClientFrame>().not.toBeAny();
    expectTypeOf<RoomServerFrame>().not.toBeAny();
    expectTypeOf<RoomClientFrame['type']>().toEqualTypeOf<
      'auth' | 'join' | 'preview' | 'msg' | 'append' | 'rotate' | 'keys' | 'join-deny' | 'history' | 'sync-request' | 'sync-reply' | 'keys-ack' | 'profile' | 'ping'
    >();
    expectTypeOf<DirectoryClientFrame['type']>().toEqualTypeOf<'auth' | 'invite-ack' | 'ping'>();
    expectTypeOf<DirectoryServerFrame['type']>().toEqualTypeOf<'challenge' | 'welcome' | 'invite' | 'error' | 'pong'>();
  });
});

describe('typed edges', () => {
  it('a room connection sends room client frames and answers a challenge with auth or join', () => {
    expectTypeOf<Parameters<RoomConnection['send']>[0]>().toEqualTypeOf<RoomClientFrame>();
    expectTypeOf<Parameters<DirectoryConnection['send']>[0]>().toEqualTypeOf<DirectoryClientFrame>();
    expectTypeOf<RoomConnection['send']>().parameter(0).not.toBeUnknown();
    // A frame of the other protocol, or with a misspelt field, is refused.
    expectTypeOf<{ type: 'invite-ack'; room: string }>().not.toMatchTypeOf<Parameters<RoomConnection['send']>[0]>();
    expectTypeOf<{ type: 'msg'; id: string; epoch: number; text: string }>().not.toMatchTypeOf<Parameters<RoomConnection['send']>[0]>();
  });

  it('the authenticate option returns an answer frame of the connection protocol', () => {
    type RoomOptions = ConstructorParameters<typeof PartyConnection<RoomServerFrame, RoomClientFrame>>[0];
    type DirectoryOptions = ConstructorParameters<typeof PartyConnection<DirectoryServerFrame, DirectoryClientFrame>>[0];
    expectTypeOf<RoomOptions['authenticate']>().toEqualTypeOf<(challenge: Challenge) => Promise<AuthFrame | JoinFrame>>();
    expectTypeOf<DirectoryOptions['authenticate']>().toEqualTypeOf<(challenge: Challenge) => Promise<DirectoryAuthFrame>>();
  });

  it('the server text builders take the schema field types', () => {
    expectTypeOf(relayedText).parameters.toEqualTypeOf<[number, string, number, string, number, string]>();
    expectTypeOf(ackText).parameters.toEqualTypeOf<[string, number, number]>();
    expectTypeOf(welcomeText).parameter(0).toHaveProperty('chain').toEqualTypeOf<Json<SignedRecord[]>>();
    // Plain strings are not spliced in: only text made by toJson from a value of the field's type.
    expectTypeOf<string>().not.toMatchTypeOf<Json<SignedRecord[]>>();
  });
});
