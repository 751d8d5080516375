import { browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { ChatService } from '@/services/chat';
import {
  browserSocketFactory,
  createUiHub,
  keepAlive,
  listenForCapturedLinks,
  listenForPanelOpeners,
  listenForRequests,
  notifyJoinRequest,
  notifyMessage,
  redirectInviteLinks,
  toolbarActionOf,
  createUnreadBadge,
} from '@/services/extension-bridge';
import { messageNotice, noticeText, notifiesJoinRequest } from '@/services/notify-policy';
import { createRequestHandler } from '@/services/requests';
import { DEFAULT_PARTY_HOST } from '@/shared/constants';
import { t } from '@/utils/i18n';
import { extensionStore } from '@/services/extension-store';

export default defineBackground(() => {
  const ui = createUiHub();
  const showUnreadBadge = createUnreadBadge(toolbarActionOf(browser));
  const chat: ChatService = new ChatService({
    local: extensionStore('local'),
    session: extensionStore('session'),
    openSocket: browserSocketFactory,
    fetch: (input, init) => fetch(input, init),
    defaultHost: import.meta.env.WXT_PARTY_HOST || DEFAULT_PARTY_HOST,
    emit: (event) => {
      ui.push(event);
      showUnreadBadge(chat.totalUnread() + chat.totalRequests());
      const notice = messageNotice({ event, previews: chat.notificationPreviews, inView: ui.inView });
      if (notice) notifyMessage(notice, noticeText(notice));
      if (notifiesJoinRequest(event, (roomId) => chat.isMuted(roomId))) {
        notifyJoinRequest(event, { title: t('notify.joinRequestTitle', { room: event.roomName }), body: t('notify.joinRequestBody', { name: event.name }) });
      }
    },
  });
  listenForRequests(createRequestHandler(chat));
  listenForCapturedLinks((url) => chat.captureLink(url));
  listenForPanelOpeners();
  redirectInviteLinks(import.meta.env.WXT_PARTY_HOST).catch((error) => console.warn('could not set up the invite link redirect', error));
  keepAlive(() => void chat.ensureConnected().then(() => chat.sweepExpired()));
  void chat.start();
});
