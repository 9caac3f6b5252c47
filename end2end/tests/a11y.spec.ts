// Accessibility: axe-core (the engine behind most audit tools) on every page a person
// meets, signed out and in, in light and dark colour schemes: zero violations.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import {
  composer,
  createChat,
  expect,
  gotoHydrated,
  messageLog,
  openDm,
  PNG_BASE64,
  signUp,
  uniqueSuffix,
  username,
  waitHydrated,
} from './helpers';
import {
  createInvitation,
  makeResetLink,
  openAdmin,
  personAction,
  setSignupMode,
  signupNote,
  test,
} from './instance';
import { Subscriber } from './webpush';

async function expectNoViolations(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n` +
      v.nodes
        .slice(0, 8)
        .map((n) => `    ${n.target.join(' ')}: ${n.any[0]?.message ?? n.failureSummary ?? ''}`)
        .join('\n'),
  );
  expect.soft(found, `axe on ${what}`).toEqual([]);
}

/** A server function called from the page, as the app calls it. */
async function api(page: Page, name: string, form: Record<string, string>): Promise<any> {
  return page.evaluate(
    async ({ name, form }) => {
      const res = await fetch(`/api/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(form).toString(),
      });
      if (!res.ok) throw new Error(`${name}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    { name, form },
  );
}

// Reduced motion (the CSS then skips its transitions): axe checks what stays on screen,
// not a message's actions caught half-way through fading out after the pointer left.
for (const scheme of ['light', 'dark'] as const) {
  test(`every page passes axe (${scheme})`, async ({ openPage }) => {
    test.setTimeout(120_000);
    const visitor = await openPage();
    await visitor.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    for (const path of ['/login', '/signup']) {
      await gotoHydrated(visitor, path);
      await expectNoViolations(visitor, `${path} (signed out, ${scheme})`);
    }

    const { pageA, pageB, chat, suffix } = await openDm(openPage);
    for (const p of [pageA, pageB]) await p.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    const chatId = chat.split('/').pop()!;
    const send = (page: Page, body: string, id: string) =>
      api(page, 'send_message', { chat_id: chatId, client_id: `${id}-${suffix}`, body });
    await send(pageA, 'Hello, see https://example.org/docs for the plan', 'a1');
    await send(pageB, 'Thanks! Reading it now.', 'b1');
    const edited = await send(pageA, 'A typo here', 'a2');
    await api(pageA, 'edit_message', { message_id: String(edited.id), body: 'No typo here' });
    // Deleted: theirs and mine (each note on its own bubble's colours).
    const deleted = await send(pageB, 'Oops, wrong chat', 'b2');
    await api(pageB, 'delete_message', { message_id: String(deleted.id) });
    const mineDeleted = await send(pageA, 'Sent too soon', 'a4');
    await api(pageA, 'delete_message', { message_id: String(mineDeleted.id) });
    // Issue 17: formatting, a reply, reactions (mine and not), a mention.
    const formatted = await send(pageB, '**Bold** plan, _soon_, `code` and > not a quote', 'b3');
    await api(pageA, 'send_message', {
      chat_id: chatId, client_id: `a3-${suffix}`, body: 'Replying to that', reply_to: String(formatted.id),
    });
    await api(pageA, 'react_message', { message_id: String(formatted.id), emoji: '👍', on: 'true' });
    await api(pageB, 'react_message', { message_id: String(formatted.id), emoji: '🎉', on: 'true' });

    await gotoHydrated(pageA, chat);
    await expect(pageA.getByText('No typo here')).toBeVisible();
    await expectNoViolations(pageA, `a chat with messages (${scheme})`);
    // With a message's actions (Edit, Delete) showing, as under the pointer.
    await pageA.locator('article', { hasText: 'No typo here' }).hover();
    await expectNoViolations(pageA, `a chat with a message's actions showing (${scheme})`);
    // The reaction picker open.
    const target = pageA.locator('article', { hasText: 'Bold' }).first();
    await target.hover();
    await target.getByRole('button', { name: 'React' }).click();
    await expect(pageA.getByRole('dialog', { name: 'Add a reaction' })).toBeVisible();
    await expectNoViolations(pageA, `a chat with the reaction picker open (${scheme})`);
    await gotoHydrated(pageA, `/search?q=${encodeURIComponent('plan')}`);
    await expect(pageA.getByRole('link', { name: /Bold/ })).toBeVisible();
    await expectNoViolations(pageA, `/search with results (${scheme})`);
    await gotoHydrated(pageA, '/chats/new');
    await expectNoViolations(pageA, `/chats/new (${scheme})`);
    // With a device that gets notifications (issue 33's list), as after "Enable notifications".
    const device = new Subscriber(Number(process.env.NATTER_E2E_PUSH_PORT || 9));
    await api(pageA, 'push_subscribe', { endpoint: device.endpoint, p256dh: device.p256dh, auth: device.auth.toString('base64url') });
    await pageA.goto('/account');
    await expect(pageA.getByRole('button', { name: /^Remove / })).toBeVisible();
    await expectNoViolations(pageA, `/account with a device (${scheme})`);

    // Signed in with no chat at all.
    const newcomer = await openPage();
    await newcomer.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    await signUp(newcomer, username('empty', suffix));
    await gotoHydrated(newcomer, '/chats');
    await expectNoViolations(newcomer, `/chats with no chat (${scheme})`);
  });
}

test('keyboard: the message box keeps the focus after sending; Escape closes the members panel', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const page = await openPage();
  const friend = await openPage();
  await signUp(friend, username('kf', suffix));
  await signUp(page, username('kb', suffix));
  await createChat(page, username('kf', suffix), 'Keys');

  await composer(page).focus();
  await page.keyboard.type('sent with Enter');
  await page.keyboard.press('Enter');
  await expect(messageLog(page)).toContainText('sent with Enter');
  await expect(composer(page)).toBeFocused();
  await composer(page).fill('sent with the button');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(messageLog(page)).toContainText('sent with the button');
  await expect(composer(page)).toBeFocused();

  const toggle = page.locator('summary', { hasText: 'Members' });
  await toggle.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Leave group', exact: true })).toBeVisible();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('button', { name: 'Leave group', exact: true })).toBeHidden();
  await expect(toggle).toBeFocused();
});

test('files pass axe: the composer with attachments, a message with files, the viewer, the Files panel', async ({ openPage }) => {
  const { pageA, pageB } = await openDm(openPage);
  for (const p of [pageA, pageB]) await p.emulateMedia({ reducedMotion: 'reduce' });
  // A 60 × 30 PNG and a text file, dropped on the conversation.
  await pageA.evaluate((png) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], 'chart.png', { type: 'image/png' }));
    dt.items.add(new File(['minutes'], 'minutes.txt', { type: 'text/plain' }));
    document
      .querySelector('[role="log"]')!
      .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, PNG_BASE64);
  const attached = pageA.getByRole('list', { name: 'Attached files' });
  await expect(attached.getByRole('status')).toHaveText(['ready', 'ready']);
  await expectNoViolations(pageA, 'the composer with two attachments');
  await composer(pageA).press('Enter');
  const thumb = messageLog(pageB).getByRole('img', { name: 'chart.png' });
  await expect(thumb).toBeVisible();
  await expect(messageLog(pageB).getByRole('link', { name: 'Download minutes.txt' })).toBeVisible();
  await expectNoViolations(pageB, 'a message with an image and a file');
  await thumb.click();
  await expect(pageB.getByRole('dialog', { name: 'chart.png' })).toBeVisible();
  await expectNoViolations(pageB, 'the image viewer');
  await pageB.keyboard.press('Escape');
  await pageB.getByRole('button', { name: 'Files', exact: true }).click();
  await expect(pageB.getByRole('region', { name: 'Files' }).getByRole('link')).toHaveCount(2);
  await expectNoViolations(pageB, 'the Files panel');
});

// Issue 34: the administration (/admin, /reset: the server's own pages, no WASM) and the
// sign-up page's notes. On a fresh instance of the test's own (tests/instance.ts): its
// first account is the administrator.
for (const scheme of ['light', 'dark'] as const) {
  test(`the administration pages pass axe (${scheme})`, async ({ instance, openPage }) => {
    test.setTimeout(120_000);
    const suffix = uniqueSuffix();
    const root = username('root', suffix);
    const bob = username('bob', suffix);
    const carol = username('carol', suffix);
    const origin = instance.origin;
    const open = async () => {
      const page = await openPage({ baseURL: origin });
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
      return page;
    };

    const admin = await open();
    await gotoHydrated(admin, '/signup');
    await expect(signupNote(admin)).toBeVisible();
    await expectNoViolations(admin, `/signup with the first administrator's note (${scheme})`);
    await signUp(admin, root);
    await gotoHydrated(admin, '/chats');
    await expect(admin.getByRole('link', { name: 'Administration', exact: true })).toBeVisible();
    await expectNoViolations(admin, `/chats of an administrator (${scheme})`);
    const bobPage = await open();
    await signUp(bobPage, bob);
    const carolPage = await open();
    await signUp(carolPage, carol);

    // Invitation only, two invitations, someone deactivated, a reset link: every part
    // of the page drawn, and an audit log.
    await openAdmin(admin);
    await expectNoViolations(admin, `/admin (${scheme})`);
    await setSignupMode(admin, 'invite');
    await createInvitation(admin, origin, { uses: 'many', days: '30' });
    const invitation = await createInvitation(admin, origin, { uses: 'once', days: '1' });
    await personAction(admin, carol, 'Deactivate').click();
    await expect(personAction(admin, carol, 'Reactivate')).toBeVisible();
    const reset = await makeResetLink(admin, origin, bob);
    // Each action shows its own link; both at once, as the page's address can ask.
    const forId = new URL(admin.url()).searchParams.get('for')!;
    const inviteToken = new URL(invitation).searchParams.get('invite')!;
    const resetToken = new URL(reset).searchParams.get('token')!;
    await openAdmin(admin, `?invitation=${inviteToken}&reset=${resetToken}&for=${forId}`);
    await expect(admin.getByRole('textbox', { name: 'Invitation link', exact: true })).toHaveValue(invitation);
    await expect(admin.getByRole('textbox', { name: 'Reset password link', exact: true })).toHaveValue(reset);
    await expect(admin.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(2);
    await expectNoViolations(admin, `/admin with an invitation link, a reset link, two invitations (${scheme})`);

    // The invitation's sign-up page, the reset page (looking does not use the link), and
    // the pages that refuse.
    const guest = await open();
    await gotoHydrated(guest, invitation);
    await expect(signupNote(guest)).toHaveText(`${root} invited you to natter.`);
    await expectNoViolations(guest, `/signup with an invitation (${scheme})`);
    await gotoHydrated(guest, '/signup');
    await expect(signupNote(guest)).toContainText('needs an invitation link');
    await expectNoViolations(guest, `/signup on an invitation-only server (${scheme})`);
    expect((await guest.goto(reset))?.status()).toBe(200);
    await expect(guest.getByLabel('New password', { exact: true })).toBeVisible();
    await expectNoViolations(guest, `/reset with a valid link (${scheme})`);
    expect((await guest.goto(`/reset?token=${'0'.repeat(64)}`))?.status()).toBe(404);
    await expectNoViolations(guest, `/reset with a used or wrong link (${scheme})`);
    expect((await bobPage.goto('/admin'))?.status()).toBe(403);
    await expectNoViolations(bobPage, `/admin refused to a non-administrator (${scheme})`);
  });
}

// Issue 34: group roles and public channels. The Members panel of a group's owner (tags,
// "Make admin" / "Remove admin", the settings form) with the header's description, and
// /channels (the server's own page, no WASM) listing channels to join and to open. On a
// fresh instance (tests/instance.ts): /channels lists this test's groups only.
for (const scheme of ['light', 'dark'] as const) {
  test(`group roles and /channels pass axe (${scheme})`, async ({ instance, openPage }) => {
    test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');
    test.setTimeout(120_000);
    const suffix = uniqueSuffix();
    const root = username('root', suffix);
    const bob = username('bob', suffix);
    const carol = username('carol', suffix);
    const dave = username('dave', suffix);
    const title = `Birdwatchers ${suffix}`;
    const description = `Sightings, photos and the odd heron (${suffix})`;
    const open = async () => {
      const page = await openPage({ baseURL: instance.origin });
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
      return page;
    };

    const owner = await open();
    await signUp(owner, root);
    for (const name of [bob, carol]) await signUp(await open(), name);
    // A second channel, which the owner is not in, for "Join" next to "Open".
    const other = await open();
    await signUp(other, dave);
    const otherChat = await createChat(other, bob, `Anglers ${suffix}`);
    await api(other, 'set_chat_settings', { chat_id: otherChat.split('/').pop()!, public: 'true', description: '' });

    await createChat(owner, `${bob}, ${carol}`, title);
    // The panel's role and settings forms are plain forms: the page comes back with the
    // change (a full load), the panel closed.
    const members = owner.locator('summary', { hasText: 'Members' });
    await members.click();
    await Promise.all([
      owner.waitForEvent('load'),
      owner.getByRole('button', { name: `Make admin: ${bob}`, exact: true }).click(),
    ]);
    await waitHydrated(owner);
    await members.click();
    await expect(owner.getByRole('button', { name: `Remove admin: ${bob}`, exact: true })).toBeVisible();
    await owner.getByRole('checkbox', { name: 'Public channel', exact: true }).check();
    await owner.getByRole('textbox', { name: 'Description', exact: true }).fill(description);
    await Promise.all([
      owner.waitForEvent('load'),
      owner.getByRole('button', { name: 'Save settings', exact: true }).click(),
    ]);
    await waitHydrated(owner);
    await members.click();
    await expect(owner.locator('.conv-header .chat-description')).toHaveText(description);
    await expect(owner.locator('.conv-header .conv-sub')).toHaveText('3 members · public channel');
    await expect(owner.getByRole('button', { name: `Make admin: ${carol}`, exact: true })).toBeVisible();
    await expect(owner.getByRole('button', { name: 'Save settings', exact: true })).toBeVisible();
    await expectNoViolations(owner, `a public group with the owner's Members panel open (${scheme})`);

    const response = await owner.goto('/channels');
    expect(response?.status()).toBe(200);
    const list = owner.getByRole('region', { name: 'Public channels', exact: true });
    await expect(list.getByRole('listitem')).toHaveCount(2);
    await expect(list.getByRole('link', { name: 'Open', exact: true })).toHaveCount(1);
    await expect(list.getByRole('button', { name: 'Join', exact: true })).toHaveCount(1);
    await expectNoViolations(owner, `/channels with a channel to open and one to join (${scheme})`);
    await owner.goto(`/channels?q=${encodeURIComponent(`no such channel ${suffix}`)}`);
    await expect(list).toContainText('No public channel matches.');
    await expectNoViolations(owner, `/channels with a search that finds nothing (${scheme})`);
  });
}

// Issue 34: profiles. /account (the server's own page, no WASM) with its profile and
// avatar forms (with an avatar and a form's error), and a profile page.
for (const scheme of ['light', 'dark'] as const) {
  test(`/account's profile and /people pass axe (${scheme})`, async ({ instance, openPage }) => {
    test.skip(!!process.env.NATTER_E2E_CLUSTER, 'one server is enough');
    test.setTimeout(90_000);
    const suffix = uniqueSuffix();
    const open = async () => {
      const page = await openPage({ baseURL: instance.origin });
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
      return page;
    };
    const root = await open();
    await signUp(root, username('root', suffix));
    const ann = await open();
    const annName = username('ann', suffix);
    await signUp(ann, annName);
    await ann.goto('/account');
    await ann.getByRole('textbox', { name: 'Display name', exact: true }).fill(`Ann ${suffix}`);
    await ann.getByRole('textbox', { name: 'Status', exact: true }).fill('Out for lunch');
    await ann.getByRole('textbox', { name: 'Time zone', exact: true }).fill('Nowhere/Else');
    await Promise.all([ann.waitForEvent('load'), ann.getByRole('button', { name: 'Save profile', exact: true }).click()]);
    await expect(ann.getByRole('alert')).toContainText('Unknown time zone');
    await expectNoViolations(ann, `/account with a profile form's error (${scheme})`);
    // The page came back from the server: the form shows what is stored (nothing yet).
    await ann.getByRole('textbox', { name: 'Display name', exact: true }).fill(`Ann ${suffix}`);
    await ann.getByRole('textbox', { name: 'Time zone', exact: true }).fill('Europe/Lisbon');
    await Promise.all([ann.waitForEvent('load'), ann.getByRole('button', { name: 'Save profile', exact: true }).click()]);
    await ann.getByLabel('Avatar', { exact: true }).setInputFiles({
      name: 'me.png',
      mimeType: 'image/png',
      buffer: Buffer.from(PNG_BASE64, 'base64'),
    });
    await Promise.all([ann.waitForEvent('load'), ann.getByRole('button', { name: 'Upload avatar', exact: true }).click()]);
    await expect(ann.getByRole('img', { name: 'Your avatar', exact: true })).toBeVisible();
    await expectNoViolations(ann, `/account with a profile and an avatar (${scheme})`);
    const profile = ann.getByRole('link', { name: 'View your profile', exact: true });
    const href = (await profile.getAttribute('href'))!;
    await root.goto(href);
    await expect(root.getByRole('heading', { level: 1, name: `Ann ${suffix}`, exact: true })).toBeVisible();
    await expectNoViolations(root, `a profile page with an avatar, status and local time (${scheme})`);
    await ann.goto(href);
    await expect(ann.getByRole('link', { name: 'Edit profile', exact: true })).toBeVisible();
    await expectNoViolations(ann, `one's own profile page (${scheme})`);
  });
}
