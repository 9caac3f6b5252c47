// Issue 17: the conversation features people expect (formatting, search, jump to a
// message), in the release build and a real browser.
import {
  composer,
  createChat,
  expect,
  expectPath,
  gotoHydrated,
  messageLog,
  openDm,
  sendMessage,
  signUp,
  test,
  waitHydrated,
} from './helpers';
import type { Page } from '@playwright/test';

async function type(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

test('formatting shows live for both people, and link tricks stay text', async ({ openPage }) => {
  const { b, pageA, pageB } = await openDm(openPage);
  const dialogs: string[] = [];
  for (const page of [pageA, pageB]) page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });

  await type(pageA, `**bold** _it_ ~~gone~~ \`code\` hi @${b}`);
  await type(pageA, '[click me](javascript:alert(1)) and [site](https://example.com)');
  await type(pageA, '> a quote\n\n```\n<b>not bold</b>\n```');
  for (const page of [pageA, pageB]) {
    const log = messageLog(page);
    await expect(log.locator('strong', { hasText: 'bold' })).toBeVisible();
    await expect(log.locator('em', { hasText: 'it' })).toBeVisible();
    await expect(log.locator('del', { hasText: 'gone' })).toBeVisible();
    await expect(log.locator('code', { hasText: 'code' }).first()).toBeVisible();
    await expect(log.locator('blockquote')).toContainText('a quote');
    await expect(log.locator('pre code')).toHaveText('<b>not bold</b>');
    await expect(log.locator('pre b')).toHaveCount(0);
    await expect(log).toContainText('[click me](javascript:alert(1))');
    await expect(log.locator('a[href^="javascript"]')).toHaveCount(0);
    await expect(log.getByRole('link', { name: 'site' })).toHaveAttribute('href', 'https://example.com');
  }
  // The mention stands out for the person it names.
  await expect(messageLog(pageB).locator('.mention-me')).toHaveText(`@${b}`);
  await expect(messageLog(pageA).locator('.mention-me')).toHaveCount(0);
  await expect(messageLog(pageA).locator('.mention')).toHaveText(`@${b}`);

  // After a reload (server-rendered, then hydrated) it looks the same.
  await pageB.reload();
  await waitHydrated(pageB);
  await expect(messageLog(pageB).locator('strong', { hasText: 'bold' })).toBeVisible();
  expect(dialogs).toEqual([]);
});

test('lists render live and after a reload; the deepest quote is text and breaks nothing', async ({ openPage }) => {
  const { b, pageA, pageB } = await openDm(openPage);
  await type(pageA, '- one\n- `two`\n\n3. third\n4. fourth');
  // Issue 29: 3 994 '>' and a mention once stopped the server (stack overflow) when the
  // mentioned person's chat list was built; now deeper nesting is shown as typed.
  const deep = `${'>'.repeat(3994 - b.length)} @${b}`;
  await type(pageA, deep);
  await type(pageA, 'still here');
  for (const page of [pageA, pageB]) {
    const log = messageLog(page);
    await expect(log.locator('ul > li', { hasText: 'one' })).toBeVisible();
    await expect(log.locator('ul > li code')).toHaveText('two');
    await expect(log.locator('ol[start="3"] > li').nth(1)).toHaveText('fourth');
    await expect(log).toContainText('still here');
    await expect(log.locator('blockquote blockquote blockquote')).not.toHaveCount(0);
  }
  await pageB.reload();
  await waitHydrated(pageB);
  await expect(messageLog(pageB).locator('ul > li code')).toHaveText('two');
  await expect(messageLog(pageB).locator('.mention-me').last()).toHaveText(`@${b}`);
  await pageB.goto('/chats');
  await waitHydrated(pageB);
  // The chat list (which parses the mentions) is served and shows the newest message.
  await expect(pageB.getByText('still here').first()).toBeVisible();
});

test('search finds a message far back in history and opens the chat at it', async ({ openPage }) => {
  const { a, pageA, pageB, chat } = await openDm(openPage);
  const chatId = chat.split('/').pop() as string;
  await sendMessage(pageA, 'the treasure is under the old oak', 'enter');
  // Bury it under 90 newer messages (sent over HTTP: faster than typing them).
  for (let i = 1; i <= 90; i++) {
    const res = await pageA.request.post('/api/send_message', {
      form: { chat_id: chatId, client_id: `bury-${chatId}-${i}`, body: `filler ${i}` },
      headers: { Accept: 'application/json' },
    });
    expect(res.status()).toBe(200);
  }
  await expect(messageLog(pageB).getByText('filler 90', { exact: true })).toBeVisible();
  // Opened afresh, the chat shows its newest page only.
  await pageB.reload();
  await waitHydrated(pageB);
  await expect(messageLog(pageB).getByText('filler 90', { exact: true })).toBeVisible();
  await expect(messageLog(pageB)).not.toContainText('treasure');

  // The sidebar's search box opens /search?q=…
  const box = pageB.getByRole('searchbox', { name: 'Search' });
  await box.fill('treasure oak');
  await box.press('Enter');
  await expectPath(pageB, '/search');
  expect(new URL(pageB.url()).searchParams.get('q')).toBe('treasure oak');
  const hit = pageB.getByRole('link', { name: /treasure is under the old oak/ });
  await expect(hit).toBeVisible();
  await expect(hit.locator('mark')).toHaveText(['treasure', 'oak']);
  await expect(hit).toContainText(a);

  // It opens the chat at the message: shown, highlighted, in view.
  await hit.click();
  await expectPath(pageB, chat);
  const target = messageLog(pageB).locator('.msg-target');
  await expect(target).toContainText('the treasure is under the old oak');
  await expect(target).toBeInViewport();
  await expect(messageLog(pageB).getByText('filler 90', { exact: true })).toHaveCount(0);

  // Scrolling down loads the newer messages up to the newest; live ones follow again.
  await expect(async () => {
    await messageLog(pageB).evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect(messageLog(pageB).getByText('filler 90', { exact: true })).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await sendMessage(pageA, 'after the jump', 'enter');
  await expect(messageLog(pageB)).toContainText('after the jump');

  // A search page is an address (server-rendered; tests/http.rs checks it without JS).
  await gotoHydrated(pageB, `/search?q=${encodeURIComponent('treasure')}`);
  await expect(pageB.getByRole('link', { name: /treasure is under the old oak/ })).toHaveAttribute(
    'href',
    new RegExp(`^/chats/${chatId}\\?at=1#m1$`),
  );
});

test('a reply quotes its original and jumps to it; reactions arrive live', async ({ openPage }) => {
  const { a, b, pageA, pageB } = await openDm(openPage);
  await sendMessage(pageA, 'original question here', 'enter');
  await expect(messageLog(pageB)).toContainText('original question here');

  // B replies: the Reply button (reachable by keyboard), the reply bar, the send.
  const original = messageLog(pageB).locator('.msg', { hasText: 'original question here' });
  await original.hover();
  await original.getByRole('button', { name: 'Reply' }).click();
  await expect(pageB.getByRole('button', { name: 'Cancel reply' })).toBeVisible();
  await expect(pageB.locator('.composer-reply')).toContainText('original question here');
  await composer(pageB).fill('the answer');
  await composer(pageB).press('Enter');
  await expect(pageB.getByRole('button', { name: 'Cancel reply' })).toBeHidden();

  for (const page of [pageA, pageB]) {
    const reply = messageLog(page).locator('.msg', { hasText: 'the answer' });
    const quote = reply.getByRole('link', { name: /original question here/ });
    await expect(quote).toBeVisible();
    await expect(quote).toContainText(a);
  }
  // The quote jumps to the original (highlighted).
  await messageLog(pageA).locator('.msg', { hasText: 'the answer' }).getByRole('link', { name: /original question here/ }).click();
  await expect(messageLog(pageA).locator('.msg-target')).toContainText('original question here');

  // Reactions: A reacts 👍 from the picker; B sees it live and adds theirs.
  const mine = messageLog(pageA).locator('.msg', { hasText: 'the answer' }).first();
  await mine.hover();
  await mine.getByRole('button', { name: 'React' }).click();
  await pageA.getByRole('button', { name: '👍', exact: true }).click();
  const chipA = mine.getByRole('button', { name: /👍 1/ });
  await expect(chipA).toHaveAttribute('aria-pressed', 'true');
  const theirs = messageLog(pageB).locator('.msg', { hasText: 'the answer' }).first();
  const chipB = theirs.getByRole('button', { name: /👍 1/ });
  await expect(chipB).toHaveAttribute('aria-pressed', 'false');
  await expect(chipB).toHaveAttribute('title', new RegExp(a));
  await chipB.click();
  await expect(theirs.getByRole('button', { name: /👍 2/ })).toHaveAttribute('aria-pressed', 'true');
  await expect(mine.getByRole('button', { name: /👍 2/ })).toBeVisible();
  // Pressing mine again takes it back, for both.
  await mine.getByRole('button', { name: /👍 2/ }).click();
  await expect(theirs.getByRole('button', { name: /👍 1/ })).toHaveAttribute('title', new RegExp(b));
  // And it is stored: a reload shows the same.
  await pageA.reload();
  await waitHydrated(pageA);
  await expect(messageLog(pageA).locator('.msg', { hasText: 'the answer' }).first().getByRole('button', { name: /👍 1/ })).toHaveAttribute('aria-pressed', 'false');
});

/** Makes the page believe its tab is hidden (as when another tab is in front). */
async function hideTab(page: Page): Promise<void> {
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
}

test('a hidden tab counts unread in its title and notifies after permission', async ({ openPage }) => {
  const { a, pageA, pageB } = await openDm(openPage);
  // Record the notifications the page creates (the real API, wrapped).
  await pageB.addInitScript(() => {
    const w = window as unknown as { __notes: string[][]; Notification: typeof Notification };
    w.__notes = [];
    const Real = w.Notification;
    w.Notification = new Proxy(Real, {
      construct(target, args: [string, NotificationOptions?]) {
        w.__notes.push([args[0], args[1]?.body ?? '']);
        return new target(...args);
      },
    });
    // A browser whose push service is out of reach (Web Push: tests/push.spec.ts):
    // the page's own notifications stay.
    PushManager.prototype.subscribe = () => Promise.reject(new DOMException('push service not available', 'AbortError'));
  });
  await pageB.reload();
  await waitHydrated(pageB);
  // Asked only on a click: the button is there, nothing was asked on load.
  const enable = pageB.getByRole('button', { name: 'Enable notifications' });
  await expect(enable).toBeVisible();
  await pageB.context().grantPermissions(['notifications']);
  await enable.click();
  await expect(pageB.getByText('Notifications show only while natter is open here')).toBeVisible();

  await hideTab(pageB);
  await sendMessage(pageA, 'are you there?', 'enter');
  await sendMessage(pageA, 'hello?', 'enter');
  await expect(pageB).toHaveTitle(/^\(2\) /);
  await expect.poll(() => pageB.evaluate(() => (window as unknown as { __notes: string[][] }).__notes.length)).toBe(2);
  const notes = await pageB.evaluate(() => (window as unknown as { __notes: string[][] }).__notes);
  expect(notes[0]).toEqual([a, 'are you there?']);

  // My own messages never notify; a muted chat does not either. "Mute" is a plain form:
  // the page comes back (read, shown, its recorder empty), so hide it again.
  await pageB.getByRole('button', { name: 'Mute' }).click();
  await expect(pageB.getByRole('button', { name: 'Muted' })).toHaveAttribute('aria-pressed', 'true');
  await waitHydrated(pageB);
  await hideTab(pageB);
  await sendMessage(pageA, 'muted now', 'enter');
  await expect(pageB).toHaveTitle(/^\(1\) /);
  await sendMessage(pageA, 'still muted', 'enter');
  await expect(pageB).toHaveTitle(/^\(2\) /);
  expect(await pageB.evaluate(() => (window as unknown as { __notes: string[][] }).__notes.length)).toBe(0);
});

test('drafts, @mention suggestions, seen by N, day separators', async ({ openPage }) => {
  const { a, b, pageA, pageB, suffix } = await openDm(openPage);
  // A draft survives a reload and a visit to another chat.
  await composer(pageA).fill('half a thought');
  await pageA.reload();
  await waitHydrated(pageA);
  await expect(composer(pageA)).toHaveValue('half a thought');
  await composer(pageA).fill('');

  // A group of three: typing "@" + the start of a name offers the members.
  const carol = `c${suffix}`;
  const pageC = await openPage();
  await signUp(pageC, carol);
  const group = await createChat(pageA, `${b}, ${carol}`, 'Mentions');
  await composer(pageA).pressSequentially(`thanks @${carol.slice(0, 3)}`);
  const option = pageA.getByRole('option', { name: `@${carol}` });
  await expect(option).toBeVisible();
  await composer(pageA).press('Tab');
  await expect(composer(pageA)).toHaveValue(`thanks @${carol} `);
  await composer(pageA).press('Enter');
  await expect(messageLog(pageA).locator('.mention')).toHaveText(`@${carol}`);
  // Carol's list marks the unread mention.
  await gotoHydrated(pageC, '/chats');
  await expect(pageC.getByLabel('mentioned')).toBeVisible();

  // Seen by N under my last message, as members read it.
  await gotoHydrated(pageB, group);
  await expect(messageLog(pageA).getByText('Seen by 1', { exact: true })).toBeVisible();
  await gotoHydrated(pageC, group);
  await expect(messageLog(pageA).getByText('Seen by 2', { exact: true })).toBeVisible();
  // The creator renames the group; the others see it live.
  await pageA.getByText('Members', { exact: true }).click();
  await pageA.getByLabel('Group name').fill('Renamed group');
  await pageA.getByRole('button', { name: 'Rename', exact: true }).click();
  await expect(pageC.getByRole('heading', { level: 2, name: 'Renamed group' })).toBeVisible();
  await expect(pageB.getByRole('heading', { level: 2, name: 'Renamed group' })).toBeVisible();
  await expect(pageB).toHaveTitle(/Renamed group/);
  // The day starts with its separator.
  await expect(messageLog(pageA).locator('.day-separator')).toHaveText(['Today']);
  await expect(messageLog(pageA).locator('.msg-author')).toHaveCount(0);
  expect(a).not.toEqual(carol);
});
