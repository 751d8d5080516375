/** The background's extension-facing glue: request listener, UI ports, badge, keep-alive alarm, sockets. */
import PartySocket from 'partysocket';
import { browser, type Browser } from 'wxt/browser';
import type { PushEvent, RequestEnvelope, Result } from '@/utils/protocol-map';
import { UI_PORT_NAME } from '@/utils/protocol-map';
import type { SocketFactory, SocketLike } from './connection';
import { isRequestEnvelope } from './requests';

export const browserSocketFactory: SocketFactory = (target) =>
  new PartySocket({
    host: target.host,
    party: target.party,
    room: target.room,
    protocol: target.secure ? 'wss' : 'ws',
    minReconnectionDelay: 500,
    maxReconnectionDelay: 15_000,
  }) as unknown as SocketLike;

export function listenForRequests(handle: (request: RequestEnvelope) => Promise<Result<unknown>>): void {
  browser.runtime.onMessage.addListener((message: unknown, _sender: unknown, sendResponse: (r: unknown) => void) => {
    if (!isRequestEnvelope(message)) return undefined;
    void handle(message).then(sendResponse);
    return true;
  });
}

/** Open UI pages connect a port; pushed events go to all of them. */
export function createUiHub(): (event: PushEvent) => void {
  const ports = new Set<Browser.runtime.Port>();
  browser.runtime.onConnect.addListener((port) => {
    if (port.name !== UI_PORT_NAME) return;
    ports.add(port);
    port.onDisconnect.addListener(() => ports.delete(port));
  });
  return (event) => {
    for (const port of ports) port.postMessage(event);
  };
}

export function showUnreadBadge(count: number): void {
  void browser.action.setBadgeText({ text: count > 0 ? String(Math.min(count, 999)) : '' });
  void browser.action.setBadgeBackgroundColor({ color: '#4f46e5' });
}

/** Wakes the worker periodically so dropped connections come back even when no socket traffic did it. */
export function keepAlive(onWake: () => void): void {
  void browser.alarms.create('keep-alive', { periodInMinutes: 0.5 });
  browser.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === 'keep-alive') onWake();
  });
}
