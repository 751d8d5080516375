/**
 * Opens the room the popup asked for (the `openRoomRequest` session item), now and whenever it changes
 * while the side panel is open. A request made while locked waits until the phase is `ready`.
 * Returns `checking`: true until the request has been read at start, so the page does not render the
 * whole room list only to replace it with the requested room.
 */
import { onScopeDispose, ref, watch, type Ref } from 'vue';
import type { AppStore } from '@/stores/app';
import { openRoomRequest } from '@/utils/storage-items';

/** Wires `openRoomRequest` to `store.openRoom`; call from a component's setup. */
export function useOpenRoomRequest(store: AppStore): { checking: Readonly<Ref<boolean>> } {
  const wanted = ref<string | null>(null);
  const checking = ref(true);

  function take(roomId: string | null): void {
    if (!roomId) return;
    wanted.value = roomId;
    void openRoomRequest.setValue(null);
  }

  watch(
    [wanted, () => store.phase],
    ([roomId, phase]) => {
      if (!roomId || phase !== 'ready') return;
      wanted.value = null;
      void store.openRoom(roomId);
    },
    { immediate: true },
  );

  void openRoomRequest
    .getValue()
    .then(take)
    .finally(() => (checking.value = false));
  const unwatch = openRoomRequest.watch(take);
  onScopeDispose(unwatch);
  return { checking };
}
