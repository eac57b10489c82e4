// The platform behind the nginx front server configured by deploy/nginx/ferrotape.conf
// (scripts/e2e.sh starts nginx with it in front of the local-storage server, after that
// server's own suite): a talk plays in Chromium with every media byte sent by nginx from the
// media directory (its ETag is nginx's, made from the file's own size and time), with the
// platform's caching headers; signing in, the REST API and pages go through the same proxy
// with the forwarded headers; media that is not public is refused through nginx as well, and
// nginx's internal location cannot be asked for directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_URL, launch, openHydrated, transcodedTalk, untilVideo } from '../tests/browser.mjs';

const run = promisify(execFile);
const SLUG = 'adaptive-streaming-from-first-principles';
const WATCH = `${BASE_URL}/talks/${SLUG}`;
const MEDIA_DIR = join(process.env.FERROTAPE_DATA_DIR ?? '', 'media');
const PASSWORD = 'a front server passphrase';

let browser;
let talkId;
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN && process.env.FERROTAPE_DATA_DIR, 'set by scripts/e2e.sh');
  browser = await launch();
  talkId = await transcodedTalk(WATCH);
}, { timeout: 9 * 60 * 1000 });
after(async () => { await browser?.close(); }, { timeout: 30000 });

/// nginx's ETag of a static file: its modification time in seconds and its size, in hex.
async function nginxEtag(key) {
  const info = await stat(join(MEDIA_DIR, key));
  return `"${Math.floor(info.mtimeMs / 1000).toString(16)}-${info.size.toString(16)}"`;
}

test('front server: a talk plays with its media sent by nginx, under the platform\'s headers', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const media = [];
  context.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (path.startsWith('/media/')) media.push({ path, status: response.status(), headers: response.headers() });
  });
  const { page, errors } = await openHydrated(context, WATCH);
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused && s.time > 2, 'playback through the front server advances');

  const segments = media.filter((m) => m.path.endsWith('.m4s'));
  assert.ok(segments.length > 0, JSON.stringify(media.map((m) => m.path)));
  for (const segment of segments) {
    assert.ok([200, 206].includes(segment.status), `${segment.path}: ${segment.status}`);
    assert.match(segment.headers.server ?? '', /^nginx/, segment.path);
    assert.equal(segment.headers.etag, await nginxEtag(segment.path.slice('/media/'.length)), segment.path);
    assert.equal(segment.headers['cache-control'], 'public, max-age=31536000, immutable', segment.path);
    assert.equal(segment.headers['content-type'], 'video/iso.segment', segment.path);
    assert.equal(segment.headers['access-control-allow-origin'], '*', segment.path);
    assert.equal(segment.headers['x-accel-redirect'], undefined, 'the hand-over stays between the servers');
  }
  const playlists = media.filter((m) => m.path.endsWith('.m3u8'));
  assert.ok(playlists.length >= 2, 'the master and a rendition playlist');
  for (const playlist of playlists) {
    assert.equal(playlist.status, 200, playlist.path);
    assert.equal(playlist.headers['content-type'], 'application/vnd.apple.mpegurl', playlist.path);
    assert.equal(playlist.headers['cache-control'], 'public, max-age=60, must-revalidate', playlist.path);
  }
  // A range and a revalidation are answered by nginx from the file.
  const first = segments[0].path;
  const part = await fetch(`${BASE_URL}${first}`, { headers: { range: 'bytes=0-99' } });
  assert.equal(part.status, 206);
  assert.equal((await part.arrayBuffer()).byteLength, 100);
  const again = await fetch(`${BASE_URL}${first}`, { headers: { 'if-none-match': segments[0].headers.etag } });
  assert.equal(again.status, 304);
  assert.deepEqual(errors, []);
  await context.close();
});

test('front server: signing in and the API work through it, and media that is not public is refused by it', async () => {
  const email = `front-${Date.now()}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email,
    '--name', 'Front Admin', '--role', 'admin'], { env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD } });
  const login = await fetch(`${BASE_URL}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: BASE_URL },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const api = (path, init = {}) => fetch(`${BASE_URL}${path}`, {
    ...init,
    headers: { cookie, origin: BASE_URL, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

  const talk = await api(`/api/v1/talks/${talkId}`);
  assert.equal(talk.status, 200);
  const talkText = await talk.text();
  const signed = talkText.match(/\/media\/s\/\d+\/[\w-]+\/[0-9a-f-]{36}\/[0-9a-f-]{36}\/[\w/.-]*master\.m3u8/)?.[0];
  assert.ok(signed, `a signed preview URL in ${talkText}`);
  const key = signed.split('/').slice(5).join('/');
  const plain = `${BASE_URL}/media/${key}`;
  assert.equal((await fetch(plain)).status, 200);

  // nginx's internal location is not a way around the platform.
  assert.equal((await fetch(`${BASE_URL}/_ferrotape_media/${key}`)).status, 404);
  const tampered = signed.replace(/\/media\/s\/(\d+)\/([\w-])/, (_, e, c) => `/media/s/${e}/${c === 'A' ? 'B' : 'A'}`);
  assert.equal((await fetch(`${BASE_URL}${tampered}`)).status, 403);

  const original = JSON.parse(talkText);
  const unpublish = await api(`/api/v1/talks/${talkId}/publication`, {
    method: 'PUT', body: JSON.stringify({ state: 'draft' }),
  });
  assert.equal(unpublish.status, 200, await unpublish.clone().text());
  try {
    // The platform's answer is kept 5 s (media_visibility); then nginx is refused it too.
    const deadline = Date.now() + 15000;
    let status;
    while ((status = (await fetch(plain)).status) !== 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(status, 404, 'a draft\'s media through the front server');
    const preview = await fetch(`${BASE_URL}${signed}`);
    assert.equal(preview.status, 200, 'the signed preview still plays');
    assert.match(await preview.text(), /^#EXTM3U/);
    assert.equal(preview.headers.get('cache-control'), 'private, no-cache');
    assert.match(preview.headers.get('server') ?? '', /^nginx/);
  } finally {
    const republish = await api(`/api/v1/talks/${talkId}/publication`, {
      method: 'PUT',
      body: JSON.stringify({ state: 'published', publish_at: original.talk?.published_at }),
    });
    assert.equal(republish.status, 200, await republish.clone().text());
  }
});
