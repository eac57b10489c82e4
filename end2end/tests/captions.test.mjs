// Auto-captions in a real browser: an editor uploads a talk whose sound is espeak-ng speech;
// once transcoded, the server's worker transcribes it with the real Whisper model
// (FERROTAPE_WHISPER_MODEL, provisioned by make test) and the captions appear in the studio by
// themselves. Published, the watch page offers the track, the player shows the spoken sentence
// as a caption, the transcript under the player seeks, and the catalog's search finds the talk
// by a spoken word with a link that starts at that line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, launch, collectErrors, logIn } from './browser.mjs';

const run = promisify(execFile);
const PASSWORD = 'an editor passphrase for captions';

let browser;
let work;
let clip;
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN, 'FERROTAPE_BIN is set by scripts/e2e.sh');
  browser = await launch();
  work = await mkdtemp(join(tmpdir(), 'ferrotape-captions-'));
  const speech = join(work, 'speech.wav');
  await run('espeak-ng', ['-s', '140', '-w', speech,
    'Hello everyone. Welcome to the conference. Today we talk about video streaming. Thank you very much.']);
  clip = join(work, 'spoken-talk.mp4');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=navy:size=640x360:rate=25', '-i', speech,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip]);
});
after(async () => {
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30000 });

const hydrated = (page) => page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });

test('spoken words become captions, a transcript and search results by themselves', async () => {
  const stamp = Date.now();
  const email = `captions-${stamp}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email, '--name', 'Caption Editor', '--role', 'editor'], {
    env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD },
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${BASE_URL}/login?next=/studio`);
  await hydrated(page);
  await logIn(page, email, PASSWORD, '/studio');
  await hydrated(page);

  const title = `Spoken captions ${stamp}`;
  await page.getByLabel('Title of the talk').fill(title);
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.waitForURL(/\/studio\/talks\/[0-9a-f-]{36}$/, { timeout: 120000 });
  const slug = await page.getByLabel('Address (slug)').inputValue();

  // Nobody asks for captions: the studio shows them made once the video is ready.
  await page.locator('.caption-status li[data-caption-state="ready"]').waitFor({ timeout: 300000 });
  const status = await page.locator('.caption-status').innerText();
  assert.match(status, /English \(auto\): \d+ cues?/, status);

  await page.getByLabel('Publish now', { exact: true }).check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('.editor-status[data-talk-state="published"]').waitFor();

  // The watch page offers the track; the sentence is in it and shows as a caption.
  const viewer = await context.browser().newContext({ viewport: { width: 1280, height: 900 } });
  const watch = await viewer.newPage();
  const watchErrors = collectErrors(watch);
  await watch.goto(`${BASE_URL}/talks/${slug}`);
  await hydrated(watch);
  const track = watch.locator('video track[kind="subtitles"]');
  assert.equal(await track.getAttribute('srclang'), 'en');
  assert.equal(await track.getAttribute('label'), 'English (auto)');
  const vtt = await (await fetch(new URL(await track.getAttribute('src'), BASE_URL))).text();
  assert.match(vtt, /^WEBVTT/);
  assert.match(vtt.toLowerCase(), /welcome to the conference/, vtt);

  await watch.locator('.player-button[aria-controls="player-captions-menu"]').click();
  await watch.getByRole('radio', { name: 'English (auto)' }).check();
  await watch.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play(); });
  const caption = await watch.waitForFunction(() => {
    const tracks = [...document.querySelector('video').textTracks].filter((t) => t.kind === 'subtitles');
    const showing = tracks.find((t) => t.mode === 'showing');
    const cues = showing?.activeCues ? [...showing.activeCues].map((c) => c.text) : [];
    return cues.find((text) => /welcome|conference|hello/i.test(text)) ?? false;
  }, null, { timeout: 30000 });
  assert.match(await caption.jsonValue(), /welcome|conference|hello/i);
  // The choice is remembered for the next talk this browser plays.
  assert.equal(await watch.evaluate(() => localStorage.getItem('ferrotape.captions')), 'en');

  // The transcript under the player: a line seeks to its moment.
  const lines = watch.locator('.transcript-list li a');
  assert.ok((await lines.count()) >= 2, 'the transcript lists the spoken lines');
  const last = lines.last();
  const href = await last.getAttribute('href');
  assert.match(href, /^\?t=/);
  await last.click();
  const seconds = await watch.evaluate(() => document.querySelector('video').currentTime);
  assert.ok(seconds >= 2, `the last line seeks (at ${seconds} s)`);
  await watch.getByLabel('Search the transcript').fill('streaming');
  await watch.locator('.transcript-found').filter({ hasText: '1 line' }).waitFor();

  // The catalog finds the talk by a word only said in it, linking to the moment.
  await watch.goto(`${BASE_URL}/?q=streaming`);
  await hydrated(watch);
  const card = watch.locator('.talk-card').filter({ hasText: title });
  const said = card.locator('.talk-card-spoken a');
  assert.match(await said.innerText(), /Said at \d+:\d\d/);
  assert.match(await said.locator('mark').first().innerText(), /streaming/i);
  const at = await said.getAttribute('href');
  assert.match(at, new RegExp(`^/talks/${slug}\\?t=\\d+`));
  await said.click();
  await watch.waitForURL(`**${at}`);
  await hydrated(watch);
  const start = new URL(watch.url()).searchParams.get('t');
  assert.ok(start && start !== '0s', `the link starts at the line (t=${start})`);

  assert.deepEqual(errors, []);
  assert.deepEqual(watchErrors, []);
  await viewer.close();
  await context.close();
});
