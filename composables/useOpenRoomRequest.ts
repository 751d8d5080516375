/**
 * Opens the room the popup asked for (the `openRoomRequest` session item), now and whenever it changes
 * while the side panel is open. A request made while locked waits until the phase is `ready`.
 */
import { onScopeDispose, ref, watch } from 'vue';
import type { AppStore } from '@/stores/app';
import { openRoomRequest } from '@/utils/storage-items';

/** Wires `openRoomRequest` to `store.openRoom`; call from a component's setup. */
export function useOpenRoomRequest(store: AppStore): void {
  const wanted = ref<string | null>(null);

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

  void openRoomRequest.getValue().then(take);
  const unwatch = openRoomRequest.watch(take);
  onScopeDispose(unwatch);
}
