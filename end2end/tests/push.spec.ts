import {
  BASE_URL,
  chatLink,
  createChat,
  expect,
  expectPath,
  gotoHydrated,
  sendMessage,
  signIn,
  signOut,
  signUp,
  test,
  uniqueSuffix,
  username,
  waitHydrated,
} from './helpers';
import { deliverPush, notifications, PushService, Subscriber } from './webpush';
import { type Page } from '@playwright/test';

// Issue 33: Web Push from natter's own server, through a push service of the tests' own
// (tests/webpush.ts) and the real service worker (public/sw.js). On one node, and
// through the two-node cluster (scripts/test.sh sets NATTER_E2E_PUSH_PORT for both).

const PORT = Number(process.env.NATTER_E2E_PUSH_PORT);
const service = new PushService(PORT);

test.beforeAll(async () => {
  // Also through the two-node cluster (scripts/test.sh lets its nodes push here).
  test.skip(!PORT, 'needs the push port of playwright.config.ts');
  await service.start();
});
test.afterAll(async () => {
  await service.stop();
});

/** B, whose browser "subscribes" with `sub`, and A, in a direct chat with B. */
async function setUp(openPage: (o?: { js?: boolean }) => Promise<Page>) {
  const suffix = uniqueSuffix();
  const a = username('a', suffix);
  const b = username('b', suffix);
  const sub = new Subscriber(PORT);
  const pageA = await openPage();
  const pageB = await openPage();
  await sub.install(pageB.context());
  await pageB.context().grantPermissions(['notifications'], { origin: BASE_URL });
  await signUp(pageA, a);
  await signUp(pageB, b);
  const chat = await createChat(pageA, b);
  return { a, b, sub, pageA, pageB, chat };
}

async function enable(page: Page) {
  await page.getByRole('button', { name: 'Enable notifications' }).click();
  await expect(page.getByRole('button', { name: 'Disable notifications' })).toBeVisible();
}

/** The pushes `sub` got, decrypted. */
function pushes(sub: Subscriber): { title: string; body: string; url: string; tag: string }[] {
  return service.for(sub).map((r) => JSON.parse(sub.decrypt(r.body)));
}

test('a direct message reaches a closed tab as a push; the notification opens the chat, goes once read here or elsewhere', async ({
  openPage,
}) => {
  const { a, sub, pageA, pageB, chat } = await setUp(openPage);
  await enable(pageB);
  const id = chat.split('/').pop();

  // B looks at natter: nothing is pushed (the open tab shows it).
  await sendMessage(pageA, 'while you look');
  await pageB.waitForTimeout(5_000);
  expect(service.for(sub)).toHaveLength(0);

  // B closes the tab: the next message is pushed, encrypted for B's keys, signed.
  const context = pageB.context();
  await pageB.close();
  await sendMessage(pageA, 'are you there?');
  await expect.poll(() => service.for(sub).length, { timeout: 20_000 }).toBe(1);
  const [got] = service.for(sub);
  expect(got.headers['content-encoding']).toBe('aes128gcm');
  expect(got.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  const [payload] = pushes(sub);
  expect(payload).toMatchObject({ title: a, body: 'are you there?', url: chat, tag: `chat-${id}` });

  // The browser hands it to the service worker, which shows it.
  const page = await context.newPage();
  await gotoHydrated(page, '/chats');
  await deliverPush(page, sub.decrypt(got.body));
  await expect.poll(() => notifications(page)).toEqual([{ title: a, body: 'are you there?', tag: `chat-${id}`, url: chat }]);

  // A click focuses a natter tab and takes it to the chat; the notification goes.
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  await worker.evaluate(async () => {
    const [n] = await (self as unknown as ServiceWorkerGlobalScope).registration.getNotifications();
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  });
  await expectPath(page, chat);
  await waitHydrated(page);
  await expect.poll(() => notifications(page)).toEqual([]);

  // A newer push for the same chat replaces the older; showing the chat clears it.
  await gotoHydrated(page, '/chats');
  await deliverPush(page, JSON.stringify({ ...payload, body: 'one' }));
  await deliverPush(page, JSON.stringify({ ...payload, body: 'two' }));
  await expect.poll(async () => (await notifications(page)).map((n) => n.body)).toEqual(['two']);
  // The chat read on another device: the server's "clear" closes it and shows nothing
  // (tests/it/push.rs has the server's side).
  await deliverPush(page, JSON.stringify({ kind: 'clear', chat_id: Number(id), title: '', body: '', url: chat, tag: `chat-${id}` }));
  await expect.poll(() => notifications(page)).toEqual([]);
  // Chromium gives notifications with one tag one id and closes them asynchronously:
  // a close still on its way when the next push for the chat is shown closes that one
  // too (once in CI through the cluster). Let the close land first.
  await page.waitForTimeout(1_000);
  await deliverPush(page, JSON.stringify({ ...payload, body: 'three' }));
  await expect.poll(async () => (await notifications(page)).map((n) => n.body)).toEqual(['three']);
  await chatLink(page, a).click();
  await expectPath(page, chat);
  await expect.poll(() => notifications(page)).toEqual([]);
});

test('private previews, the devices list, Disable, Remove and signing out end the pushes', async ({ openPage }) => {
  const { b, sub, pageA, pageB } = await setUp(openPage);
  await enable(pageB);

  // /account lists this browser; private previews say only "New message".
  await pageB.goto('/account');
  const devices = pageB.getByRole('list').filter({ hasText: 'this browser' });
  await expect(devices.getByRole('listitem')).toHaveCount(1);
  await pageB.getByLabel('Notification text').selectOption({ label: 'Only “New message” (private)' });
  await pageB.getByRole('button', { name: 'Save' }).last().click();
  await expect(pageB.getByLabel('Notification text')).toHaveValue('false');
  const context = pageB.context();
  await pageB.close();
  await sendMessage(pageA, 'a secret');
  await expect.poll(() => pushes(sub).length, { timeout: 20_000 }).toBe(1);
  expect(pushes(sub)[0].body).toBe('New message');

  // "Disable notifications" ends it.
  const page = await context.newPage();
  await gotoHydrated(page, '/chats');
  await page.getByRole('button', { name: 'Disable notifications' }).click();
  await expect(page.getByRole('button', { name: 'Enable notifications' })).toBeVisible();
  await page.goto('/account');
  await expect(page.getByText('No device receives notifications.')).toBeVisible();

  // "Remove" in /account ends it too.
  await gotoHydrated(page, '/chats');
  await enable(page);
  await page.goto('/account');
  await page.getByRole('button', { name: /^Remove / }).click();
  await expect(page.getByText('No device receives notifications.')).toBeVisible();

  // And signing out.
  await gotoHydrated(page, '/chats');
  await enable(page);
  await signOut(page);
  await signIn(page, b);
  await page.goto('/account');
  await expect(page.getByText('No device receives notifications.')).toBeVisible();
  await page.close();
  await sendMessage(pageA, 'nobody listens');
  await pageA.waitForTimeout(5_000);
  expect(pushes(sub)).toHaveLength(1);
});
