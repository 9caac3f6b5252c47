import {
  alertText,
  chatHeading,
  createChat,
  currentPath,
  expect,
  gotoHydrated,
  messageLog,
  openChatFromList,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';
import type { Page } from '@playwright/test';

const PAYLOAD = '<img src=x onerror=alert(1)>';

async function expectShownAsText(page: Page): Promise<void> {
  const log = messageLog(page);
  await expect(log).toContainText(PAYLOAD);
  await expect(log.locator('img')).toHaveCount(0);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
}

test('message text is rendered as text, never as HTML', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);

  const dialogs: string[] = [];
  const pageA = await openPage();
  const pageB = await openPage();
  for (const page of [pageA, pageB]) {
    page.on('dialog', async (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    });
  }

  await signUp(pageA, alice);
  await signUp(pageB, bob);
  const chatPath = await createChat(pageA, bob);

  // Rendered on the client, right after sending.
  await sendMessage(pageA, PAYLOAD, 'enter');
  await expectShownAsText(pageA);

  // Rendered by the server (and then hydrated) for the other member, in the
  // conversation and in the chat list preview.
  expect(await openChatFromList(pageB, alice)).toBe(chatPath);
  await expectShownAsText(pageB);

  expect(dialogs, 'no dialog may open').toEqual([]);
});

/** The title from issue 29: it closed `<title>` and redirected everyone who opened the chat. */
const REDIRECT_TITLE = '</title><meta http-equiv="refresh" content="0;url=/search?q=PWNED">';
/** And one that would run script if it became markup (the CSP should stop it too). */
const SCRIPT_TITLE = '</title><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

/** Opens `path` by a full load (the server writes the title), waits, and checks that nothing moved or ran. */
async function expectInertTitle(page: Page, path: string, title: string, dialogs: string[]): Promise<void> {
  const navigations: string[] = [];
  const requests: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  page.on('request', (request) => requests.push(request.url()));
  await gotoHydrated(page, path);
  // A meta refresh with 0 s fires at once; give it time to, and the WASM time to run.
  await page.waitForTimeout(1500);
  expect(currentPath(page), 'the page must not navigate').toBe(path);
  // (The router may replace the URL in place: that is a navigation to the same path.)
  const paths = navigations.map((url) => new URL(url).pathname);
  expect(paths.length, 'the load itself navigates').toBeGreaterThan(0);
  expect(paths.filter((p) => p !== path), 'no navigation elsewhere').toEqual([]);
  expect(requests.filter((url) => url.includes('PWNED') || new URL(url).pathname.endsWith('/x'))).toEqual([]);
  await expect(page.locator('meta[http-equiv]')).toHaveCount(0);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(await page.title()).toBe(`${title} · natter`);
  await expect(chatHeading(page, title)).toBeVisible();
  expect(dialogs, 'no dialog may open').toEqual([]);
}

test('a group title is text in <title> and on the page: opening the chat neither navigates nor runs it', async ({
  openPage,
}) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const dialogs: string[] = [];
  const pageA = await openPage();
  const pageB = await openPage();
  for (const page of [pageA, pageB]) {
    page.on('dialog', async (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    });
  }
  await signUp(pageA, alice);
  await signUp(pageB, bob);

  for (const title of [REDIRECT_TITLE, SCRIPT_TITLE]) {
    // Created in the browser: the title is set from the client first.
    const chatPath = await createChat(pageA, bob, title);
    await pageA.waitForTimeout(1500);
    expect(currentPath(pageA)).toBe(chatPath);
    // Then every member's full page load, where the server writes the <head>.
    await expectInertTitle(pageB, chatPath, title, dialogs);
    await expectInertTitle(pageA, chatPath, title, dialogs);
  }
});

test("a link cannot put chosen words into the sign-in form's error box", async ({ openPage }) => {
  const page = await openPage();
  const chosen = 'Your account is locked. Call 555-0100';
  // What a form posted without JavaScript gets back: the error as base64 JSON.
  const err = Buffer.from(JSON.stringify({ Invalid: chosen }))
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
  await gotoHydrated(page, `/login?__path=${encodeURIComponent('/api/sign_in')}&__err=${encodeURIComponent(err)}`);
  const text = await alertText(page);
  expect(text).not.toContain('555');
  await expect(page.locator('body')).not.toContainText('555-0100');
});
