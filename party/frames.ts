/**
 * Every frame the parties send, as text, typed by the schemas in shared/protocol.ts. Most are a typed frame
 * through JSON.stringify; the frames a room sends most often are spliced as text instead (the relayed message
 * and its ack once per message, the presence frame once per change, the welcome around the serialized chain).
 * Their parameters are typed from the schema types, so renaming a field fails the compile here, and
 * tests/unit/frames.test.ts parses each one back through the schema.
 */
import type { AckFrame, DirectoryServerFrame, PresenceFrame, RelayedMessage, RoomServerFrame, WelcomeFrame } from '../shared/protocol';

/** The JSON text of a `T`, made by `toJson`: a piece known to have the shape of the field it is spliced into. */
export type Json<T> = string & { readonly __json: T };

export function toJson<T>(value: T): Json<T> {
  return JSON.stringify(value) as Json<T>;
}

export function roomFrameText(frame: RoomServerFrame): string {
  return JSON.stringify(frame);
}

export function directoryFrameText(frame: DirectoryServerFrame): string {
  return JSON.stringify(frame);
}

/**
 * A member's envelope as the room relays it. Ids, fingerprints and ct arrive validated as hex or base64
 * (nothing to escape), so the frame is built as text, once per message.
 */
export function relayedText(
  seq: RelayedMessage['seq'],
  id: RelayedMessage['id'],
  epoch: RelayedMessage['epoch'],
  from: RelayedMessage['from'],
  ts: RelayedMessage['ts'],
  ct: RelayedMessage['ct'],
): string {
  return `{"type":"msg","seq":${seq},"id":"${id}","epoch":${epoch},"from":"${from}","ts":${ts},"ct":"${ct}"}`;
}

/** The sender's acknowledgement of a relayed (or already relayed) message id (a validated hex id). */
export function ackText(id: AckFrame['id'], seq: AckFrame['seq'], ts: AckFrame['ts']): string {
  return `{"type":"ack","id":"${id}","seq":${seq},"ts":${ts}}`;
}

/** The online set, serialized once per change and shared by the presence frame and every welcome. */
export function presenceText(online: Json<PresenceFrame['online']>): string {
  return `{"type":"presence","online":${online}}`;
}

/** A frame's fields without its `type`, those named `K` as JSON text already made. */
export type Spliced<F extends { type: string }, K extends keyof F> = Omit<F, K | 'type'> & { [P in K]: Json<F[P]> };

/** The welcome: the serialized chain (built once per change) and online set (once per presence change) spliced in. */
export function welcomeText({ chain, online, ...rest }: Spliced<WelcomeFrame, 'chain' | 'online'>): string {
  const head: Omit<WelcomeFrame, 'chain' | 'online'> = { type: 'welcome', ...rest };
  return `${JSON.stringify(head).slice(0, -1)},"chain":${chain},"online":${online}}`;
}
