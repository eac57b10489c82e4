// The browser half of bench/startup: RUNS cold plays of the watch page and of a bare hls.js
// page under emulated 4G; prints the figures as `name = value` lines.
import { launch } from '../end2end/tests/browser.mjs';

const { BASE_URL, WATCH_URL, MASTER_PATH } = process.env;
const RUNS = Number(process.env.RUNS ?? 20);
// Chrome DevTools' "Fast 4G": 9 Mbit/s down, 1.5 Mbit/s up, 170 ms round trip.
const FOUR_G = { offline: false, latency: 170, downloadThroughput: 9e6 / 8, uploadThroughput: 1.5e6 / 8 };

// Only a <video> and hls.js with its defaults, on the platform's own origin (the route below
// answers the document itself; hls.js, the playlists and segments come from the server over
// the emulated network). Startup is timed like the player's beacon: `play` → `playing`.
const BARE_PATH = '/bench-bare-hls.html';
const BARE_PAGE = `<!doctype html><meta charset="utf-8"><title>bare</title>
<video id="v" playsinline width="854" height="480"></video><button id="play">Play</button>
<script src="/vendor/hls.light.min.js"></script>
<script>
  const video = document.getElementById('v');
  const hls = new Hls();
  hls.loadSource(${JSON.stringify(MASTER_PATH)});
  hls.attachMedia(video);
  let requested = 0;
  video.addEventListener('play', () => { requested = Date.now(); });
  video.addEventListener('playing', () => { if (window.startupMs === undefined) window.startupMs = Date.now() - requested; });
  document.getElementById('play').addEventListener('click', () => video.play());
  window.benchReady = true;
</script>`;

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function coldPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', FOUR_G);
  return { context, page };
}

/// One play of the watch page: the startup time its first_frame beacon carries.
async function ours(browser) {
  const { context, page } = await coldPage(browser);
  const reported = new Promise((resolve) => {
    page.on('request', (request) => {
      if (request.method() !== 'POST' || !request.url().endsWith('/api/v1/events')) return;
      try {
        const frame = JSON.parse(request.postData() ?? '{}').events?.find((e) => e.type === 'first_frame');
        if (frame) resolve(frame.startup_ms);
      } catch { /* not a batch */ }
    });
  });
  await page.goto(WATCH_URL);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60000 });
  await page.locator('.player-big-play').click();
  // Batches leave every 10 s while a view is open.
  const startup = await Promise.race([
    reported,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no first_frame beacon within 30 s')), 30000)),
  ]);
  await context.close();
  return startup;
}

/// One play of the bare page.
async function bare(browser) {
  const { context, page } = await coldPage(browser);
  await page.route(`${BASE_URL}${BARE_PATH}`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: BARE_PAGE }));
  await page.goto(`${BASE_URL}${BARE_PATH}`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60000 });
  await page.locator('#play').click();
  await page.waitForFunction(() => window.startupMs !== undefined, null, { timeout: 60000 });
  const startup = await page.evaluate(() => window.startupMs);
  await context.close();
  return startup;
}

const browser = await launch();
const ourTimes = [];
const bareTimes = [];
// Interleaved, so a slow moment of the machine touches both.
for (let i = 0; i < RUNS; i += 1) {
  ourTimes.push(await ours(browser));
  bareTimes.push(await bare(browser));
}
await browser.close();

const ours50 = percentile(ourTimes, 50);
const ours95 = percentile(ourTimes, 95);
const bare50 = percentile(bareTimes, 50);
const bare95 = percentile(bareTimes, 95);
console.log(`first_frame_p50_ms = ${ours50}`);
console.log(`first_frame_p95_ms = ${ours95}`);
console.log(`bare_first_frame_p50_ms = ${bare50}`);
console.log(`bare_first_frame_p95_ms = ${bare95}`);
console.log(`startup_vs_bare = ${(ours50 / bare50).toFixed(3)}`);
console.log(`startup_p95_vs_bare = ${(ours95 / bare95).toFixed(3)}`);
