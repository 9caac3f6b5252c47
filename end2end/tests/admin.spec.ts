// Issue 34: the instance's administration. Each test has a natter server of its own on
// a fresh database (tests/instance.ts), so its first account is the administrator.
import {
  alertText,
  attemptSignIn,
  escapeRegExp,
  expect,
  expectPath,
  gotoHydrated,
  PASSWORD,
  signIn,
  signOutButton,
  signUp,
  uniqueSuffix,
  username,
  waitHydrated,
} from './helpers';
import {
  adminSection,
  createInvitation,
  makeResetLink,
  openAdmin,
  personAction,
  personRow,
  setSignupMode,
  signupModeSelect,
  signupNote,
  submitSignUp,
  test,
} from './instance';

test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');

const FIRST_NOTE = 'This is the first account on this server: it becomes the administrator.';
const NEEDS_LINK_NOTE = 'Sign-up on this server needs an invitation link from an administrator.';

test('a fresh instance: the first account is the administrator; sign-up by invitation link', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const origin = instance.origin;

  const admin = await openPage({ baseURL: origin });
  await gotoHydrated(admin, '/signup');
  await expect(signupNote(admin)).toHaveText(FIRST_NOTE);
  await signUp(admin, root);

  // "Administration" in the chat list's header: a full page load of the server's own page.
  await gotoHydrated(admin, '/chats');
  const link = admin.getByRole('link', { name: 'Administration', exact: true });
  await expect(link).toHaveAttribute('href', '/admin');
  await expect(link).toHaveAttribute('rel', 'external');
  await link.click();
  await expectPath(admin, '/admin');
  await expect(admin.getByRole('heading', { level: 1, name: 'Administration', exact: true })).toBeVisible();
  for (const section of ['At a glance', 'Sign-up', 'Invitations', 'People', 'Audit log']) {
    await expect(adminSection(admin, section)).toBeVisible();
  }
  // The administrator's own row: badges, and no "Deactivate" for oneself.
  await expect(personRow(admin, root).getByRole('rowheader')).toHaveText(`${root} (administrator, you)`);
  await expect(personAction(admin, root, 'Deactivate')).toHaveCount(0);
  await expect(personAction(admin, root, 'Remove administrator')).toBeVisible();

  // Invitation only.
  const mode = signupModeSelect(admin);
  await expect(mode).toHaveValue('open');
  await expect(mode.locator('option')).toHaveText(['Open: anyone can sign up', 'Invitation only', 'Closed']);
  await mode.selectOption({ label: 'Invitation only' });
  await adminSection(admin, 'Sign-up').getByRole('button', { name: 'Save', exact: true }).click();
  await expectPath(admin, '/admin');
  await expect(signupModeSelect(admin)).toHaveValue('invite');

  // A stranger without a link: refused.
  const stranger = await openPage({ baseURL: origin });
  await gotoHydrated(stranger, '/signup');
  await expect(signupNote(stranger)).toHaveText(NEEDS_LINK_NOTE);
  await submitSignUp(stranger, '/signup', username('stranger', suffix));
  expect(await alertText(stranger)).toBe('Sign-up needs an invitation link on this server');
  await expectPath(stranger, '/signup');

  // A link for one sign-up.
  const invitation = await createInvitation(admin, origin, { uses: 'once', days: '7' });
  const token = new URL(invitation).searchParams.get('invite')!;
  const usable = adminSection(admin, 'Invitations').getByRole('listitem');
  await expect(usable).toHaveCount(1);
  await expect(usable).toContainText(`by ${root}: one sign-up (0 used)`);
  await expect(usable.getByRole('button', { name: 'Revoke', exact: true })).toBeVisible();

  const guest = await openPage({ baseURL: origin });
  await gotoHydrated(guest, invitation);
  await expect(signupNote(guest)).toHaveText(`${root} invited you to natter.`);
  await expect(guest.locator('form input[type="hidden"][name="invite"]')).toHaveValue(token);
  await submitSignUp(guest, invitation, bob);
  await expectPath(guest, '/chats');
  await waitHydrated(guest);
  await expect(signOutButton(guest)).toBeVisible();

  await admin.reload();
  await expect(personRow(admin, bob)).toContainText(`invited by ${root}`);
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(bob);
  await expect(
    adminSection(admin, 'At a glance').locator('div', { has: admin.getByText('People', { exact: true }) }).locator('dd'),
  ).toHaveText('2');
  // Used up: no longer listed.
  await expect(adminSection(admin, 'Invitations')).toContainText('No invitation can be used now.');

  // The same link for a third person: refused.
  const third = await openPage({ baseURL: origin });
  await gotoHydrated(third, invitation);
  await expect(signupNote(third)).toHaveText(NEEDS_LINK_NOTE);
  await submitSignUp(third, invitation, username('third', suffix));
  expect(await alertText(third)).toBe('This invitation link is not valid any more');
  await expectPath(third, '/signup');
});

test('deactivate: the person is signed out and cannot sign in; reactivate lets them back', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const admin = await openPage({ baseURL: instance.origin });
  await signUp(admin, root);
  const person = await openPage({ baseURL: instance.origin });
  await signUp(person, bob);

  await openAdmin(admin);
  // The people search.
  await adminSection(admin, 'People').getByRole('searchbox', { name: 'Find people', exact: true }).fill(bob);
  await adminSection(admin, 'People').getByRole('button', { name: 'Search', exact: true }).click();
  await expectPath(admin, '/admin');
  await expect(adminSection(admin, 'People').getByRole('rowheader')).toHaveText([bob]);

  const deactivate = personAction(admin, bob, 'Deactivate');
  // Each button says whom it is for.
  await expect(deactivate).toHaveAccessibleDescription(bob);
  await deactivate.click();
  await expectPath(admin, '/admin');
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(`${bob} (deactivated)`);
  await expect(personAction(admin, bob, 'Reactivate')).toBeVisible();
  await expect(personAction(admin, bob, 'Reset password link')).toHaveCount(0);

  // The person's open tab lost its session.
  await person.reload();
  await expectPath(person, '/login');
  await waitHydrated(person);
  await attemptSignIn(person, bob, PASSWORD);
  expect(await alertText(person)).toBe('This account is deactivated: ask an administrator');
  await expectPath(person, '/login');
  // Its password is still checked first: a wrong one says nothing about the account.
  await attemptSignIn(person, bob, 'not-the-password');
  expect(await alertText(person)).toBe('Wrong username or password');

  await personAction(admin, bob, 'Reactivate').click();
  await expectPath(admin, '/admin');
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(bob);
  await expect(personAction(admin, bob, 'Deactivate')).toBeVisible();
  await signIn(person, bob);
});

test('a password reset link sets a new password once and signs the person in', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const origin = instance.origin;
  const admin = await openPage({ baseURL: origin });
  await signUp(admin, root);
  const old = await openPage({ baseURL: origin });
  await signUp(old, bob);

  await openAdmin(admin);
  const link = await makeResetLink(admin, origin, bob);

  const fresh = await openPage({ baseURL: origin });
  const response = await fresh.goto(link);
  expect(response?.status()).toBe(200);
  await expect(fresh.getByRole('heading', { name: `A new password for ${bob}`, exact: true })).toBeVisible();
  await fresh.getByLabel('New password', { exact: true }).fill('a-new-secret-77');
  await fresh.getByRole('button', { name: 'Set password', exact: true }).click();
  await expectPath(fresh, '/chats');
  await waitHydrated(fresh);
  await expect(signOutButton(fresh)).toBeVisible();

  // Bob's other session ended; the old password no longer works, the new one does.
  await old.reload();
  await expectPath(old, '/login');
  await waitHydrated(old);
  await attemptSignIn(old, bob, PASSWORD);
  expect(await alertText(old)).toBe('Wrong username or password');
  await signIn(old, bob, 'a-new-secret-77');

  // The link works once.
  const again = await openPage({ baseURL: origin });
  const used = await again.goto(link);
  expect(used?.status()).toBe(404);
  await expect(again.getByRole('heading', { name: 'This link is not valid any more', exact: true })).toBeVisible();
  await expect(again.getByLabel('New password', { exact: true })).toHaveCount(0);
  const bogus = await again.goto(`/reset?token=${'0'.repeat(64)}`);
  expect(bogus?.status()).toBe(404);
});

test('the audit log lists what the administrators did', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const carol = username('carol', suffix);
  const origin = instance.origin;
  const admin = await openPage({ baseURL: origin });
  await signUp(admin, root);
  const bobPage = await openPage({ baseURL: origin });
  await signUp(bobPage, bob);
  const carolPage = await openPage({ baseURL: origin });
  await signUp(carolPage, carol);

  await openAdmin(admin);
  await expect(adminSection(admin, 'Audit log')).toContainText('Nothing yet.');
  await setSignupMode(admin, 'closed');
  await createInvitation(admin, origin, { uses: 'many', days: '30' });
  await adminSection(admin, 'Invitations').getByRole('button', { name: 'Revoke', exact: true }).click();
  await expectPath(admin, '/admin');
  await expect(adminSection(admin, 'Invitations')).toContainText('No invitation can be used now.');

  // Bob an administrator for a while: he gets the link and the page.
  await personAction(admin, bob, 'Make administrator').click();
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(`${bob} (administrator)`);
  await gotoHydrated(bobPage, '/chats');
  await expect(bobPage.getByRole('link', { name: 'Administration', exact: true })).toBeVisible();
  await openAdmin(bobPage);
  await personAction(admin, bob, 'Remove administrator').click();
  await expect(personRow(admin, bob).getByRole('rowheader')).toHaveText(bob);
  expect((await bobPage.goto('/admin'))?.status()).toBe(403);

  await personAction(admin, carol, 'Deactivate').click();
  await personAction(admin, carol, 'Reactivate').click();
  await expect(personAction(admin, carol, 'Deactivate')).toBeVisible();
  const link = await makeResetLink(admin, origin, carol);
  await carolPage.goto(link);
  await carolPage.getByLabel('New password', { exact: true }).fill('carols-new-secret');
  await carolPage.getByRole('button', { name: 'Set password', exact: true }).click();
  await expectPath(carolPage, '/chats');
  await waitHydrated(carolPage);

  await openAdmin(admin);
  const line = (text: string) => new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ ${escapeRegExp(text)}$`);
  // Newest first.
  await expect(adminSection(admin, 'Audit log').getByRole('listitem')).toHaveText([
    line(`${carol}: set a new password through a reset link as ${carol}`),
    line(`${root}: made a password reset link for ${carol}`),
    line(`${root}: reactivated ${carol}`),
    line(`${root}: deactivated ${carol}`),
    line(`${root}: removed as administrator: ${bob}`),
    line(`${root}: made administrator: ${bob}`),
    line(`${root}: revoked invitation (#1)`),
    line(`${root}: created invitation (#1: any number of sign-ups, valid 30 days)`),
    line(`${root}: set sign-up to closed`),
  ]);
});

test('someone who is not an administrator: no link, 403 on /admin and its calls', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const admin = await openPage({ baseURL: instance.origin });
  await signUp(admin, root);
  const page = await openPage({ baseURL: instance.origin });
  await gotoHydrated(page, '/signup');
  // Not the first any more: no note on an open server.
  await expect(signupNote(page)).toHaveCount(0);
  await signUp(page, bob);

  await gotoHydrated(page, '/chats');
  await expect(page.getByRole('link', { name: 'Account', exact: true })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Administration', exact: true })).toHaveCount(0);

  const response = await page.goto('/admin');
  expect(response?.status()).toBe(403);
  await expect(page.getByText('Only administrators can open this page.', { exact: true })).toBeVisible();
  await expect(page.getByRole('combobox', { name: 'Sign-up' })).toHaveCount(0);
  for (const [name, form] of [
    ['admin_set_signup', { mode: 'closed' }],
    ['admin_create_invitation', { uses: 'many', days: '30' }],
    ['admin_people', { query: '', page: '0' }],
  ] as const) {
    const res = await page.request.post(`/api/${name}`, { form, headers: { accept: 'application/json' } });
    expect(res.status(), `${name} as a non-administrator`).toBe(403);
  }

  // Signed out: /admin sends to the sign-in page.
  const visitor = await openPage({ baseURL: instance.origin });
  await visitor.goto('/admin');
  await expectPath(visitor, '/login');

  // The mode did not change.
  await openAdmin(admin);
  await expect(signupModeSelect(admin)).toHaveValue('open');
});
