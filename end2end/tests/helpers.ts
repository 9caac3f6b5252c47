import { test as base, expect, type BrowserContext, type Locator, type Page, type Response } from '@playwright/test';

export { expect };

/**
 * Base URL of the server under test: the one playwright.config.ts starts (its
 * `use.baseURL`), or, with NATTER_E2E_CLUSTER set, the cluster's proxy (cluster.spec.ts).
 */
export const BASE_URL = process.env.NATTER_E2E_CLUSTER || `http://127.0.0.1:${process.env.NATTER_E2E_PORT}`;

/** A password that satisfies the app's rule (at least 8 characters). */
export const PASSWORD = 'correct-horse-42';

/** Hydration can be slow on a busy machine (first WASM compile), so give it more than the default expect timeout. */
const HYDRATION_TIMEOUT = 30_000;

/** Contexts opened with JavaScript disabled: pages in them never hydrate, so the helpers don't wait for it. */
const noJsContexts = new WeakSet<BrowserContext>();

type OpenPage = (options?: { js?: boolean; baseURL?: string }) => Promise<Page>;

/**
 * `test` with an `openPage` fixture: every call opens a page in a new browser
 * context (a separate user session). All contexts are closed after the test.
 * `baseURL` points the context at another server than the run's (a fresh instance of
 * tests/instance.ts); relative paths, and so every helper here, then go there.
 */
export const test = base.extend<{ openPage: OpenPage }>({
  openPage: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    // An uncaught error in a page (a failed hydration is one) fails the test.
    const errors: string[] = [];
    await use(async ({ js = true, baseURL = BASE_URL } = {}) => {
      const context = await browser.newContext({
        baseURL,
        javaScriptEnabled: js,
        // The TLS proxy (NATTER_CLUSTER_PROXY=tls) has a throwaway self-signed certificate.
        ignoreHTTPSErrors: baseURL.startsWith('https:'),
      });
      contexts.push(context);
      if (!js) noJsContexts.add(context);
      const page = await context.newPage();
      page.on('pageerror', (error) => {
        console.error(`[page error] ${page.url()}: ${error.message}`);
        errors.push(`${page.url()}: ${error.message}`);
      });
      return page;
    });
    for (const context of contexts) await context.close();
    expect(errors, 'uncaught errors in the pages').toEqual([]);
  },
});

// ---------------------------------------------------------------------------
// Names

/** A random lowercase suffix, 10 characters of [a-z0-9]. */
export function uniqueSuffix(): string {
  const time = Date.now().toString(36).slice(-4);
  const random = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
  return time + random;
}

/** A valid username: `prefix` + suffix, lowercase, at most 32 characters of [a-z0-9_.-]. */
export function username(prefix: string, suffix: string = uniqueSuffix()): string {
  const name = (prefix + suffix).toLowerCase().slice(0, 32);
  if (!/^[a-z0-9_.-]{3,32}$/.test(name)) throw new Error(`bad test username ${name}`);
  return name;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------
// Navigation

/** Waits until the WASM has hydrated the current document (no-op in a no-JS context). */
export async function waitHydrated(page: Page): Promise<void> {
  if (noJsContexts.has(page.context())) return;
  await expect(
    page.locator('html[data-hydrated="true"]'),
    'page should hydrate (<html data-hydrated="true">)',
  ).toBeAttached({ timeout: HYDRATION_TIMEOUT });
}

/** Full navigation to `path`, then waits for hydration. Returns the main response. */
export async function gotoHydrated(page: Page, path: string): Promise<Response | null> {
  const response = await page.goto(path);
  await waitHydrated(page);
  return response;
}

/** Reloads the page and waits for hydration. */
export async function reloadHydrated(page: Page): Promise<void> {
  await page.reload();
  await waitHydrated(page);
}

/** Asserts the current URL's path (query and hash are ignored). */
export async function expectPath(page: Page, path: string | RegExp): Promise<void> {
  await expect(page).toHaveURL((url) =>
    typeof path === 'string' ? url.pathname === path : path.test(url.pathname),
  );
}

/** Path of the current page, e.g. `/chats/12`. */
export function currentPath(page: Page): string {
  return new URL(page.url()).pathname;
}

/**
 * Loads `from` and asserts the server answered with an HTTP redirect
 * (3xx) that ended at path `to`.
 */
export async function expectServerRedirect(page: Page, from: string, to: string): Promise<void> {
  const response = await page.goto(from);
  expect(response, `navigation to ${from} should produce a response`).not.toBeNull();
  let first = response!.request();
  while (first.redirectedFrom()) first = first.redirectedFrom()!;
  expect(new URL(first.url()).pathname).toBe(from);
  const firstResponse = await first.response();
  expect(firstResponse?.status(), `${from} should answer with a redirect`).toBeGreaterThanOrEqual(300);
  expect(firstResponse?.status(), `${from} should answer with a redirect`).toBeLessThan(400);
  await expectPath(page, to);
  await waitHydrated(page);
}

// ---------------------------------------------------------------------------
// Accounts

async function submitCredentials(
  page: Page,
  path: string,
  button: string,
  user: string,
  password: string,
  { skipNativeValidation = false } = {},
) {
  await gotoHydrated(page, path);
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const submit = page.getByRole('button', { name: button, exact: true });
  if (skipNativeValidation) {
    // Bad input must be rejected by the app itself (with an alert), so switch
    // off the browser's own checks (pattern, minlength, ...) on the form.
    await submit.evaluate((b) => {
      const form = (b as HTMLButtonElement).form;
      if (form) form.noValidate = true;
    });
  }
  await submit.click();
}

/**
 * Signs up a new account and asserts it lands on /chats, signed in. Unless `consent` is
 * false, the account then lets anyone add it to groups (the default since issue 29 is
 * "People I share a chat with", which turns a stranger's add into an invitation): the
 * specs that are not about consent put fresh accounts into groups.
 */
export async function signUp(page: Page, user: string, password: string = PASSWORD, consent = true): Promise<void> {
  await submitCredentials(page, '/signup', 'Sign up', user, password);
  await expectPath(page, '/chats');
  await waitHydrated(page);
  await expect(signOutButton(page)).toBeVisible();
  if (consent) {
    // The page's own cookies; a request without Origin or Sec-Fetch-Site is no browser's
    // and passes the cross-origin check (src/server/edge/origin.rs).
    const res = await page.request.post('/api/set_group_adds', {
      form: { group_adds: 'anyone' },
      headers: { accept: 'application/json' },
    });
    expect(res.status()).toBe(200);
  }
}

/** Signs in and asserts it lands on /chats, signed in. */
export async function signIn(page: Page, user: string, password: string = PASSWORD): Promise<void> {
  await submitCredentials(page, '/login', 'Sign in', user, password);
  await expectPath(page, '/chats');
  await waitHydrated(page);
  await expect(signOutButton(page)).toBeVisible();
}

/** Fills and submits the sign-in form (browser validation off) without asserting the outcome. */
export async function attemptSignIn(page: Page, user: string, password: string): Promise<void> {
  await submitCredentials(page, '/login', 'Sign in', user, password, { skipNativeValidation: true });
}

/** Fills and submits the sign-up form (browser validation off) without asserting the outcome. */
export async function attemptSignUp(page: Page, user: string, password: string): Promise<void> {
  await submitCredentials(page, '/signup', 'Sign up', user, password, { skipNativeValidation: true });
}

/** Clicks "Sign out" and asserts it lands on /login. */
export async function signOut(page: Page): Promise<void> {
  await signOutButton(page).click();
  await expectPath(page, '/login');
  await waitHydrated(page);
}

export function signOutButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Sign out', exact: true });
}

/** Waits for a non-empty role="alert" element and returns its trimmed text. */
export async function alertText(page: Page): Promise<string> {
  const alert = page.getByRole('alert').filter({ hasText: /\S/ });
  await expect(alert).toBeVisible();
  return ((await alert.textContent()) ?? '').trim();
}

// ---------------------------------------------------------------------------
// Chats

/** The chat list in the signed-in layout. */
export function chatList(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Chats' });
}

/** The link for the chat titled `title` in the chat list (its name may continue with a preview). */
export function chatLink(page: Page, title: string): Locator {
  return chatList(page).getByRole('link', { name: new RegExp('^\\s*' + escapeRegExp(title)) });
}

/**
 * Goes to the New chat page via the "New chat" link, fills Members (and Title
 * if given), clicks Create and returns the path of the chat, e.g. `/chats/3`.
 */
export async function createChat(page: Page, members: string, title?: string): Promise<string> {
  await page.getByRole('link', { name: 'New chat', exact: true }).click();
  await expectPath(page, '/chats/new');
  await waitHydrated(page);
  await page.getByLabel('Members', { exact: true }).fill(members);
  if (title !== undefined) await page.getByLabel('Title', { exact: true }).fill(title);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await expectPath(page, /^\/chats\/\d+$/);
  await waitHydrated(page);
  return currentPath(page);
}

/** A DM between two fresh users, both looking at it. */
export async function openDm(openPage: OpenPage) {
  const suffix = uniqueSuffix();
  const a = username('a', suffix);
  const b = username('b', suffix);
  const pageA = await openPage();
  const pageB = await openPage();
  await signUp(pageA, a);
  await signUp(pageB, b);
  const chat = await createChat(pageA, b);
  await gotoHydrated(pageB, chat);
  return { a, b, pageA, pageB, chat, suffix };
}

/** Loads /chats, clicks the chat titled `title` in the list and returns the chat's path. */
export async function openChatFromList(page: Page, title: string): Promise<string> {
  await gotoHydrated(page, '/chats');
  const link = chatLink(page, title);
  await expect(link).toBeVisible();
  await link.click();
  await expectPath(page, /^\/chats\/\d+$/);
  await waitHydrated(page);
  return currentPath(page);
}

export function chatHeading(page: Page, title: string): Locator {
  return page.getByRole('heading', { level: 2, name: title, exact: true });
}

export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages' });
}

export function composer(page: Page): Locator {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

/**
 * Types `text` into the composer and sends it, with the Enter key or the
 * Send button, then waits for it to show up in the message log.
 */
export async function sendMessage(page: Page, text: string, how: 'enter' | 'button' = 'button'): Promise<void> {
  await composer(page).fill(text);
  if (how === 'enter') {
    await composer(page).press('Enter');
  } else {
    await page.getByRole('button', { name: 'Send', exact: true }).click();
  }
  await expect(messageLog(page)).toContainText(text);
}

/** Asserts the message log contains all `texts`, in this order. */
export async function expectMessagesInOrder(page: Page, texts: string[]): Promise<void> {
  const log = messageLog(page);
  for (const text of texts) await expect(log).toContainText(text);
  const all = (await log.textContent()) ?? '';
  const positions = texts.map((text) => all.indexOf(text));
  const sorted = [...positions].sort((a, b) => a - b);
  expect(positions, `messages should appear in order ${JSON.stringify(texts)}; log text:\n${all}`).toEqual(sorted);
}

/** A real 60 × 30 PNG (red), for the file tests. */
export const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAADwAAAAeCAIAAAD/+uoYAAAAOUlEQVR4nO3OAQkAIBAAsY/0/VMYyRieMFiAzdn9zjwfSIdJS0sHSEtLB0hLSwdIS0sHSEtLB3yZvtuAWfl0S10eAAAAAElFTkSuQmCC';
