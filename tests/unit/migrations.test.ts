/** Stored data layout versions: the migration runner on start-up and unlock (services/migrations.ts). */
import { describe, expect, it } from 'vitest';
import { CURRENT_LAYOUT, MIGRATIONS, migrateStore, STORE_VERSION, StoreTooNewError, type StoreLayout } from '@/services/migrations';
import type { RoomRecord } from '@/services/records';
import { seal, unseal } from '@/services/sealed';
import { failingAfter, serviceOver, storeOf, STORE_V1 } from './support/stored';

/** A layout 2 whose step (plain items only) writes the room index again and renames the server's host; it counts its runs. */
function plainLayout(): StoreLayout & { runs: number } {
  const layout = {
    version: 2,
    runs: 0,
    steps: [
      {
        from: 1,
        describe: 'the room index is written again; the server host is renamed',
        async run(local: Parameters<StoreLayout['steps'][number]['run']>[0]) {
          layout.runs += 1;
          const settings = await local.get('settings');
          const index = (await local.get('roomIndex')) ?? [];
          await local.set('roomIndex', [...index]);
          if (settings) await local.set('settings', { ...settings, host: settings.host.replace('127.0.0.1', 'localhost') });
        },
      },
    ],
  };
  return layout;
}

/** A layout 2 whose step opens every room record and marks it (a migration of sealed records). */
function sealedLayout(): StoreLayout {
  return {
    version: 2,
    steps: [
      {
        from: 1,
        describe: 'room records are marked',
        sealed: true,
        async run(local, vaultKey) {
          if (!vaultKey) throw new Error('no vault key');
          for (const id of (await local.get('roomIndex')) ?? []) {
            const key = `room:${id}` as const;
            const sealed = await local.get(key);
            if (!sealed) continue;
            const record = await unseal<RoomRecord & { migrated?: true }>(vaultKey, sealed, key);
            if (record.migrated) continue;
            await local.set(key, await seal(vaultKey, { ...record, migrated: true }, key));
          }
        },
      },
    ],
  };
}

describe('the stored data layout', () => {
  it('is listed step by step up to the version this code writes', () => {
    expect(CURRENT_LAYOUT.version).toBe(STORE_VERSION);
    expect(MIGRATIONS.map((s) => s.from)).toEqual(Array.from({ length: STORE_VERSION - 1 }, (_, i) => i + 1));
  });

  it('is written on a fresh store at start, and a store without one counts as layout 1', async () => {
    const fresh = await storeOf({});
    await serviceOver(fresh).getState();
    expect(await fresh.get('schema')).toBe(STORE_VERSION);

    const old = await storeOf(STORE_V1.local);
    expect(await old.get('schema')).toBeUndefined();
    expect(await migrateStore(old)).toEqual({ from: 1, to: STORE_VERSION, waiting: false });
    expect(await old.get('schema')).toBe(STORE_VERSION);
  });
});

describe('a migration', () => {
  it('runs once on start-up, and a restart changes nothing', async () => {
    const local = await storeOf(STORE_V1.local);
    const layout = plainLayout();
    const state = await serviceOver(local, { storeLayout: layout }).getState();
    expect(layout.runs).toBe(1);
    expect(await local.get('schema')).toBe(2);
    expect(state.host).toMatch(/^localhost:/);
    const after = local.dump();

    const restarted = await serviceOver(local, { storeLayout: layout }).getState();
    expect(layout.runs).toBe(1);
    expect(restarted.host).toBe(state.host);
    expect(local.dump()).toEqual(after);
  });

  it('cut off half-way leaves the store readable, and runs again on the next start', async () => {
    const local = await storeOf(STORE_V1.local);
    const layout = plainLayout();
    const failing = failingAfter(local, 1);
    await expect(serviceOver(failing, { storeLayout: layout }).getState()).rejects.toThrow('storage failed');
    expect(failing.writes).toBe(1);
    expect(await local.get('schema')).toBeUndefined();

    const state = await serviceOver(local, { storeLayout: layout }).getState();
    expect(layout.runs).toBe(2);
    expect(await local.get('schema')).toBe(2);
    expect(state.phase).toBe('locked');
    expect(state.host).toMatch(/^localhost:/);
  });

  it('of sealed records waits for the unlock; cut off after one room, the next unlock finishes it and every room opens', async () => {
    const local = await storeOf(STORE_V1.local);
    const failing = failingAfter(local, 1);
    const chat = serviceOver(failing, { storeLayout: sealedLayout() });
    expect((await chat.getState()).phase).toBe('locked');
    expect(await local.get('schema')).toBeUndefined();
    await expect(chat.unlock(STORE_V1.passphrase)).rejects.toThrow('storage failed');
    expect(failing.writes).toBe(1);
    expect(await local.get('schema')).toBeUndefined();

    const next = serviceOver(local, { storeLayout: sealedLayout() });
    const state = await next.unlock(STORE_V1.passphrase);
    expect(await local.get('schema')).toBe(2);
    expect(state.rooms.map((r) => r.name).sort()).toEqual(['Backup room', 'Ephemeral room']);
    expect(state.phase).toBe('ready');
    expect((await next.listMessages(STORE_V1.rooms.backup)).some((m) => m.text === 'first in backup')).toBe(true);
    next.closeAll();
  });

  it('refuses a store written by a newer release and leaves it untouched', async () => {
    const local = await storeOf({ ...STORE_V1.local, schema: STORE_VERSION + 1 });
    const before = local.dump();
    const chat = serviceOver(local);
    const refused = chat.getState();
    await expect(refused).rejects.toBeInstanceOf(StoreTooNewError);
    await expect(refused).rejects.toMatchObject({ code: 'store-too-new' });
    await expect(migrateStore(local)).rejects.toThrow(/newer than this version reads/);
    await expect(chat.unlock(STORE_V1.passphrase)).rejects.toBeInstanceOf(StoreTooNewError);
    expect(local.dump()).toEqual(before);
  });
});
