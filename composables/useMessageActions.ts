/**
 * The open room's message actions: provides MESSAGE_ACTIONS to its message rows (react, reply, edit, delete) and
 * keeps what the composer is doing: answering a message (`replyingTo`) or editing one of ours (`editing`, with
 * its text in the draft). `submit` sends the draft as a new message, a reply, or the edit.
 */
import { computed, provide, ref, watch, type Ref } from 'vue';
import { MESSAGE_ACTIONS } from '@/components/message-actions';
import type { AppStore } from '@/stores/app';
import type { MessageView } from '@/utils/protocol-map';

export function useMessageActions(store: AppStore, roomId: Ref<string>, draft: Ref<string>, enabled: Ref<boolean>) {
  const replyingTo = ref<MessageView | null>(null);
  const editing = ref<MessageView | null>(null);
  /** The draft as it was before an edit filled the box, given back if the edit is cancelled. */
  let keptDraft = '';

  function cancel(): void {
    if (editing.value) draft.value = keptDraft;
    editing.value = null;
    replyingTo.value = null;
  }

  watch(roomId, () => {
    editing.value = null;
    replyingTo.value = null;
  });

  provide(MESSAGE_ACTIONS, {
    enabled: computed(() => enabled.value),
    reply(message) {
      cancel();
      replyingTo.value = message;
    },
    edit(message) {
      cancel();
      keptDraft = draft.value;
      editing.value = message;
      draft.value = message.text;
    },
    remove(message) {
      if (editing.value?.id === message.id || replyingTo.value?.id === message.id) cancel();
      void store.messageAction(roomId.value, { type: 'delete', messageId: message.id });
    },
    react(message, emoji) {
      void store.messageAction(roomId.value, { type: 'react', messageId: message.id, emoji });
    },
    retry(message) {
      void store.retryMessage(roomId.value, message.id);
    },
    discard(message) {
      if (editing.value?.id === message.id || replyingTo.value?.id === message.id) cancel();
      void store.discardMessage(roomId.value, message.id);
    },
  });

  /** Sends what is in the box; resolves true when the background took it (then the box is cleared). */
  async function submit(text: string): Promise<boolean> {
    const target = editing.value;
    if (target) {
      const done = text === target.text || (await store.messageAction(roomId.value, { type: 'edit', messageId: target.id, text }));
      if (done && editing.value === target) {
        editing.value = null;
        draft.value = keptDraft;
      }
      return false;
    }
    const answered = replyingTo.value;
    const sent = await store.sendMessage(roomId.value, text, answered ? { replyTo: answered.id } : {});
    if (sent && replyingTo.value === answered) replyingTo.value = null;
    return sent;
  }

  return { replyingTo, editing, cancel, submit };
}
