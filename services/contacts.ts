/**
 * Contacts and their pinned keys (issue 10, item 3). Everyone we share a verified room with, invite or look up is
 * pinned on first use: fingerprint → a digest of the public key we first saw for it, their name, when. A member
 * IS their fingerprint, so "their key changed" shows up in one of two ways, and both are flagged:
 *
 * - `key-changed`: a key other than the pinned one for a pinned fingerprint (the directory or a room's chain hands
 *   out other packets under the same primary key). The verified mark is dropped, the key is refused for new
 *   invitations, and the warning stays until the person compares safety numbers again and marks them verified
 *   (which pins the key seen last).
 * - `lookalike`: someone first seen now whose display name is a pinned contact's (compared trimmed, case-folded,
 *   NFKC) but whose fingerprint is another: the person reinstalled and made a new identity, or an impostor. The
 *   newcomer is flagged ("not the Alice you know"), the earlier contact keeps their mark; it clears when the
 *   person verifies the newcomer. People first seen together (one roster) are not flagged against each other.
 *
 * Verification is the person's word after comparing safety numbers (shared/safety.ts). The book is sealed under
 * the vault key (`contacts`), so it shows no one's contacts on disk; it stays in this browser.
 */
import { displayNameOf, readPublicKey, unnamed } from '@/shared/crypto';
import type { Roster } from '@/shared/membership';
import { toHex } from '@/shared/encoding';
import type { KeyWarningView } from '@/utils/protocol-map';
import { UserFacingError } from './errors';
import { unreadableReason, type Quarantine } from './quarantine';
import type { LocalItems } from './records';
import { seal, unseal } from './sealed';
import type { KeyValueStore } from './store';
import { contactBookShape } from './stored-shapes';

/** Contacts kept; past it the ones first seen longest ago are forgotten. */
const MAX_CONTACTS = 2000;
const KEY = 'contacts';

export interface Contact {
  fingerprint: string;
  name: string;
  /** SHA-256 (hex) of the public key's packets as first seen (or as last verified). */
  keyDigest: string;
  firstSeen: number;
  verified: boolean;
  /** Another key was seen for this fingerprint: its digest and when. Cleared only by verifying again. */
  keyChanged?: { digest: string; at: number };
  /** Fingerprint of an earlier contact whose name this one presents under. Cleared by verifying this one. */
  lookalikeOf?: string;
}

export interface ContactBook {
  contacts: Contact[];
}


/** Someone seen with a key: a member of a verified roster, or a key the directory handed out. */
export interface Sighting {
  fingerprint: string;
  name: string;
  publicKey: string;
}

/** What seal/unseal need of the unlocked vault. */
interface VaultKey {
  vaultKey: CryptoKey;
}

/** SHA-256 of an armored key's packets (armor headers and line breaks do not count). */
export async function keyDigest(armored: string): Promise<string> {
  const key = await readPublicKey(armored);
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', key.write() as BufferSource)));
}

function sameName(a: string, b: string): boolean {
  const fold = (s: string): string => s.normalize('NFKC').trim().toLocaleLowerCase();
  return fold(a) !== '' && fold(a) === fold(b);
}

export class Contacts {
  private book = new Map<string, Contact>();
  /** Digests of armored keys already read (every chain change shows the whole roster again). */
  private readonly digests = new Map<string, string>();
  /** Saves run one after another (sightings arrive from several rooms at once). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    private readonly now: () => number,
    /** Told of people whose warning is new, so every room they share can show it. */
    private readonly onWarning: (fingerprints: string[]) => void = () => undefined,
  ) {}

  /** Reads the book (at unlock). One that cannot be read is moved aside (`quarantine`): the book starts empty and pins again. */
  async load(me: VaultKey, quarantine?: Quarantine): Promise<void> {
    const sealed = await this.local.get(KEY);
    let stored: ContactBook = { contacts: [] };
    try {
      if (sealed) stored = contactBookShape.parse(await unseal<unknown>(me.vaultKey, sealed, KEY)) as ContactBook;
    } catch (error) {
      if (await quarantine?.put({ from: KEY, room: null, count: 0, reason: unreadableReason(error) }, { stored: sealed })) await this.local.remove(KEY);
    }
    this.book = new Map(stored.contacts.map((c) => [c.fingerprint, c]));
  }

  /** Forgets what was loaded (lock). */
  clear(): void {
    this.book = new Map();
  }

  /** The name we know a contact by (from a room we share), if it is a name and not just their code. */
  nameOf(fingerprint: string): string | undefined {
    const name = this.book.get(fingerprint)?.name;
    return name && name !== unnamed(fingerprint) ? name : undefined;
  }

  contact(fingerprint: string): Contact | undefined {
    return this.book.get(fingerprint);
  }

  isVerified(fingerprint: string): boolean {
    return this.book.get(fingerprint)?.verified === true;
  }

  /** Why this person is not who they seem, if anything: `of` names the contact a lookalike presents as. */
  warning(fingerprint: string): KeyWarningView | null {
    const c = this.book.get(fingerprint);
    if (!c) return null;
    if (c.keyChanged) return { kind: 'key-changed', of: null };
    if (c.lookalikeOf) return { kind: 'lookalike', of: this.book.get(c.lookalikeOf)?.name ?? c.name };
    return null;
  }

  /**
   * Pins whoever is new and checks everyone else's key against their pin. Resolves with the fingerprints whose
   * warning is new (so the rooms they are in can be told).
   */
  see(me: VaultKey, people: readonly Sighting[]): Promise<string[]> {
    return this.serially(async () => {
      const before = [...this.book.values()];
      const flagged: string[] = [];
      let changed = false;
      for (const person of people) {
        const digest = await this.digestOf(person.publicKey);
        const pinned = this.book.get(person.fingerprint);
        if (!pinned) {
          const earlier = before.filter((c) => c.fingerprint !== person.fingerprint && sameName(c.name, person.name));
          const lookalike = earlier.find((c) => c.verified) ?? earlier[0];
          this.book.set(person.fingerprint, {
            fingerprint: person.fingerprint,
            name: person.name,
            keyDigest: digest,
            firstSeen: this.now(),
            verified: false,
            ...(lookalike ? { lookalikeOf: lookalike.fingerprint } : {}),
          });
          changed = true;
          if (lookalike) flagged.push(person.fingerprint);
        } else {
          let next = pinned;
          if (digest !== pinned.keyDigest && pinned.keyChanged?.digest !== digest) {
            if (!pinned.keyChanged) flagged.push(person.fingerprint);
            next = { ...next, verified: false, keyChanged: { digest, at: this.now() } };
          }
          // A name learnt later (a member's sealed profile arrives after their key): taken, and checked like a new one.
          if (person.name && person.name !== pinned.name && person.name !== unnamed(person.fingerprint)) {
            const lookalike = pinned.lookalikeOf ? undefined : before.find((c) => c.fingerprint !== person.fingerprint && sameName(c.name, person.name));
            next = { ...next, name: person.name, ...(lookalike ? { lookalikeOf: lookalike.fingerprint } : {}) };
            if (lookalike && !flagged.includes(person.fingerprint)) flagged.push(person.fingerprint);
          }
          if (next !== pinned) {
            changed = true;
            this.book.set(person.fingerprint, next);
          }
        }
      }
      if (changed) await this.save(me);
      if (flagged.length) this.onWarning(flagged);
      return flagged;
    });
  }

  /** Pins the members of a verified roster (all but us). */
  seeRoster(me: VaultKey & { identity: { fingerprint: string } }, roster: Roster): Promise<string[]> {
    return this.see(me, [...roster.members.values()].filter((m) => m.fingerprint !== me.identity.fingerprint));
  }

  /** A directory look-up checked against the pin: a key other than the pinned one is flagged and refused. */
  async lookup(me: VaultKey, fingerprint: string, fetchKey: (fingerprint: string) => Promise<string>): Promise<string> {
    const armored = await fetchKey(fingerprint);
    await this.requireKey(me, fingerprint, armored, displayNameOf(await readPublicKey(armored)) || unnamed(fingerprint));
    return armored;
  }

  /** A key about to be used for someone (an invitation): pinned if new, refused if it is not the pinned one. */
  async requireKey(me: VaultKey, fingerprint: string, publicKey: string, name = ''): Promise<void> {
    await this.see(me, [{ fingerprint, name, publicKey }]);
    if (this.book.get(fingerprint)?.keyChanged) {
      throw new UserFacingError('contact-key-mismatch', 'this contact’s key is not the one pinned when you first met: compare safety numbers again');
    }
  }

  /**
   * The person compared safety numbers (or takes the mark back). Verifying accepts the key seen last and
   * clears both warnings; clearing only drops the mark.
   */
  setVerified(me: VaultKey, fingerprint: string, verified: boolean): Promise<Contact> {
    return this.serially(async () => {
      const c = this.book.get(fingerprint);
      if (!c) throw new UserFacingError('invalid-input', 'this person is not a contact');
      const next: Contact = verified
        ? { fingerprint, name: c.name, keyDigest: c.keyChanged?.digest ?? c.keyDigest, firstSeen: c.firstSeen, verified: true }
        : { ...c, verified: false };
      this.book.set(fingerprint, next);
      await this.save(me);
      return next;
    });
  }

  private async digestOf(armored: string): Promise<string> {
    let digest = this.digests.get(armored);
    if (digest === undefined) {
      digest = await keyDigest(armored);
      if (this.digests.size >= MAX_CONTACTS) this.digests.clear();
      this.digests.set(armored, digest);
    }
    return digest;
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async save(me: VaultKey): Promise<void> {
    const contacts = [...this.book.values()].sort((a, b) => a.firstSeen - b.firstSeen).slice(-MAX_CONTACTS);
    this.book = new Map(contacts.map((c) => [c.fingerprint, c]));
    await this.local.set(KEY, await seal(me.vaultKey, { contacts } satisfies ContactBook, KEY));
  }
}
