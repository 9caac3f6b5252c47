// A natter server of a test's own, on a fresh SQLite database: the run's server
// (playwright.config.ts) is shared by every spec, so on it nobody knows who signed up
// first and became the administrator (issue 34). On a fresh instance the test's first
// account is the administrator.
//
// `test` here is helpers' `test` with an `instance` fixture: a test that asks for it gets
// a server started before it and stopped after it (SIGTERM, then SIGKILL), its folder
// removed. Open pages on it with `openPage({ baseURL: instance.origin })`: relative paths
// (and so every helper) then go to it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { escapeRegExp, expect, expectPath, gotoHydrated, PASSWORD, test as base } from './helpers';

export interface Instance {
  /** `http://127.0.0.1:PORT`, also the server's `--public-origin`. */
  origin: string;
  /** The server's output so far (the last 64 KiB), for a failure's report. */
  log(): string;
  stop(): Promise<void>;
}

/** How long a server may take to answer /healthz. */
const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
const LOG_LIMIT = 64 * 1024;

/** Servers still running, killed if the worker exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from the kernel'));
        return;
      }
      const port = address.port;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `NATTER_BIN` on a free port with an empty database and waits until it answers /healthz. */
export async function startInstance(): Promise<Instance> {
  const bin = process.env.NATTER_BIN;
  if (!bin) throw new Error('natter e2e: NATTER_BIN is not set (see playwright.config.ts)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-e2e-instance-'));
  const dbFile = path.join(dir, 'natter.db');
  // An empty file is a valid empty SQLite database (as in playwright.config.ts).
  fs.writeFileSync(dbFile, '');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;

  // The run's environment (LEPTOS_SITE_ROOT, RUST_LOG, ...), without anything that
  // would point this server elsewhere than its own database and files (Redis, S3, ...).
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('NATTER_') || key === 'DATABASE_URL') continue;
    env[key] = value;
  }
  const child = spawn(
    bin,
    [
      '--bind', `127.0.0.1:${port}`,
      '--public-origin', origin,
      '--database-url', `sqlite://${dbFile}`,
      '--sign-up-per-minute', '1000',
      '--sign-in-per-minute', '1000',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-LOG_LIMIT);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let spawnError: Error | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const gone = await Promise.race([exited(child).then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await Promise.race([exited(child), sleep(STOP_TIMEOUT_MS)]);
      }
    }
    running.delete(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `natter e2e: the fresh instance did not start (${spawnError?.message ?? `exit ${child.exitCode ?? child.signalCode}`}):\n${output}`,
      );
    }
    try {
      const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`natter e2e: the fresh instance at ${origin} did not answer /healthz in ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(100);
  }
  return { origin, log: () => output, stop };
}

/** helpers' `test`, with a fresh natter server of the test's own (`instance`). */
export const test = base.extend<{ instance: Instance }>({
  instance: async ({ browser }, use, testInfo) => {
    const instance = await startInstance();
    try {
      await use(instance);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('natter log (fresh instance)', { body: instance.log(), contentType: 'text/plain' });
      }
      // The test's pages go before their server does: a page that loses its server
      // while open could report errors of no test's making. (Tests name `instance`
      // before `openPage`, so openPage's teardown, which checks the pages' errors,
      // usually has run already and this closes nothing.)
      for (const context of browser.contexts()) await context.close();
      await instance.stop();
    }
  },
});

// ---------------------------------------------------------------------------
// The administration page (/admin) and the sign-up page with an invitation link. /admin
// and /reset are rendered on the server only (no WASM): plain forms, full page loads.

/** A section of /admin by its heading: "At a glance", "Sign-up", "Invitations", "People", "Audit log". */
export function adminSection(page: Page, name: string): Locator {
  return page.getByRole('region', { name, exact: true });
}

/** Loads /admin and asserts it is the administration page. */
export async function openAdmin(page: Page, query = ''): Promise<void> {
  const response = await page.goto(`/admin${query}`);
  expect(response?.status(), '/admin should answer 200 to an administrator').toBe(200);
  await expect(page.getByRole('heading', { level: 1, name: 'Administration', exact: true })).toBeVisible();
}

/** The row of `name` in the People table (its row header is the name, then any badges). */
export function personRow(page: Page, name: string): Locator {
  return adminSection(page, 'People')
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${escapeRegExp(name)}(\\s|$)`) }) });
}

/** A button of `name`'s row: "Deactivate", "Reactivate", "Reset password link", "Make administrator", "Remove administrator". */
export function personAction(page: Page, name: string, action: string): Locator {
  return personRow(page, name).getByRole('button', { name: action, exact: true });
}

/** The sign-up mode's select on /admin. */
export function signupModeSelect(page: Page): Locator {
  return adminSection(page, 'Sign-up').getByRole('combobox', { name: 'Sign-up', exact: true });
}

/** Sets the sign-up mode on /admin (already open) and asserts the page came back with it. */
export async function setSignupMode(page: Page, mode: 'open' | 'invite' | 'closed'): Promise<void> {
  await signupModeSelect(page).selectOption(mode);
  await adminSection(page, 'Sign-up').getByRole('button', { name: 'Save', exact: true }).click();
  await expectPath(page, '/admin');
  await expect(signupModeSelect(page)).toHaveValue(mode);
}

/** Makes an invitation on /admin (already open) and returns its link, as the page shows it. */
export async function createInvitation(
  page: Page,
  origin: string,
  { uses = 'once', days = '7' }: { uses?: 'once' | 'many'; days?: '1' | '7' | '30' } = {},
): Promise<string> {
  const section = adminSection(page, 'Invitations');
  await section.getByRole('combobox', { name: 'Uses', exact: true }).selectOption(uses);
  await section.getByRole('combobox', { name: 'Valid for', exact: true }).selectOption(days);
  await section.getByRole('button', { name: 'Create invitation', exact: true }).click();
  await expectPath(page, '/admin');
  const field = section.getByRole('textbox', { name: 'Invitation link', exact: true });
  await expect(field).toHaveValue(new RegExp(`^${escapeRegExp(origin)}/signup\\?invite=[0-9a-f]{64}$`));
  await expect(field).toHaveAttribute('readonly', '');
  return field.inputValue();
}

/** Clicks "Reset password link" in `name`'s row on /admin (already open) and returns the link shown. */
export async function makeResetLink(page: Page, origin: string, name: string): Promise<string> {
  await personAction(page, name, 'Reset password link').click();
  await expectPath(page, '/admin');
  const field = adminSection(page, 'People').getByRole('textbox', { name: 'Reset password link', exact: true });
  await expect(field).toHaveValue(new RegExp(`^${escapeRegExp(origin)}/reset\\?token=[0-9a-f]{64}$`));
  await expect(field).toHaveAttribute('readonly', '');
  await expect(adminSection(page, 'People').getByRole('status')).toContainText(`Give this link to ${name} yourself`);
  return field.inputValue();
}

/** The note above the sign-up form (role="status"): the first administrator, the inviter, the mode. */
export function signupNote(page: Page): Locator {
  return page.locator('.form-note[role="status"]');
}

/** Opens `link` (an invitation link, or /signup) and submits the sign-up form, without asserting the outcome. */
export async function submitSignUp(page: Page, link: string, user: string, password: string = PASSWORD): Promise<void> {
  await gotoHydrated(page, link);
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
}
