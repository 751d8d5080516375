/** The background's own settings: the party server address and whether notifications show message text. */
import { UserFacingError } from './errors';
import { formatHost, parseHost, type PartyHost } from './host';
import type { LocalItems } from './records';
import type { KeyValueStore } from './store';

export class Settings {
  /** The server in use: the build's default until the person picks another. */
  host: PartyHost;
  /** Notifications show the message text (off unless turned on). */
  previews = false;

  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    defaultHost: string,
  ) {
    this.host = parseHost(defaultHost) ?? { host: defaultHost, secure: false };
  }

  /** Reads what was stored (on start); a value of the wrong shape is ignored (the defaults stay), never fatal. */
  async load(): Promise<void> {
    const stored: unknown = await this.local.get('settings');
    const host = typeof stored === 'object' && stored !== null && 'host' in stored ? stored.host : undefined;
    if (typeof host === 'string') this.host = parseHost(host) ?? this.host;
    this.previews = typeof stored === 'object' && stored !== null && 'notificationPreviews' in stored && stored.notificationPreviews === true;
  }

  /** Takes a typed server address; a clear error when it is not one. */
  async setHost(input: string): Promise<void> {
    const parsed = parseHost(input);
    if (!parsed) throw new UserFacingError('invalid-input', 'server address must look like localhost:1999 or https://chat.example.org');
    this.host = parsed;
    await this.save();
  }

  async setPreviews(enabled: boolean): Promise<void> {
    this.previews = enabled;
    await this.save();
  }

  private async save(): Promise<void> {
    await this.local.set('settings', { host: formatHost(this.host), notificationPreviews: this.previews });
  }
}
