import type { Page } from '@playwright/test';
import {
  composer,
  createChat,
  expect,
  gotoHydrated,
  messageLog,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

/**
 * The live link when WebSocket is blocked: each page's `/ws` is refused (the socket
 * closes before `hello`, as behind a proxy that drops upgrades) until `unblock()`,
 * so the page falls back to the SSE stream + POSTs by itself. It tries a WebSocket
 * again every 2 s here (3 minutes in normal use).
 */
async function blockedPage(openPage: () => Promise<Page>) {
  const page = await openPage();
  let blocked = true;
  await page.context().routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) ws.close();
    else ws.connectToServer();
  });
  await page.addInitScript(() => localStorage.setItem('natter.ws_probe_ms', '2000'));
  return { page, unblock: () => { blocked = false; } };
}

function liveDot(page: Page, transport: 'sse' | 'websocket') {
  return page.locator(`.live-dot[data-transport="${transport}"]`).first();
}

async function blockedDm(openPage: () => Promise<Page>) {
  const suffix = uniqueSuffix();
  const a = username('fa', suffix);
  const b = username('fb', suffix);
  const A = await blockedPage(openPage);
  const B = await blockedPage(openPage);
  await signUp(A.page, a);
  await signUp(B.page, b);
  const chat = await createChat(A.page, b);
  await gotoHydrated(B.page, chat);
  for (const p of [A.page, B.page]) await expect(liveDot(p, 'sse')).toBeAttached({ timeout: 20_000 });
  return { a, b, A, B, chat };
}

test('with WebSocket blocked, two people chat live over SSE: messages, typing, Seen', async ({ openPage }) => {
  const { b, A, B } = await blockedDm(openPage);
  await expect(liveDot(A.page, 'sse')).toHaveAttribute('title', /Server-Sent Events/);

  await sendMessage(A.page, 'over the stream', 'enter');
  await expect(messageLog(B.page)).toContainText('over the stream');
  await sendMessage(B.page, 'and back', 'button');
  await expect(messageLog(A.page)).toContainText('and back');
  await expect(messageLog(A.page).locator('.msg-pending')).toHaveCount(0);

  await composer(B.page).pressSequentially('typing…', { delay: 20 });
  await expect(A.page.getByText(`${b} is typing…`)).toBeVisible();
  await sendMessage(A.page, 'read this', 'enter');
  await expect(messageLog(B.page)).toContainText('read this');
  await expect(messageLog(A.page).getByText('Seen', { exact: true })).toBeVisible();
});

test('on SSE, a message sent while offline arrives exactly once when back online', async ({ openPage }) => {
  const { A, B } = await blockedDm(openPage);
  await sendMessage(A.page, 'warm-up', 'enter');
  await expect(messageLog(B.page)).toContainText('warm-up');

  await A.page.context().setOffline(true);
  await expect(A.page.getByRole('status').first()).toContainText('Offline');
  await composer(A.page).fill('sent while offline');
  await composer(A.page).press('Enter');
  await expect(messageLog(A.page).locator('.msg-pending')).toContainText('sending…');
  await sendMessage(B.page, 'missed while offline', 'enter');

  await A.page.context().setOffline(false);
  await expect(messageLog(A.page).locator('.msg-pending')).toHaveCount(0, { timeout: 30_000 });
  await expect(messageLog(B.page).getByText('sent while offline', { exact: true })).toHaveCount(1);
  await expect(messageLog(A.page).getByText('sent while offline', { exact: true })).toHaveCount(1);
  await expect(messageLog(A.page).getByText('missed while offline', { exact: true })).toHaveCount(1);
  await expect(liveDot(A.page, 'sse')).toBeAttached();
});

test('when WebSocket works again the page moves back to it, nothing lost or doubled', async ({ openPage }) => {
  const { A, B } = await blockedDm(openPage);
  await sendMessage(B.page, 'before the switch', 'enter');
  await expect(messageLog(A.page)).toContainText('before the switch');

  A.unblock();
  await expect(liveDot(A.page, 'websocket')).toBeAttached({ timeout: 20_000 });
  // B is still on SSE: both directions, across the two transports.
  await sendMessage(B.page, 'after the switch', 'enter');
  await sendMessage(A.page, 'from the socket', 'enter');
  await expect(messageLog(B.page)).toContainText('from the socket');
  for (const text of ['before the switch', 'after the switch']) {
    await expect(messageLog(A.page).getByText(text, { exact: true })).toHaveCount(1);
  }
});
