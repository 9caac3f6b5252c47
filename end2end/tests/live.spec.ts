import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  chatLink,
  composer,
  createChat,
  expectMessagesInOrder,
  expect,
  gotoHydrated,
  messageLog,
  openDm,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

function pending(page: import('@playwright/test').Page) {
  return messageLog(page).locator('.msg-pending');
}

test('messages, typing and unread badges arrive live without a reload', async ({ openPage }) => {
  const { a, b, pageA, pageB } = await openDm(openPage);

  await sendMessage(pageA, 'live from A', 'enter');
  await expect(messageLog(pageB)).toContainText('live from A');
  await sendMessage(pageB, 'live from B', 'button');
  await expect(messageLog(pageA)).toContainText('live from B');
  await expect(pending(pageA)).toHaveCount(0);

  // Typing shows on the other side, then expires.
  await composer(pageB).pressSequentially('typing…', { delay: 20 });
  await expect(pageA.getByText(`${b} is typing…`)).toBeVisible();
  await expect(pageA.getByText(`${b} is typing…`)).toBeHidden({ timeout: 10_000 });

  // B goes back to the list; A's new messages raise B's unread badge live.
  await gotoHydrated(pageB, '/chats');
  await sendMessage(pageA, 'unread one', 'enter');
  await sendMessage(pageA, 'unread two', 'enter');
  await expect(chatLink(pageB, a).locator('.badge')).toHaveText('2');
  await expect(chatLink(pageB, a)).toContainText('unread two');
});

test('an open chat at rest sends next to nothing over its socket', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const a = username('qa', suffix);
  const b = username('qb', suffix);
  const page = await openPage();
  const other = await openPage();
  await signUp(other, b);
  // Count the frames this page sends from its first socket on.
  const sent: string[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  await signUp(page, a);
  await createChat(page, b);
  await sendMessage(page, 'then quiet', 'enter');
  await page.waitForTimeout(1000);
  const before = sent.length;
  await page.waitForTimeout(4000);
  // A resume answered by `synced` must not be answered by another resume (a loop
  // that the server's limits would end by closing the socket, again and again).
  expect(sent.slice(before), 'frames sent while idle').toEqual([]);
  expect(sent.filter((f) => f.includes('"resume"')).length, 'resumes in all').toBeLessThanOrEqual(3);
});

test('a DM shows "Seen" once the other person has read the last message', async ({ openPage }) => {
  const { pageA, pageB } = await openDm(openPage);
  await sendMessage(pageA, 'did you read this?', 'enter');
  await expect(messageLog(pageB)).toContainText('did you read this?');
  await expect(messageLog(pageA).getByText('Seen', { exact: true })).toBeVisible();
});

test('a message sent while offline is delivered exactly once when back online', async ({ openPage }) => {
  const { pageA, pageB } = await openDm(openPage);
  await sendMessage(pageA, 'warm-up', 'enter');
  await expect(messageLog(pageB)).toContainText('warm-up');

  await pageA.context().setOffline(true);
  await expect(pageA.getByRole('status').first()).toContainText('Offline');
  await composer(pageA).fill('sent while offline');
  await composer(pageA).press('Enter');
  await expect(pending(pageA)).toContainText('sending…');
  await pageB.waitForTimeout(1000);
  await expect(messageLog(pageB)).not.toContainText('sent while offline');

  await pageA.context().setOffline(false);
  await expect(pending(pageA)).toHaveCount(0, { timeout: 30_000 });
  await expect(messageLog(pageB).getByText('sent while offline', { exact: true })).toHaveCount(1);
  await expect(messageLog(pageA).getByText('sent while offline', { exact: true })).toHaveCount(1);
  await expect(pageA.getByRole('status')).toHaveCount(0);
});

// ---------------------------------------------------------------------------
// A server of our own, so this test can kill and restart it.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function startServer(port: number, db: string): Promise<ChildProcess> {
  const child = spawn(
    process.env.NATTER_BIN!,
    [
      '--bind', `127.0.0.1:${port}`, '--public-origin', `http://127.0.0.1:${port}`, '--database-url', `sqlite://${db}`,
      '--sign-up-per-minute', '1000', '--sign-in-per-minute', '1000',
    ],
    { stdio: 'ignore', env: process.env },
  );
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return child;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('restartable natter did not start');
}

for (const transport of ['websocket', 'sse'] as const) {
test(`the page reconnects by itself after a server restart and shows what was sent meanwhile (${transport})`, async ({ browser }) => {
  test.setTimeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-restart-'));
  const db = path.join(dir, 'natter.db');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(port, db);
  const ctxA = await browser.newContext({ baseURL: base });
  const ctxB = await browser.newContext({ baseURL: base });
  try {
    if (transport === 'sse') {
      // WebSocket blocked: both pages live on the SSE stream + POSTs.
      for (const ctx of [ctxA, ctxB]) await ctx.routeWebSocket(/\/ws$/, (ws) => ws.close());
    }
    const pageA = await ctxA.newPage();
    const pageB = await ctxB.newPage();
    const suffix = uniqueSuffix();
    const a = username('a', suffix);
    const b = username('b', suffix);
    await signUp(pageA, a);
    await signUp(pageB, b);
    const chat = await createChat(pageA, b);
    await gotoHydrated(pageB, chat);
    for (const page of [pageA, pageB]) {
      await expect(page.locator(`.live-dot[data-transport="${transport}"]`).first()).toBeAttached({ timeout: 20_000 });
    }
    await sendMessage(pageA, 'before restart', 'enter');
    await expect(messageLog(pageB)).toContainText('before restart');

    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    await expect(pageA.getByRole('status').first()).toContainText(/Offline|Connecting/);
    await composer(pageA).fill('sent during the restart');
    await composer(pageA).press('Enter');
    await expect(pending(pageA)).toContainText('sending…');

    server = await startServer(port, db);
    // Neither page is reloaded: both reconnect, A's outbox is delivered, B resumes.
    await expect(messageLog(pageB)).toContainText('sent during the restart', { timeout: 45_000 });
    await expect(pending(pageA)).toHaveCount(0, { timeout: 45_000 });
    await expect(messageLog(pageB).getByText('sent during the restart', { exact: true })).toHaveCount(1);
    await sendMessage(pageB, 'after restart', 'enter');
    await expect(messageLog(pageA)).toContainText('after restart');
    await expect(messageLog(pageA).getByText('before restart', { exact: true })).toHaveCount(1);
    await expect(pageA.locator(`.live-dot[data-transport="${transport}"]`).first()).toBeAttached();
  } finally {
    await ctxA.close();
    await ctxB.close();
    server.kill('SIGKILL');
  }
});
}

test('edits and deletes made while a tab was offline reach it when it comes back, without a reload', async ({ openPage }) => {
  const { pageA, pageB, suffix } = await openDm(openPage);
  await sendMessage(pageA, `keep ${suffix}`);
  await sendMessage(pageA, `drop ${suffix}`);
  await expectMessagesInOrder(pageB, [`keep ${suffix}`, `drop ${suffix}`]);

  await pageB.context().setOffline(true);
  await expect(pageB.getByRole('status').first()).toContainText('Offline');

  const keep = messageLog(pageA).locator('article', { hasText: `keep ${suffix}` });
  await keep.hover();
  await keep.getByRole('button', { name: 'Edit', exact: true }).click();
  await pageA.getByRole('textbox', { name: 'Edit message' }).fill(`kept, edited ${suffix}`);
  await pageA.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(messageLog(pageA)).toContainText(`kept, edited ${suffix}`);
  const drop = messageLog(pageA).locator('article', { hasText: `drop ${suffix}` });
  await drop.hover();
  await drop.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(messageLog(pageA)).not.toContainText(`drop ${suffix}`);
  await sendMessage(pageA, `after ${suffix}`);

  // B still shows the old state while offline.
  await expect(messageLog(pageB)).toContainText(`drop ${suffix}`);
  await pageB.context().setOffline(false);
  await expect(messageLog(pageB)).toContainText(`after ${suffix}`, { timeout: 30_000 });
  await expect(messageLog(pageB)).toContainText(`kept, edited ${suffix}`);
  await expect(messageLog(pageB)).not.toContainText(`drop ${suffix}`);
  await expect(messageLog(pageB)).toContainText('message deleted');
  await expectMessagesInOrder(pageB, [`kept, edited ${suffix}`, 'message deleted', `after ${suffix}`]);
});
