/**
 * Versions of what the background keeps in `storage.local`, and the migrations between them (README, "Stored data").
 *
 * One version covers the whole layout: the keys (`identity`, `device`, `settings`, `roomIndex`, `contacts`,
 * `invitations`, `room:<id>`, `page:<id>:<n>`, `quarantine:<key>`) and the shape of every record kept under them
 * (services/records.ts, contacts.ts, invitations.ts). It is stored under `schema`; a store without it has layout 1,
 * the layout of every release before the version was kept. Any change to a stored shape bumps `STORE_VERSION` and
 * adds the step from the previous version to `MIGRATIONS`.
 *
 * The runner goes one step at a time and writes the new version only after a step has finished, so a step cut off
 * half-way (worker killed, storage failing) runs again on the next start: every step must cope with a store it has
 * already partly migrated. A store newer than this code is refused, untouched.
 */
import type { UserErrorCode } from '@/utils/protocol-map';
import { UserFacingError } from './errors';
import type { LocalItems } from './records';
import type { KeyValueStore } from './store';

/** The layout this code reads and writes. */
export const STORE_VERSION = 1;
/** The version of a store that has none stored: every release before the version was kept. */
const UNVERSIONED = 1;

/** One step: turns a store at version `from` into one at `from + 1`. */
export interface MigrationStep {
  from: number;
  /** What it changes (for logs). */
  describe: string;
  /**
   * The step opens sealed records (rooms, pages, contacts, invitations), so it needs the vault key: it waits for the
   * unlock, and the steps after it too. Steps that touch only plain items run at start, before anything reads them.
   */
  sealed?: boolean;
  run(local: KeyValueStore<LocalItems>, vaultKey: CryptoKey | null): Promise<void>;
}

/** Every migration, in order: `from` 1, 2, … up to STORE_VERSION − 1. */
export const MIGRATIONS: readonly MigrationStep[] = [];

/** What `migrateStore` runs: the real list, or a test's. */
export interface StoreLayout {
  version: number;
  steps: readonly MigrationStep[];
}

export const CURRENT_LAYOUT: StoreLayout = { version: STORE_VERSION, steps: MIGRATIONS };

const TOO_NEW: UserErrorCode = 'store-too-new';

/** The stored data was written by a newer PartyChat: this one refuses to read or change it. */
export class StoreTooNewError extends UserFacingError {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(TOO_NEW, `this browser's PartyChat data has layout ${found}, newer than this version reads (${supported}): update PartyChat; nothing was changed`);
  }
}

export interface MigrationResult {
  from: number;
  to: number;
  /** A step needs the vault key: the rest runs at unlock. */
  waiting: boolean;
}

/**
 * Brings the store up to `layout.version`, as far as it can without the vault key when none is given. Throws
 * StoreTooNewError (having written nothing) for a store from a newer release, and whatever a step throws (the
 * store keeps the version before that step, so the next start runs it again).
 */
export async function migrateStore(
  local: KeyValueStore<LocalItems>,
  vaultKey: CryptoKey | null = null,
  layout: StoreLayout = CURRENT_LAYOUT,
): Promise<MigrationResult> {
  const stored = await local.get('schema');
  if (stored !== undefined && (typeof stored !== 'number' || !Number.isInteger(stored) || stored < UNVERSIONED)) {
    throw new Error(`the stored data layout version is not one: ${JSON.stringify(stored)}`);
  }
  const from = stored ?? UNVERSIONED;
  if (from > layout.version) throw new StoreTooNewError(from, layout.version);
  let version = from;
  while (version < layout.version) {
    const step = layout.steps.find((s) => s.from === version);
    if (!step) throw new Error(`no migration from stored data layout ${version}`);
    if (step.sealed && !vaultKey) return { from, to: version, waiting: true };
    await step.run(local, vaultKey);
    version += 1;
    await local.set('schema', version);
  }
  if (stored === undefined) await local.set('schema', version);
  return { from, to: version, waiting: false };
}
