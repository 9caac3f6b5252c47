import {
  PASSWORD,
  alertText,
  attemptSignIn,
  attemptSignUp,
  expect,
  expectPath,
  expectServerRedirect,
  gotoHydrated,
  signIn,
  signOut,
  signOutButton,
  signUp,
  test,
  username,
} from './helpers';

test('sign up, sign out, protected pages redirect, sign in again', async ({ openPage }) => {
  const page = await openPage();
  const user = username('u');

  await expectServerRedirect(page, '/', '/login');
  await signUp(page, user);
  await expectServerRedirect(page, '/', '/chats');

  await signOut(page);
  await expectPath(page, '/login');
  await expect(signOutButton(page)).toHaveCount(0);

  await expectServerRedirect(page, '/chats', '/login');
  await expectServerRedirect(page, '/chats/new', '/login');
  await expectServerRedirect(page, '/', '/login');

  await signIn(page, user);
  await gotoHydrated(page, '/chats');
  await expectPath(page, '/chats');
  await expect(signOutButton(page)).toBeVisible();
});

test('wrong password and unknown user give the same error', async ({ openPage }) => {
  const setup = await openPage();
  const user = username('u');
  await signUp(setup, user);

  const page = await openPage();
  await attemptSignIn(page, user, 'wrong-password-1');
  const wrongPassword = await alertText(page);
  expect(wrongPassword).not.toBe('');
  await expectPath(page, '/login');

  await attemptSignIn(page, username('nobody'), PASSWORD);
  const unknownUser = await alertText(page);
  await expectPath(page, '/login');

  expect(unknownUser).toBe(wrongPassword);

  // Still signed out.
  await expectServerRedirect(page, '/chats', '/login');
});

test('a taken username cannot be signed up again, whatever its case', async ({ openPage }) => {
  const first = await openPage();
  const user = username('u');
  await signUp(first, user);

  const page = await openPage();
  await attemptSignUp(page, user.toUpperCase(), 'another-password-1');
  await alertText(page);
  await expectPath(page, '/signup');
  await expectServerRedirect(page, '/chats', '/login');

  // The original account is untouched.
  await signIn(page, user);
});

test('sign up rejects invalid usernames and short passwords', async ({ openPage }) => {
  const page = await openPage();

  await attemptSignUp(page, username('u'), 'short');
  await alertText(page);
  await expectPath(page, '/signup');

  await attemptSignUp(page, 'x!', PASSWORD);
  await alertText(page);
  await expectPath(page, '/signup');

  await expectServerRedirect(page, '/chats', '/login');
});
