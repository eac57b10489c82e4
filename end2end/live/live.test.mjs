// Live streaming in a real browser, against a server whose RTMP ingest runs (scripts/e2e.sh
// starts it with FERROTAPE_LIVE_INGEST=on on a free port, RTMP_URL): an editor creates a stream
// in the studio, ffmpeg pushes testsrc2 with the stream time burned into the picture as 16
// black/white boxes, Chromium watches it live (currentTime advances; the glass-to-glass
// latency is read back from the boxes through a canvas and printed as `glass_to_glass_s`), the
// viewer count shows, the key is regenerated in the studio (the running push is cut and a new
// push with the old key is refused), and after the stream ends its recording becomes a ready
// draft talk linked from the stream's studio page. Screenshots of the studio page and the
// live page go to ARTIFACTS_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, logIn } from '../tests/browser.mjs';
import { push, readPageClock, medianLatency } from './clock.mjs';

const run = promisify(execFile);
const PASSWORD = 'a live editor passphrase for e2e';
const RTMP_URL = process.env.RTMP_URL;

let browser;
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN, 'FERROTAPE_BIN is set by scripts/e2e.sh');
  assert.ok(RTMP_URL, 'RTMP_URL is set by scripts/e2e.sh');
  browser = await launch();
});
after(async () => { await browser?.close(); }, { timeout: 30000 });

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('live: studio stream, a live viewer with measured latency, key regeneration, recording to a draft talk', async () => {
  const email = `live-${Date.now()}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email, '--name', 'Live Editor', '--role', 'editor'], {
    env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD },
  });
  const studioContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const studio = await studioContext.newPage();
  const studioErrors = collectErrors(studio);
  await studio.goto(`${BASE_URL}/login?next=/studio/live`);
  await logIn(studio, email, PASSWORD, '/studio/live');
  await studio.waitForSelector('body[data-hydrated="true"]');

  // Create the stream: its studio page opens with the key hidden until asked for.
  await studio.getByLabel('Title').fill('Friday keynote, live');
  await studio.getByRole('button', { name: 'Create stream' }).click();
  await studio.waitForURL(/\/studio\/live\/[0-9a-f-]{36}$/, { timeout: 20000 });
  const streamId = studio.url().split('/').pop();
  const keyElement = studio.locator('[data-stream-key]');
  assert.equal(await keyElement.isVisible(), false, 'the key is hidden until shown');
  await studio.getByText('Show key').click();
  assert.equal(await keyElement.isVisible(), true);
  const oldKey = (await keyElement.innerText()).trim();
  assert.match(oldKey, /^live_[A-Za-z0-9_-]{43}$/);
  const server = (await studio.locator('.stream-server').innerText()).trim();
  assert.equal(server, RTMP_URL, 'the studio shows where to push');
  await studio.screenshot({ path: join(ARTIFACTS_DIR, 'live-studio-1280x900.png'), fullPage: true });

  // Push; a viewer watches live.
  const first = push(`${server}/${oldKey}`, 120);
  const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const viewer = await viewerContext.newPage();
  const viewerErrors = collectErrors(viewer);
  await viewer.goto(`${BASE_URL}/live/${streamId}`);
  await viewer.waitForSelector('body[data-hydrated="true"]');
  // The page may have rendered before the first segments: its player waits for them.
  const time = () => viewer.evaluate(() => document.querySelector('video.live-video')?.currentTime ?? 0);
  await until(async () => (await time()) > 2, 60000, 'the live video to play');
  const at = await time();
  await until(async () => (await time()) > at + 2, 20000, 'currentTime to keep advancing');

  const { median: latency, samples } = await medianLatency(() => readPageClock(viewer), first.started);
  assert.ok(samples.length >= 3, `the clock could be read from the picture (${samples})`);
  console.log(`glass_to_glass_s = ${latency.toFixed(2)}`);
  // Playing near the live edge, not from the start of the DVR window (the target, ≤ 5 s, is
  // bench/live's to measure).
  assert.ok(latency > 0 && latency < 15, `latency ${latency} s`);
  assert.equal(await viewer.locator('.live-edge').getAttribute('aria-pressed'), 'true');

  // The player says it is watching every 10 s; the count it gets back shows.
  await viewer.waitForFunction(() => document.querySelector('[data-figure="live-viewers"]')?.textContent === '1 watching', null, { timeout: 30000 });
  await viewer.screenshot({ path: join(ARTIFACTS_DIR, 'live-watch-1280x800.png') });

  // Regenerating the key cuts the running push at once; the old key is refused from now on.
  await studio.getByRole('button', { name: 'Regenerate key' }).click();
  await until(async () => (await keyElement.innerText()).trim() !== oldKey, 20000, 'the new key to show');
  const newKey = (await keyElement.innerText()).trim();
  const cut = await Promise.race([first.exited, new Promise((resolve) => setTimeout(() => resolve(null), 20000))]);
  assert.ok(cut, 'the push with the regenerated key was cut');
  const refused = push(`${server}/${oldKey}`, 10);
  const refusal = await Promise.race([refused.exited, new Promise((resolve) => setTimeout(() => resolve(null), 15000))]);
  assert.ok(refusal && refusal.code !== 0, `a push with the old key was refused: ${JSON.stringify(refusal)}`);

  // The new key pushes within the reconnect window; when it stops for good, the session ends
  // and its recording becomes a draft talk that the ladder transcodes.
  const second = push(`${server}/${newKey}`, 6);
  assert.equal((await second.exited).code, 0, 'the new key pushed');
  const api = studioContext.request;
  const recording = async () => {
    const page = await (await api.get(`${BASE_URL}/api/v1/talks`)).json();
    return page.items.find((talk) => talk.title === 'Friday keynote, live');
  };
  await until(async () => (await recording())?.video?.state === 'ready', 240000, 'the recording to become a ready draft talk');
  const talk = await recording();
  assert.equal(talk.state, 'draft');
  assert.ok(talk.video.duration_ms > 3000, `the recording holds the stream: ${JSON.stringify(talk.video)}`);
  await studio.reload();
  await studio.waitForSelector('body[data-hydrated="true"]');
  const link = studio.getByRole('link', { name: 'edit and publish it' });
  assert.equal(await link.getAttribute('href'), `/studio/talks/${talk.id}`);
  assert.match(await studio.locator('.talk-meta .state-badge').innerText(), /Ended/);

  assert.deepEqual(studioErrors, []);
  // The player asks for the playlist until the stream has one: those 404s are by design.
  assert.deepEqual(viewerErrors.filter((e) => !/status of 404/.test(e)), []);
  await viewerContext.close();
  await studioContext.close();
});
