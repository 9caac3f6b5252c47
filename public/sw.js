// natter's service worker (issue 33): Web Push notifications, and an offline shell.
//
// - push: shows what the server sent (src/server/domain/push.rs, `Payload`): one
//   notification per chat (`tag` chat-ID: a newer one replaces the older).
// - notificationclick: focuses a natter tab on that chat, or opens one.
// - message {read: CHAT} from a page that shows the chat: closes its notifications.
// - fetch, page navigations only: network first. A chat page that loaded is kept, per
//   person, so that with no network the last-opened chats show read-only (scripts
//   removed, controls disabled, an "offline" banner) and other pages show the shell.
//   Pages say whose they are (header x-natter-user); a page of someone else, or of no
//   one (signed out), drops every kept page first: one person's chats are never shown
//   to the next person using this browser.
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
      const focused = await tab.focus();
      if (new URL(focused.url).pathname + new URL(focused.url).search !== url && focused.navigate) {
        await focused.navigate(url);
      }
      return;
    } catch (_) {
      // Not focusable or not ours to navigate: try the next, else open one.
    }
  }
  await self.clients.openWindow(url);
}

self.addEventListener('message', (event) => {
  const chat = event.data && event.data.read;
  if (Number.isSafeInteger(chat)) event.waitUntil(clearChat(chat));
});

async function clearChat(chat) {
  for (const n of await self.registration.getNotifications({ tag: 'chat-' + chat })) n.close();
}

// Only a path of this origin ("/chats/7"), never a URL elsewhere.
function sameOriginPath(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
  try {
    const u = new URL(value, self.location.origin);
    return u.origin === self.location.origin ? u.pathname + u.search : null;
  } catch (_) {
    return null;
  }
}

// ---- Offline: the last-opened chats, read-only ----

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  if (req.mode === 'navigate') {
    event.respondWith(navigate(event, req));
  } else if (new URL(req.url).pathname === STYLE) {
    // The style of the kept pages, when the network cannot give it.
    event.respondWith(fetch(req).catch(async () => (await (await kept())?.match(STYLE)) || Response.error()));
  }
});

async function navigate(event, req) {
  let res;
  try {
    res = await fetch(req);
  } catch (_) {
    return offline(new URL(req.url));
  }
  event.waitUntil(remember(req, res.clone()).catch(() => {}));
  return res;
}

// A chat page or the chat list, kept under its reader; anything else only tells whose
// pages may stay.
async function remember(req, res) {
  if (res.type === 'opaqueredirect' || res.redirected) return;
  const user = res.headers.get('x-natter-user');
  const mine = user && /^[0-9]+$/.test(user) ? PAGES + user : null;
  for (const name of await caches.keys()) {
    if (name.startsWith(PAGES) && name !== mine) await caches.delete(name);
  }
  const path = new URL(req.url).pathname;
  const type = res.headers.get('content-type') || '';
  if (!mine || res.status !== 200 || !type.startsWith('text/html') || !/^\/chats(\/[0-9]+)?$/.test(path)) {
    return;
  }
  const cache = await caches.open(mine);
  await cache.delete(path);
  await cache.put(path, res);
  const pages = (await cache.keys()).filter((r) => new URL(r.url).pathname !== STYLE);
  for (const old of pages.slice(0, Math.max(0, pages.length - KEEP))) await cache.delete(old);
  if (!(await cache.match(STYLE))) await cache.add(STYLE);
}

async function kept() {
  const name = (await caches.keys()).find((n) => n.startsWith(PAGES));
  return name ? caches.open(name) : null;
}

const BANNER =
  '<div class="offline-banner" role="status"><strong>You are offline.</strong> ' +
  'This is how the chat looked when you last opened it; it is read-only until the connection returns.</div>';

async function offline(url) {
  const cache = await kept();
  const page = cache && (await cache.match(url.pathname));
  if (page) return html(readOnly(await page.text()));
  return html(await shell(cache));
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
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
    },
  });
}
