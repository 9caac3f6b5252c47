// Issue 34: group roles (owner, admins) and public channels. Each test has a natter
// server of its own on a fresh database (tests/instance.ts): its first account is the
// instance's administrator, and /channels lists only the test's own groups.
import type { Locator, Page } from '@playwright/test';
import {
  chatHeading,
  chatLink,
  createChat,
  escapeRegExp,
  expect,
  expectPath,
  gotoHydrated,
  messageLog,
  reloadHydrated,
  sendMessage,
  signUp,
  uniqueSuffix,
  username,
  waitHydrated,
} from './helpers';
import { test } from './instance';

test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');

// ---------------------------------------------------------------------------
// The conversation header and its Members panel

/** Opens the Members panel (a <details>) of the group open in `page`. */
async function openMembers(page: Page): Promise<void> {
  const toggle = page.locator('summary', { hasText: 'Members' });
  await toggle.click();
  await expect(page.getByRole('button', { name: 'Leave group', exact: true })).toBeVisible();
}

/** Clicks the button of one of the Members panel's plain forms: the page comes back with
 * the change (a full load); waits for it to hydrate and opens the panel again. */
async function submitInMembers(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForEvent('load'), button.click()]);
  await waitHydrated(page);
  await openMembers(page);
}

/** `name`'s row in the Members panel. */
function memberRow(page: Page, name: string): Locator {
  return page
    .locator('.member-list li')
    .filter({ has: page.locator('.member-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) });
}

/** The tags ("owner", "admin") of `name`'s row. */
function memberTags(page: Page, name: string): Locator {
  return memberRow(page, name).locator('.member-tag');
}

function publicCheckbox(page: Page): Locator {
  return page.getByRole('checkbox', { name: 'Public channel', exact: true });
}

function descriptionField(page: Page): Locator {
  return page.getByRole('textbox', { name: 'Description', exact: true });
}

function saveSettings(page: Page): Locator {
  return page.getByRole('button', { name: 'Save settings', exact: true });
}

/** The line under the chat's title: "N members" or "N members · public channel". */
function headerSub(page: Page): Locator {
  return page.locator('.conv-header .conv-sub');
}

function headerDescription(page: Page): Locator {
  return page.locator('.conv-header .chat-description');
}

// ---------------------------------------------------------------------------
// /channels (rendered on the server only: no hydration to wait for)

function channelsSection(page: Page): Locator {
  return page.getByRole('region', { name: 'Public channels', exact: true });
}

/** The list entry of the channel titled `title` on /channels. */
function channelItem(page: Page, title: string): Locator {
  return channelsSection(page)
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { level: 3, name: title, exact: true }) });
}

/** Loads /channels (with `query`, if any) and asserts it is the directory. */
async function openChannels(page: Page, query?: string): Promise<void> {
  const response = await page.goto(query === undefined ? '/channels' : `/channels?q=${encodeURIComponent(query)}`);
  expect(response?.status(), '/channels should answer 200 to someone signed in').toBe(200);
  await expect(page.getByRole('heading', { level: 1, name: 'Channels', exact: true })).toBeVisible();
  await expect(channelsSection(page)).toBeVisible();
}

/** Makes the group open in `page` public with `description`, from its Members panel (already open). */
async function makePublic(page: Page, description: string): Promise<void> {
  await publicCheckbox(page).check();
  await descriptionField(page).fill(description);
  await submitInMembers(page, saveSettings(page));
  await expect(headerSub(page)).toHaveText(/· public channel$/);
  await expect(headerDescription(page)).toHaveText(description);
}

test('a public channel: the owner opens the group up, others find it on /channels and join; private groups stay hidden', async ({
  instance,
  openPage,
}) => {
  test.setTimeout(120_000);
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const carol = username('carol', suffix);
  const dave = username('dave', suffix);
  const title = `Gardening ${suffix}`;
  const secretTitle = `Surprise party ${suffix}`;
  const description = `Seeds, soil and slugs (${suffix})`;
  const origin = instance.origin;

  const admin = await openPage({ baseURL: origin });
  await signUp(admin, root);
  const bobPage = await openPage({ baseURL: origin });
  await signUp(bobPage, bob);

  // A private group first, then the group that becomes public.
  const secret = await createChat(admin, bob, secretTitle);
  await sendMessage(admin, `the secret plan ${suffix}`);
  const chat = await createChat(admin, bob, title);
  const history = `welcome to the garden ${suffix}`;
  await sendMessage(admin, history);
  await expect(headerSub(admin)).toHaveText('2 members');
  await expect(headerDescription(admin)).toHaveCount(0);

  // The owner's settings: public, with a description; the header shows both.
  await openMembers(admin);
  await expect(memberTags(admin, root)).toHaveText(['owner']);
  await expect(memberTags(admin, bob)).toHaveCount(0);
  await expect(publicCheckbox(admin)).not.toBeChecked();
  await expect(descriptionField(admin)).toHaveValue('');
  await makePublic(admin, description);
  await expect(headerSub(admin)).toHaveText('2 members · public channel');
  // It stays so after a reload, the form showing the settings.
  await reloadHydrated(admin);
  await expect(headerSub(admin)).toHaveText('2 members · public channel');
  await expect(headerDescription(admin)).toHaveText(description);
  await openMembers(admin);
  await expect(publicCheckbox(admin)).toBeChecked();
  await expect(descriptionField(admin)).toHaveValue(description);
  // The other member sees it too.
  await gotoHydrated(bobPage, chat);
  await expect(headerSub(bobPage)).toHaveText('2 members · public channel');
  await expect(headerDescription(bobPage)).toHaveText(description);

  // A third person: "Browse channels" in the sidebar, a full page load of the server's page.
  const carolPage = await openPage({ baseURL: origin });
  await signUp(carolPage, carol);
  const browse = carolPage.getByRole('link', { name: 'Browse channels', exact: true });
  await expect(browse).toHaveAttribute('href', '/channels');
  await expect(browse).toHaveAttribute('rel', 'external');
  await browse.click();
  await expectPath(carolPage, '/channels');
  await expect(carolPage.getByRole('heading', { level: 1, name: 'Channels', exact: true })).toBeVisible();
  const item = channelItem(carolPage, title);
  await expect(channelsSection(carolPage).getByRole('listitem')).toHaveCount(1);
  await expect(item).toContainText(description);
  await expect(item).toContainText('2 members');
  await expect(item.getByRole('link', { name: 'Open', exact: true })).toHaveCount(0);
  // The search: by part of the title, any case.
  await channelsSection(carolPage).getByRole('searchbox', { name: 'Find channels', exact: true }).fill('GARDEN');
  await channelsSection(carolPage).getByRole('button', { name: 'Search', exact: true }).click();
  await expectPath(carolPage, '/channels');
  await expect(channelItem(carolPage, title)).toBeVisible();
  await openChannels(carolPage, `nothing like it ${suffix}`);
  await expect(channelsSection(carolPage).getByRole('listitem')).toHaveCount(0);
  await expect(channelsSection(carolPage)).toContainText('No public channel matches.');

  // Join: lands in the chat, with its history.
  await openChannels(carolPage);
  const join = channelItem(carolPage, title).getByRole('button', { name: 'Join', exact: true });
  await expect(join).toHaveAccessibleDescription(title);
  await join.click();
  await expectPath(carolPage, chat);
  await waitHydrated(carolPage);
  await expect(chatHeading(carolPage, title)).toBeVisible();
  await expect(messageLog(carolPage)).toContainText(history);
  await expect(headerSub(carolPage)).toHaveText('3 members · public channel');
  await expect(headerDescription(carolPage)).toHaveText(description);
  await expect(chatLink(carolPage, title)).toBeVisible();
  // A plain member: no settings, no role buttons.
  await openMembers(carolPage);
  await expect(memberRow(carolPage, carol)).toBeVisible();
  await expect(publicCheckbox(carolPage)).toHaveCount(0);
  await expect(saveSettings(carolPage)).toHaveCount(0);
  await expect(carolPage.getByRole('button', { name: /^(Make admin|Remove admin)/ })).toHaveCount(0);
  await sendMessage(carolPage, `hello gardeners ${suffix}`);
  // Now a member: "Open" instead of "Join", and one more member.
  await openChannels(carolPage);
  const joined = channelItem(carolPage, title);
  await expect(joined).toContainText('3 members');
  await expect(joined.getByRole('button', { name: 'Join', exact: true })).toHaveCount(0);
  await expect(joined.getByRole('link', { name: 'Open', exact: true })).toHaveAttribute('href', chat);

  // A fourth person: the private group is nowhere, not even by its address.
  const davePage = await openPage({ baseURL: origin });
  await signUp(davePage, dave);
  await openChannels(davePage);
  await expect(channelsSection(davePage).getByRole('heading', { level: 3 })).toHaveText([title]);
  await expect(davePage.locator('body')).not.toContainText(secretTitle);
  await openChannels(davePage, 'Surprise');
  await expect(channelsSection(davePage).getByRole('listitem')).toHaveCount(0);
  await expect(channelsSection(davePage)).toContainText('No public channel matches.');
  const response = await gotoHydrated(davePage, secret);
  expect(response?.status()).toBe(404);
  await expect(davePage.getByText('Chat not found')).toBeVisible();
  const html = (await response?.text()) ?? '';
  for (const leaked of [secretTitle, `the secret plan ${suffix}`]) {
    expect(html, `the private group's page must not contain ${leaked}`).not.toContain(leaked);
  }
  // Nor can it be joined as a channel by its id.
  const secretId = secret.split('/').pop()!;
  const refused = await davePage.request.post('/api/join_channel', {
    form: { chat_id: secretId },
    headers: { accept: 'application/json' },
  });
  expect(refused.status(), 'joining a private group').toBe(404);
  expect((await davePage.goto(secret))?.status()).toBe(404);
});

test('roles: the owner makes an admin; when the owner leaves, the admin owns the group', async ({
  instance,
  openPage,
}) => {
  test.setTimeout(120_000);
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const carol = username('carol', suffix);
  const title = `Book club ${suffix}`;
  const origin = instance.origin;

  const owner = await openPage({ baseURL: origin });
  await signUp(owner, root);
  const bobPage = await openPage({ baseURL: origin });
  await signUp(bobPage, bob);
  const carolPage = await openPage({ baseURL: origin });
  await signUp(carolPage, carol);
  const chat = await createChat(owner, `${bob}, ${carol}`, title);
  await sendMessage(owner, `first chapter ${suffix}`);

  // The owner: role buttons and Remove for everyone else, the forms.
  await openMembers(owner);
  await expect(memberTags(owner, root)).toHaveText(['owner']);
  for (const name of [bob, carol]) {
    await expect(memberTags(owner, name)).toHaveCount(0);
    await expect(owner.getByRole('button', { name: `Make admin: ${name}`, exact: true })).toBeVisible();
    await expect(owner.getByRole('button', { name: `Remove ${name}`, exact: true })).toBeVisible();
  }
  await expect(owner.getByRole('button', { name: `Make admin: ${root}`, exact: true })).toHaveCount(0);
  await expect(owner.getByRole('button', { name: `Remove ${root}`, exact: true })).toHaveCount(0);

  await submitInMembers(owner, owner.getByRole('button', { name: `Make admin: ${bob}`, exact: true }));
  await expect(memberTags(owner, bob)).toHaveText(['admin']);
  await expect(owner.getByRole('button', { name: `Remove admin: ${bob}`, exact: true })).toBeVisible();
  await expect(owner.getByRole('button', { name: `Make admin: ${bob}`, exact: true })).toHaveCount(0);
  await expect(owner.getByRole('button', { name: `Make admin: ${carol}`, exact: true })).toBeVisible();

  // The admin: the forms, Remove for plain members only, no role buttons.
  await gotoHydrated(bobPage, chat);
  await openMembers(bobPage);
  await expect(memberTags(bobPage, root)).toHaveText(['owner']);
  await expect(memberTags(bobPage, bob)).toHaveText(['admin']);
  await expect(bobPage.getByLabel('Group name', { exact: true })).toBeVisible();
  await expect(bobPage.getByLabel('Add member', { exact: true })).toBeVisible();
  await expect(publicCheckbox(bobPage)).toBeVisible();
  await expect(saveSettings(bobPage)).toBeVisible();
  await expect(bobPage.getByRole('button', { name: `Remove ${carol}`, exact: true })).toBeVisible();
  await expect(bobPage.getByRole('button', { name: `Remove ${root}`, exact: true })).toHaveCount(0);
  await expect(bobPage.getByRole('button', { name: /^(Make admin|Remove admin)/ })).toHaveCount(0);

  // The owner leaves.
  await owner.getByRole('button', { name: 'Leave group', exact: true }).click();
  await expectPath(owner, '/chats');
  await expect(chatLink(owner, title)).toHaveCount(0);

  // The admin owns it now: the owner's controls after a reload.
  await reloadHydrated(bobPage);
  await expect(headerSub(bobPage)).toHaveText('2 members');
  await openMembers(bobPage);
  await expect(memberRow(bobPage, root)).toHaveCount(0);
  await expect(memberTags(bobPage, bob)).toHaveText(['owner']);
  await expect(memberTags(bobPage, carol)).toHaveCount(0);
  await expect(bobPage.getByRole('button', { name: `Make admin: ${carol}`, exact: true })).toBeVisible();
  await expect(bobPage.getByRole('button', { name: `Remove ${carol}`, exact: true })).toBeVisible();
  await expect(publicCheckbox(bobPage)).toBeVisible();
  await expect(descriptionField(bobPage)).toBeVisible();
  await expect(saveSettings(bobPage)).toBeVisible();
  // The new owner manages it: makes it public.
  await makePublic(bobPage, `Reading together ${suffix}`);

  // The plain member sees the new owner, and no controls.
  await gotoHydrated(carolPage, chat);
  await openMembers(carolPage);
  await expect(memberTags(carolPage, bob)).toContainText(['owner']);
  await expect(memberTags(carolPage, carol)).toHaveCount(0);
  await expect(saveSettings(carolPage)).toHaveCount(0);
  await expect(carolPage.getByRole('button', { name: /^(Make admin|Remove admin|Remove )/ })).toHaveCount(0);
});

// Pages opened with { js: false } never hydrate: /channels is plain HTML anyway, and
// "Join" a plain form post that redirects to the chat.
test('joining a channel works without JavaScript', async ({ instance, openPage }) => {
  const suffix = uniqueSuffix();
  const root = username('root', suffix);
  const bob = username('bob', suffix);
  const carol = username('carol', suffix);
  const title = `Quiet corner ${suffix}`;
  const description = `No script needed (${suffix})`;
  const origin = instance.origin;

  const owner = await openPage({ baseURL: origin });
  await signUp(owner, root);
  const bobPage = await openPage({ baseURL: origin });
  await signUp(bobPage, bob);
  const chat = await createChat(owner, bob, title);
  const history = `older words ${suffix}`;
  await sendMessage(owner, history);
  await openMembers(owner);
  await makePublic(owner, description);

  const page = await openPage({ js: false, baseURL: origin });
  await signUp(page, carol);
  await page.getByRole('link', { name: 'Browse channels', exact: true }).click();
  await expectPath(page, '/channels');
  const item = channelItem(page, title);
  await expect(item).toContainText(description);
  await expect(item).toContainText('2 members');
  await item.getByRole('button', { name: 'Join', exact: true }).click();
  await expectPath(page, chat);
  await expect(chatHeading(page, title)).toBeVisible();
  await expect(messageLog(page)).toContainText(history);
  await expect(headerSub(page)).toHaveText('3 members · public channel');
  await expect(headerDescription(page)).toHaveText(description);

  // Listed as mine now.
  await page.goto('/channels');
  await expect(channelItem(page, title).getByRole('link', { name: 'Open', exact: true })).toHaveAttribute('href', chat);
  await expect(channelItem(page, title)).toContainText('3 members');
  await page.goto('/chats');
  await expect(chatLink(page, title)).toBeVisible();
});
