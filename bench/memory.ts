/**
 * 4. Idle memory per connection: resident memory of the server process (workerd for PartyKit, node for
 * the bare `ws` server) before and after opening idle connections, divided by their number.
 * Room server connections are authenticated members (challenge signed, welcome received); the minimal
 * relay and the bare server have no protocol, so their connections are just open sockets.
 */
import { randomHex } from '../shared/encoding';
import { section, table, type SectionResult } from './report';
import { connectAll, createRoom, openAll, type BenchSocket, type Identity } from './room-driver';
import { rssBytes, startMinimalRelay, startPartykit, startRoomServer, startWsRelay, type RunningServer } from './servers';
import { fmt, fmtKiB, fmtRatio, median, now, sleep } from './stats';

export interface MemoryConfig {
  connections: number;
  /** Distinct members the connections are spread over (each member opens connections/members sockets). */
  members: number;
  rounds: number;
  settleMs: number;
  /** Another partykit project to run in place of the shipped room server (profiling experiments). */
  roomBuildDir?: string;
}

export const DEFAULT_MEMORY: MemoryConfig = { connections: 500, members: 10, rounds: 3, settleMs: 1500 };

interface Sample {
  perConnection: number;
  before: number;
  after: number;
  connectMs: number;
  /** Frames and bytes the clients received while connecting (presence updates, welcome, …). */
  framesIn: number;
  bytesIn: number;
}

function totals(sockets: BenchSocket[]): { frames: number; bytes: number } {
  let frames = 0;
  let bytes = 0;
  for (const s of sockets) for (const c of s.received.values()) {
    frames += c.frames;
    bytes += c.bytes;
  }
  return { frames, bytes };
}

/** The server process is stopped right after, so sockets are dropped without a close handshake. */
function dropAll(sockets: BenchSocket[]): void {
  for (const s of sockets) s.terminate();
}

/** RSS of the server process around `open`. */
async function measure(server: RunningServer, config: MemoryConfig, open: () => Promise<BenchSocket[]>): Promise<Sample> {
  await sleep(config.settleMs);
  const before = rssBytes(server.workerPid());
  const start = now();
  const sockets = await open();
  const connectMs = now() - start;
  await sleep(config.settleMs);
  const after = rssBytes(server.workerPid());
  const t = totals(sockets);
  dropAll(sockets);
  return { perConnection: (after - before) / config.connections, before, after, connectMs, framesIn: t.frames, bytesIn: t.bytes };
}

async function sampleRoom(server: RunningServer, admin: Identity, members: Identity[], config: MemoryConfig): Promise<Sample> {
  const room = await createRoom(server.host, admin, members);
  // Dropped, not closed: workerd does not answer a close frame, so a clean close would wait for ws's 30 s timeout.
  room.admin.terminate();
  const who = Array.from({ length: config.connections }, (_, i) => members[i % members.length] as Identity);
  return measure(server, config, () => connectAll(server.host, room.id, who, ['presence', 'msg'], 8));
}

function samplePlain(server: RunningServer, path: string, config: MemoryConfig): Promise<Sample> {
  return measure(server, config, () => openAll(`ws://${server.host}${path}${randomHex(16)}`, config.connections, [], 8));
}

export async function memoryBench(identities: Identity[], config: MemoryConfig = DEFAULT_MEMORY, log: (m: string) => void = () => undefined): Promise<SectionResult> {
  const result = section('4', `Idle memory per connection (${config.connections} idle connections)`);
  const admin = identities[0] as Identity;
  const members = identities.slice(1, 1 + config.members);
  const samples = { room: [] as Sample[], minimal: [] as Sample[], bare: [] as Sample[] };
  // A fresh set of server processes per round: freed memory is not handed back to the OS, so a second
  // round in the same process would start from a different baseline.
  for (let round = 0; round < config.rounds; round++) {
    const servers: RunningServer[] = [];
    try {
      const [room, minimal, bare] = await Promise.all([
        config.roomBuildDir ? startPartykit('room server (experiment)', config.roomBuildDir) : startRoomServer(),
        startMinimalRelay(),
        startWsRelay(),
      ]);
      servers.push(room, minimal, bare);
      const order = [
        async () => samples.room.push(await sampleRoom(room, admin, members, config)),
        async () => samples.minimal.push(await samplePlain(minimal, '/parties/main/', config)),
        async () => samples.bare.push(await samplePlain(bare, '/room-', config)),
      ];
      for (let k = 0; k < order.length; k++) await (order[(k + round) % order.length] as () => Promise<unknown>)();
      log(`memory: round ${round + 1} done`);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }

  const per = (list: Sample[]) => median(list.map((s) => s.perConnection));
  const ratio = per(samples.room) / per(samples.minimal);
  result.rows.push({
    figure: `idle memory per connection (${config.connections} connections)`,
    value: `room ${fmtKiB(per(samples.room))}`,
    floor: `minimal ${fmtKiB(per(samples.minimal))}; bare ws ${fmtKiB(per(samples.bare))}`,
    ratio: fmtRatio(ratio),
    target: '≤ 1.1× minimal',
    met: Number.isFinite(ratio) ? ratio <= 1.1 : null,
  });
  const rows = (label: string, list: Sample[]) =>
    list.map((s, i) => [
      label,
      String(i + 1),
      `${fmt(s.before / 2 ** 20, 1)} MiB`,
      `${fmt(s.after / 2 ** 20, 1)} MiB`,
      fmtKiB(s.perConnection),
      `${fmt(s.connectMs, 0)} ms`,
      `${s.framesIn} frames, ${fmt(s.bytesIn / 2 ** 20, 1)} MiB`,
    ]);
  const roomIn = median(samples.room.map((s) => s.bytesIn));
  result.details.push(
    `Each round opens ${config.connections} connections to a fresh room (the room server's connections spread over ${config.members} ` +
      `members, ${Math.round(config.connections / config.members)} sockets each, all authenticated), waits ${config.settleMs} ms, and reads VmRSS of ` +
      `the process holding the sockets (workerd under \`partykit dev\`; node for the bare server) from /proc; per connection = (after − before) / ` +
      `${config.connections}; median of ${config.rounds} rounds, each with freshly started server processes (servers measured one after another, order rotating). RSS includes garbage not yet collected, so single rounds are noisy.`,
  );
  result.details.push(table(['server', 'round', 'RSS before', 'RSS after', 'RSS per connection', 'connect all', 'received by clients while connecting'], [
    ...rows('room server (shipped)', samples.room),
    ...rows('minimal PartyKit', samples.minimal),
    ...rows('bare ws', samples.bare),
  ]));
  const roomFrames = median(samples.room.map((s) => s.framesIn));
  result.details.push(
    `What a room server connection costs beyond the minimal relay's: admission (the client signs a fresh challenge, the server checks it ` +
      `against the member's key from the membership chain), then a welcome with the chain and the online members, and the member's pending key ` +
      `envelopes. Other members hear of a connection only when it changes who is online (a member's first connection opens or its last one ` +
      `closes; coalesced over 50 ms), so a second tab sends nobody anything: ${fmt(roomFrames, 0)} frames (${fmt(roomIn / 2 ** 20, 1)} MiB, mostly ` +
      `the welcomes) reached the clients per round here, for ${config.connections} connections of ${config.members} members.`,
  );
  return result;
}
