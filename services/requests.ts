/** Routes typed UI requests to the ChatService and wraps every answer in a Result. */
import type { ProtocolMap, RequestEnvelope, RequestType, Result } from '@/utils/protocol-map';
import type { ChatService } from './chat';
import { toUserError } from './errors';

type Handlers = { [K in RequestType]: (data: ProtocolMap[K]['req']) => Promise<ProtocolMap[K]['res']> };

export function createRequestHandler(chat: ChatService): (request: RequestEnvelope) => Promise<Result<unknown>> {
  const handlers: Handlers = {
    getState: () => chat.getState(),
    onboard: (d) => chat.onboard(d.name, d.passphrase, d.host),
    unlock: (d) => chat.unlock(d.passphrase),
    lock: () => chat.lock(),
    setHost: (d) => chat.setHost(d.host),
    createRoom: (d) => chat.createRoom(d.name, d.mode),
    getRoom: (d) => chat.getRoom(d.roomId),
    listMessages: (d) => chat.listMessages(d.roomId, d.limit, d.beforeId),
    sendMessage: (d) => chat.sendMessage(d.roomId, d.text, d.options),
    react: (d) => chat.react(d.roomId, d.messageId, d.emoji),
    editMessage: (d) => chat.editMessage(d.roomId, d.messageId, d.text),
    retryMessage: (d) => chat.retryMessage(d.roomId, d.messageId),
    discardMessage: (d) => chat.discardMessage(d.roomId, d.messageId),
    deleteMessage: (d) => chat.deleteMessage(d.roomId, d.messageId),
    inviteContact: (d) => chat.inviteContact(d.roomId, d.code),
    markRead: (d) => chat.markRead(d.roomId),
    createLink: (d) => chat.createLink(d.roomId, d.options),
    listLinks: (d) => chat.listLinks(d.roomId),
    revokeLink: (d) => chat.revokeLink(d.roomId, d.linkId),
    resetLinks: (d) => chat.resetLinks(d.roomId),
    previewLink: (d) => chat.previewLink(d.url),
    joinByLink: (d) => chat.joinByLink(d.url),
    dismissLink: (d) => chat.dismissLink(d.url),
    approveRequest: (d) => chat.approveRequest(d.roomId, d.fingerprint),
    denyRequest: (d) => chat.denyRequest(d.roomId, d.fingerprint),
    banRequester: (d) => chat.banRequester(d.roomId, d.fingerprint),
    setRoomSettings: (d) => chat.setRoomSettings(d.roomId, d.settings),
    loadOlder: (d) => chat.loadOlder(d.roomId),
    exportIdentity: (d) => chat.exportIdentity(d.passphrase),
    forgetRoom: (d) => chat.forgetRoom(d.roomId),
    setLinkPermission: (d) => chat.setLinkPermission(d.roomId, d.fingerprint, d.allowed),
    unban: (d) => chat.unban(d.roomId, d.fingerprint),
    removeMember: (d) => chat.removeMember(d.roomId, d.fingerprint),
    setMemberRole: (d) => chat.setMemberRole(d.roomId, d.fingerprint, d.role),
    leaveRoom: (d) => chat.leaveRoom(d.roomId, d.successor),
    importIdentity: (d) => chat.importIdentity(d.content, d.passphrase, d.host),
    setRoomMuted: (d) => chat.setRoomMuted(d.roomId, d.muted),
    dismissUnreadable: (d) => chat.dismissUnreadable(d.roomId),
    dismissUnreadableRooms: () => chat.dismissUnreadableRooms(),
    setNotificationPreviews: (d) => chat.setNotificationPreviews(d.enabled),
    decideInvitation: (d) => chat.decideInvitation(d.roomId, d.decision),
    setContactVerified: (d) => chat.setContactVerified(d.roomId, d.fingerprint, d.verified),
  };
  return async (request) => {
    const handler = handlers[request.type] as ((data: unknown) => Promise<unknown>) | undefined;
    if (!handler) return { ok: false, error: { code: 'invalid-input', message: `unknown request ${String(request.type)}` } };
    try {
      return { ok: true, value: await handler(request.data) };
    } catch (error) {
      return { ok: false, error: toUserError(error) };
    }
  };
}

export function isRequestEnvelope(message: unknown): message is RequestEnvelope {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'partychat-request';
}
