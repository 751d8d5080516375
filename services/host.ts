/** The party server address as a person types it (`localhost:1999`, `https://chat.example.org`) and the URLs derived from it. */

export interface PartyHost {
  /** host[:port] with no scheme. */
  host: string;
  /** True for TLS (wss/https), false for plain, chosen like PartySocket does when no scheme was typed. */
  secure: boolean;
}

const LOCAL = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0|192\.168\.\d+\.\d+|10\.\d+\.\d+\.\d+)(:\d+)?$/;

/** Parses a typed address; null if it is not a host[:port] with an optional http(s) scheme. */
export function parseHost(input: string): PartyHost | null {
  const trimmed = input.trim().replace(/\/+$/, '');
  const match = /^(?:(https?|wss?):\/\/)?([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$/i.exec(trimmed);
  if (!match) return null;
  const [, scheme, name = '', port = ''] = match;
  const host = `${name.toLowerCase()}${port}`;
  const secure = scheme ? scheme === 'https' || scheme === 'wss' : !LOCAL.test(host);
  return { host, secure };
}

/** The canonical text to store and show: scheme only when it differs from the default guess. */
export function formatHost(party: PartyHost): string {
  const guessed = !LOCAL.test(party.host);
  return party.secure === guessed ? party.host : `${party.secure ? 'https' : 'http'}://${party.host}`;
}

export function httpUrl(party: PartyHost, path: string): string {
  return `${party.secure ? 'https' : 'http'}://${party.host}${path}`;
}

/** localhost and 127.0.0.1 name the same machine; otherwise hosts must match exactly. */
export function sameHost(a: string, b: string): boolean {
  const local = (h: string) => h.replace(/^(localhost|127\.0\.0\.1|\[::1\])(?=:|$)/, 'loopback');
  return local(a.toLowerCase()) === local(b.toLowerCase());
}
