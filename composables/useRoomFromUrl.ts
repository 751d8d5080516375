/**
 * Opens the room named in the page address (`sidepanel.html?room=<id>`) once it is in the room list.
 * The background turns a tab that opened an invite link into that address, so the person lands on
 * the room they are joining (after unlocking or onboarding first, if needed). The parameter is read
 * once, at start; after the room has been opened, going back to the list stays there.
 */
import { watch } from 'vue';
import type { AppStore } from '@/stores/app';

/** The `room` parameter of a page address, if it is a room id (32 hex characters). */
export function roomFromSearch(search: string): string | null {
  const room = new URLSearchParams(search).get('room');
  return room && /^[0-9a-f]{32}$/.test(room) ? room : null;
}

/** Wires `?room=<id>` to `store.openRoom`; call from a component's setup. */
export function useRoomFromUrl(store: AppStore, search: string = typeof location === 'undefined' ? '' : location.search): void {
  const wanted = roomFromSearch(search);
  if (!wanted) return;
  let done = false;
  watch(
    [() => store.phase, () => store.rooms.some((r) => r.id === wanted)],
    ([phase, listed]) => {
      if (done || phase !== 'ready' || !listed) return;
      done = true;
      if (store.currentRoomId !== wanted) void store.openRoom(wanted);
    },
    { immediate: true },
  );
}
