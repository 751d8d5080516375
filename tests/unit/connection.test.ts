/**
 * PartyConnection on a scripted socket: what goes on the wire is exactly the JSON text of the typed frame
 * (the challenge answer, sent frames, the heartbeat), and the connection turns ready on the welcome.
 */
import { PartyConnection, type Challenge, type SocketLike } from '@/services/connection';
import { roomServerFrameSchema, type AuthFrame, type RoomClientFrame, type RoomServerFrame } from '@/shared/protocol';

const fp = 'ab'.repeat(20);
const room = 'cd'.repeat(16);
const id = 'ef'.repeat(16);

type Listener = (event: { data?: unknown; code?: number }) => void;

/** A socket that records what the connection writes and lets the test deliver server frames. */
function scriptedSocket() {
  const listeners = new Map<string, Listener[]>();
  const sent: string[] = [];
  const socket: SocketLike = {
    readyState: 1,
    send: (data) => void sent.push(data),
    close: () => undefined,
    reconnect: () => undefined,
    addEventListener: (type, listener) => void listeners.set(type, [...(listeners.get(type) ?? []), listener]),
  };
  const deliver = (frame: RoomServerFrame) => {
    for (const listener of listeners.get('message') ?? []) listener({ data: JSON.stringify(frame) });
  };
  return { socket, sent, deliver };
}

describe('PartyConnection', () => {
  it('answers the challenge, turns ready on the welcome, and writes frames as their JSON text', async () => {
    vi.useFakeTimers();
    try {
      const { socket, sent, deliver } = scriptedSocket();
      const challenges: Challenge[] = [];
      const received: RoomServerFrame[] = [];
      const answer: AuthFrame = { type: 'auth', fp, sig: 'AAAA' };
      const conn = new PartyConnection<RoomServerFrame, RoomClientFrame>({
        target: { host: 'localhost:1999', secure: false, party: 'room', room },
        openSocket: () => socket,
        schema: roomServerFrameSchema,
        authenticate: async (challenge) => {
          challenges.push(challenge);
          return answer;
        },
        onFrame: (frame) => void received.push(frame),
        heartbeatMs: 1000,
      });
      const msg: RoomClientFrame = { type: 'msg', id, epoch: 0, ct: 'AAAA' };
      expect(conn.send(msg)).toBe(false); // not authenticated yet: the caller keeps it

      deliver({ type: 'challenge', nonce: 'n1', room, head: null });
      await vi.waitFor(() => expect(sent).toEqual([JSON.stringify(answer)]));
      expect(challenges[0]).toMatchObject({ nonce: 'n1', head: null });

      deliver({ type: 'welcome', room, mode: 'ephemeral', epoch: 0, seq: 0, you: fp, chain: [], online: [fp], needKeys: [], requests: [], rotationDue: false });
      await vi.waitFor(() => expect(conn.status).toBe('ready'));
      expect(received.map((f) => f.type)).toEqual(['welcome']);

      expect(conn.send(msg)).toBe(true);
      expect(sent.at(-1)).toBe(JSON.stringify(msg));

      vi.advanceTimersByTime(1000);
      expect(sent.at(-1)).toBe('{"type":"ping"}');
      conn.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
