/**
 * What a member may read: since when, under the room's settings and the verified chain. Peers ask this
 * before they hand a member messages (ephemeral sync), so a newcomer gets only what was sent after it
 * joined, unless the room shares earlier history (issue 9, attack 4).
 *
 * Why the signed times. A message's `seq` is the server's and is not signed, and the chain's records carry
 * no seq at all, so seq can place neither side. Joining does not start a key epoch, so the epoch cannot
 * tell messages before a join from those after it. What both sides do carry is a signed time: the sender
 * signs `ts` inside the message payload, and the add/join record that admitted the member is signed with
 * its `ts`. So a member may read a message whose payload `ts` is at or after its admission. An honest
 * sender's clock running behind can withhold a message sent just after the join from the sync (the member
 * still receives it live); it never hands over one sent before.
 *
 * A link joiner signs its own join record and so picks its `ts`: the honest server refuses one far from
 * now, but a lying one would not. The time of admission is therefore never earlier than any record before
 * it in the chain that someone other than a joiner or leaver signed (genesis, adds, links, settings…):
 * a record that follows them was made after them.
 */
import { parseRecordBody, type RecordBody, type Roster } from '@/shared/membership';
import type { SignedRecord } from '@/shared/protocol';
import type { StoredMessage } from '../records';
import type { DeepReadonly } from './session';

/** Records signed by the member they are about (self-signed): their `ts` is that member's own clock. */
const SELF_SIGNED: ReadonlySet<RecordBody['kind']> = new Set(['join', 'leave']);

/**
 * The earliest signed message time `member` may read under the room's current settings: 0 when the room
 * shares earlier history; the time of its (latest) admission otherwise; null if it is not a member.
 */
export function readableSince(chain: DeepReadonly<SignedRecord[]>, roster: Roster, member: string): number | null {
  if (!roster.members.has(member)) return null;
  if (roster.settings.shareHistory) return 0;
  let floor = 0;
  let admitted: number | null = null;
  for (const record of chain) {
    const body = parseRecordBody(record);
    const admits = (body.kind === 'add' || body.kind === 'join') && body.member === member;
    if (admits) admitted = Math.max(floor, body.ts);
    // The creator was there from the start: its genesis admits it.
    else if (body.kind === 'genesis' && body.by === member) admitted = body.ts;
    if (!SELF_SIGNED.has(body.kind)) floor = Math.max(floor, body.ts);
  }
  // A member the roster holds is admitted by some record of the verified chain; if not, nothing is readable.
  return admitted ?? Number.POSITIVE_INFINITY;
}

/** Whether a message we hold may go to `member`, who may read from `since` on: its own, or signed at or after `since`. */
export function mayRead(message: Pick<StoredMessage, 'from' | 'ts'>, member: string, since: number): boolean {
  return message.from === member || message.ts >= since;
}
