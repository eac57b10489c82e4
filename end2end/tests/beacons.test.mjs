// The player's view beacons in a real browser: what it posts to /api/v1/events while a viewer
// watches (view start with the referrer, quality switches, the first frame's startup time, a
// seek, a stall while CDP takes the network away, hls.js' errors, heartbeats whose watched
// ranges add up to what played, and the exit sent by sendBeacon as the page goes away), a view
// that leaves before its first frame, the embed carrying the embedding page's origin, and the
// app bundle's player exiting its view when a client-side navigation removes it.
//
// The requests are recorded and answered 202 here (`startRecorder`), so the test checks exactly
// what the player sends, whatever the server does with it. scripts/e2e.sh imports the 40 s clip
// into the talk below (480p and 360p rungs) before the server starts.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_URL, ARTIFACTS_DIR, launch, transcodedTalk, videoState, untilVideo } from './browser.mjs';

const SLUG = 'adaptive-streaming-from-first-principles';
const WATCH = `${BASE_URL}/talks/${SLUG}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let browser;
let talkId;
before(async () => {
  browser = await launch();
  // The imported clip may still be transcoding when the suite starts.
  talkId = await transcodedTalk(WATCH);
}, { timeout: 9 * 60 * 1000 });
after(async () => { await browser?.close(); }, { timeout: 30000 });

const contexts = [];
async function newContext(options) {
  const context = await browser.newContext(options);
  contexts.push(context);
  return context;
}
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {});
}, { timeout: 30000 });

// The player's beacons, recorded where they arrive: a small proxy in front of the server that
// answers `POST /api/v1/events` itself (202) and passes every other request through. Pages are
// opened through it, so the player posts there (same origin). Playwright's request routing
// cannot do this: Chromium sends a beacon of a page that is going away from the browser
// process, where neither `route` nor the page's CDP network events see it.
async function startRecorder() {
  const upstream = new URL(BASE_URL);
  const batches = [];
  let origin;
  const proxy = createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/api/v1/events') {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        batches.push({ body: JSON.parse(body), contentType: request.headers['content-type'], origin: request.headers.origin });
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end('{}');
      });
      return;
    }
    const forward = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      // As if the browser had come to the server itself (its CSRF check compares them).
      headers: {
        ...request.headers,
        host: upstream.host,
        ...(request.headers.origin ? { origin: upstream.origin } : {}),
        ...(request.headers.referer ? { referer: request.headers.referer.replace(origin, upstream.origin) } : {}),
      },
    }, (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    });
    forward.on('error', () => response.destroy());
    request.pipe(forward);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${proxy.address().port}`;
  const events = () => batches.flatMap((batch) => batch.body.events);
  // Waits until an event matching `predicate` arrived; returns it.
  const waitFor = async (predicate, what, timeout = 30000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = events().find(predicate);
      if (found) return found;
      assert.ok(Date.now() < deadline, `no ${what} arrived; got ${JSON.stringify(events().map((e) => e.type))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const close = () => new Promise((resolve) => { proxy.closeAllConnections(); proxy.close(resolve); });
  recorders.push(close);
  return { origin, batches, events, waitFor };
}
const recorders = [];
afterEach(async () => { for (const close of recorders.splice(0)) await close(); });

// Counts the page's sendBeacon calls in its localStorage (read back after it has gone).
const countBeacons = () => {
  const send = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (url, data) => {
    const sent = send(url, data);
    if (sent) localStorage.setItem('test.beacons', String(Number(localStorage.getItem('test.beacons') ?? 0) + 1));
    return sent;
  };
};

const watchedSeconds = (events) => events.flatMap((e) => e.watched ?? []).reduce((sum, [s, e]) => sum + (e - s), 0);

test('beacons: a view with its startup, quality, seek, stall, errors, heartbeats and exit', async () => {
  const beacons = await startRecorder();
  const context = await newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(countBeacons);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  const referrer = `${beacons.origin}/?q=streaming`;
  await page.goto(`${beacons.origin}/talks/${SLUG}`, { referer: referrer });
  await page.waitForSelector('body[data-hydrated="true"]');
  const documentReferrer = await page.evaluate(() => document.referrer);
  assert.equal(documentReferrer, referrer);

  await page.locator('.player-big-play').click();
  const start = await beacons.waitFor((e) => e.type === 'view_start', 'view_start');
  const view = start.view;
  assert.match(view, UUID);
  assert.equal(start.referrer, referrer);
  assert.equal(start.autoplay, false);
  assert.equal(start.embed_origin, undefined);
  await untilVideo(page, (s) => !s.paused && s.time > 1, 'playback advances');

  // A quality switch: pin the rung not playing now.
  const before = await videoState(page);
  const first = `${before.height}p`;
  const other = before.height === 360 ? '480p' : '360p';
  const quality = page.locator('.player-quality-button');
  const pin = async (label) => {
    await page.locator('.player').hover();
    await quality.click();
    await page.locator('#player-quality-menu label').filter({ hasText: new RegExp(`^${label}`) }).click();
    await page.keyboard.press('Escape');
  };
  await pin(other);
  await untilVideo(page, (s) => s.height === parseInt(other, 10) && !s.paused && s.ready >= 3, `the ${other} rung plays`);

  // A stall: CDP takes the network away and the viewer pins the first rung again, which
  // empties the buffer (hls.js flushes it to switch at once); playback waits while hls.js'
  // fragment loads fail, until the network comes back.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const network = (offline) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await network(true);
  await pin(first);
  const stalled = await untilVideo(page, (s) => s.ready <= 2 && !s.paused, 'playback stalls without data');
  await page.waitForTimeout(1500); // how long the stall lasts at least
  await network(false);
  await untilVideo(page, (s) => s.time > stalled.time + 1 && s.ready >= 3, 'playback resumes after the network returns');

  // A seek: `l` jumps 10 s ahead.
  const seekFrom = (await videoState(page)).time;
  await page.locator('.player').focus();
  await page.keyboard.press('l');
  await untilVideo(page, (s) => s.time > seekFrom + 9 && s.ready >= 3, 'l seeks 10 s ahead');

  // At least one heartbeat (every 10 s) has gone out, then the viewer leaves.
  await beacons.waitFor((e) => e.type === 'heartbeat' && e.view === view && e.watched.length > 0, 'a heartbeat with watched ranges', 15000);
  const last = await videoState(page);
  await page.goto(`${beacons.origin}/`);
  const exit = await beacons.waitFor((e) => e.type === 'exit' && e.view === view, 'exit');
  assert.ok(Number(await page.evaluate(() => localStorage.getItem('test.beacons'))) >= 1, 'the exit went by sendBeacon');
  assert.ok(Math.abs(exit.position - last.time) < 1.5, `exit at ${exit.position}, last seen ${last.time}`);

  const mine = beacons.events().filter((e) => e.view === view);
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await writeFile(join(ARTIFACTS_DIR, 'beacons-view.json'), JSON.stringify(mine, null, 1));
  const types = new Set(mine.map((e) => e.type));
  for (const type of ['view_start', 'quality', 'first_frame', 'seek', 'stall', 'error', 'heartbeat', 'exit']) {
    assert.ok(types.has(type), `no ${type}: ${JSON.stringify(mine.map((e) => e.type))}`);
  }
  const firstFrame = mine.find((e) => e.type === 'first_frame');
  // 0 is a real startup: hovering the play button preloads, and frames may be ready at the click.
  assert.ok(firstFrame.startup_ms >= 0 && firstFrame.startup_ms < 15000, `startup ${firstFrame.startup_ms} ms`);
  const heights = mine.filter((e) => e.type === 'quality').map((e) => e.height);
  assert.ok(heights.includes(parseInt(other, 10)), `quality events ${heights}`);
  assert.ok(mine.filter((e) => e.type === 'quality').every((e) => e.bitrate > 0));
  const seek = mine.find((e) => e.type === 'seek' && Math.abs(e.from - seekFrom) < 1);
  assert.ok(seek && Math.abs(seek.to - seek.from - 10) < 0.5, `the viewer's seek: ${JSON.stringify(mine.filter((e) => e.type === 'seek'))} from ${seekFrom}`);
  const stalls = mine.filter((e) => e.type === 'stall');
  assert.ok(stalls.some((s) => s.duration_ms >= 1500 && Math.abs(s.position - stalled.time) < 1.5),
    `stalls ${JSON.stringify(stalls)} (stalled at ${stalled.time})`);
  const errors = mine.filter((e) => e.type === 'error');
  assert.ok(errors.some((e) => e.code.length > 0 && /networkError/.test(e.detail)), `errors ${JSON.stringify(errors)}`);
  // What was watched adds up to what played: from the start to the exit, less the seeks' jumps.
  const jumps = mine.filter((e) => e.type === 'seek').reduce((sum, e) => sum + (e.to - e.from), 0);
  const played = exit.position - start.position - jumps;
  const watched = watchedSeconds(mine);
  assert.ok(Math.abs(watched - played) < 1, `watched ${watched} s, played ${played} s`);
  for (const heartbeat of mine.filter((e) => e.type === 'heartbeat')) {
    assert.ok(heartbeat.bitrate > 0, 'heartbeats carry the bitrate');
  }

  // Every batch: one talk, JSON, ids unique, this browser's anonymous viewer id.
  const viewers = new Set(beacons.batches.map((b) => b.body.viewer));
  assert.equal(viewers.size, 1);
  assert.match([...viewers][0], UUID);
  for (const batch of beacons.batches) {
    assert.equal(batch.origin, beacons.origin);
    assert.equal(batch.body.talk, talkId);
    assert.match(batch.contentType, /^application\/json/);
    assert.ok(batch.body.events.length >= 1 && batch.body.events.length <= 200);
  }
  const ids = beacons.events().map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'event ids are unique');
  assert.deepEqual(pageErrors, []);
});

test('beacons: a view that leaves before its first frame still exits', async () => {
  const beacons = await startRecorder();
  const context = await newContext();
  // The network delivers no media at all: segment requests are held unanswered.
  const held = [];
  await context.route(/\/media\/.*\.(m4s|mp4)(\?.*)?$/, (route) => { held.push(route); });
  const page = await context.newPage();
  await page.goto(`${beacons.origin}/talks/${SLUG}`);
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused, 'play is requested');
  await page.goto(`${beacons.origin}/`);
  const exit = await beacons.waitFor((e) => e.type === 'exit', 'exit');
  const mine = beacons.events().filter((e) => e.view === exit.view);
  assert.deepEqual(mine.filter((e) => e.type !== 'quality').map((e) => e.type), ['view_start', 'exit']);
  assert.deepEqual(exit.watched, []);
  for (const route of held) await route.abort().catch(() => {});
});

test('beacons: an embedded view carries the embedding origin; privacy signals drop the viewer id', async () => {
  const host = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html lang="en"><title>Embedder</title>
      <iframe id="player" title="Talk" width="640" height="360" allow="autoplay; fullscreen"
              src="${beacons.origin}/embed/${talkId}"></iframe></html>`);
  });
  const beacons = await startRecorder();
  await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
  const hostOrigin = `http://127.0.0.1:${host.address().port}`;
  try {
    const context = await newContext();
    // Global Privacy Control in every frame.
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
    const page = await context.newPage();
    await page.goto(`${hostOrigin}/post`);
    const frame = page.frameLocator('#player');
    await frame.locator('body[data-hydrated="true"]').waitFor();
    await frame.locator('.player-big-play').click();
    const start = await beacons.waitFor((e) => e.type === 'view_start', 'view_start');
    assert.equal(start.embed_origin, hostOrigin);
    assert.ok(start.referrer?.startsWith(hostOrigin), `referrer ${start.referrer}`);
    await page.goto('about:blank');
    await beacons.waitFor((e) => e.type === 'exit' && e.view === start.view, 'the embed\'s exit');
    for (const batch of beacons.batches) {
      assert.equal(batch.body.talk, talkId);
      assert.equal(batch.body.viewer, undefined, 'no viewer id under Global Privacy Control');
    }
  } finally {
    await new Promise((resolve) => host.close(resolve));
  }
});

test('beacons: the app bundle reports a view and exits it when the player leaves the page', async () => {
  const beacons = await startRecorder();
  const context = await newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${beacons.origin}/login`);
  await page.waitForSelector('body[data-hydrated="true"]');
  // Client-side navigation inside the app: the watch page renders through the app bundle.
  await page.getByRole('link', { name: 'Talks', exact: true }).click();
  await page.waitForURL(`${beacons.origin}/`);
  await page.locator('.talk-card-link', { hasText: 'Adaptive streaming from first principles' }).click();
  await page.waitForURL(`**/talks/${SLUG}`);
  await page.locator('.player-big-play').click();
  const start = await beacons.waitFor((e) => e.type === 'view_start', 'view_start');
  await untilVideo(page, (s) => !s.paused && s.time > 0.5, 'playback advances');
  // Leaving the page inside the app removes the player, which exits its view.
  await page.getByRole('link', { name: 'Talks', exact: true }).click();
  await page.waitForURL(`${beacons.origin}/`);
  const exit = await beacons.waitFor((e) => e.type === 'exit' && e.view === start.view, 'exit on leaving the page');
  assert.ok(exit.position > 0.5, `exit at ${exit.position}`);
  assert.ok(beacons.batches.every((b) => b.body.talk === talkId));
});
