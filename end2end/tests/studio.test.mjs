// The studio in a real browser, as an editor takes a recording to a published talk: upload with
// a title first (the talk is created and its editor opens), a refused field and a stale save
// that keep the editor's text, two tags, two speakers (one created inline) reordered, chapters,
// publishing scheduled ~25 s ahead in the browser's time zone (the talk is absent from the
// catalog, then appears at its time), a rename whose old address answers 301, an unlisted talk
// that plays by link but is in no listing or sitemap, the editor without JavaScript, filters
// and a bulk action on the studio home; screenshots at 390x844 and 1920x1080 (ARTIFACTS_DIR).
//
// The second test (poster frame, speaker photo) posts to the image endpoints
// (`/api/v1/talks/{id}/poster`, `/api/v1/speakers/{id}/photo`): it passes once they exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, settled, logIn } from './browser.mjs';

const run = promisify(execFile);
const PASSWORD = 'an editor passphrase for e2e';
// Far from UTC, so a time read in the wrong zone would be hours off and the test would see it.
const TIMEZONE = 'Pacific/Auckland';

let browser;
let work;
let clip;
let context;
const story = {};
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN, 'FERROTAPE_BIN is set by scripts/e2e.sh');
  browser = await launch();
  work = await mkdtemp(join(tmpdir(), 'ferrotape-studio-'));
  clip = join(work, 'studio-talk.mp4');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=330',
    '-t', '8', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip]);
});
after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30000 });

async function createEditor(email) {
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email, '--name', 'Studio Editor', '--role', 'editor'], {
    env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD },
  });
}

const hydrated = (page) => page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });

/// An anonymous request (no cookies: what a viewer or a crawler gets), body read to the end.
async function anonymous(path, options = {}) {
  const response = await fetch(`${BASE_URL}${path}`, options);
  return { status: response.status, location: response.headers.get('location'), body: await response.text() };
}

/// Polls `check()` until it returns true, every 500 ms, for at most `timeoutMs`.
async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/// The speakers of the editor's list, in order.
const speakerNames = (page) => page.locator('.speaker-item .speaker-name').allInnerTexts();

/// Pages that scrolled sideways (asserted at the end, so one layout slip does not hide the rest).
const overflows = [];

async function screenshots(page, name) {
  for (const viewport of [{ width: 390, height: 844 }, { width: 1920, height: 1080 }]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) overflows.push(`${name} at ${viewport.width} px scrolls sideways by ${overflow} px`);
    await page.screenshot({ path: `${ARTIFACTS_DIR}/${name}-${viewport.width}x${viewport.height}.png`, fullPage: true });
  }
}

test('an editor takes an upload to a scheduled, renamed, then unlisted talk', async () => {
  const stamp = Date.now();
  const email = `studio-${stamp}@example.com`;
  await createEditor(email);
  context = await browser.newContext({ timezoneId: TIMEZONE, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${BASE_URL}/login?next=/studio`);
  await hydrated(page);
  await logIn(page, email, PASSWORD, '/studio');
  await hydrated(page);

  // The title first, then the file: the talk is created from the upload and its editor opens.
  const title = `Testing in the open ${stamp}`;
  await page.getByLabel('Title of the talk').fill(title);
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.waitForURL(/\/studio\/talks\/[0-9a-f-]{36}$/, { timeout: 120000 });
  const talkId = page.url().split('/').pop();
  story.talkId = talkId;
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  const slug = await page.getByLabel('Address (slug)').inputValue();
  assert.equal(slug, `testing-in-the-open-${stamp}`);

  // The form, with chapters past the end of the 8 s video: refused on the field, the rest of
  // what was typed stays.
  const description = 'How we test *everything* in [the open](https://example.com).';
  await page.getByLabel('Description').fill(description);
  await page.getByLabel('Language').fill('en');
  await page.getByLabel('Recorded on').fill('2026-11-30');
  await page.getByLabel('Event or series').fill('Ferrotape Conf');
  for (const tag of ['End to end', 'Chromium']) {
    await page.getByLabel('Add a tag').fill(tag);
    await page.getByLabel('Add a tag').press('Enter');
  }
  assert.deepEqual(await page.locator('.chip span').allInnerTexts(), ['End to end', 'Chromium']);
  const chapters = page.getByLabel('Chapters, one per line');
  await chapters.fill('0:00 Intro\n0:20 Too late');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const chaptersError = page.locator('#talk-chapters-error');
  await chaptersError.filter({ hasText: 'after the video ends' }).waitFor().catch(async (err) => {
    await page.screenshot({ path: `${ARTIFACTS_DIR}/studio-failure.png`, fullPage: true });
    throw new Error(`${err.message}\nmessages: ${await page.locator('.form-messages').innerText()}\nchapters: ${await chaptersError.innerText()}`);
  });
  assert.equal(await chapters.getAttribute('aria-invalid'), 'true');
  assert.match(await chapters.getAttribute('aria-describedby'), /talk-chapters-error/);
  assert.ok(await chapters.evaluate((el) => el === document.activeElement), 'the refused field has the focus');
  assert.equal(await page.getByLabel('Description').inputValue(), description, 'the typed text stays');
  await chapters.fill('0:00 Intro\n0:04 The middle');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await settled(async () => (await chaptersError.innerText()).trim(), '');

  // Two speakers: one picked from the existing profiles, one created inline; then reordered.
  await page.getByLabel('Add an existing speaker').fill('Ada Okafor');
  await page.getByRole('button', { name: 'Add speaker', exact: true }).click();
  assert.deepEqual(await settled(() => speakerNames(page), ['Ada Okafor']), ['Ada Okafor']);
  const newcomer = `Robin Tester ${stamp}`;
  await page.getByLabel('Name', { exact: true }).fill(newcomer);
  await page.getByLabel('Bio').fill('Writes the tests.');
  await page.getByLabel('Links, one per line').fill('https://robin.example');
  await page.getByRole('button', { name: 'Create and add speaker' }).click();
  assert.deepEqual(await settled(() => speakerNames(page), ['Ada Okafor', newcomer]), ['Ada Okafor', newcomer]);
  await page.getByRole('button', { name: `Move ${newcomer} up` }).click();
  assert.deepEqual(await settled(() => speakerNames(page), [newcomer, 'Ada Okafor']), [newcomer, 'Ada Okafor']);
  // Everything typed before survived those saves.
  assert.equal(await page.getByLabel('Event or series').inputValue(), 'Ferrotape Conf');
  assert.deepEqual(await page.locator('.chip span').allInnerTexts(), ['Chromium', 'End to end'].sort((a, b) => a.localeCompare(b)));

  // A save from a tab loaded before another tab's save is refused as stale; the text stays.
  const other = await context.newPage();
  // The editor's own address, without a `?notice=saved` that would show "Saved." at once.
  const editorUrl = new URL(page.url());
  editorUrl.search = '';
  await other.goto(editorUrl.href);
  await hydrated(other);
  await other.waitForSelector('form.editor-form[data-interactive="true"]');
  assert.equal(await other.getByRole('status').filter({ hasText: 'Saved.' }).count(), 0);
  await page.getByLabel('Event or series').fill('Ferrotape Conf 2026');
  await other.getByLabel('Title').first().fill(title);
  await other.getByLabel('Language').fill('en-NZ');
  await other.getByRole('button', { name: 'Save', exact: true }).click();
  await other.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await other.close();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'changed elsewhere' }).waitFor();
  assert.equal(await page.getByLabel('Event or series').inputValue(), 'Ferrotape Conf 2026');
  await page.reload();
  await hydrated(page);
  assert.equal(await page.getByLabel('Language').inputValue(), 'en-NZ');

  // The video's processing shows live; publishing needs it playable.
  await page.locator('.editor-status[data-video-state="ready"]').waitFor({ timeout: 240000 });
  await screenshots(page, 'studio-editor');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Schedule ~25 s ahead, typed in the browser's time zone (Auckland).
  const publishAt = await page.evaluate(() => {
    const at = new Date(Date.now() + 25000);
    const p = (n) => String(n).padStart(2, '0');
    return `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())}T${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}`;
  });
  await page.getByLabel('Schedule').check();
  await page.getByLabel(/^Publish at/).fill(publishAt);
  assert.match(await page.locator('label[for="publish-at"]').innerText(), /your time zone, UTC\+1[23]:00/);
  const scheduledAt = Date.now();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.editor-status[data-talk-state="scheduled"]').waitFor();

  // Not public yet: no watch page, not in the catalog; then, at its time, both.
  assert.equal((await anonymous(`/talks/${slug}`)).status, 404, 'a scheduled talk is not reachable before its time');
  assert.ok(!(await anonymous('/')).body.includes(title), 'a scheduled talk is not in the catalog before its time');
  await until(async () => (await anonymous(`/talks/${slug}`)).status === 200, 60000, 'the scheduled talk to go public');
  const wentPublic = Date.now() - scheduledAt;
  assert.ok(wentPublic > 15000, `public after ${wentPublic} ms: too early for a time 25 s ahead`);
  await until(async () => (await anonymous('/')).body.includes(title), 10000, 'the catalog to list the talk');
  const watch = (await anonymous(`/talks/${slug}`)).body;
  assert.ok(watch.includes(newcomer) && watch.includes('Ada Okafor'), 'the watch page names both speakers');

  // A rename: the new address answers, the old one redirects there for good.
  const renamed = `${slug}-renamed`;
  await page.getByLabel('Address (slug)').fill(renamed);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal((await anonymous(`/talks/${renamed}`)).status, 200);
  // (Checked at the end of this test: the redirect is the watch page's. The page cache may
  // hand out its copy of the old page once more while it renders the address again.)
  let old;
  await until(async () => {
    old = await anonymous(`/talks/${slug}`, { redirect: 'manual' });
    return old.status === 301;
  }, 5000, 'the old address to redirect');

  // Unlisted: plays by its link, but no listing, search or sitemap shows it.
  await page.getByLabel('Unlisted').check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.editor-status[data-talk-state="unlisted"]').waitFor();
  await until(async () => !(await anonymous('/')).body.includes(title), 5000, 'the catalog to drop the unlisted talk');
  assert.ok(!(await anonymous(`/?q=${encodeURIComponent(String(stamp))}`)).body.includes(title), 'search does not find it');
  assert.ok(!(await anonymous('/sitemap.xml')).body.includes(renamed), 'the sitemap does not list it');
  assert.ok(!(await anonymous('/speakers/ada-okafor')).body.includes(title), 'the speaker page does not list it');
  const viewer = await browser.newContext();
  try {
    const watchPage = await viewer.newPage();
    await watchPage.goto(`${BASE_URL}/talks/${renamed}`);
    await hydrated(watchPage);
    await watchPage.locator('.player-big-play').click();
    await until(() => watchPage.evaluate(() => document.querySelector('video.player-video')?.currentTime > 0.5), 30000, 'the unlisted talk to play');
  } finally {
    await viewer.close();
  }

  // The editor without JavaScript: the plain form saves and comes back with a notice.
  const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
  try {
    const noJs = await plain.newPage();
    await noJs.goto(`${BASE_URL}/studio/talks/${talkId}`);
    await noJs.getByLabel('Event or series').fill('Ferrotape Conf, no script');
    await noJs.getByRole('button', { name: 'Save', exact: true }).click();
    await noJs.waitForURL(`**/studio/talks/${talkId}?notice=saved`);
    assert.equal(await noJs.getByLabel('Event or series').inputValue(), 'Ferrotape Conf, no script');
    await noJs.getByLabel('Chapters, one per line').fill('late 0:00');
    await noJs.getByRole('button', { name: 'Save', exact: true }).click();
    await noJs.waitForURL(`**/studio/talks/${talkId}?error=invalid_chapters`);
    assert.match(await noJs.locator('#talk-chapters-error').innerText(), /one per line/);
  } finally {
    await plain.close();
  }

  // The studio home: filters in the URL, the talk's state, a bulk action's report.
  await page.goto(`${BASE_URL}/studio`);
  await hydrated(page);
  await page.getByLabel('State').selectOption('unlisted');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/\/studio\?.*state=unlisted/);
  const row = page.locator(`tr[data-talk-id="${talkId}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-talk-state'), 'unlisted');
  assert.match(await row.innerText(), /Unlisted/);
  await page.getByLabel(`Select “${title}”`).check();
  await page.getByLabel('Action').selectOption('tag');
  await page.getByLabel(/^Tag \(for/).fill('Bulk tagged');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('status').filter({ hasText: 'Done for 1 talk.' }).waitFor();
  assert.ok(page.url().includes('state=unlisted'), 'the filters survive the bulk action');
  await screenshots(page, 'studio-home');
  // The refused saves above (422, 412) are logged by Chromium as failed loads; nothing else may be.
  assert.deepEqual(errors.filter((e) => !e.startsWith('Failed to load resource')), [], 'no console errors');
  assert.deepEqual(overflows, [], 'no page scrolls sideways');

  assert.equal(old.status, 301, 'the old address redirects permanently');
  assert.ok(old.location?.endsWith(`/talks/${renamed}`), old.location);
});

test('poster frame and speaker photo (the image endpoints)', async () => {
  assert.ok(story.talkId, 'the first test made a talk');
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/studio/talks/${story.talkId}`);
  await hydrated(page);
  // A frame from the sprite sheet becomes the poster.
  const frame = page.locator('.frame-button').nth(1);
  await frame.waitFor({ timeout: 20000 });
  await frame.click();
  await page.waitForURL(`**/studio/talks/${story.talkId}*`);
  await page.getByText('Your chosen poster.').waitFor();
  // A speaker's photo.
  const photo = join(work, 'photo.png');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=400x400', '-frames:v', '1', photo]);
  const item = page.locator('.photo-item').first();
  await item.locator('input[type=file]').setInputFiles(photo);
  await item.getByRole('button', { name: /Upload photo/ }).click();
  await page.waitForURL(`**/studio/talks/${story.talkId}*`);
  await page.locator('.photo-item img').first().waitFor();
  await page.close();
});
