/** Storage items the UI pages share with each other (the background's own stored shapes are in services/records.ts). */
import { storage } from 'wxt/utils/storage';

/** A room the popup asked the side panel to open (room id), cleared by the side panel once shown. */
export const openRoomRequest = storage.defineItem<string | null>('session:openRoomRequest', {
  fallback: null,
  version: 1,
});
