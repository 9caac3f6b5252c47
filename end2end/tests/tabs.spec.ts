// Eight tabs of one browser on the SSE fallback, through HTTPS with HTTP/2
// (deploy/nginx-tls.conf in front of the two-node cluster). Over HTTP/1.1 a browser
// opens at most six connections per origin, so a seventh tab's stream would wait for a
// free one and starve page loads and POSTs; over HTTP/2 every stream and request of the
// browser share one connection. Runs only with NATTER_E2E_TLS set (scripts/test.sh),
// NATTER_E2E_CLUSTER naming the proxy's https:// URL.
import type { Page } from '@playwright/test';
import { createChat, expect, gotoHydrated, messageLog, sendMessage, signUp, test, uniqueSuffix, username } from './helpers';

test.skip(!process.env.NATTER_E2E_TLS, 'needs the HTTPS + HTTP/2 proxy (NATTER_E2E_TLS)');

const TABS = 8;

test(`${TABS} tabs on the SSE fallback all stay live over HTTP/2`, async ({ openPage }) => {
  test.setTimeout(120_000);
  const suffix = uniqueSuffix();
  const a = username('ta', suffix);
  const b = username('tb', suffix);
  const first = await openPage();
  // Every WebSocket of A's browser is refused: all its tabs use the SSE stream + POSTs.
  await first.context().routeWebSocket(/\/ws$/, (ws) => ws.close());
  const pageB = await openPage();
  await signUp(first, a);
  await signUp(pageB, b);
  const chat = await createChat(first, b);
  await gotoHydrated(pageB, chat);

  const tabs: Page[] = [first];
  // The fixture watches the pages it opens; these extra tabs are watched here.
  const errors: string[] = [];
  for (let i = 1; i < TABS; i++) {
    const tab = await first.context().newPage();
    tab.on('pageerror', (error) => errors.push(`tab ${i}: ${error.message}`));
    await gotoHydrated(tab, chat);
    tabs.push(tab);
  }
  for (const tab of tabs) {
    await expect(tab.locator('.live-dot[data-transport="sse"]').first()).toBeAttached({ timeout: 30_000 });
    const protocol = await tab.evaluate(
      () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    );
    expect(protocol).toBe('h2');
  }

  // Each tab's stream delivers as it happens, and each tab can still send.
  await sendMessage(pageB, `to every tab ${suffix}`, 'enter');
  for (const tab of tabs) await expect(messageLog(tab)).toContainText(`to every tab ${suffix}`);
  await sendMessage(tabs[TABS - 1], `from the last tab ${suffix}`, 'enter');
  await expect(messageLog(pageB)).toContainText(`from the last tab ${suffix}`);
  await expect(messageLog(tabs[0])).toContainText(`from the last tab ${suffix}`);
  for (const tab of tabs) {
    await expect(messageLog(tab).getByText(`to every tab ${suffix}`, { exact: true })).toHaveCount(1);
  }
  expect(errors, 'uncaught errors in the extra tabs').toEqual([]);
});
