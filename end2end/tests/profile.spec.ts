// Issue 34: profiles (display name, status, time zone, avatar on /account; the profile
// page a click on a name opens, with "Message") and `@all` in a group. Each test has a
// natter server of its own on a fresh database (tests/instance.ts).
import type { Page } from '@playwright/test';
import {
  chatHeading,
  chatLink,
  createChat,
  expect,
  expectPath,
  gotoHydrated,
  messageLog,
  PNG_BASE64,
  sendMessage,
  signUp,
  uniqueSuffix,
  username,
  waitHydrated,
} from './helpers';
import { test } from './instance';

test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');

/** Clicks a plain form's button on /account (the server's own page): it comes back. */
async function submitOnAccount(page: Page, button: string): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: button, exact: true }).click()]);
}

test('a profile: set on /account, opened from a name, "Message" starts the chat', async ({ instance, openPage }) => {
  test.setTimeout(120_000);
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const ann = username('ann', suffix);
  const shown = `Ann Lee ${suffix}`;
  const rootPage = await openPage({ baseURL: instance.origin });
  await signUp(rootPage, root);
  const annPage = await openPage({ baseURL: instance.origin });
  await signUp(annPage, ann);

  await annPage.goto('/account');
  const displayName = annPage.getByRole('textbox', { name: 'Display name', exact: true });
  const zone = annPage.getByRole('textbox', { name: 'Time zone', exact: true });
  await displayName.fill(shown);
  await annPage.getByRole('textbox', { name: 'Status', exact: true }).fill('Reviewing pull requests');
  await zone.fill('asia/tokyo');
  await submitOnAccount(annPage, 'Save profile');
  await expect(annPage.getByRole('status')).toHaveText('Profile saved.');
  await expect(displayName).toHaveValue(shown);
  await expect(zone).toHaveValue('Asia/Tokyo');
  // A zone that is not one: the form's error comes back with the page; nothing changes.
  await zone.fill('Mars/Olympus');
  await submitOnAccount(annPage, 'Save profile');
  await expect(annPage.getByRole('alert')).toContainText('Unknown time zone');
  await expect(zone).toHaveValue('Asia/Tokyo');
  // The avatar: a file input labelled "Avatar".
  await annPage.getByLabel('Avatar', { exact: true }).setInputFiles({
    name: 'me.png',
    mimeType: 'image/png',
    buffer: Buffer.from(PNG_BASE64, 'base64'),
  });
  await submitOnAccount(annPage, 'Upload avatar');
  const mine = annPage.getByRole('img', { name: 'Your avatar', exact: true });
  await expect(mine).toBeVisible();
  expect(await mine.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(annPage.getByRole('button', { name: 'Remove avatar', exact: true })).toBeVisible();

  // The new-chat form finds her by her display name.
  await gotoHydrated(rootPage, '/chats/new');
  await rootPage.getByLabel('Members', { exact: true }).pressSequentially('lee');
  await expect(rootPage.locator('#people-found option')).toHaveAttribute('value', ann);
  await expect(rootPage.locator('#people-found option')).toHaveText(`${shown} (@${ann})`);
  await rootPage.goto('/chats');

  // In a group, ann's message carries her display name, which opens her profile.
  const title = `Reviews ${suffix}`;
  await gotoHydrated(annPage, '/chats');
  const chat = await createChat(annPage, root, title);
  await sendMessage(annPage, `ready for review ${suffix}`);
  await gotoHydrated(rootPage, chat);
  const author = messageLog(rootPage).getByRole('link', { name: shown, exact: true });
  await expect(author).toBeVisible();
  await author.click();
  await expectPath(rootPage, /^\/people\/\d+$/);
  await expect(rootPage.getByRole('heading', { level: 1, name: shown, exact: true })).toBeVisible();
  await expect(rootPage.getByText(`@${ann}`, { exact: true })).toBeVisible();
  await expect(rootPage.getByText('Reviewing pull requests', { exact: true })).toBeVisible();
  await expect(rootPage.locator('.profile-facts')).toContainText('Local time');
  await expect(rootPage.locator('.profile-facts')).toContainText('(Asia/Tokyo)');
  const avatar = rootPage.locator('img.avatar-large');
  await expect(avatar).toBeVisible();
  expect(await avatar.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  // "Message": the direct chat, titled with her display name.
  await rootPage.getByRole('button', { name: 'Message', exact: true }).click();
  await expectPath(rootPage, /^\/chats\/\d+$/);
  await waitHydrated(rootPage);
  await expect(chatHeading(rootPage, shown)).toBeVisible();
  await expect(chatLink(rootPage, shown)).toBeVisible();
});

test('@all notifies the group when its owner says it, not when a plain member does', async ({ instance, openPage }) => {
  test.setTimeout(90_000);
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const title = `Standup ${suffix}`;
  const rootPage = await openPage({ baseURL: instance.origin });
  await signUp(rootPage, root);
  const bobPage = await openPage({ baseURL: instance.origin });
  await signUp(bobPage, bob);
  const chat = await createChat(rootPage, bob, title);
  await sendMessage(rootPage, `hello ${suffix}`);

  // bob, on his chat list, is marked as mentioned by the owner's @all.
  await gotoHydrated(bobPage, '/chats');
  const bobEntry = chatLink(bobPage, title);
  await expect(bobEntry).toBeVisible();
  await expect(bobEntry.getByLabel('mentioned', { exact: true })).toHaveCount(0);
  await sendMessage(rootPage, `@all standup in five ${suffix}`);
  await expect(bobEntry.getByLabel('mentioned', { exact: true })).toBeVisible();

  // A plain member's @all stays text: nobody is marked.
  await gotoHydrated(rootPage, '/chats');
  await gotoHydrated(bobPage, chat);
  await sendMessage(bobPage, `@all anyone? ${suffix}`);
  const rootEntry = chatLink(rootPage, title);
  await expect(rootEntry).toContainText(`@all anyone? ${suffix}`);
  await expect(rootEntry.getByLabel('mentioned', { exact: true })).toHaveCount(0);
});
