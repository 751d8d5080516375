/** Small statistics helpers for the benchmarks: medians, percentiles, rounds, formatting. */

export function sorted(values: readonly number[]): number[] {
  return [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
}

/** The p-th percentile (0–100), nearest-rank with linear interpolation; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  const s = sorted(values);
  if (!s.length) return Number.NaN;
  if (s.length === 1) return s[0] as number;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

export function mean(values: readonly number[]): number {
  return values.length ? sum(values) / values.length : Number.NaN;
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a clear message when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs: number, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Times `run` (one operation) in batches: each batch runs `iterations` operations back to back and
 * yields the mean milliseconds per operation. Bounded by `maxMs` per batch.
 */
export async function timeBatch(run: () => Promise<unknown>, iterations: number, maxMs = 30_000): Promise<number> {
  const start = now();
  let done = 0;
  while (done < iterations) {
    await run();
    done++;
    if (now() - start > maxMs) break;
  }
  return (now() - start) / done;
}

/** Formats a number with sensible precision for a table cell. */
export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  const d = digits ?? (abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
  return value.toFixed(d);
}

export function fmtMs(value: number): string {
  return Number.isFinite(value) ? `${fmt(value)} ms` : '–';
}

export function fmtRatio(value: number): string {
  return Number.isFinite(value) ? `${fmt(value, 2)}×` : '–';
}

export function fmtKiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '–';
}

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '–';
  return perSecond >= 10_000 ? `${(perSecond / 1000).toFixed(1)}k/s` : `${perSecond.toFixed(0)}/s`;
}
