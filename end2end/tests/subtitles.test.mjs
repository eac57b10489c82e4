// The subtitle editor in a real browser: a talk from a real upload gets a track (imported
// through the API as the editor's import button does), then in /studio/talks/{id}/subtitles a
// cue edge is dragged, a cue split, a text edited, undone and redone, saved, and the page
// reloaded shows it; a second tab's stale save is refused with its message and overwrites
// nothing; a 1,500-cue track of a 90-minute talk stays usable (prints
// `editor_drag_frame_ms` and `editor_save_ms`); screenshots at 1920x1080 and 390x844; the
// editor bundle loads on that page only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, wasmBundles, logIn } from './browser.mjs';

const run = promisify(execFile);
const PASSWORD = 'an editor passphrase for e2e';

let browser;
let work;
let clip;
let context;
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN, 'FERROTAPE_BIN is set by scripts/e2e.sh');
  browser = await launch();
  work = await mkdtemp(join(tmpdir(), 'ferrotape-subtitles-'));
  clip = join(work, 'subtitled-talk.mp4');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=330',
    '-t', '12', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip]);
});
after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30000 });

const hydrated = (page) => page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const VTT = `WEBVTT

00:00:01.000 --> 00:00:03.000
Hello and welcome

00:00:04.000 --> 00:00:07.000
to a talk about subtitles

00:00:08.000 --> 00:00:10.000
thank you
`;

/// A 90-minute track of 1,500 cues (3.6 s apart).
function longVtt() {
  const stamp = (ms) => {
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
  };
  let out = 'WEBVTT\n\n';
  for (let i = 0; i < 1500; i++) {
    const start = i * 3600;
    out += `${stamp(start)} --> ${stamp(start + 3000)}\nLine ${i + 1} of a long talk about streaming\n\n`;
  }
  return out;
}

/// Imports `body` as the track of `language`, replacing a transcription's track of that
/// language if the server's worker made one meanwhile (with its revision; waiting while it
/// is being transcribed).
async function importTrack(page, talkId, language, body) {
  const base = `${BASE_URL}/api/v1/talks/${talkId}/subtitles`;
  const deadline = Date.now() + 180000;
  for (;;) {
    const list = await (await page.request.get(base)).json();
    const existing = list.tracks.find((t) => t.language === language);
    const headers = { 'content-type': 'text/vtt', origin: BASE_URL };
    if (existing) headers['if-match'] = `"${existing.revision}"`;
    const response = await page.request.post(`${base}?language=${language}`, { headers, data: body });
    if (response.status() === 201 || response.status() === 200) return response.json();
    assert.ok([409, 412].includes(response.status()), `import: ${response.status()} ${await response.text()}`);
    assert.ok(Date.now() < deadline, 'the transcription never ended');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function trackOf(page, talkId, id) {
  return (await page.request.get(`${BASE_URL}/api/v1/talks/${talkId}/subtitles/${id}`)).json();
}

async function openEditor(page, talkId) {
  await page.goto(`${BASE_URL}/studio/talks/${talkId}/subtitles`);
  await hydrated(page);
  await page.waitForSelector('#subtitle-editor[data-editor="ready"]', { timeout: 20000 });
  await page.waitForSelector('.subtitle-editor-ui[data-save-state="saved"][data-revision]:not([data-revision=""])', { timeout: 20000 });
}

const saved = (page) => page.waitForSelector('.subtitle-editor-ui[data-save-state="saved"]', { timeout: 20000 });

test('editors fix captions on the timeline, and a stale tab loses nothing', async () => {
  const stamp = Date.now();
  const email = `subtitles-${stamp}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email, '--name', 'Caption Editor', '--role', 'editor'], {
    env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD },
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = collectErrors(page);
  const bundles = wasmBundles(page);
  await page.goto(`${BASE_URL}/login?next=/studio`);
  await hydrated(page);
  await logIn(page, email, PASSWORD, '/studio');
  await hydrated(page);
  await page.getByLabel('Title of the talk').fill(`Captions ${stamp}`);
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.waitForURL(/\/studio\/talks\/[0-9a-f-]{36}$/, { timeout: 120000 });
  const talkId = page.url().split('/').pop();
  assert.ok(!bundles.includes('subtitle_editor'), `the studio loaded the editor bundle: ${bundles}`);
  // Ready (the editor publishes into the video's master playlist).
  await until(async () => {
    const talk = await (await page.request.get(`${BASE_URL}/api/v1/talks/${talkId}`)).json();
    return talk.talk?.video?.state === 'ready';
  }, 180000, 'the video to be ready');
  const track = await importTrack(page, talkId, 'en', VTT);

  // The talk editor links to the subtitle editor.
  await page.reload();
  await hydrated(page);
  await page.getByRole('link', { name: 'Edit the subtitles' }).click();
  await page.waitForURL(`**/studio/talks/${talkId}/subtitles`);
  await hydrated(page);
  await page.waitForSelector('#subtitle-editor[data-editor="ready"]', { timeout: 20000 });
  await page.waitForSelector('.cue-block[data-index="2"]', { timeout: 20000 });
  assert.ok(bundles.includes('subtitle_editor'), `the editor page did not load its bundle: ${bundles}`);
  assert.equal(await page.locator('.cue-block').count(), 3);
  const revision = async () => Number(await page.locator('.subtitle-editor-ui').getAttribute('data-revision'));
  const startRevision = await revision();

  // Drag the first cue's end edge to the right (snapping off: Alt), released → one save.
  const handle = page.locator('.cue-block[data-index="0"] .cue-handle.end');
  await page.locator('.timeline').scrollIntoViewIfNeeded();
  const box = await handle.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + 40, box.y + box.height / 2, { steps: 8 });
  await page.keyboard.down('Alt');
  await page.mouse.move(box.x + 30, box.y + box.height / 2, { steps: 2 });
  await page.mouse.up();
  await page.keyboard.up('Alt');
  await saved(page);
  let stored = await trackOf(page, talkId, track.id);
  assert.ok(stored.cues[0].end_ms > 3000, `the dragged end: ${stored.cues[0].end_ms}; ${errors.join(' | ')}`);
  assert.ok(stored.revision > startRevision);

  // Split the second cue (select it, S), then edit the first cue's text.
  await page.locator('.cue-block[data-index="1"]').click();
  await page.locator('.timeline').focus();
  await page.keyboard.press('s');
  await page.waitForSelector('.cue-block[data-index="3"]');
  assert.equal(await page.locator('.cue-block').count(), 4);
  await page.locator('.cue-block[data-index="0"]').click();
  await page.locator('.timeline').focus();
  await page.keyboard.press('Enter');
  await page.locator('#cue-text').fill('Hello, and welcome to Ferrotape');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(1100);
  // Undo the text, redo it.
  await page.keyboard.press('Control+z');
  assert.equal(await page.locator('#cue-text').inputValue(), 'Hello and welcome');
  await page.keyboard.press('Control+Shift+z');
  assert.equal(await page.locator('#cue-text').inputValue(), 'Hello, and welcome to Ferrotape');
  await page.keyboard.press('Control+s');
  await saved(page);

  // Reload: the change is there.
  await openEditor(page, talkId);
  assert.equal(await page.locator('.cue-block').count(), 4);
  assert.match(await page.locator('.cue-block[data-index="0"]').getAttribute('aria-label'), /Hello, and welcome to Ferrotape/);
  stored = await trackOf(page, talkId, track.id);
  assert.equal(stored.cues.length, 4);
  assert.equal(stored.cues[0].text, 'Hello, and welcome to Ferrotape');
  assert.equal(stored.cues[1].text.split(' ').length + stored.cues[2].text.split(' ').length, 5);

  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.locator('.cue-block[data-index="0"]').click();
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${ARTIFACTS_DIR}/subtitle-editor-1920x1080.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${ARTIFACTS_DIR}/subtitle-editor-390x844.png`, fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the editor scrolls sideways by ${overflow} px at 390 px`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A second tab saves first; this tab's save is then refused, and the other tab's text stays.
  const other = await context.newPage();
  await openEditor(other, talkId);
  await other.locator('.cue-block[data-index="3"]').click();
  await other.keyboard.press('Enter');
  await other.locator('#cue-text').fill('thank you from the other tab');
  await other.keyboard.press('Escape');
  await other.keyboard.press('Control+s');
  await saved(other);
  await page.locator('.cue-block[data-index="3"]').click();
  await page.keyboard.press('Enter');
  await page.locator('#cue-text').fill('thank you from the stale tab');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+s');
  await page.waitForSelector('.subtitle-editor-ui[data-save-state="stale"]', { timeout: 20000 });
  assert.match(await page.locator('.save-status').innerText(), /changed in another tab.*Nothing was overwritten/s);
  stored = await trackOf(page, talkId, track.id);
  assert.equal(stored.cues[3].text, 'thank you from the other tab');
  await other.close();

  // 1,500 cues over 90 minutes.
  const long = await importTrack(page, talkId, 'de', longVtt());
  assert.equal(long.cue_count ?? long.cues, 1500);
  await openEditor(page, talkId);
  await page.locator('.track-picker select').selectOption(long.id);
  await page.waitForFunction((id) => document.querySelector('.track-picker select').value === id
    && document.querySelectorAll('.cue-block').length > 0
    && document.querySelector('.cue-block').getAttribute('aria-label').includes('Line'), long.id, { timeout: 20000 });
  // Zoomed to the whole talk and back: every block is a handful at most.
  await page.locator('.timeline').focus();
  await page.keyboard.press('0');
  await page.waitForTimeout(200);
  const blocksWhole = await page.locator('.cue-block').count();
  assert.ok(blocksWhole <= 800, `${blocksWhole} blocks drawn for the whole talk`);
  for (let i = 0; i < 6; i++) await page.keyboard.press('+');
  await page.waitForTimeout(200);
  const blocks = await page.locator('.cue-block').count();
  assert.ok(blocks > 0 && blocks < 100, `${blocks} blocks drawn zoomed in`);
  const frame = await page.evaluate(async () => {
    const block = document.querySelector('.cue-block');
    const timeline = document.querySelector('.timeline');
    const r = block.getBoundingClientRect();
    const y = r.top + r.height / 2;
    let x = r.left + r.width / 2;
    const at = (type, target) => target.dispatchEvent(new PointerEvent(type, {
      bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0, buttons: 1, pointerId: 1, pointerType: 'mouse', isPrimary: true,
    }));
    const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    at('pointerdown', block.querySelector('.cue-label') ?? block);
    const times = [];
    const work = [];
    for (let i = 0; i < 120; i++) {
      await nextFrame();
      const t0 = performance.now();
      x += 1;
      at('pointermove', timeline);
      block.getBoundingClientRect();
      work.push(performance.now() - t0);
      await nextFrame();
      times.push(performance.now() - t0);
    }
    at('pointerup', timeline);
    const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;
    return { frame: mean(times), work: mean(work) };
  });
  // The frame: from a pointer move to the next painted frame (at most one frame interval when
  // the move fits in it); the work: the handler and the layout it causes.
  console.log(`editor_drag_frame_ms = ${frame.frame.toFixed(2)}`);
  console.log(`editor_drag_work_ms = ${frame.work.toFixed(3)}`);
  assert.ok(frame.frame < 50, `a drag frame took ${frame.frame} ms`);
  await page.waitForFunction(() => document.querySelector('.subtitle-editor-ui').dataset.saveState === 'saving'
    || document.querySelector('.subtitle-editor-ui').dataset.saveState === 'dirty', null, { timeout: 5000 }).catch(() => {});
  await page.keyboard.press('Control+s');
  await saved(page);
  const saveMs = await page.evaluate(() => window.__editorLastSaveMs);
  console.log(`editor_save_ms = ${saveMs.toFixed(1)}`);
  const longStored = await trackOf(page, talkId, long.id);
  assert.equal(longStored.cues.length, 1500);
  assert.ok(longStored.revision > long.revision, 'the drag was saved');

  // The refused stale save answers 412, which the browser logs as a failed resource; a panic
  // of either bundle would show here.
  const unexpected = errors.filter((e) => !/favicon|Failed to load resource|status of 412/.test(e));
  assert.deepEqual(unexpected.filter((e) => /panicked|RuntimeError|unreachable/.test(e)), [], unexpected.join('\n'));
});
