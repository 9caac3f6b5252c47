/**
 * A push service of the tests' own (issue 33): an HTTP server on loopback that takes
 * what natter's server POSTs to a subscription's endpoint, and a browser's half of
 * RFC 8291 to read it (the subscription's private key and auth secret live here, not
 * in Chromium, which has no push service on these machines). What it reads is then
 * handed to the real service worker with the DevTools protocol's
 * `ServiceWorker.deliverPushMessage`.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { type BrowserContext, type Page } from '@playwright/test';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class PushService {
  readonly received: Received[] = [];
  private server?: http.Server;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The pushes that reached `sub`'s endpoint. */
  for(sub: Subscriber): Received[] {
    return this.received.filter((r) => `http://127.0.0.1:${this.port}${r.path}` === sub.endpoint);
  }
}

/** A browser's subscription: its endpoint on the test service and its keys. */
export class Subscriber {
  readonly ecdh = crypto.createECDH('prime256v1');
  readonly auth = crypto.randomBytes(16);
  readonly endpoint: string;

  constructor(port: number) {
    this.ecdh.generateKeys();
    this.endpoint = `http://127.0.0.1:${port}/push/${crypto.randomBytes(8).toString('hex')}`;
  }

  get p256dh(): string {
    return this.ecdh.getPublicKey().toString('base64url');
  }

  /** Decrypts an `aes128gcm` body (RFC 8188 framing, RFC 8291 keys), one record. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idlen = body[20];
    const serverKey = body.subarray(21, 21 + idlen);
    const sealed = body.subarray(21 + idlen);
    const hmac = (key: Buffer, data: Buffer) => crypto.createHmac('sha256', key).update(data).digest();
    const shared = this.ecdh.computeSecret(serverKey);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), serverKey]);
    const ikm = hmac(hmac(this.auth, shared), Buffer.concat([info, Buffer.from([1])]));
    const prk = hmac(salt, ikm);
    const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
    const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
    const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    // The last record ends with the delimiter 2, then zero padding.
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    if (plain[end - 1] !== 2) throw new Error('no last-record delimiter');
    return plain.subarray(0, end - 1).toString('utf8');
  }

  /**
   * Makes the pages of `context` see this subscription as the browser's own: Chromium
   * cannot reach a real push service here, so `PushManager.subscribe` and
   * `getSubscription` answer with it (kept across reloads like a real one).
   */
  async install(context: BrowserContext): Promise<void> {
    await context.addInitScript(
      ({ endpoint, p256dh, auth }) => {
        const mark = 'natter-test-push-subscription';
        const make = () => ({
          endpoint,
          expirationTime: null,
          options: { userVisibleOnly: true },
          getKey: () => null,
          toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
          unsubscribe: () => {
            localStorage.removeItem(mark);
            return Promise.resolve(true);
          },
        });
        PushManager.prototype.subscribe = function () {
          localStorage.setItem(mark, '1');
          return Promise.resolve(make() as unknown as PushSubscription);
        };
        PushManager.prototype.getSubscription = function () {
          return Promise.resolve((localStorage.getItem(mark) ? make() : null) as unknown as PushSubscription | null);
        };
      },
      { endpoint: this.endpoint, p256dh: this.p256dh, auth: this.auth.toString('base64url') },
    );
  }
}

/** Delivers `data` to the service worker of `page`'s origin, as a push service would. */
export async function deliverPush(page: Page, data: string): Promise<void> {
  const origin = new URL(page.url()).origin;
  const cdp = await page.context().newCDPSession(page);
  const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  const deadline = Date.now() + 10_000;
  let id: string | undefined;
  while (!id && Date.now() < deadline) {
    id = registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted)?.registrationId;
    if (!id) await page.waitForTimeout(100);
  }
  if (!id) throw new Error(`no service worker registration for ${origin}`);
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: id, data });
  await cdp.detach();
}

/** The notifications the service worker shows now. */
export async function notifications(page: Page): Promise<{ title: string; body: string; tag: string; url: string }[]> {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      url: (n.data as { url?: string } | null)?.url ?? '',
    }));
  });
}
