/**
 * Issue 11, fault 2: during a burst, a member's connection is cut every 200–800 ms, 50 times: Gil's closed from the
 * server's side (a close frame), Hal's dropped with no close frame (the TCP connection reset), each through a proxy
 * of its own between that member and the real server, at the same time. Counted, not sampled.
 */
import { inject } from 'vitest';
import { CuttingProxy, expectClean, Ledger, pause, seededRandom, type CutMode, type Random } from '../../helpers/faults';
import { invite, onboardedClient, until, type TestClient } from '../../helpers/node-client';

const host = inject('partyHost');
/** Cuts per member (the figure). */
const CUTS = 50;
/** Messages each member sends while the connections flap. */
const BURST = Number(process.env.FAULT_BURST ?? 80);

/** Cuts the proxy's connections `CUTS` times, 200–800 ms apart (only a connection that is up, or coming up, counts). */
async function flap(proxy: CuttingProxy, mode: CutMode, random: Random): Promise<void> {
  while (proxy.cuts < CUTS) {
    await pause(random.int(200, 800));
    if (proxy.cut(mode) === 0) await until(() => proxy.openCount() > 0, 'a connection to cut', 15_000);
  }
}

describe('fault: flapping connections', () => {
  const clients: TestClient[] = [];
  const proxies: CuttingProxy[] = [];
  afterAll(async () => {
    for (const client of clients) client.chat.closeAll();
    for (const proxy of proxies) await proxy.stop();
  });

  // The two room modes run side by side (rooms, members and proxies of their own), halving the file's time.
  it.concurrent.each(['ephemeral', 'backup'] as const)(
    '%s room: one member closed from the server side 50 times, one dropped without a close frame 50 times, during a burst: nothing lost, nothing twice, order kept',
    async (mode) => {
      const random = seededRandom(`flapping (${mode})`);
      const port = Number(host.split(':')[1]);
      const closing = await CuttingProxy.start(port);
      const dropping = await CuttingProxy.start(port);
      proxies.push(closing, dropping);
      const members = {
        eve: await onboardedClient(host, 'Eve'),
        fay: await onboardedClient(host, 'Fay'),
        gil: await onboardedClient(closing.host, 'Gil'),
        hal: await onboardedClient(dropping.host, 'Hal'),
      };
      clients.push(...Object.values(members));
      const roomId = (await members.eve.chat.createRoom(`flapping ${mode}`, mode)).id;
      await until(async () => (await members.eve.chat.getRoom(roomId)).connected, 'eve connected');
      for (const invitee of [members.fay, members.gil, members.hal]) {
        await invite(members.eve, roomId, invitee);
        await until(async () => (await invitee.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey && r.connected), 'invitee joined');
      }
      const ledger = new Ledger(roomId);
      for (const [name, client] of Object.entries(members)) ledger.watch(name, client);

      // Each member sends at its own uneven pace, so messages keep flowing while the connections flap.
      const bursts = Object.entries(members).map(async ([name, client]) => {
        for (let i = 0; i < BURST; i++) {
          await ledger.send(name, (text) => client.chat.sendMessage(roomId, text));
          await pause(random.int(0, 400));
        }
      });
      await Promise.all([flap(closing, 'close', random), flap(dropping, 'drop', random)]);
      ledger.faults = closing.cuts + dropping.cuts;
      ledger.cleared();
      await Promise.all(bursts);

      const figures = await ledger.settle(members, `flapping, ${mode}`, 60_000);
      ledger.stop();
      expect(figures.sent).toBe(4 * BURST);
      expect(figures.faults).toBe(2 * CUTS);
      expectClean(figures);
    },
    120_000,
  );
});
