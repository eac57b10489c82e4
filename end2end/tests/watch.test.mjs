// The viewer's side in a real browser: the watch page plays a transcoded talk through hls.js,
// its quality menu pins a rung, seeking and `?t=` work, the share dialog writes `?t=` links,
// the embed plays inside an iframe on another origin and answers postMessage, oEmbed answers,
// crawlers find JSON-LD and player cards, and axe-core finds no serious accessibility problem.
//
// scripts/e2e.sh imports a 40 s 854x480 clip into the demo talk below before the server starts;
// the server's in-process worker transcodes it (480p and 360p rungs), so the first test waits.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, openHydrated, transcodedTalk, videoState, untilVideo } from './browser.mjs';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const SLUG = 'adaptive-streaming-from-first-principles';
const WATCH = `${BASE_URL}/talks/${SLUG}`;

let browser;
let talkId;
before(async () => {
  browser = await launch();
  // Wait for the transcode of the imported clip (a few minutes at most on 2 cores).
  talkId = await transcodedTalk(WATCH);
}, { timeout: 9 * 60 * 1000 });
after(async () => { await browser?.close(); }, { timeout: 30000 });

// Every context a test opens is closed after it, even when it fails midway (a failed test must
// not leave a video playing and slow down the next one).
const contexts = [];
async function newContext(options) {
  const context = await browser.newContext(options);
  contexts.push(context);
  return context;
}
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {});
}, { timeout: 30000 });

// Opens a watch page; `bundles` lists the wasm bundles it fetched (`viewer`, `ferrotape`).
async function openWatch(context, url = WATCH) {
  const { page, errors, bundles, response } = await openHydrated(context, url);
  assert.equal(response.status(), 200);
  return { page, errors, bundles };
}


async function axeSerious(page) {
  await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test('watch: the player plays, lists the rungs, pins one, seeks and previews', async () => {
  const context = await newContext({ viewport: { width: 1280, height: 800 } });
  const engineFetches = [];
  context.on('request', (request) => {
    if (request.url().endsWith('/vendor/hls.light.min.js')) engineFetches.push(request.url());
  });
  const { page, errors, bundles } = await openWatch(context);
  // A directly opened watch page loads the small viewer bundle, not the whole app.
  assert.deepEqual(bundles, ['viewer']);

  // The quality menu lists Auto and both rungs of the ladder once the manifest is parsed.
  const qualityButton = page.locator('.player-quality-button');
  await page.locator('.player').hover();
  await qualityButton.click();
  const qualityMenu = page.locator('#player-quality-menu');
  await qualityMenu.waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#player-quality-menu input').length >= 3);
  const labels = (await qualityMenu.locator('label').allInnerTexts()).map((l) => l.trim());
  assert.ok(labels[0].startsWith('Auto'), `labels: ${labels}`);
  assert.ok(labels.some((l) => l.startsWith('480p')) && labels.some((l) => l.startsWith('360p')), `labels: ${labels}`);
  await qualityButton.click();

  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused && s.time > 1, 'playback advances');

  // Pinning 360p switches what is decoded.
  await qualityButton.click();
  await qualityMenu.locator('label').filter({ hasText: /^360p/ }).click();
  await untilVideo(page, (s) => s.height === 360, 'the 360p rung is shown after pinning it');
  assert.match(await qualityButton.getAttribute('aria-label'), /Quality: 360p/);
  await page.keyboard.press('Escape');

  // The seek bar (a native range input) seeks.
  await page.locator('.player-seek-input').fill('20');
  await untilVideo(page, (s) => s.time >= 19.5 && s.time < 25, 'seeking to 20 s');
  // Keyboard shortcuts work from the player: l jumps 10 s ahead, k pauses.
  await page.locator('.player').focus();
  await page.keyboard.press('l');
  await untilVideo(page, (s) => s.time >= 29.5, 'l seeks forward 10 s');
  await page.keyboard.press('k');
  await untilVideo(page, (s) => s.paused, 'k pauses');

  // Hovering the seek bar previews a thumbnail from the sprite sheet.
  const bar = await page.locator('.player-seek').boundingBox();
  await page.mouse.move(bar.x + bar.width * 0.5, bar.y + bar.height / 2);
  const preview = page.locator('.player-preview-image');
  await preview.waitFor({ timeout: 10000 });
  assert.match(await preview.getAttribute('style'), /sprite_\d+\.jpg/);
  assert.match(await page.locator('.player-preview-time').innerText(), /^0:(19|2\d)$/);

  // The captions menu says plainly there are none yet.
  await page.getByRole('button', { name: /^Captions/ }).click();
  assert.ok(await page.getByText('This talk has no captions yet.').isVisible());

  // hls.js was preloaded by the page's head and that one download served the player.
  assert.equal(engineFetches.length, 1, `hls.js fetched ${engineFetches.length} times`);

  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('watch: reached by client-side navigation inside the app, the page plays through the app bundle', async () => {
  const context = await newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors, bundles } = await openHydrated(context, `${BASE_URL}/login`);
  await page.evaluate(() => { window.__sameDocument = true; });

  await page.getByRole('link', { name: 'Talks', exact: true }).click();
  await page.waitForURL(`${BASE_URL}/`);
  await page.locator('.talk-card-link', { hasText: 'Adaptive streaming from first principles' }).click();
  await page.waitForURL(`**/talks/${SLUG}`);
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused && s.time > 1, 'playback advances');
  await page.getByRole('button', { name: 'Share' }).click();
  assert.equal(await page.getByRole('dialog', { name: 'Share this talk' }).locator('.share-link').inputValue(), WATCH);

  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'routed in the browser');
  assert.deepEqual(bundles, ['ferrotape'], 'the app bundle alone did all of it');
  assert.deepEqual(errors, []);
});

test('watch: ?t=30 and #t= start there; the share dialog writes ?t= links', async () => {
  const context = await newContext({ viewport: { width: 1280, height: 800 } });
  const { page, errors } = await openWatch(context, `${WATCH}?t=30`);
  const state = await untilVideo(page, (s) => s.ready >= 1 && s.time >= 29.5, 'starting at 30 s');
  assert.ok(state.time < 31, `starts at ${state.time}`);
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused && s.time > 30.3, 'playing on from 30 s');
  await page.locator('.player').focus();
  await page.keyboard.press('k');
  const paused = await untilVideo(page, (s) => s.paused, 'paused');

  await page.getByRole('button', { name: 'Share' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share this talk' });
  await dialog.waitFor();
  const link = dialog.locator('.share-link');
  assert.equal(await link.inputValue(), WATCH);
  await dialog.getByRole('checkbox').check();
  const shared = await link.inputValue();
  assert.equal(shared, `${WATCH}?t=${Math.floor(paused.time)}s`);
  assert.match(await dialog.locator('.share-embed').inputValue(), new RegExp(`<iframe src="${BASE_URL}/embed/${talkId}"`));
  await dialog.getByRole('button', { name: 'Close' }).click();
  await context.close();

  // A fragment works too (it never reaches the server), in any of the accepted spellings.
  const second = await newContext();
  const { page: fragmentPage } = await openWatch(second, `${WATCH}#t=0m12s`);
  await untilVideo(fragmentPage, (s) => s.ready >= 1 && s.time >= 11.5 && s.time < 13, 'starting at 12 s from #t=');
  await second.close();
  assert.deepEqual(errors, []);
});

test('watch: screenshots on a phone and a 4K screen; the player fits both', async () => {
  for (const viewport of [{ width: 390, height: 844 }, { width: 3840, height: 2160 }]) {
    const context = await newContext({ viewport });
    const { page } = await openWatch(context);
    const box = await page.locator('.player').boundingBox();
    assert.ok(box.width <= viewport.width, `player ${box.width} px wide in ${viewport.width}`);
    assert.ok(box.height <= viewport.height, `player ${box.height} px tall in ${viewport.height}`);
    if (viewport.width > 1000) assert.ok(box.width > 2500, `a 4K screen gets a big player (${box.width} px)`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, 'no horizontal scrolling');
    await page.waitForFunction(() => document.querySelectorAll('#player-quality-menu, .player-quality-button').length > 0);
    // Every visible control lies inside the player (none cut off at the edge on a phone).
    const clipped = await page.evaluate(() => {
      const player = document.querySelector('.player').getBoundingClientRect();
      return [...document.querySelectorAll('.player-bar .player-button')]
        .filter((button) => button.offsetParent !== null)
        .filter((button) => {
          const r = button.getBoundingClientRect();
          return r.left < player.left || r.right > player.right + 0.5;
        })
        .map((button) => button.getAttribute('aria-label'));
    });
    assert.deepEqual(clipped, [], `controls cut off at ${viewport.width} px`);
    await page.screenshot({ path: `${ARTIFACTS_DIR}/watch-${viewport.width}x${viewport.height}.png` });
    await context.close();
  }
});

test('embed: plays in an iframe on another origin and answers postMessage', async () => {
  // The embedding site: a page on a second loopback port.
  const host = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html lang="en"><title>Embedder</title>
      <iframe id="player" title="Talk" width="640" height="360" allow="autoplay; fullscreen"
              src="${BASE_URL}/embed/${talkId}"></iframe>
      <script>
        window.received = [];
        window.addEventListener('message', (event) => {
          if (event.origin === ${JSON.stringify(BASE_URL)}) window.received.push(event.data);
        });
        window.send = (message) => document.getElementById('player').contentWindow.postMessage(message, '*');
      </script></html>`);
  });
  await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
  // Another port is another origin.
  const hostUrl = `http://127.0.0.1:${host.address().port}/`;
  try {
    const context = await newContext();
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(hostUrl);
    const events = () => page.evaluate(() => window.received.filter((m) => m.ferrotape === 'event').map((m) => m.event));
    const waitForEvent = async (name, timeout = 30000) => {
      const deadline = Date.now() + timeout;
      while (!(await events()).includes(name)) {
        assert.ok(Date.now() < deadline, `no ${name} event; got ${await events()}`);
        await page.waitForTimeout(200);
      }
    };
    await waitForEvent('ready');
    // Browsers let a frame start playing without a click only when muted.
    await page.evaluate(() => { window.send({ ferrotape: 'mute' }); window.send({ ferrotape: 'play' }); });
    await waitForEvent('play');
    await waitForEvent('timeupdate');

    await page.evaluate(() => window.send({ ferrotape: 'seek', seconds: 20 }));
    const deadline = Date.now() + 20000;
    let seconds = 0;
    for (let id = 1; ; id++) {
      await page.evaluate((id) => window.send({ ferrotape: 'getCurrentTime', id }), id);
      await page.waitForTimeout(300);
      const reply = await page.evaluate((id) => window.received.find((m) => m.ferrotape === 'currentTime' && m.id === id), id);
      seconds = reply?.seconds ?? 0;
      if (seconds >= 20) break;
      assert.ok(Date.now() < deadline, `getCurrentTime after seeking to 20 s answered ${JSON.stringify(reply)}`);
    }
    assert.ok(seconds < 30, `seeked to ${seconds}`);
    await page.evaluate(() => window.send({ ferrotape: 'pause' }));
    await waitForEvent('pause');

    // Inside the frame: just the player, no site header.
    const frame = page.frameLocator('#player');
    assert.equal(await frame.locator('.site-header').count(), 0);
    assert.equal(await frame.locator('.player').count(), 1);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await new Promise((resolve) => host.close(resolve));
  }

  // Only the embed may be framed by other sites.
  // (The pages' CSP also pins scripts to the page's nonce; the frames above ran under it.)
  const embed = await fetch(`${BASE_URL}/embed/${talkId}`);
  assert.match(embed.headers.get('content-security-policy'), /script-src 'self' 'nonce-[^']+' .*frame-ancestors \*$/);
  await embed.arrayBuffer();
  const watch = await fetch(WATCH);
  assert.match(watch.headers.get('content-security-policy'), /script-src 'self' 'nonce-[^']+' .*frame-ancestors 'self'$/);
  await watch.arrayBuffer();
  // Unknown and malformed ids are a plain 404.
  assert.equal((await fetch(`${BASE_URL}/embed/00000000-0000-0000-0000-00000000dead`)).status, 404);
  assert.equal((await fetch(`${BASE_URL}/embed/%3Cscript%3E`)).status, 404);
});

test('oEmbed: discovery, a valid video answer, size limits and errors', async () => {
  const html = await (await fetch(WATCH)).text();
  const link = html.match(/<link[^>]*type="application\/json\+oembed"[^>]*>/);
  assert.ok(link, 'the watch page links its oEmbed endpoint');
  assert.match(link[0], /rel="alternate"/);
  const endpoint = link[0].match(/href="([^"]+)"/)[1].replaceAll('&amp;', '&');
  const response = await fetch(endpoint);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  const answer = await response.json();
  assert.equal(answer.version, '1.0');
  assert.equal(answer.type, 'video');
  assert.equal(answer.title, 'Adaptive streaming from first principles');
  assert.equal(answer.author_name, 'Ada Okafor');
  assert.equal(answer.width, 640);
  assert.equal(answer.height, 360);
  assert.ok(answer.html.startsWith(`<iframe src="${BASE_URL}/embed/${talkId}"`), answer.html);
  const thumbnail = await fetch(answer.thumbnail_url);
  assert.equal(thumbnail.status, 200);
  assert.equal(thumbnail.headers.get('content-type'), 'image/jpeg');
  await thumbnail.arrayBuffer();

  const small = await (await fetch(`${endpoint}&maxwidth=320&maxheight=400`)).json();
  assert.deepEqual([small.width, small.height], [320, 180]);
  const query = (params) => fetch(`${BASE_URL}/oembed?${new URLSearchParams(params)}`);
  assert.equal((await query({ url: WATCH, format: 'xml' })).status, 501);
  assert.equal((await query({ url: WATCH, maxwidth: '50' })).status, 501);
  assert.equal((await query({ url: WATCH, maxwidth: '-3' })).status, 400);
  assert.equal((await query({})).status, 400);
  assert.equal((await query({ url: `https://elsewhere.example/talks/${SLUG}` })).status, 404);
  assert.equal((await query({ url: `${BASE_URL}/talks/no-such-talk` })).status, 404);
  // A talk without a ready video has nothing to embed.
  assert.equal((await query({ url: `${BASE_URL}/talks/captions-for-everyone` })).status, 404);
});

test('SEO: the watch page carries JSON-LD, player cards and a canonical URL without JavaScript', async () => {
  const context = await newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(WATCH);
  const jsonLd = JSON.parse(await page.locator('script[type="application/ld+json"]').textContent());
  assert.equal(jsonLd['@type'], 'VideoObject');
  assert.equal(jsonLd.name, 'Adaptive streaming from first principles');
  assert.equal(jsonLd.duration, 'PT40S');
  assert.equal(jsonLd.embedUrl, `${BASE_URL}/embed/${talkId}`);
  assert.match(jsonLd.contentUrl, new RegExp(`^${BASE_URL}/media/.+/master\\.m3u8$`));
  assert.match(jsonLd.thumbnailUrl[0], new RegExp(`^${BASE_URL}/media/.+\\.jpg$`));
  assert.ok(!Number.isNaN(Date.parse(jsonLd.uploadDate)));
  const meta = (selector) => page.locator(selector).getAttribute('content');
  assert.equal(await meta('meta[property="og:type"]'), 'video.other');
  assert.equal(await meta('meta[property="og:video"]'), `${BASE_URL}/embed/${talkId}`);
  assert.equal(await meta('meta[name="twitter:card"]'), 'player');
  assert.equal(await meta('meta[name="twitter:player"]'), `${BASE_URL}/embed/${talkId}`);
  assert.equal(await page.locator('link[rel="canonical"]').getAttribute('href'), WATCH);
  // Without JavaScript the poster is there and the page says how to watch anyway.
  assert.match(await page.locator('video').getAttribute('poster'), /\/media\/.+\.jpg$/);
  await context.close();
});

test('accessibility: axe-core finds no serious or critical violations', async () => {
  for (const url of [`${BASE_URL}/`, WATCH, `${BASE_URL}/embed/${talkId}`]) {
    // axe-core is injected as an inline script, which the page's CSP rightly refuses: the
    // test tooling, not the page, is let past it.
    const context = await newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const { page } = await openWatch(context, url);
    assert.deepEqual(await axeSerious(page), [], `axe on ${url}`);
    await context.close();
  }
});
