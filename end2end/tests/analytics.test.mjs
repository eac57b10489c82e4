// From a viewer's play to the dashboard, in real Chromium against the real server: a viewer on
// a throttled network (CDP) plays the demo talk with the imported 40 s clip, stalls when the
// network goes away, and leaves; an admin then finds that view, its startup time and its
// rebuffering in the talk's drill-down, which is rendered on the server and refreshed by the
// rollups within seconds. A screenshot of the dashboard is kept in ARTIFACTS_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, logIn, transcodedTalk, videoState, untilVideo } from './browser.mjs';

const run = promisify(execFile);
const SLUG = 'adaptive-streaming-from-first-principles';
const PASSWORD = 'an admin passphrase for analytics';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); }, { timeout: 30000 });

test('analytics: a throttled play with a stall shows up in the talk drill-down', async () => {
  // The imported clip may still be transcoding when the suite reaches this file.
  const talkId = await transcodedTalk(`${BASE_URL}/talks/${SLUG}`);

  const viewer = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await viewer.newPage();
  const cdp = await viewer.newCDPSession(page);
  await cdp.send('Network.enable');
  // A slow connection: 1.5 Mbit/s down, 150 ms round trips.
  const throttle = (offline) => cdp.send('Network.emulateNetworkConditions', {
    offline, latency: 150, downloadThroughput: 1_500_000 / 8, uploadThroughput: 750_000 / 8,
  });
  await page.goto(`${BASE_URL}/talks/${SLUG}`);
  await page.waitForSelector('body[data-hydrated="true"]');
  await throttle(false);
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => !s.paused && s.time > 2, 'playback advances on the slow network', 60000);

  // The network goes away and the viewer picks the other rung: the buffer is flushed and
  // playback waits until the network is back.
  const before = await videoState(page);
  const other = before.height === 360 ? '480p' : '360p';
  await throttle(true);
  await page.locator('.player').hover();
  await page.locator('.player-quality-button').click();
  await page.locator('#player-quality-menu label').filter({ hasText: new RegExp(`^${other}`) }).click();
  await page.keyboard.press('Escape');
  await untilVideo(page, (s) => s.ready <= 2 && !s.paused, 'playback stalls without data', 60000);
  await page.waitForTimeout(1500); // the stall lasts at least this long
  await throttle(false);
  await untilVideo(page, (s) => s.ready >= 3 && !s.paused, 'playback resumes', 60000);
  await page.waitForTimeout(1000);
  await page.goto('about:blank'); // the exit goes out by sendBeacon
  await viewer.close();

  const email = `analytics-${Date.now()}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email,
    '--name', 'Analytics Admin', '--role', 'admin'], { env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD } });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
  const admin = await context.newPage();
  const errors = collectErrors(admin);
  await admin.goto(`${BASE_URL}/login?next=/studio/analytics`);
  await admin.waitForSelector('body[data-hydrated="true"]');
  await logIn(admin, email, PASSWORD, '/studio/analytics');

  // The rollups run every 5 s: reload the server-rendered drill-down until the view is in.
  const figure = (name) => admin.locator(`[data-figure="${name}"] .kpi-value`).innerText();
  const drillDown = `${BASE_URL}/studio/analytics/talks/${talkId}`;
  let views = 0;
  let rebuffering = 0;
  const until30 = Date.now() + 30000;
  for (;;) {
    await admin.goto(drillDown);
    views = Number(await figure('views'));
    rebuffering = parseFloat(await figure('rebuffering'));
    if ((views >= 1 && rebuffering > 0) || Date.now() > until30) break;
    await admin.waitForTimeout(1000);
  }
  assert.ok(views >= 1, `views ${views}`);
  assert.ok(rebuffering > 0, `rebuffering ${rebuffering} %`);
  const startup = await figure('startup-p50');
  assert.match(startup, /^\d+ ms$/, `startup p50 ${startup}`);
  assert.ok(parseInt(startup, 10) > 0);
  assert.equal(await admin.locator('h1').innerText(), 'Adaptive streaming from first principles');
  // Every chart has its data table; the retention curve starts with the view's first second.
  assert.ok(await admin.locator('figure#chart-retention svg[role="img"]').count() === 1);
  await admin.locator('figure#chart-retention summary').click();
  const firstShare = await admin.locator('figure#chart-retention tbody tr').first().locator('td').innerText();
  assert.ok(parseFloat(firstShare) > 0, `retention at 0:00: ${firstShare}`);
  assert.ok(await admin.locator('table[data-dimension="browser"] tbody tr', { hasText: 'Chrome' }).count() === 1);
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await admin.screenshot({ path: join(ARTIFACTS_DIR, 'analytics-drill-down.png'), fullPage: true });

  // The overview lists the talk with its views, and the CSV carries the same figure.
  await admin.goto(`${BASE_URL}/studio/analytics`);
  const row = admin.locator(`tr[data-talk-id="${talkId}"]`);
  assert.ok(Number(await row.locator('td').first().innerText()) >= views);
  await admin.screenshot({ path: join(ARTIFACTS_DIR, 'analytics-overview.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});
