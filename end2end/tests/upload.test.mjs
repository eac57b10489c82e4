// The VOD pipeline in a real browser: an editor uploads a generated 10 s 1080p clip through the
// studio's uploader, watches it process, and the result is an HLS ladder (1080/720/480/360,
// nothing upscaled) with 6 s segments, keyframes aligned across rungs, a poster, sprite sheets
// and a thumbnails track — all fetched from /media like a player would.
//
// scripts/e2e.sh runs this file twice: against a server with local storage, where chunks go
// to the server, and against one storing media in S3 (EXPECT_DIRECT_UPLOADS_TO set to the S3
// endpoint), where the browser must PUT every chunk straight to the bucket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, launch, collectErrors } from './browser.mjs';

const run = promisify(execFile);
const PASSWORD = 'an editor passphrase for e2e';
const DEFAULT_TENANT = '00000000-0000-0000-0000-000000000001';
const DIRECT = process.env.EXPECT_DIRECT_UPLOADS_TO;

let browser;
let work;
before(async () => {
  assert.ok(process.env.FERROTAPE_BIN, 'FERROTAPE_BIN is set by scripts/e2e.sh');
  browser = await launch();
  work = await mkdtemp(join(tmpdir(), 'ferrotape-upload-'));
});
after(async () => {
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30000 });

async function createEditor(email) {
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email, '--name', 'Eddie Editor', '--role', 'editor'], {
    env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD },
  });
}

async function fetchOk(path) {
  const response = await fetch(`${BASE_URL}${path}`);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return response;
}

function isJpeg(buffer) {
  const bytes = new Uint8Array(buffer);
  return bytes.length > 1000 && bytes[0] === 0xff && bytes[1] === 0xd8;
}

/// Keyframe times (seconds) of one rendition: its init segment and media segments joined into
/// one fragmented MP4 and read by ffprobe.
async function keyframes(base, playlist) {
  const init = playlist.match(/#EXT-X-MAP:URI="([^"]+)"/)[1];
  const segments = playlist.split('\n').filter((line) => line && !line.startsWith('#'));
  const parts = [];
  for (const name of [init, ...segments]) parts.push(Buffer.from(await (await fetchOk(`${base}/${name}`)).arrayBuffer()));
  const file = join(work, `${base.split('/').pop()}.mp4`);
  await writeFile(file, Buffer.concat(parts));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  return stdout.trim().split('\n').map((line) => line.split(',')).filter(([, flags]) => flags?.includes('K')).map(([t]) => Number(t).toFixed(2));
}

test(`an editor uploads a 1080p clip in the studio and it becomes an aligned HLS ladder (${DIRECT ? 'S3' : 'local'} storage)`, async () => {
  const clip = join(work, 'keynote.mp4');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clip]);
  const email = `editor-${Date.now()}@example.com`;
  await createEditor(email);

  const page = await browser.newPage();
  const errors = collectErrors(page);
  const chunkPuts = [];
  page.on('request', (request) => { if (request.method() === 'PUT') chunkPuts.push(request.url()); });
  const eventStreams = [];
  page.on('response', (response) => {
    if (response.url().endsWith('/api/v1/studio/events')) eventStreams.push([response.status(), response.headers()['content-type']]);
  });
  await page.goto(`${BASE_URL}/login?next=/studio`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 15000 });
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/studio');
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 15000 });

  await page.locator('input[type=file]').setInputFiles(clip);
  const status = page.locator('.upload-status');
  await status.filter({ hasText: 'is being processed' }).waitFor({ timeout: 60000 });
  const row = page.locator('tr[data-video-id]').filter({ hasText: 'keynote.mp4' });
  await row.waitFor();
  // The list refreshes by itself until the video is ready.
  await page.locator('tr[data-state="ready"]').filter({ hasText: 'keynote.mp4' }).waitFor({ timeout: 240000 });
  const video = await row.getAttribute('data-video-id');
  assert.deepEqual(errors, [], 'no console errors');
  assert.ok(chunkPuts.length > 0, 'the chunks were PUT');
  assert.deepEqual(eventStreams[0], [200, 'text/event-stream'], 'the studio follows its live event stream');
  const chunkTarget = DIRECT ? `${DIRECT}/` : `${BASE_URL}/api/v1/uploads/`;
  for (const url of chunkPuts) assert.ok(url.startsWith(chunkTarget), `chunk sent to ${url}, expected ${chunkTarget}…`);

  // Every transcode attempt has a prefix of its own; this upload's first (and only) is v1.
  // The video belongs to no published talk: its plain media URLs are closed, and the studio
  // hands its editor signed preview URLs (one token for the whole video prefix).
  const plain = await fetch(`${BASE_URL}/media/${DEFAULT_TENANT}/${video}/v1/hls/master.m3u8`);
  assert.equal(plain.status, 404, 'a draft is not served to anyone who knows its ids');
  await plain.arrayBuffer();
  const listed = await page.evaluate(async () => {
    const response = await fetch('/api/studio/videos', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    return response.json();
  });
  const posterUrl = listed.find((v) => v.id === video)?.poster_url ?? '';
  assert.match(posterUrl, new RegExp(`^/media/s/\\d+/[A-Za-z0-9_-]+/${DEFAULT_TENANT}/${video}/v1/thumbs/poster\\.jpg$`));
  const base = posterUrl.replace(/\/thumbs\/poster\.jpg$/, '');
  const master = await (await fetchOk(`${base}/hls/master.m3u8`)).text();
  const resolutions = [...master.matchAll(/RESOLUTION=(\d+x\d+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(resolutions, ['1280x720', '1920x1080', '640x360', '854x480'], master);
  assert.match(master, /AVERAGE-BANDWIDTH=\d+/);
  assert.match(master, /CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"/);

  const keyframeSets = [];
  for (const rung of ['1080p', '720p', '480p', '360p']) {
    const playlist = await (await fetchOk(`${base}/hls/${rung}/index.m3u8`)).text();
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    assert.equal(durations.length, 2, `${rung}: ${playlist}`);
    assert.ok(Math.abs(durations[0] - 6) < 0.05 && Math.abs(durations[1] - 4) < 0.1, `${rung}: ${durations}`);
    keyframeSets.push(await keyframes(`${base}/hls/${rung}`, playlist));
  }
  // Every 2 s from the first frame (whose timestamp carries the B-frame delay of the container).
  const first = Number(keyframeSets[0][0]);
  assert.deepEqual(keyframeSets[0].map((t) => (Number(t) - first).toFixed(2)), ['0.00', '2.00', '4.00', '6.00', '8.00']);
  for (const set of keyframeSets) assert.deepEqual(set, keyframeSets[0], 'keyframes align across rungs');

  // Every body is read to the end: an unread body keeps its connection (and node) alive.
  const poster = await fetchOk(`${base}/thumbs/poster.jpg`);
  assert.equal(poster.headers.get('content-type'), 'image/jpeg');
  assert.ok(isJpeg(await poster.arrayBuffer()), 'the poster is a JPEG');
  const vtt = await (await fetchOk(`${base}/thumbs/thumbs.vtt`)).text();
  assert.match(vtt, /^WEBVTT/);
  assert.match(vtt, /sprite_0\.jpg#xywh=0,0,\d+,\d+/);
  const sprite = await fetchOk(`${base}/thumbs/sprite_0.jpg`);
  assert.equal(sprite.headers.get('cache-control'), 'private, max-age=300', 'previews stay out of shared caches');
  assert.ok(isJpeg(await sprite.arrayBuffer()), 'the sprite sheet is a JPEG');
  await page.close();
});
