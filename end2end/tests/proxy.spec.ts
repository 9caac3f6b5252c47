// Through a proxy that does not pass WebSocket upgrades (deploy/nginx-plain.conf, in
// front of the two-node cluster): the page falls back to the SSE stream + POSTs by
// itself, and events arrive as they happen (nginx's default buffering would hold them
// back without the stream's `X-Accel-Buffering: no`). Runs only with
// NATTER_E2E_NO_UPGRADE set (scripts/test.sh), NATTER_E2E_CLUSTER naming the proxy.
import { composer, expect, messageLog, openDm, sendMessage, test } from './helpers';

test.skip(!process.env.NATTER_E2E_NO_UPGRADE, 'needs the proxy without upgrades (NATTER_E2E_NO_UPGRADE)');

test('behind a proxy without WebSocket, the page falls back and chats live', async ({ openPage }) => {
  const { b, pageA, pageB, suffix } = await openDm(openPage);
  for (const page of [pageA, pageB]) {
    await expect(page.locator('.live-dot[data-transport="sse"]').first()).toBeAttached({ timeout: 30_000 });
  }
  // Each message shows on the other side within a few seconds, one at a time.
  for (let i = 0; i < 3; i++) {
    await sendMessage(pageA, `through the proxy ${i} ${suffix}`, 'enter');
    await expect(messageLog(pageB)).toContainText(`through the proxy ${i} ${suffix}`, { timeout: 5_000 });
  }
  await sendMessage(pageB, `answer ${suffix}`);
  await expect(messageLog(pageA)).toContainText(`answer ${suffix}`, { timeout: 5_000 });
  await composer(pageB).pressSequentially('typing…', { delay: 20 });
  await expect(pageA.getByText(`${b} is typing…`)).toBeVisible({ timeout: 5_000 });
  await expect(messageLog(pageA).getByText(`answer ${suffix}`, { exact: true })).toHaveCount(1);
});
