/**
 * PartyConnection on a scripted socket: what goes on the wire is exactly the JSON text of the typed frame
 * (the challenge answer, sent frames, the heartbeat), and the connection turns ready on the welcome.
 */
import { connectionState, PartyConnection, type Challenge, type ConnectionStatus, type SocketLike } from '@/services/connection';
import { roomServerFrameSchema, type AuthFrame, type RoomClientFrame, type RoomServerFrame } from '@/shared/protocol';

const fp = 'ab'.repeat(20);
const room = 'cd'.repeat(16);
const id = 'ef'.repeat(16);

type Listener = (event: { data?: unknown; code?: number }) => void;

/** A socket that records what the connection writes and lets the test deliver server frames. */
function scriptedSocket() {
  const listeners = new Map<string, Listener[]>();
  const sent: string[] = [];
  const calls: string[] = [];
  const socket: SocketLike = {
    readyState: 1,
    send: (data) => void sent.push(data),
    close: () => void calls.push('close'),
    reconnect: () => void calls.push('reconnect'),
    addEventListener: (type, listener) => void listeners.set(type, [...(listeners.get(type) ?? []), listener]),
  };
  const deliver = (frame: RoomServerFrame) => {
    for (const listener of listeners.get('message') ?? []) listener({ data: JSON.stringify(frame) });
  };
  const drop = () => {
    for (const listener of listeners.get('close') ?? []) listener({ code: 1006 });
  };
  return { socket, sent, calls, deliver, drop };
}

/** A room connection over a scripted socket that answers every challenge as `fp` and reports its status. */
function signingIn(socket: SocketLike, onStatus: (status: ConnectionStatus) => void, heartbeatMs?: number): PartyConnection<RoomServerFrame, RoomClientFrame> {
  return new PartyConnection<RoomServerFrame, RoomClientFrame>({
    target: { host: 'localhost:1999', secure: false, party: 'room', room },
    openSocket: () => socket,
    schema: roomServerFrameSchema,
    authenticate: async () => ({ type: 'auth', fp, sig: 'AAAA' }),
    onFrame: () => undefined,
    onStatus,
    ...(heartbeatMs ? { heartbeatMs } : {}),
  });
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

describe('PartyConnection refused for too many connections of our identity', () => {
  it('closes the socket (no quick reconnects) and opens it again only after CONNECTION_LIMIT_RETRY_MS', async () => {
    const { CONNECTION_LIMIT_RETRY_MS } = await import('@/shared/constants');
    vi.useFakeTimers();
    try {
      const { socket, sent, calls, deliver } = scriptedSocket();
      const statuses: string[] = [];
      const conn = signingIn(socket, (status) => void statuses.push(status));
      deliver({ type: 'challenge', nonce: 'n1', room, head: null });
      await conn.idle();
      expect(sent).toHaveLength(1);
      deliver({ type: 'error', code: 'too-many-connections', message: 'this identity already has 8 connections open here' });
      await conn.idle();
      expect(calls).toEqual(['close']);
      expect(statuses).not.toContain('refused'); // not for good: it tries again later

      await vi.advanceTimersByTimeAsync(CONNECTION_LIMIT_RETRY_MS - 1);
      expect(calls).toEqual(['close']);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toEqual(['close', 'reconnect']);

      // Closed meanwhile: no reconnect after it.
      deliver({ type: 'error', code: 'too-many-connections', message: 'again' });
      await conn.idle();
      expect(calls).toEqual(['close', 'reconnect', 'close']);
      conn.close();
      await vi.advanceTimersByTimeAsync(CONNECTION_LIMIT_RETRY_MS * 2);
      expect(calls).toEqual(['close', 'reconnect', 'close', 'close']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('connection state shown per room', () => {
  it('says when the next try is after each failed try, and forgets it once welcomed', async () => {
    const { socket, deliver, drop } = scriptedSocket();
    let delay = 500;
    socket.nextRetryDelayMs = () => delay;
    const told: Array<number | null> = [];
    const conn: PartyConnection<RoomServerFrame, RoomClientFrame> = new PartyConnection({
      target: { host: 'localhost:1999', secure: false, party: 'room', room },
      openSocket: () => socket,
      schema: roomServerFrameSchema,
      authenticate: async () => ({ type: 'auth', fp, sig: 'AAAA' }),
      onFrame: () => undefined,
      onStatus: (status) => void (status === 'connecting' && told.push(conn.retryAt)),
      heartbeatMs: 60_000,
    });
    expect(conn.retryAt).toBeNull();
    const before = Date.now();
    drop();
    delay = 650;
    drop(); // the next try failed too: it waits longer
    expect(told).toHaveLength(2);
    expect(told[0]).toBeGreaterThanOrEqual(before + 500);
    expect(told[1]).toBeGreaterThanOrEqual(before + 650);
    expect(told[1]).toBeLessThanOrEqual(Date.now() + 650);
    deliver({ type: 'welcome', room, mode: 'ephemeral', epoch: 0, seq: 0, you: fp, chain: [], online: [fp], needKeys: [], requests: [], rotationDue: false });
    await vi.waitFor(() => expect(conn.status).toBe('ready'));
    expect(conn.retryAt).toBeNull();
    conn.close();
    drop();
    expect(told).toHaveLength(2); // closed for good: no next try
  });

  it('is reconnecting while signing in and after a drop, connected once welcomed, offline once refused for good or closed', async () => {
    const { socket, deliver, drop } = scriptedSocket();
    const states: string[] = [];
    const conn = signingIn(socket, (status) => void states.push(connectionState(status)), 60_000);
    const welcome: RoomServerFrame = { type: 'welcome', room, mode: 'ephemeral', epoch: 0, seq: 0, you: fp, chain: [], online: [fp], needKeys: [], requests: [], rotationDue: false };
    expect(connectionState(conn.status)).toBe('reconnecting');
    deliver(welcome);
    await vi.waitFor(() => expect(connectionState(conn.status)).toBe('connected'));
    drop();
    expect(connectionState(conn.status)).toBe('reconnecting');
    deliver(welcome);
    await vi.waitFor(() => expect(connectionState(conn.status)).toBe('connected'));
    deliver({ type: 'error', code: 'removed', message: 'an admin removed you' });
    await vi.waitFor(() => expect(connectionState(conn.status)).toBe('offline'));
    expect(states).toEqual(['connected', 'reconnecting', 'connected', 'offline']);
    conn.close();
    expect(connectionState(conn.status)).toBe('offline');
    expect(connectionState(undefined)).toBe('offline');
  });
});

describe('Pacer: a connection stays under the server\'s rate instead of having frames dropped', () => {
  it('sends a burst at once, holds the rest in order, and lets them out no faster than the server refills', async () => {
    const { Pacer } = await import('@/services/pacer');
    const { RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND } = await import('@/shared/constants');
    vi.useFakeTimers();
    try {
      const wire: Array<{ data: string; at: number }> = [];
      const pacer = new Pacer((data) => {
        wire.push({ data, at: Date.now() });
        return true;
      });
      const start = Date.now();
      const frames = Array.from({ length: 200 }, (_, i) => `frame ${i}`);
      for (const frame of frames) pacer.send(frame);
      expect(wire.length).toBeLessThan(RATE_LIMIT_BURST);
      expect(wire.length).toBeGreaterThan(RATE_LIMIT_BURST / 2);
      await vi.advanceTimersByTimeAsync(20_000);
      // Everything went out, in order, once.
      expect(wire.map((w) => w.data)).toEqual(frames);
      // Replaying the server's token bucket over what went on the wire: it never runs dry.
      let tokens = RATE_LIMIT_BURST;
      let last = start;
      for (const { at } of wire) {
        tokens = Math.min(RATE_LIMIT_BURST, tokens + ((at - last) / 1000) * RATE_LIMIT_PER_SECOND);
        last = at;
        expect(tokens).toBeGreaterThanOrEqual(1);
        tokens -= 1;
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('drops what waits when the socket can no longer write (the outbox and sync send it again)', async () => {
    const { Pacer } = await import('@/services/pacer');
    vi.useFakeTimers();
    try {
      let open = true;
      const wire: string[] = [];
      const pacer = new Pacer((data) => {
        if (!open) return false;
        wire.push(data);
        return true;
      });
      for (let i = 0; i < 100; i++) pacer.send(`f${i}`);
      const before = wire.length;
      expect(pacer.waiting).toBe(100 - before);
      open = false;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(wire.length).toBe(before);
      expect(pacer.waiting).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
