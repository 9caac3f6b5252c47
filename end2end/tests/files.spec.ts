import {
  createChat,
  expect,
  expectPath,
  messageLog,
  openDm,
  PNG_BASE64,
  signUp,
  test,
  uniqueSuffix,
  username,
  composer,
} from './helpers';
import type { Page } from '@playwright/test';

function attached(page: Page) {
  return page.getByRole('list', { name: 'Attached files' });
}

/** Dispatches `type` (paste on the message box, drop on the log) carrying one file. */
async function deliverFile(page: Page, type: 'paste' | 'drop', name: string, mime: string, base64: string) {
  const target = type === 'paste' ? '#composer-input' : '[role="log"]';
  await page.evaluate(
    ({ type, target, name, mime, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: mime }));
      const el = document.querySelector(target)!;
      const ev =
        type === 'paste'
          ? new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })
          : new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true });
      el.dispatchEvent(ev);
    },
    { type, target, name, mime, base64 },
  );
}

test('files: picked with the keyboard, pasted and dropped; live thumbnails, the viewer, download, delete', async ({ openPage }) => {
  const { pageA, pageB } = await openDm(openPage);

  // Pick with the keyboard: the paperclip button opens the file chooser.
  const attach = pageA.getByRole('button', { name: 'Attach files' });
  await attach.focus();
  const chooser = pageA.waitForEvent('filechooser');
  await pageA.keyboard.press('Enter');
  await (await chooser).setFiles({ name: 'red.png', mimeType: 'image/png', buffer: Buffer.from(PNG_BASE64, 'base64') });
  await expect(attached(pageA)).toContainText('red.png');
  await expect(attached(pageA).getByRole('status')).toHaveText('ready');
  await composer(pageA).fill('the red one');
  await composer(pageA).press('Enter');
  await expect(attached(pageA)).toHaveCount(0);

  // It arrives live, as a thumbnail whose box is reserved before it loads.
  const thumb = messageLog(pageB).getByRole('img', { name: 'red.png' });
  await expect(thumb).toBeVisible();
  await expect(thumb).toHaveAttribute('width', '60');
  await expect(thumb).toHaveAttribute('height', '30');
  await expect(messageLog(pageB)).toContainText('the red one');

  // The viewer: a dialog named by the file, with its download link; Escape closes it.
  await thumb.click();
  const viewer = pageB.getByRole('dialog', { name: 'red.png' });
  await expect(viewer).toBeVisible();
  await expect(viewer.getByRole('link', { name: 'Download' })).toHaveAttribute('href', /^\/files\/\d+\/red\.png$/);
  await pageB.keyboard.press('Escape');
  await expect(viewer).toHaveCount(0);

  // Paste a screenshot, drop a document: both go with one message, no text needed.
  await deliverFile(pageA, 'paste', 'clip.png', 'image/png', PNG_BASE64);
  await deliverFile(pageA, 'drop', 'notes.txt', 'text/plain', btoa('meeting notes\n'));
  await expect(attached(pageA).getByRole('status')).toHaveText(['ready', 'ready']);
  await pageA.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(messageLog(pageB).getByRole('img', { name: 'clip.png' })).toBeVisible();
  const download = messageLog(pageB).getByRole('link', { name: 'Download notes.txt' });
  await expect(download).toBeVisible();
  const saved = pageB.waitForEvent('download');
  await download.click();
  expect((await saved).suggestedFilename()).toBe('notes.txt');

  // The chat's Files panel lists what was shared, newest first.
  await pageB.getByRole('button', { name: 'Files', exact: true }).click();
  const panel = pageB.getByRole('region', { name: 'Files' });
  await expect(panel.getByRole('link')).toHaveCount(3);
  expect(await panel.getByRole('link').evaluateAll((links) => links.map((l) => l.getAttribute('aria-label')))).toEqual([
    'Download notes.txt',
    'Download clip.png',
    'Download red.png',
  ]);
  await panel.press('Escape');
  await expect(panel).toHaveCount(0);

  // Deleting the message takes its files with it, for both.
  const own = messageLog(pageA).locator('article', { has: pageA.getByRole('link', { name: 'Download notes.txt' }) });
  await own.hover();
  await own.getByRole('button', { name: 'Delete' }).click();
  await expect(messageLog(pageB).getByRole('link', { name: 'Download notes.txt' })).toHaveCount(0);
  await expect(messageLog(pageA).getByRole('link', { name: 'Download notes.txt' })).toHaveCount(0);
});

test('a file that is refused says why in the composer, and can be removed', async ({ openPage }) => {
  const { pageA } = await openDm(openPage);
  // An empty file is refused by the server.
  await deliverFile(pageA, 'drop', 'empty.txt', 'text/plain', '');
  await expect(attached(pageA).getByRole('status')).toHaveText('The file is empty');
  await composer(pageA).fill('text');
  await composer(pageA).press('Enter');
  await expect(pageA.getByRole('alert')).toContainText('Remove the files that did not upload');
  await pageA.getByRole('button', { name: 'Remove empty.txt' }).click();
  await expect(attached(pageA)).toHaveCount(0);

  // Five files at once: they queue (the server takes a few per person at a time) and all
  // go out in one message.
  for (const n of [1, 2, 3, 4, 5]) await deliverFile(pageA, 'drop', `f${n}.txt`, 'text/plain', btoa(`file ${n}\n`));
  await expect(attached(pageA).getByRole('status')).toHaveText(['ready', 'ready', 'ready', 'ready', 'ready']);
  await composer(pageA).press('Enter');
  for (const n of [1, 2, 3, 4, 5]) {
    await expect(messageLog(pageA).getByRole('link', { name: `Download f${n}.txt` })).toBeVisible();
  }
});

test('without JavaScript a file is picked and sent with a plain form', async ({ openPage }) => {
  const suffix = uniqueSuffix();
  const alice = username('a', suffix);
  const bob = username('b', suffix);
  const pageB = await openPage();
  await signUp(pageB, bob);
  const pageA = await openPage({ js: false });
  await signUp(pageA, alice);
  const chat = await createChat(pageA, bob);
  // Without JavaScript the file input itself is the control.
  const input = pageA.locator('input[type="file"]');
  await expect(input).toHaveAccessibleName('Attach files');
  await input.setInputFiles({
    name: 'plain.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('sent without JavaScript'),
  });
  await pageA.getByRole('button', { name: 'Send files' }).click();
  await expectPath(pageA, chat);
  await expect(messageLog(pageA).getByRole('link', { name: 'Download plain.txt' })).toBeVisible();
});
