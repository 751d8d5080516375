// What-if build for the benchmarks: the shipped party/room.ts with the two changes BENCHMARKS.md
// recommends, applied from outside so the numbers show what they would buy. Not the product:
//  1. the room's `meta` (epoch, seq, …) is written when something other than seq changes, or once per
//     1,024 sequence numbers (a reserved block, so seq stays monotonic across restarts), instead of on
//     every relayed message;
//  2. presence is broadcast (after 50 ms, coalesced) only when the set of online members changed, instead
//     of to everyone on every connect and disconnect.
// Like bench/room-unlimited it also switches the per-connection rate limit off for the closed-loop runs.
// Plain JS on purpose: the root type check does not follow it into party/ (which has its own tsconfig).
import RoomServer from '../../party/room';
import { PeerTable } from '../../party/guard';

const SEQ_BLOCK = 1024;
const PRESENCE_DELAY_MS = 50;

for (const [owner, name] of [[PeerTable.prototype, 'admit'], [PeerTable.prototype, 'online'], [RoomServer.prototype, 'broadcastPresence']]) {
  if (typeof owner[name] !== 'function') throw new Error(`party/ no longer has ${name}; update bench/room-whatif`);
}
PeerTable.prototype.admit = function admitEverything() {
  return true;
};

export default class WhatIfRoom extends RoomServer {
  constructor(room) {
    super(room);
    const storage = room.storage;
    const put = storage.put.bind(storage);
    let ceiling = -1;
    let rest = null;
    storage.put = (key, value, options) => {
      if (key === 'meta' && value && typeof value === 'object') {
        const { seq, ...others } = value;
        const othersText = JSON.stringify(others);
        if (othersText === rest && seq < ceiling) return Promise.resolve();
        rest = othersText;
        ceiling = seq + SEQ_BLOCK;
        return put(key, { ...value, seq: ceiling }, options);
      }
      return put(key, value, options);
    };
    this.presenceTimer = null;
    this.lastPresence = null;
  }

  broadcastPresence() {
    if (this.presenceTimer) return;
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null;
      const online = this.peers.online().sort().join(',');
      if (online === this.lastPresence) return;
      this.lastPresence = online;
      super.broadcastPresence();
    }, PRESENCE_DELAY_MS);
  }
}
