/** What the user chooses for a room in this browser only (nothing is sent): muting its notifications. */
import type { RoomSummary } from '@/utils/protocol-map';
import type { RoomContext } from './context';
import type { RoomSession } from './session';
import { summary } from './views';

/** Mutes or unmutes the room's notifications; the stored record keeps it, every page gets the new summary. */
export async function setMuted(ctx: RoomContext, s: RoomSession, muted: boolean): Promise<RoomSummary> {
  await s.run(async () => {
    s.edit((record) => {
      if (muted) record.muted = true;
      else delete record.muted;
    });
    await s.save();
  });
  const view = summary(s);
  ctx.emit({ type: 'summary', room: view });
  return view;
}
