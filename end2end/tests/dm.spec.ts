import {
  chatHeading,
  chatLink,
  composer,
  createChat,
  expect,
  expectMessagesInOrder,
  expectPath,
  gotoHydrated,
  messageLog,
  openChatFromList,
  openDm,
  reloadHydrated,
  sendMessage,
  signUp,
  test,
  uniqueSuffix,
  username,
} from './helpers';

test('two users exchange direct messages', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const pageA = await openPage();
  const pageB = await openPage();
  await signUp(pageA, alice);
  await signUp(pageB, bob);

  // A starts a DM with B: it is titled with B's name.
  const chatPath = await createChat(pageA, bob);
  await expect(chatHeading(pageA, bob)).toBeVisible();

  const hello = 'hello B';
  await sendMessage(pageA, hello, 'enter');

  // B (no live delivery yet) loads the chat list, finds the DM titled with A's name.
  expect(await openChatFromList(pageB, alice)).toBe(chatPath);
  await expect(chatHeading(pageB, alice)).toBeVisible();
  await expect(messageLog(pageB)).toContainText(hello);

  const reply = `hi A, B here ${suffix}`;
  await sendMessage(pageB, reply, 'button');
  await expectMessagesInOrder(pageB, [hello, reply]);

  // A reloads and sees the reply after its own message.
  await reloadHydrated(pageA);
  await expectMessagesInOrder(pageA, [hello, reply]);

  // Creating the DM again opens the same chat, from either side.
  expect(await createChat(pageA, bob)).toBe(chatPath);
  await expectMessagesInOrder(pageA, [hello, reply]);
  await gotoHydrated(pageB, '/chats');
  expect(await createChat(pageB, alice)).toBe(chatPath);

  // Each side's list shows the DM exactly once.
  await gotoHydrated(pageA, '/chats');
  await expect(chatLink(pageA, bob)).toHaveCount(1);
});

test('Shift+Enter inserts a newline and the message arrives as one message', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const pageA = await openPage();
  const pageB = await openPage();
  await signUp(pageB, bob);
  await signUp(pageA, alice);
  const chatPath = await createChat(pageA, bob);

  const first = `first line ${suffix}`;
  const second = `second line ${suffix}`;
  const box = composer(pageA);
  await box.fill(first);
  await box.press('Shift+Enter');
  await box.pressSequentially(second);
  // Shift+Enter must not have sent anything.
  await expect(box).toHaveValue(`${first}\n${second}`);
  await expect(messageLog(pageA)).not.toContainText(first);

  await box.press('Enter');
  const log = messageLog(pageA);
  await expect(log).toContainText(first);
  await expect(log).toContainText(second);
  // One message containing both lines, not two messages.
  await expect(log.getByText(first, { exact: true })).toHaveCount(0);
  await expect(log.getByText(second, { exact: true })).toHaveCount(0);
  await expect(log.getByText(new RegExp(`${first}\\s*${second}`))).toHaveCount(1);

  // B sees the same single message after loading the chat.
  await gotoHydrated(pageB, chatPath);
  await expectPath(pageB, chatPath);
  const logB = messageLog(pageB);
  await expect(logB).toContainText(first);
  await expect(logB.getByText(first, { exact: true })).toHaveCount(0);
  await expect(logB.getByText(new RegExp(`${first}\\s*${second}`))).toHaveCount(1);
});

test('the author edits and deletes a message, and the other side sees both live', async ({ openPage }) => {
  const { pageA, pageB, suffix } = await openDm(openPage);
  await sendMessage(pageA, `first ${suffix}`);
  await sendMessage(pageA, `second ${suffix}`);
  await expectMessagesInOrder(pageB, [`first ${suffix}`, `second ${suffix}`]);

  // Edit the first message: only it turns into an editor.
  const first = messageLog(pageA).locator('article', { hasText: `first ${suffix}` });
  await first.hover();
  await first.getByRole('button', { name: 'Edit', exact: true }).click();
  const editor = pageA.getByRole('textbox', { name: 'Edit message' });
  await expect(editor).toHaveCount(1);
  await editor.fill(`first, edited ${suffix}`);
  await pageA.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(editor).toHaveCount(0);
  for (const page of [pageA, pageB]) {
    const edited = messageLog(page).locator('article', { hasText: `first, edited ${suffix}` });
    await expect(edited).toContainText('edited');
  }

  // Delete the second one.
  // By keyboard (the actions show on focus too): in this session's CI the pointer's
  // hover over the last message stopped reaching its actions after the first tests of
  // a run (not yet understood; session 33's note).
  const second = messageLog(pageA).locator('article', { hasText: `second ${suffix}` });
  await second.hover();
  const del = second.getByRole('button', { name: 'Delete', exact: true });
  await del.focus();
  await del.press('Enter');
  for (const page of [pageA, pageB]) {
    await expect(messageLog(page)).not.toContainText(`second ${suffix}`);
    await expect(messageLog(page)).toContainText('message deleted');
  }
  // Bob cannot edit or delete Alice's messages.
  await expect(messageLog(pageB).getByRole('button', { name: 'Edit', exact: true })).toHaveCount(0);
});
