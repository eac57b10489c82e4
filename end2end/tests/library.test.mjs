// The viewer's library in real Chromium against the real server: an anonymous viewer plays the
// demo talk with the imported 40 s clip, leaves, and on coming back without `?t=` the player
// resumes where they stopped ("Resuming at …", "Start over"); the home page shows the talk under
// "Continue watching"; "Watch later" saves it. Signing in then moves that anonymous library into
// the account, and the library page lists it, removes it from the history and clears it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BASE_URL, launch, collectErrors, openHydrated, logIn, transcodedTalk, videoState, untilVideo } from './browser.mjs';

const run = promisify(execFile);
const SLUG = 'adaptive-streaming-from-first-principles';
const WATCH = `${BASE_URL}/talks/${SLUG}`;
const PASSWORD = 'a viewer passphrase for the library';

let browser;
let context;
let talkId;
before(async () => {
  browser = await launch();
  talkId = await transcodedTalk(WATCH);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, { timeout: 9 * 60 * 1000 });
after(async () => { await browser?.close(); }, { timeout: 30000 });

/// What the server's library holds for this browser's anonymous id (as the page would ask).
function resumePoint(page) {
  return page.evaluate(async (talk) => {
    const viewer = localStorage.getItem('ferrotape.viewer') ?? '';
    const response = await fetch('/api/library/talk', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ talk, viewer }).toString(),
    });
    return (await response.json()).resume_seconds;
  }, talkId);
}

test('library: an anonymous viewer resumes where they stopped and finds the talk on the home page', async () => {
  const { page, errors } = await openHydrated(context, WATCH);
  await page.locator('.player-big-play').click();
  await untilVideo(page, (s) => s.time >= 12 && !s.paused, 'the talk plays past 12 s', 60000);
  await page.locator('video.player-video').evaluate((v) => v.pause());
  // Paused, then gone: the exit beacon carries the position.
  await page.goto('about:blank');
  const deadline = Date.now() + 30000;
  let resume = null;
  const probe = await context.newPage();
  await probe.goto(`${BASE_URL}/library`);
  while ((resume ?? 0) < 10 && Date.now() < deadline) {
    resume = await resumePoint(probe);
    if ((resume ?? 0) < 10) await probe.waitForTimeout(250);
  }
  assert.ok(resume >= 10 && resume <= 16, `the library keeps the place, got ${resume}`);
  // The library page, loaded whole (hydrated), reads this browser's library once live.
  await probe.reload();
  await probe.locator('#library-continue .library-card', { hasText: 'Adaptive streaming from first principles' }).waitFor({ timeout: 20000 });
  assert.match(await probe.locator('.library-intro').innerText(), /kept for this browser/);

  // Back without ?t=: the player starts there and says so.
  await page.goto(WATCH);
  await page.waitForSelector('body[data-hydrated="true"]');
  const notice = page.locator('.player-resumed');
  await notice.waitFor({ timeout: 20000 });
  assert.match(await notice.innerText(), /Resuming at 0:1\d/);
  await page.locator('.player-big-play').click();
  const state = await untilVideo(page, (s) => s.time >= resume && !s.paused, 'playback resumes at the saved place');
  assert.ok(state.time < resume + 5, `resumed near ${resume}, at ${state.time}`);
  await page.locator('video.player-video').evaluate((v) => v.pause());

  // The home page's row links to the saved place.
  const home = await openHydrated(context, `${BASE_URL}/`);
  const row = home.page.locator('section.library-row');
  await row.waitFor({ timeout: 20000 });
  const card = row.locator('.library-card', { hasText: 'Adaptive streaming from first principles' });
  assert.match(await card.locator('a.talk-card-link').getAttribute('href'), new RegExp(`^/talks/${SLUG}\\?t=\\d+s$`));
  assert.match(await card.locator('.library-state').innerText(), /^Stopped at 0:\d\d of 0:4\d$/);
  // "Start over" goes back to the beginning.
  await notice.getByRole('button', { name: 'Start over' }).click();
  await untilVideo(page, (s) => s.time < 3, 'start over seeks to the beginning');

  // Watch later, saved for this browser.
  const save = page.getByRole('button', { name: 'Watch later' });
  await page.waitForSelector('.watch-later-button[data-known="true"]');
  assert.equal(await save.getAttribute('aria-pressed'), 'false');
  await save.click();
  await page.waitForSelector('.watch-later-button[aria-pressed="true"]');
  assert.match(await page.locator('.watch-later-status').innerText(), /Saved/);

  assert.deepEqual([...errors, ...home.errors], []);
  await Promise.all([page.close(), probe.close(), home.page.close()]);
});

test('library: signing in takes the anonymous library into the account, where it can be removed', async () => {
  const email = `library-${Date.now()}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email,
    '--name', 'Library Viewer', '--role', 'viewer'], { env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD } });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${BASE_URL}/login?next=/library`);
  await page.waitForSelector('body[data-hydrated="true"]');
  await logIn(page, email, PASSWORD, '/library');

  const intro = page.locator('.library-intro');
  await page.waitForFunction(() => document.querySelector('.library-intro')?.textContent.includes('account'), null, { timeout: 20000 });
  assert.match(await intro.innerText(), /follows your account/);
  const history = page.locator('#library-history');
  await history.locator('.library-card', { hasText: 'Adaptive streaming from first principles' }).waitFor();
  const later = page.locator('#library-watch-later');
  await later.locator('.library-card', { hasText: 'Adaptive streaming from first principles' }).waitFor();

  // The anonymous id holds nothing any more: another browser with that id sees an empty library.
  const viewer = await page.evaluate(() => localStorage.getItem('ferrotape.viewer'));
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(`${BASE_URL}/library`);
  const left = await other.evaluate(async (id) => {
    const response = await fetch('/api/library/load', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ viewer: id }).toString(),
    });
    return response.json();
  }, viewer);
  assert.deepEqual([left.history.length, left.watch_later.length], [0, 0]);
  await stranger.close();

  // Remove from history, then the watch-later entry; the lists update in place.
  await history.getByRole('button', { name: 'Remove from history' }).first().click();
  await history.waitFor({ state: 'detached', timeout: 20000 });
  await later.getByRole('button', { name: 'Remove from Watch later' }).click();
  await later.waitFor({ state: 'detached', timeout: 20000 });
  assert.deepEqual(errors, []);
  await page.close();
});
