// natter's service worker (issue 33): Web Push notifications, and an offline shell.
//
// - push: shows what the server sent (src/server/domain/push.rs, `Payload`): one
//   notification per chat (`tag` chat-ID: a newer one replaces the older); a "clear"
//   (the chat was read on another device) closes the chat's notification instead.
// - pushsubscriptionchange: hands the browser's new subscription to the server.
// - notificationclick: focuses a natter tab on that chat, or opens one.
// - message {read: CHAT} from a page that shows the chat: closes its notifications and
//   keeps a fresh copy of the chat's page (chats opened inside the page never pass
//   through a navigation).
// - fetch, page navigations only: network first. A chat page that loaded is kept, per
//   person, so that with no network (or with the server down behind a proxy) the
//   last-opened chats show read-only (scripts removed, controls disabled, an "offline"
//   banner) and other pages show the shell. Pages say whose they are (header
//   x-natter-user: the id, or 0 when signed out); a page of someone else or of no one
//   drops every kept page first, and so does any sign-in, sign-up, sign-out or account
//   deletion this browser posts (they change who is signed in without a page load):
//   one person's chats are never shown to the next person using this browser.
//
// Updates: a new natter ships a new worker, which takes over at once (nothing here
// serves code or data from a cache while the network answers) and drops the caches of
// older versions.

const VERSION = 1;
const PAGES = 'natter-pages-v' + VERSION + '-';
const KEEP = 20;
const STYLE = '/pkg/natter.css';

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('natter-') && !name.startsWith(PAGES)) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// ---- Web Push ----

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = {};
  }
  if (data.kind === 'clear' && typeof data.tag === 'string') {
    // The person read the chat on another device: its notification goes here too.
    // (The server sends these only to push services that allow a push shown as
    // nothing: src/server/domain/push.rs, CLEARABLE_HOSTS.)
    event.waitUntil(closeTag(data.tag));
    return;
  }
  const title = typeof data.title === 'string' && data.title ? data.title : 'natter';
  const body = typeof data.body === 'string' ? data.body : 'New message';
  const url = sameOriginPath(data.url) || '/chats';
  const tag = typeof data.tag === 'string' ? data.tag : undefined;
  // Browsers require a visible notification for every push: always show one.
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag,
      data: { url },
      icon: '/icons/natter-192.png',
      badge: '/icons/natter-192.png',
    }),
  );
});

// The push service replaced the subscription (keys rotated, expired): hand the new one
// to the server for this browser's session, as "Enable notifications" did.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(
    (async () => {
      // Only where this browser's session still has notifications on (not for whoever
      // signed in since, not for a device removed in /account).
      const settings = await (await call('push_settings', {})).json();
      if (!settings.devices || !settings.devices.some((d) => d.this_browser)) return;
      const old = event.oldSubscription;
      const sub =
        event.newSubscription ||
        (old && (await self.registration.pushManager.subscribe(old.options)));
      if (!sub) return;
      const { endpoint, keys } = sub.toJSON();
      await call('push_subscribe', { endpoint, p256dh: keys.p256dh, auth: keys.auth });
      if (old && old.endpoint !== endpoint) await call('push_unsubscribe', { endpoint: old.endpoint });
    })().catch(() => {}),
  );
});

function call(name, form) {
  return fetch('/api/' + name, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = sameOriginPath(event.notification.data && event.notification.data.url) || '/chats';
  event.waitUntil(openChat(url));
});

async function openChat(url) {
  const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  // The tab in front first, then any other natter tab.
  tabs.sort((a, b) => Number(b.focused) - Number(a.focused) || Number(b.visibilityState === 'visible') - Number(a.visibilityState === 'visible'));
  for (const tab of tabs) {
    try {
      // Focus needs the click's activation; the tab goes to the chat either way.
      const target = (await tab.focus().catch(() => null)) || tab;
      const at = new URL(target.url);
      if (at.pathname + at.search !== url) await target.navigate(url);
      return;
    } catch (_) {
      // Not a tab this worker controls: try the next, else open one.
    }
  }
  await self.clients.openWindow(url);
}

self.addEventListener('message', (event) => {
  const chat = event.data && event.data.read;
  if (Number.isSafeInteger(chat) && chat > 0) {
    event.waitUntil(Promise.all([clearChat(chat), keepChat(chat).catch(() => {})]));
  }
});

async function clearChat(chat) {
  await closeTag('chat-' + chat);
}

async function closeTag(tag) {
  for (const n of await self.registration.getNotifications({ tag })) n.close();
}

// Only a path of this origin ("/chats/7"), never a URL elsewhere.
function sameOriginPath(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
  try {
    const u = new URL(value, self.location.origin);
    // "/.//elsewhere" parses to the path "//elsewhere": a URL of another host.
    if (u.origin !== self.location.origin || u.pathname.startsWith('//')) return null;
    return u.pathname + u.search;
  } catch (_) {
    return null;
  }
}

// ---- Offline: the last-opened chats, read-only ----

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method === 'POST' && WHO_CHANGES.has(new URL(req.url).pathname) && sameOrigin(req.referrer)) {
    // Not answered here (the network does); only everything kept goes first.
    event.waitUntil(forget());
    return;
  }
  if (req.method !== 'GET') return;
  if (req.mode === 'navigate') {
    event.respondWith(navigate(event, req));
  } else if (new URL(req.url).pathname === STYLE) {
    // The style of the kept pages, when the network cannot give it.
    event.respondWith(fetch(req).catch(async () => (await (await kept())?.match(STYLE)) || Response.error()));
  }
});

// Requests after which someone else (or no one) may be signed in.
const WHO_CHANGES = new Set([
  '/api/sign_in',
  '/api/sign_up',
  '/api/sign_out',
  '/api/sign_out_everywhere',
  '/api/delete_account',
  '/api/reset_password',
]);

const CHAT_PAGE = /^\/chats(\/[0-9]+)?$/;

async function navigate(event, req) {
  const path = new URL(req.url).pathname;
  let res;
  try {
    res = await fetch(req);
  } catch (_) {
    return offline(path);
  }
  const user = res.headers.get('x-natter-user');
  if (res.status >= 500 && user === null) {
    // The server is down behind a proxy: as good as offline.
    return (await keptPage(path)) || res;
  }
  // Only a page that says whose it is tells anything (a file, a 404 or a proxy's page
  // does not); the copy is made only for a page to keep.
  const keep = user !== null && res.status === 200 && CHAT_PAGE.test(path) && !res.redirected;
  if (user !== null && !res.redirected) {
    // The page's "chat shown" message need not fetch it again.
    if (keep) refreshed.set(path, Date.now());
    const era = generation;
    event.waitUntil(remember(user, path, keep ? res.clone() : null, era).catch(() => {}));
  }
  return res;
}

function sameOrigin(url) {
  try {
    return new URL(url).origin === self.location.origin;
  } catch (_) {
    return false;
  }
}

// Bumped whenever who is signed in may have changed: work begun before (a page's
// fetch still under way) keeps nothing after.
let generation = 0;

// Whose pages this worker keeps now (its cache's name), as far as it knows.
let current = null;

// Drops every page kept for anyone but `user` ("0": signed out), then keeps `res`.
async function remember(user, path, res, era) {
  if (era !== generation) return;
  const mine = /^[1-9][0-9]*$/.test(user) ? PAGES + user : null;
  if (mine !== current) {
    current = mine;
    generation += 1;
    era = generation;
  }
  for (const name of await caches.keys()) {
    if (name.startsWith(PAGES) && name !== mine) await caches.delete(name);
  }
  const type = (res && res.headers.get('content-type')) || '';
  if (!mine || !res || !type.startsWith('text/html') || era !== generation) return;
  const cache = await caches.open(mine);
  await cache.delete(path);
  await cache.put(path, res);
  const pages = (await cache.keys()).filter((r) => new URL(r.url).pathname !== STYLE);
  for (const old of pages.slice(0, Math.max(0, pages.length - KEEP))) await cache.delete(old);
  // The style of this deployment (a new natter may have changed it).
  await cache.add(STYLE).catch(() => {});
}

// A chat shown inside a page (no navigation reached the worker): keep its page too,
// at most every half minute a chat.
const refreshed = new Map();
async function keepChat(chat) {
  const path = '/chats/' + chat;
  const now = Date.now();
  if (now - (refreshed.get(path) || 0) < 30_000) return;
  refreshed.set(path, now);
  if (refreshed.size > 100) refreshed.delete(refreshed.keys().next().value);
  const era = generation;
  const res = await fetch(path, { credentials: 'same-origin', redirect: 'manual' });
  const user = res.headers.get('x-natter-user');
  if (user !== null && res.status === 200) await remember(user, path, res, era);
}

// Someone signs in or out: nothing of anyone's stays, neither pages nor notifications.
async function forget() {
  generation += 1;
  current = null;
  for (const name of await caches.keys()) {
    if (name.startsWith(PAGES)) await caches.delete(name);
  }
  refreshed.clear();
  for (const n of await self.registration.getNotifications()) n.close();
}

async function kept() {
  const name = (await caches.keys()).find((n) => n.startsWith(PAGES));
  return name ? caches.open(name) : null;
}

const BANNER =
  '<div class="offline-banner" role="status"><strong>You are offline.</strong> ' +
  'This is how the chat looked when you last opened it; it is read-only until the connection returns.</div>';

async function keptPage(path) {
  const cache = await kept();
  const page = cache && (await cache.match(path));
  return page ? html(readOnly(await page.text())) : null;
}

async function offline(path) {
  return (await keptPage(path)) || html(await shell(await kept()));
}

// Scripts out (nothing runs), every control disabled, the banner first.
function readOnly(text) {
  return text
    .replace(/<script\b[\s\S]*?<\/script>/gi, '')
    .replace(/<(textarea|button|input|select)\b/gi, '<$1 disabled')
    .replace(/<html\b/i, '<html data-offline="true"')
    .replace(/<body\b([^>]*)>/i, '<body$1>' + BANNER);
}

async function shell(cache) {
  const links = [];
  if (cache) {
    for (const req of await cache.keys()) {
      const path = new URL(req.url).pathname;
      if (!/^\/chats\/[0-9]+$/.test(path)) continue;
      const res = await cache.match(req);
      const title = ((await res.text()).match(/<title>([^<]*)<\/title>/i) || [])[1] || path;
      links.push('<li><a href="' + path + '">' + title + '</a></li>');
    }
  }
  const list = links.length
    ? '<h2>Chats you opened last</h2><ul class="offline-chats">' + links.reverse().join('') + '</ul>'
    : '<p>No chat is kept for offline reading in this browser.</p>';
  return (
    '<!DOCTYPE html><html lang="en" data-offline="true"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>Offline · natter</title><link rel="stylesheet" href="' + STYLE + '"></head>' +
    '<body>' + BANNER + '<main class="offline-shell"><h1 class="brand">natter</h1>' + list +
    '<p><a href="' + '/chats' + '">Try again</a></p></main></body></html>'
  );
}

function html(text) {
  return new Response(text, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Kept pages run nothing: no script may load, only natter's own style and images.
      'content-security-policy':
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    },
  });
}
