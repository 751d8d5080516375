/** A bare WebSocket to a party room, for tests that speak the wire protocol by hand (attackers, bad input). */
import WebSocket from 'ws';
import { AUTH_CONTEXT, PARTY_ROOM } from '@/shared/constants';
import { signDetached, type PrivateKey } from '@/shared/crypto';
import { utf8 } from '@/shared/encoding';
import { authChallengeText } from '@/shared/protocol';

export interface RawSocket {
  frames: Array<Record<string, unknown>>;
  closed: Promise<number>;
  send(frame: unknown): void;
  sendText(text: string): void;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): void;
}

/** Answers the room's challenge as `fp`, signing with `key` (which may be the wrong one, for attack tests). */
export async function signIn(socket: RawSocket, room: string, fp: string, key: PrivateKey): Promise<void> {
  const challenge = await socket.next('challenge');
  const sig = await signDetached(key, utf8(authChallengeText(AUTH_CONTEXT, PARTY_ROOM, room, String(challenge.nonce))));
  socket.send({ type: 'auth', fp, sig });
}

/** `headers` go with the upgrade request (e.g. `CF-Connecting-IP`, to stand for a client address). */
export async function rawSocket(host: string, party: string, room: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  const ws = new WebSocket(`ws://${host}/parties/${party}/${room}`, { headers });
  const frames: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)));
  await new Promise<void>((done, fail) => {
    ws.once('open', () => done());
    ws.once('error', fail);
  });
  const consumed = new Set<number>();
  return {
    frames,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendText: (text) => ws.send(text),
    async next(type, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex((frame, i) => !consumed.has(i) && frame.type === type);
        if (index >= 0) {
          consumed.add(index);
          return frames[index] as Record<string, unknown>;
        }
        if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`);
        await new Promise<void>((done) => {
          waiters.push(done);
          setTimeout(done, 100);
        });
      }
    },
    close: () => ws.close(),
  };
}
