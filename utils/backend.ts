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
}

export function createExtensionBackend(): Backend {
  return {
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
        port = browser.runtime.connect({ name: UI_PORT_NAME });
        port.onMessage.addListener((event) => listener(event as PushEvent));
        // The worker may be stopped and restarted by the browser; reconnect and ask for a refresh.
        port.onDisconnect.addListener(() => {
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
        port?.disconnect();
      };
    },
  };
}
