import {
  chatHeading,
  createChat,
  expect,
  expectMessagesInOrder,
  messageLog,
  openChatFromList,
  reloadHydrated,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

test('three users talk in a group chat', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const carol = username('c', suffix);
  const title = `Trip ${suffix}`;

  const pageA = await openPage();
  const pageB = await openPage();
  const pageC = await openPage();
  await signUp(pageA, alice);
  await signUp(pageB, bob);
  await signUp(pageC, carol);

  const chatPath = await createChat(pageA, `${bob}, ${carol}`, title);
  await expect(chatHeading(pageA, title)).toBeVisible();

  const fromA = `A says hi ${suffix}`;
  const fromB = `B is in ${suffix}`;
  const fromC = `C too ${suffix}`;

  await sendMessage(pageA, fromA, 'enter');

  // Every member finds the group in their own chat list and can post.
  expect(await openChatFromList(pageB, title)).toBe(chatPath);
  await expect(chatHeading(pageB, title)).toBeVisible();
  await expect(messageLog(pageB)).toContainText(fromA);
  await sendMessage(pageB, fromB, 'button');

  expect(await openChatFromList(pageC, title)).toBe(chatPath);
  await expect(chatHeading(pageC, title)).toBeVisible();
  await expectMessagesInOrder(pageC, [fromA, fromB]);
  await sendMessage(pageC, fromC, 'enter');

  // After reloading, everybody sees all three messages in order.
  for (const page of [pageA, pageB, pageC]) {
    await reloadHydrated(page);
    await expect(chatHeading(page, title)).toBeVisible();
    await expectMessagesInOrder(page, [fromA, fromB, fromC]);
  }
});
