/** The UI's handle on the background worker: typed requests and pushed events. */
import { browser } from 'wxt/browser';
import {
  UI_PORT_NAME,
  type PushEvent,
  type RequestEnvelope,
  type RequestOf,
  type RequestType,
  type ResponseOf,
  type Result,
  type UserError,
  type ViewingMessage,
} from './protocol-map';

export class BackendError extends Error {
  constructor(readonly error: UserError) {
    super(error.message);
  }
}

export interface Backend {
  request<K extends RequestType>(type: K, data: RequestOf<K>): Promise<ResponseOf<K>>;
  /** Calls `listener` for every pushed event until the returned function is called. */
  subscribe(listener: (event: PushEvent) => void): () => void;
  /** Tells the background which room this page shows while visible and focused (null: none), so that room does not notify. */
  setViewing(roomId: string | null): void;
}

export function createExtensionBackend(): Backend {
  /** The open ports (one per subscription) and the room this page shows, said again on every new port. */
  const ports = new Set<ReturnType<typeof browser.runtime.connect>>();
  let viewing: string | null = null;
  const tell = (port: ReturnType<typeof browser.runtime.connect>) => {
    const message: ViewingMessage = { kind: 'partychat-viewing', roomId: viewing };
    try {
      port.postMessage(message);
    } catch {
      // A port that just disconnected: the next one says it again.
    }
  };
  return {
    setViewing(roomId) {
      if (roomId === viewing) return;
      viewing = roomId;
      for (const port of ports) tell(port);
    },
    async request(type, data) {
      const envelope: RequestEnvelope = { kind: 'partychat-request', type, data };
      const result = (await browser.runtime.sendMessage(envelope)) as Result<never> | undefined;
      if (!result) throw new BackendError({ code: 'internal', message: 'the background worker did not answer' });
      if (!result.ok) throw new BackendError(result.error);
      return result.value;
    },
    subscribe(listener) {
      let closed = false;
      let port: ReturnType<typeof browser.runtime.connect> | null = null;
      const connect = () => {
        if (closed) return;
        const current = browser.runtime.connect({ name: UI_PORT_NAME });
        port = current;
        ports.add(current);
        if (viewing !== null) tell(current);
        current.onMessage.addListener((event) => listener(event as PushEvent));
        // The worker may be stopped and restarted by the browser; reconnect and ask for a refresh.
        current.onDisconnect.addListener(() => {
          ports.delete(current);
          if (closed) return;
          setTimeout(() => {
            connect();
            listener({ type: 'resync' });
          }, 250);
        });
      };
      connect();
      return () => {
        closed = true;
        if (port) ports.delete(port);
        port?.disconnect();
      };
    },
  };
}
