/**
 * The usual stage for attack tests: Alice's room with Bob and Mallory invited, Alice and Bob connected through
 * a lying server, Mallory turned malicious and talking straight to the real server.
 */
import { startLyingServer, type LyingServer } from './lying-server';
import { turnMalicious, type MaliciousMember } from './malicious-member';
import { createClient, invite, until, type TestClient } from '../node-client';

export interface HostileRoom {
  proxy: LyingServer;
  alice: TestClient;
  bob: TestClient;
  mallory: MaliciousMember;
  roomId: string;
  fp: { alice: string; bob: string };
  /** Closes every connection and the lying server. */
  stop(): Promise<void>;
}

export async function hostileRoom(upstream: string, roomName: string): Promise<HostileRoom> {
  const proxy = await startLyingServer(upstream);
  const alice = createClient(proxy.host);
  const bob = createClient(proxy.host);
  const malloryClient = createClient(proxy.host);
  await Promise.all([alice.chat.onboard('Alice', 'alice passphrase'), bob.chat.onboard('Bob', 'bob passphrase!'), malloryClient.chat.onboard('Mallory', 'mallory passphrase')]);
  const fp = { alice: alice.chat.fingerprint ?? '', bob: bob.chat.fingerprint ?? '' };
  const roomId = (await alice.chat.createRoom(roomName, 'ephemeral')).id;
  await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
  for (const invitee of [bob, malloryClient]) {
    await invite(alice, roomId, invitee);
    await until(async () => (await invitee.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey && r.connected), 'invitee holds the key');
  }
  // Mallory's own frames go straight to the real server (the proxy lies to Alice and Bob).
  const mallory = await turnMalicious(malloryClient, roomId, upstream);
  await mallory.connect();
  return {
    proxy,
    alice,
    bob,
    mallory,
    roomId,
    fp,
    async stop() {
      mallory.close();
      alice.chat.closeAll();
      bob.chat.closeAll();
      await proxy.stop();
    },
  };
}

/** Waits until `client` reported a rejection containing `reason` after the first `from` rejections. */
export function rejects(client: TestClient, reason: string, from = 0): Promise<string> {
  return until(() => client.rejected.slice(from).find((r) => r.includes(reason)), `a rejection saying "${reason}"; got ${JSON.stringify(client.rejected.slice(from))}`);
}
