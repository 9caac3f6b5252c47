import {
  composer,
  expect,
  gotoHydrated,
  messageLog,
  openDm,
  reloadHydrated,
  signIn,
  signOut,
  test,
} from './helpers';

/** The browser's stored outboxes (one key per user), as the page sees them. */
async function outboxKeys(page: import('@playwright/test').Page): Promise<string[]> {
  return page.evaluate(() =>
    Object.keys(window.localStorage).filter((k) => k.startsWith('natter.outbox.')),
  );
}

test('signing out clears the outbox of unsent messages', async ({ openPage }) => {
  const { a, pageA, chat } = await openDm(openPage);
  // The live socket never reaches the server: what A sends stays in the outbox.
  await pageA.routeWebSocket(/\/ws$/, () => {});
  await reloadHydrated(pageA);
  await composer(pageA).fill('unsent secret');
  await composer(pageA).press('Enter');
  await expect(messageLog(pageA).locator('.msg-pending')).toContainText('sending…');
  expect(await outboxKeys(pageA)).toHaveLength(1);

  await signOut(pageA);
  expect(await outboxKeys(pageA)).toEqual([]);

  // Back in as A: the unsent text is gone for good.
  await pageA.unrouteAll();
  await signIn(pageA, a);
  await gotoHydrated(pageA, chat);
  await expect(composer(pageA)).toBeVisible();
  await expect(messageLog(pageA)).not.toContainText('unsent secret');
  expect(await outboxKeys(pageA)).toEqual([]);
});
