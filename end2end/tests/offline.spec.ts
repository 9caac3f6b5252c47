import { chromium } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BASE_URL,
  createChat,
  expect,
  gotoHydrated,
  messageLog,
  sendMessage,
  signOut,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

// Issue 33: natter is installable, and with no network it shows the last-opened chats
// read-only, never one person's chats to the next person of the same browser.

test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');

test('offline: the last-opened chat read-only, then nothing of it for the next person', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const a = username('a', suffix);
  const b = username('b', suffix);
  const c = username('c', suffix);
  const page = await openPage();
  const other = await openPage();
  await signUp(other, b);
  await signUp(page, a);
  // The worker takes over the tab once active; pages loaded from then on are kept.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  const chat = await createChat(page, b);
  await sendMessage(page, 'only for a and b');
  await gotoHydrated(page, chat);

  const context = page.context();
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('status').filter({ hasText: 'You are offline.' })).toBeVisible();
  await expect(messageLog(page)).toContainText('only for a and b');
  await expect(page.getByRole('textbox', { name: 'Message', exact: true })).toBeDisabled();
  // A page not kept: the shell, which names the kept chats.
  await page.goto('/chats/999999999');
  await expect(page.getByRole('heading', { name: 'Chats you opened last' })).toBeVisible();
  await expect(page.getByRole('link', { name: new RegExp(b) })).toBeVisible();
  await context.setOffline(false);

  // Another person signs in in the same browser: the first person's pages are gone.
  await gotoHydrated(page, '/chats');
  await signOut(page);
  await signUp(page, c);
  await context.setOffline(true);
  await page.goto(chat);
  await expect(page.getByText('You are offline.')).toBeVisible();
  expect(await page.content()).not.toContain('only for a and b');
  await expect(page.getByRole('link', { name: new RegExp(b) })).toHaveCount(0);
  await context.setOffline(false);
  // Back online, c's visit of the chat's address is refused as ever.
  await page.goto(chat);
  await expect(page.getByText('only for a and b')).toHaveCount(0);
});

test('installable: manifest, icons and service worker pass Chromium’s installability checks', async () => {
  // A persistent profile: a fresh context is an incognito one, which is never installable.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-install-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    baseURL: BASE_URL,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto('/login');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 }).catch(() => {});
    const manifest = await page.locator('link[rel="manifest"]').getAttribute('href');
    expect(manifest).toBe('/manifest.webmanifest');
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);
    const { url, data } = await cdp.send('Page.getAppManifest');
    expect(url).toBe(`${BASE_URL}/manifest.webmanifest`);
    const parsed = JSON.parse(data ?? '{}');
    expect(parsed).toMatchObject({ name: 'natter', display: 'standalone', start_url: '/chats' });
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
