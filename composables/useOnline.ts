/** Whether the browser thinks it has a network (`navigator.onLine`), kept up to date by its `online` and `offline` events. */
import { onScopeDispose, readonly, ref, type Ref } from 'vue';
import type { ConnectionState, RoomSummary } from '@/utils/protocol-map';

export function useOnline(): Readonly<Ref<boolean>> {
  const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
  const update = (): void => {
    online.value = navigator.onLine;
  };
  window.addEventListener('online', update);
  window.addEventListener('offline', update);
  onScopeDispose(() => {
    window.removeEventListener('online', update);
    window.removeEventListener('offline', update);
  });
  return readonly(online);
}

/**
 * A room's connection as the panel shows it: what the background says (connected, reconnecting, offline), except
 * offline while the browser has no network (the background's socket may not have noticed yet) or we left the room.
 */
export function shownConnection(room: Pick<RoomSummary, 'connection' | 'removed'>, online: boolean): ConnectionState {
  return online && !room.removed ? room.connection : 'offline';
}

/** What each connection state is called, and a sentence on what it means. */
export const CONNECTION_TEXT = {
  connected: { word: 'chat.connected', hint: 'chat.connectedHint' },
  reconnecting: { word: 'chat.reconnecting', hint: 'chat.reconnectingHint' },
  offline: { word: 'chat.offline', hint: 'chat.offlineHint' },
} as const satisfies Record<ConnectionState, { word: string; hint: string }>;
