import {
  chatHeading,
  chatList,
  createChat,
  expect,
  gotoHydrated,
  messageLog,
  openChatFromList,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

test('a non-member cannot see a chat', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const carol = username('c', suffix);
  const secret = `secret ${suffix}`;

  const pageA = await openPage();
  const pageB = await openPage();
  await signUp(pageA, alice);
  await signUp(pageB, bob);
  const chatPath = await createChat(pageA, bob);
  await sendMessage(pageA, secret, 'enter');
  expect(await openChatFromList(pageB, alice)).toBe(chatPath);
  await expect(messageLog(pageB)).toContainText(secret);

  const pageC = await openPage();
  await signUp(pageC, carol);

  const response = await gotoHydrated(pageC, chatPath);
  expect(response?.status()).toBe(404);
  await expect(pageC.getByText('Chat not found')).toBeVisible();

  // Nothing about the chat is leaked, neither in the page nor in the HTML
  // (including any serialized hydration data).
  const html = (await response?.text()) ?? '';
  for (const leaked of [secret, alice, bob]) {
    expect(html, `response HTML must not contain ${leaked}`).not.toContain(leaked);
    await expect(pageC.locator('body')).not.toContainText(leaked);
  }
  await expect(chatHeading(pageC, bob)).toHaveCount(0);
  await expect(chatHeading(pageC, alice)).toHaveCount(0);
  await expect(chatList(pageC).getByRole('link', { name: new RegExp(`${alice}|${bob}`) })).toHaveCount(0);

  // A chat that does not exist looks exactly the same.
  const missing = await gotoHydrated(pageC, '/chats/987654321');
  expect(missing?.status()).toBe(404);
  await expect(pageC.getByText('Chat not found')).toBeVisible();
});
