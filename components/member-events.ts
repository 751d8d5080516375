/**
 * Membership as the chat and the members panel show it: the sentence a membership change says
 * ("Alice removed Bob"), and the short key tag that tells apart members who share a display name.
 */
import type { ComputedRef, InjectionKey } from 'vue';
import { t } from '@/utils/i18n';
import type { KeyWarningView, MemberChange } from '@/utils/protocol-map';

/** Contact-code groups (of four) in a name tag: 64 bits of the fingerprint, enough that a look-alike key cannot copy it. */
export const TAG_GROUPS = 4;

const KEYS: Record<MemberChange, Parameters<typeof t>[0]> = {
  joined: 'event.joined',
  added: 'event.added',
  approved: 'event.approved',
  removed: 'event.removed',
  left: 'event.left',
  'links-allowed': 'event.linksAllowed',
  'links-denied': 'event.linksDenied',
  promoted: 'event.promoted',
  demoted: 'event.demoted',
  'left-successor': 'event.leftSuccessor',
};

/** What a membership change says in the chat; an unknown name reads "Someone" / "An admin". */
export function describeMemberChange(change: MemberChange, memberName: string, byName: string): string {
  const name = memberName.trim() || t('event.someoneMember');
  const by = byName.trim() || t('event.someone');
  return t(KEYS[change], { name, by });
}

/** The first groups of a fingerprint's contact code, e.g. "1A2B 3C4D 5E6F 7A8B". */
export function fingerprintTag(fingerprint: string): string {
  return (fingerprint.toUpperCase().match(/.{1,4}/g) ?? []).slice(0, TAG_GROUPS).join(' ');
}

/** Tags for the people whose display name another one of them shares (by fingerprint); others get none. */
export function collidingNameTags(people: ReadonlyArray<{ fingerprint: string; name: string }>): Map<string, string> {
  const byName = new Map<string, Set<string>>();
  for (const p of people) {
    const key = p.name.trim().toLocaleLowerCase();
    byName.set(key, (byName.get(key) ?? new Set()).add(p.fingerprint));
  }
  const tags = new Map<string, string>();
  for (const fingerprints of byName.values()) {
    if (fingerprints.size > 1) for (const fp of fingerprints) tags.set(fp, fingerprintTag(fp));
  }
  return tags;
}

/** The open room's name tags, provided by the room view to the message rows (sender names) below it. */
export const SENDER_TAGS: InjectionKey<ComputedRef<Map<string, string>>> = Symbol('sender-tags');

/** What a key warning says about a member (`name`): their key changed, or they are not the contact `of` they look like. */
export function warningText(name: string, warning: KeyWarningView): string {
  return warning.kind === 'key-changed' ? t('keys.changed', { name }) : t('keys.lookalike', { name, of: warning.of ?? name });
}

/**
 * What the message rows show after a sender's name, provided by the room view: the members we verified (compared
 * safety numbers with), and those with a key warning.
 */
export const SENDER_TRUST: InjectionKey<ComputedRef<{ verified: Set<string>; warned: Set<string> }>> = Symbol('sender-trust');
