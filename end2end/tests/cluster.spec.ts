// Two natter nodes behind nginx round robin (scripts/cluster.sh: PostgreSQL, Redis, and
// S3-compatible storage for files).
// Runs only with NATTER_E2E_CLUSTER set to the proxy's URL (scripts/test.sh does);
// page loads, server functions and sockets land on either node, no sticky sessions.
import {
  composer,
  expect,
  expectMessagesInOrder,
  messageLog,
  openDm,
  PNG_BASE64,
  reloadHydrated,
  sendMessage,
  test,
} from './helpers';

test.skip(!process.env.NATTER_E2E_CLUSTER, 'needs the two-node cluster (NATTER_E2E_CLUSTER)');

test('two people chat through the two-node cluster, across reloads that change nodes', async ({ openPage }) => {
  const { pageA, pageB, suffix } = await openDm(openPage);
  await sendMessage(pageA, `hello over the cluster ${suffix}`);
  await expect(messageLog(pageB)).toContainText(`hello over the cluster ${suffix}`);
  await sendMessage(pageB, `reply ${suffix}`, 'enter');
  await expect(messageLog(pageA)).toContainText(`reply ${suffix}`);

  // Reloads open new sockets, on whichever node nginx picks next.
  for (let i = 0; i < 3; i++) {
    await reloadHydrated(pageB);
    await reloadHydrated(pageA);
    await sendMessage(pageA, `round ${i} ${suffix}`);
    await expect(messageLog(pageB)).toContainText(`round ${i} ${suffix}`);
  }
  await expectMessagesInOrder(pageB, [
    `hello over the cluster ${suffix}`,
    `reply ${suffix}`,
    `round 0 ${suffix}`,
    `round 1 ${suffix}`,
    `round 2 ${suffix}`,
  ]);
  await expect(composer(pageB)).toBeVisible();
});

test('a picture shared through one node is seen, opened and downloaded through both (S3 storage)', async ({ openPage }) => {
  const { pageA, pageB, suffix } = await openDm(openPage);
  const chooser = pageA.waitForEvent('filechooser');
  await pageA.getByRole('button', { name: 'Attach files' }).click();
  await (await chooser).setFiles({ name: `map-${suffix}.png`, mimeType: 'image/png', buffer: Buffer.from(PNG_BASE64, 'base64') });
  await expect(pageA.getByRole('list', { name: 'Attached files' }).getByRole('status')).toHaveText('ready');
  await sendMessage(pageA, `the map ${suffix}`);

  // Live on the other side, and really loaded (a thumbnail made by whichever node
  // stored it, served by whichever node nginx picks).
  const thumb = messageLog(pageB).getByRole('img', { name: `map-${suffix}.png` });
  await expect(thumb).toBeVisible();
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);

  // Round robin: consecutive fetches land on both nodes; each checks membership itself
  // and reads the same bytes from the shared storage.
  const href = await messageLog(pageB).locator('a.file-image').getAttribute('href');
  expect(href).toMatch(/^\/files\/\d+\//);
  for (let i = 0; i < 4; i++) {
    const res = await pageB.request.get(href!);
    expect(res.status()).toBe(200);
    expect((await res.body()).equals(Buffer.from(PNG_BASE64, 'base64'))).toBe(true);
  }
  // A reload (another node, perhaps) shows it from the history too.
  await reloadHydrated(pageB);
  await expect(messageLog(pageB).getByRole('img', { name: `map-${suffix}.png` })).toBeVisible();
});
