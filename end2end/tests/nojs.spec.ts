import {
  attemptSignIn,
  chatHeading,
  chatLink,
  createChat,
  expect,
  expectMessagesInOrder,
  expectPath,
  messageLog,
  PNG_BASE64,
  signIn,
  signOut,
  signOutButton,
  signUp,
  uniqueSuffix,
  username,
} from './helpers';
import {
  adminSection,
  createInvitation,
  makeResetLink,
  personAction,
  personRow,
  setSignupMode,
  signupNote,
  submitSignUp,
  test,
} from './instance';
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

test('the profile works without JavaScript: display name, status, time zone, avatar, the profile page', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const name = username('prof', suffix);
  const page = await openPage({ js: false });
  await signUp(page, name);
  await page.goto('/account');
  await page.getByRole('textbox', { name: 'Display name', exact: true }).fill(`Pat ${suffix}`);
  await page.getByRole('textbox', { name: 'Status', exact: true }).fill('Plain HTML only');
  await page.getByRole('textbox', { name: 'Time zone', exact: true }).fill('America/Sao_Paulo');
  await page.getByRole('button', { name: 'Save profile', exact: true }).click();
  await expectPath(page, '/account');
  await expect(page.getByRole('textbox', { name: 'Display name', exact: true })).toHaveValue(`Pat ${suffix}`);
  await page.getByLabel('Avatar', { exact: true }).setInputFiles({
    name: 'me.png',
    mimeType: 'image/png',
    buffer: Buffer.from(PNG_BASE64, 'base64'),
  });
  await page.getByRole('button', { name: 'Upload avatar', exact: true }).click();
  await expectPath(page, '/account');
  await expect(page.getByRole('img', { name: 'Your avatar', exact: true })).toBeVisible();
  // Not a picture: a page that says why.
  await page.getByLabel('Avatar', { exact: true }).setInputFiles({
    name: 'evil.svg',
    mimeType: 'image/svg+xml',
    buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
  });
  await page.getByRole('button', { name: 'Upload avatar', exact: true }).click();
  await expect(page.getByText('Choose a PNG, JPEG, GIF or WebP picture for the avatar')).toBeVisible();
  await page.goto('/account');
  await page.getByRole('link', { name: 'View your profile', exact: true }).click();
  await expectPath(page, /^\/people\/\d+$/);
  await expect(page.getByRole('heading', { level: 1, name: `Pat ${suffix}`, exact: true })).toBeVisible();
  await expect(page.locator('.profile-facts')).toContainText('(America/Sao_Paulo)');
});

test('deleting the account without JavaScript: its messages stay, from "deleted user"', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const gone = username('gone', suffix);
  const stays = username('stays', suffix);
  const page = await openPage({ js: false });
  const other = await openPage({ js: false });
  // `stays` first: on a fresh server the first account is the administrator, who cannot
  // delete the account while no one else is one.
  await signUp(other, stays);
  await signUp(page, gone);
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

// Issue 34: /admin is plain forms whatever the browser; the sign-up page's invitation
// works from the server-rendered form. A fresh instance (tests/instance.ts): its first
// account is the administrator.
test('sign-up by invitation and the administration without JavaScript', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const origin = instance.origin;
  const admin = await openPage({ js: false, baseURL: origin });
  await admin.goto('/signup');
  await expect(signupNote(admin)).toHaveText('This is the first account on this server: it becomes the administrator.');
  await signUp(admin, root);
  await admin.getByRole('link', { name: 'Administration', exact: true }).click();
  await expectPath(admin, '/admin');

  await setSignupMode(admin, 'invite');
  const stranger = await openPage({ js: false, baseURL: origin });
  await submitSignUp(stranger, '/signup', username('stranger', suffix));
  await expect(stranger.getByRole('alert')).toHaveText('Sign-up needs an invitation link on this server');

  // A link for any number of sign-ups: two people use it.
  const invitation = await createInvitation(admin, origin, { uses: 'many', days: '1' });
  await expect(adminSection(admin, 'Invitations').getByRole('listitem')).toContainText('any number of sign-ups (0 so far)');
  const guests = [username('guest', suffix), username('other', suffix)];
  for (const guest of guests) {
    const page = await openPage({ js: false, baseURL: origin });
    await page.goto(invitation);
    await expect(signupNote(page)).toHaveText(`${root} invited you to natter.`);
    await submitSignUp(page, invitation, guest);
    await expectPath(page, '/chats');
    await expect(signOutButton(page)).toBeVisible();
  }
  await admin.goto('/admin');
  for (const guest of guests) await expect(personRow(admin, guest)).toContainText(`invited by ${root}`);
  await expect(adminSection(admin, 'Invitations').getByRole('listitem')).toContainText('any number of sign-ups (2 so far)');

  // Revoked: the link no longer works.
  await adminSection(admin, 'Invitations').getByRole('button', { name: 'Revoke', exact: true }).click();
  await expectPath(admin, '/admin');
  await expect(adminSection(admin, 'Invitations')).toContainText('No invitation can be used now.');
  const late = await openPage({ js: false, baseURL: origin });
  await submitSignUp(late, invitation, username('late', suffix));
  await expect(late.getByRole('alert')).toHaveText('This invitation link is not valid any more');

  // Closed.
  await setSignupMode(admin, 'closed');
  await late.goto('/signup');
  await expect(signupNote(late)).toHaveText('Sign-up is closed on this server.');
  await submitSignUp(late, '/signup', username('late', suffix));
  await expect(late.getByRole('alert')).toHaveText('Sign-up is closed on this server');
});

test('deactivating and a password reset link without JavaScript', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const origin = instance.origin;
  const admin = await openPage({ js: false, baseURL: origin });
  await signUp(admin, root);
  const page = await openPage({ js: false, baseURL: origin });
  await signUp(page, bob);

  await admin.goto('/admin');
  await personAction(admin, bob, 'Deactivate').click();
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(`${bob} (deactivated)`);
  await page.goto('/chats');
  await expectPath(page, '/login');
  await attemptSignIn(page, bob, 'correct-horse-42');
  await expect(page.getByRole('alert')).toHaveText('This account is deactivated: ask an administrator');
  await personAction(admin, bob, 'Reactivate').click();
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(bob);

  const link = await makeResetLink(admin, origin, bob);
  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill('set-without-script');
  await page.getByRole('button', { name: 'Set password', exact: true }).click();
  await expectPath(page, '/chats');
  await signOut(page);
  await signIn(page, bob, 'set-without-script');
});
