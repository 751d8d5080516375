/**
 * What a message row can do, provided by the open room (RoomView) to every MessageItem below it, so the list
 * in between needs not pass it along: reply, react, and edit or delete one's own messages.
 */
import type { ComputedRef, InjectionKey } from 'vue';
import type { MessageView } from '@/utils/protocol-map';

/** The reactions offered in one click (any single emoji is accepted from others). */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export interface MessageActions {
  /** False where nothing can be sent (no key yet, removed from the room): rows show no actions then. */
  enabled: ComputedRef<boolean>;
  reply(message: MessageView): void;
  edit(message: MessageView): void;
  remove(message: MessageView): void;
  /** Sets our reaction ('' takes it back). */
  react(message: MessageView, emoji: string): void;
  /** Sends a failed message of ours again. */
  retry(message: MessageView): void;
  /** Gives up on a failed message of ours. */
  discard(message: MessageView): void;
}

export const MESSAGE_ACTIONS: InjectionKey<MessageActions> = Symbol('message-actions');

/** Our reaction to a message after clicking `emoji`: the same one again takes it back. */
export function toggledReaction(message: MessageView, emoji: string): string {
  return message.reactions.some((r) => r.mine && r.emoji === emoji) ? '' : emoji;
}
