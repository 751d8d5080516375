/**
 * What the room modules get from the facade while the vault is unlocked: who we are, this device,
 * the history store, the server address, the clock, and the ways to tell the UI and the logs.
 * Built once per unlock (services/chat.ts); nothing below the facade imports the facade.
 */
import type { PushEvent } from '@/utils/protocol-map';
import type { SocketFactory } from '../connection';
import { randomHex } from '@/shared/encoding';
import { History } from '../history';
import type { PartyHost } from '../host';
import type { StoreLayout } from '../migrations';
import type { Quarantine } from '../quarantine';
import type { KeyValueStore } from '../store';
import type { LocalItems, SessionItems } from '../records';
import type { Unlocked } from '../vault';

/** Everything the background's core takes from its world (storage, sockets, fetch, clock, UI push). */
export interface ChatDeps {
  local: KeyValueStore<LocalItems>;
  session: KeyValueStore<SessionItems>;
  openSocket: SocketFactory;
  fetch: typeof fetch;
  /** Server address used until the person picks another. */
  defaultHost: string;
  now?: () => number;
  /** Pushes an event to every open UI page. */
  emit?: (event: PushEvent) => void;
  /** Shown when something arrives that fails verification (tests and logs). */
  onRejected?: (roomId: string, reason: string) => void;
  /** How long to wait for the server to confirm a change. */
  confirmTimeoutMs?: number;
  /** The stored data layout and its migrations (tests hand in their own; default: services/migrations.ts). */
  storeLayout?: StoreLayout;
}

export interface RoomContext {
  /** The unlocked identity: fingerprint, name, public and private key, vault key. */
  readonly me: Unlocked;
  /** This installation's id, part of every message counter. */
  readonly device: string;
  readonly history: History;
  readonly openSocket: SocketFactory;
  /** How long to wait for the server to confirm a membership change. */
  readonly confirmTimeoutMs: number;
  now(): number;
  /** The server address in use (it can change while unlocked). */
  host(): PartyHost;
  emit(event: PushEvent): void;
  /** Something failed verification: logged, and reported to tests. */
  onRejected(roomId: string, reason: string): void;
  /** A stored message will expire: make sure a sweep is scheduled for it. */
  scheduleSweep(): void;
}

/** Default wait for the server to confirm a membership change. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** Bytes of a device id. */
const DEVICE_ID_BYTES = 8;

/** The context for an unlocked identity: this installation's device id (made once), its history store, and the facade's hooks. */
export async function openContext(
  deps: ChatDeps,
  me: Unlocked,
  hooks: { now: () => number; host: () => PartyHost; scheduleSweep: () => void },
  quarantine?: Quarantine,
): Promise<RoomContext> {
  let device = (await deps.local.get('device')) ?? '';
  if (!device) {
    device = randomHex(DEVICE_ID_BYTES);
    await deps.local.set('device', device);
  }
  return {
    me,
    device,
    history: new History(deps.local, me.vaultKey, quarantine),
    openSocket: deps.openSocket,
    confirmTimeoutMs: deps.confirmTimeoutMs ?? CONFIRM_TIMEOUT_MS,
    ...hooks,
    emit: (event) => deps.emit?.(event),
    onRejected: (roomId, reason) => deps.onRejected?.(roomId, reason),
  };
}

/** The message of an error, for logs and rejection reasons. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
