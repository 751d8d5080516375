import type { TestProject } from 'vitest/node';
import { startParty } from './party-server';

declare module 'vitest' {
  export interface ProvidedContext {
    partyHost: string;
  }
}

/** One real party server for the whole run; tests read its address with `inject('partyHost')`. */
export default async function setup(project: TestProject) {
  const party = await startParty({ testHooks: true });
  project.provide('partyHost', party.host);
  return () => party.stop();
}
