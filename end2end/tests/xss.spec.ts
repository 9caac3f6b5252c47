import {
  createChat,
  expect,
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
