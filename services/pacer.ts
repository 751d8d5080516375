/**
 * Keeps a connection's frames under the server's rate (RATE_LIMIT_PER_SECOND, with a bucket of RATE_LIMIT_BURST, per
 * connection and per identity): frames beyond it wait here, in order, instead of reaching the server over its rate,
 * being refused and dropped. The bucket refills a little slower and holds a little less than the server's, so
 * timing differences never tip a frame over.
 */
import { RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND } from '@/shared/constants';

/** The share of the server's rate the client uses. */
const RATE_SHARE = 0.9;
/** Frames of the server's burst the client leaves unused. */
const BURST_MARGIN = 5;

export class Pacer {
  private tokens: number;
  private last: number;
  private readonly queue: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    /** Puts a frame on the wire; false if it cannot (then everything waiting is dropped: see `clear`). */
    private readonly write: (data: string) => boolean,
    private readonly now: () => number = () => Date.now(),
    private readonly perSecond = RATE_LIMIT_PER_SECOND * RATE_SHARE,
    private readonly burst = RATE_LIMIT_BURST - BURST_MARGIN,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Frames waiting for the rate. */
  get waiting(): number {
    return this.queue.length;
  }

  send(data: string): void {
    this.queue.push(data);
    this.drain();
  }

  /**
   * Drops what waits (the connection closed: messages are still in the outbox and go again after reconnecting,
   * a sync page is asked for again).
   */
  clear(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private drain(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    while (this.queue.length > 0 && this.tokens >= 1) {
      if (!this.write(this.queue[0] ?? '')) return this.clear();
      this.queue.shift();
      this.tokens -= 1;
    }
    if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.drain();
        },
        Math.ceil(((1 - this.tokens) / this.perSecond) * 1000),
      );
    }
  }
}
