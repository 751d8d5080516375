import { defineBackground } from 'wxt/utils/define-background';
import { ChatService } from '@/services/chat';
import { browserSocketFactory, createUiHub, keepAlive, listenForRequests, showUnreadBadge } from '@/services/extension-bridge';
import { createRequestHandler } from '@/services/requests';
import { DEFAULT_PARTY_HOST } from '@/shared/constants';
import { extensionStore } from '@/utils/storage-items';

export default defineBackground(() => {
  const push = createUiHub();
  const chat: ChatService = new ChatService({
    local: extensionStore('local'),
    session: extensionStore('session'),
    openSocket: browserSocketFactory,
    fetch: (input, init) => fetch(input, init),
    defaultHost: import.meta.env.WXT_PARTY_HOST || DEFAULT_PARTY_HOST,
    emit: (event) => {
      push(event);
      showUnreadBadge(chat.totalUnread());
    },
  });
  listenForRequests(createRequestHandler(chat));
  keepAlive(() => void chat.ensureConnected());
  void chat.start();
});
