import {
  attemptSignIn,
  chatHeading,
  chatLink,
  createChat,
  expect,
  expectMessagesInOrder,
  expectPath,
  messageLog,
  signIn,
  signOut,
  signOutButton,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';
import type { Page } from '@playwright/test';

// Pages opened with { js: false } never hydrate; the helpers then skip the
// hydration wait, so every step below is a plain link or HTML form post.

async function sendWithButton(page: Page, text: string): Promise<void> {
  const chatPath = new URL(page.url()).pathname;
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await expectPath(page, chatPath);
  await expect(messageLog(page)).toContainText(text);
}

test('the app works without JavaScript', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);

  const pageA = await openPage({ js: false });
  const pageB = await openPage({ js: false });
  await signUp(pageA, alice);
  await signUp(pageB, bob);

  // Sign out and back in.
  await signOut(pageA);
  await expect(signOutButton(pageA)).toHaveCount(0);
  await signIn(pageA, alice);

  // New chat -> DM with B.
  const chatPath = await createChat(pageA, bob);
  await expect(chatHeading(pageA, bob)).toBeVisible();

  const fromA = `no script needed ${suffix}`;
  await sendWithButton(pageA, fromA);

  // B finds the DM in the list and replies.
  await pageB.goto('/chats');
  await chatLink(pageB, alice).click();
  await expectPath(pageB, chatPath);
  await expect(chatHeading(pageB, alice)).toBeVisible();
  await expect(messageLog(pageB)).toContainText(fromA);
  const fromB = `still works ${suffix}`;
  await sendWithButton(pageB, fromB);
  await expectMessagesInOrder(pageB, [fromA, fromB]);

  await pageA.reload();
  await expectMessagesInOrder(pageA, [fromA, fromB]);

  // Sign out and in again; the chat is still listed.
  await signOut(pageA);
  await signIn(pageA, alice);
  await expect(chatLink(pageA, bob)).toBeVisible();
});

test('the account page works without JavaScript: change the password, sign out everywhere', async ({ openPage }) => {
  const name = username('acct', uniqueSuffix());
  const page = await openPage({ js: false });
  const other = await openPage({ js: false });
  await signUp(page, name);
  await signIn(other, name);

  await page.getByRole('link', { name: 'Account', exact: true }).click();
  await expectPath(page, '/account');
  await page.getByLabel('Current password', { exact: true }).fill('correct-horse-42');
  await page.getByLabel('New password', { exact: true }).fill('a-brand-new-secret');
  await page.getByRole('button', { name: 'Change password', exact: true }).click();
  await expectPath(page, '/account');

  // The other browser was signed out; the new password signs in.
  await other.goto('/chats');
  await expectPath(other, '/login');
  await signIn(other, name, 'a-brand-new-secret');

  // Sign out everywhere: both browsers.
  await page.goto('/account');
  await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
  await expectPath(page, '/login');
  await other.goto('/chats');
  await expectPath(other, '/login');
});

test('deleting the account without JavaScript: its messages stay, from "deleted user"', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const gone = username('gone', suffix);
  const stays = username('stays', suffix);
  const page = await openPage({ js: false });
  const other = await openPage({ js: false });
  await signUp(page, gone);
  await signUp(other, stays);
  const chat = await createChat(page, stays);
  await sendWithButton(page, `last words ${suffix}`);

  await page.goto('/account');
  await expect(page.getByText('from “deleted user”')).toBeVisible();
  await page.getByLabel('Your password, to confirm', { exact: true }).fill('not-my-password');
  await page.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expect(page.getByText('The password is wrong')).toBeVisible();
  await page.getByLabel('Your password, to confirm', { exact: true }).fill('correct-horse-42');
  await page.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expectPath(page, '/login');
  await attemptSignIn(page, gone, 'correct-horse-42');
  await expectPath(page, '/login');

  await other.goto(chat);
  await expect(messageLog(other)).toContainText(`last words ${suffix}`);
  // The direct chat is titled by the other person's name: now "deleted user #N".
  await expect(other.getByRole('heading', { level: 2 })).toContainText('deleted user #');
  await expect(other.locator('body')).not.toContainText(gone);
});
