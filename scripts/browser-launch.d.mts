// Types of scripts/browser-launch.mjs for the TypeScript tests that import it.
export interface Where {
  platform: string;
  uid: number | null;
  env: Record<string, string | undefined>;
}

export function needsNoSandbox(where: Where): boolean;

export function unpackedExtensionId(dir: string): string;

export function chromiumLaunchOptions(input: Where & { executablePath: string; extensionDir: string }): {
  executablePath: string;
  headless: false;
  viewport: null;
  chromiumSandbox: boolean;
  handleSIGINT: false;
  handleSIGTERM: false;
  handleSIGHUP: false;
  args: string[];
};

export function prepareProfile(profileDir: string, extensionId: string): Record<string, unknown>;

export function onceThenExit(close: () => Promise<void>, exit: (code: number) => void): () => void;
