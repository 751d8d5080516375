// A bench build of the room server: the shipped party/room.ts, unchanged, except that the per-connection
// token bucket admits every frame, so one sender can push the relay path to its limit. Used only by
// `npm run bench` (bench/relay.ts); the shipped limit (shared/constants.ts RATE_LIMIT_*) is untouched.
// Plain JS on purpose: the root type check does not follow it into party/ (which has its own tsconfig).
import RoomServer from '../../party/room';
import { PeerTable } from '../../party/guard';

if (typeof PeerTable.prototype.admit !== 'function') throw new Error('party/guard.ts no longer has PeerTable.admit; update bench/room-unlimited');
PeerTable.prototype.admit = function admitEverything() {
  return true;
};

export default RoomServer;
