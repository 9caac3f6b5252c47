// Two natter nodes behind nginx round robin (scripts/cluster.sh: PostgreSQL + Redis).
// Runs only with NATTER_E2E_CLUSTER set to the proxy's URL (scripts/test.sh does);
// page loads, server functions and sockets land on either node, no sticky sessions.
import {
  composer,
  expect,
  expectMessagesInOrder,
  messageLog,
  openDm,
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
