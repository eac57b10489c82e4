// Past one machine (scripts/e2e.sh, stage "replicas"): two replicas of the platform share one
// PostgreSQL and one S3 bucket and run no worker of their own; a separate `ferrotape-worker`
// does every job; nginx, configured by deploy/nginx/ferrotape.conf, has both replicas as its
// upstream. REPLICA_A and REPLICA_B are the replicas' own addresses, BASE_URL is nginx's and
// REPLICA_A_PID is the process the last test kills.
//
// The tests run in order and share what they make: a session, then a talk uploaded in chunks
// that alternate between the replicas, then a viewer watching it through nginx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BASE_URL, launch, openHydrated, transcodedTalk, untilVideo, videoState } from '../tests/browser.mjs';

const run = promisify(execFile);
const { REPLICA_A, REPLICA_B, REPLICA_A_PID } = process.env;
const REPLICAS = [REPLICA_A, REPLICA_B];
const PASSWORD = 'a passphrase for two replicas';

let browser;
let work;
let email;
let cookie;
let talk;

before(async () => {
  assert.ok(REPLICA_A && REPLICA_B && REPLICA_A_PID && process.env.DATABASE_URL, 'set by scripts/e2e.sh');
  browser = await launch();
  work = await mkdtemp(join(tmpdir(), 'ferrotape-replicas-'));
});
after(async () => {
  await browser?.close();
  if (work) await rm(work, { recursive: true, force: true });
}, { timeout: 30000 });

/// A request to one replica (or nginx) with the session, as a browser on that origin sends it.
function api(origin, path, init = {}) {
  return fetch(`${origin}${path}`, {
    ...init,
    headers: { cookie, origin, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
}

async function json(response, what) {
  const text = await response.text();
  assert.ok(response.ok, `${what}: ${response.status} ${text}`);
  return JSON.parse(text);
}

async function logIn(origin) {
  const response = await fetch(`${origin}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(response.status, 200, `log in at ${origin}: ${await response.clone().text()}`);
  return response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

test('replicas: a session made on one replica is good on the other', async () => {
  email = `replicas-${Date.now()}@example.com`;
  await run(process.env.FERROTAPE_BIN, ['--log', 'warn', 'admin', 'create-user', '--email', email,
    '--name', 'Rita Replica', '--role', 'editor'], { env: { ...process.env, FERROTAPE_NEW_USER_PASSWORD: PASSWORD } });
  cookie = await logIn(REPLICA_A);
  for (const origin of REPLICAS) {
    const me = await json(await api(origin, '/api/v1/auth/me'), `me at ${origin}`);
    assert.equal(me.email, email, origin);
  }
  // A wrong password is refused by either, and neither lets a stranger in.
  const wrong = await fetch(`${REPLICA_B}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: REPLICA_B },
    body: JSON.stringify({ email, password: 'not the passphrase' }),
  });
  assert.equal(wrong.status, 401);
  assert.equal((await fetch(`${REPLICA_B}/api/v1/auth/me`)).status, 401);
});

test('replicas: an upload whose chunks alternate between the replicas completes and the separate worker transcodes it', async () => {
  assert.ok(cookie, 'the session of the first test');
  // 24 s of 854x480 with noise at 4 Mbit/s: about 12 MB, two 8 MiB chunks; a 480p and a 360p rung.
  const clip = join(work, 'two-replicas.mp4');
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=30:duration=24',
    '-f', 'lavfi', '-i', 'sine=frequency=330:duration=24', '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264',
    '-preset', 'ultrafast', '-b:v', '4M', '-maxrate', '4M', '-bufsize', '4M', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-shortest', '-movflags', '+faststart', clip]);
  const bytes = await readFile(clip);

  const upload = await json(await api(REPLICA_A, '/api/v1/uploads', {
    method: 'POST',
    body: JSON.stringify({ file_name: 'two-replicas.mp4', size_bytes: bytes.length, content_type: 'video/mp4' }),
  }), 'open the upload');
  assert.ok(upload.chunk_count >= 2, `${upload.chunk_count} chunks`);
  for (let n = 0; n < upload.chunk_count; n++) {
    const chunk = bytes.subarray(n * upload.chunk_size, (n + 1) * upload.chunk_size);
    const origin = REPLICAS[n % 2];
    const put = await api(origin, `/api/v1/uploads/${upload.id}/chunks/${n}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'x-chunk-sha256': createHash('sha256').update(chunk).digest('hex') },
      body: chunk,
    });
    assert.deepEqual(await json(put, `chunk ${n} at ${origin}`), { n, duplicate: false });
  }
  // The replica that did not open the upload sees every chunk and completes it.
  const status = await json(await api(REPLICA_B, `/api/v1/uploads/${upload.id}`), 'upload status');
  assert.deepEqual(status.received, [...Array(upload.chunk_count).keys()], JSON.stringify(status));
  assert.equal(status.received_bytes, bytes.length);
  assert.equal(status.direct, true, 'S3 storage takes chunks straight to the bucket too');
  await json(await api(REPLICA_B, `/api/v1/uploads/${upload.id}/complete`, { method: 'POST' }), 'complete');

  const created = await json(await api(REPLICA_A, '/api/v1/talks', {
    method: 'POST',
    body: JSON.stringify({ title: 'Two replicas, one talk', video_id: upload.video_id }),
  }), 'create the talk');
  talk = created.talk;

  // Neither replica runs a worker: only ferrotape-worker can make it ready.
  const deadline = Date.now() + 8 * 60 * 1000;
  let video;
  for (let i = 0; ; i++) {
    video = await json(await api(REPLICAS[i % 2], `/api/v1/videos/${upload.video_id}`), 'the video');
    if (video.state === 'ready' || video.state === 'failed' || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  assert.equal(video.state, 'ready', JSON.stringify(video));
  assert.ok(Math.abs(video.duration_ms - 24000) < 500, `duration ${video.duration_ms}`);
  await json(await api(REPLICA_B, `/api/v1/talks/${talk.id}/publication`, {
    method: 'PUT', body: JSON.stringify({ state: 'published' }),
  }), 'publish');
});

test('replicas: an edit on one replica shows on both within the page cache\'s second', async () => {
  assert.ok(talk, 'the talk of the previous test');
  const watch = (origin) => `${origin}/talks/${talk.slug}`;
  // Each replica caches the anonymous watch page for itself.
  for (const origin of REPLICAS) {
    const page = await fetch(watch(origin));
    assert.equal(page.status, 200, origin);
    assert.match(await page.text(), /Two replicas, one talk/);
  }
  await json(await api(REPLICA_B, `/api/v1/talks/${talk.id}`, {
    method: 'PUT', body: JSON.stringify({ title: 'Two replicas, one renamed talk' }),
  }), 'rename');
  for (const origin of REPLICAS) {
    const deadline = Date.now() + 5000;
    let html;
    while (!(html = await (await fetch(watch(origin))).text()).includes('one renamed talk') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(html.includes('Two replicas, one renamed talk'), `${origin} still serves the old title`);
  }
});

test('replicas: a viewer keeps watching through nginx while a replica is killed', async () => {
  assert.ok(talk, 'the talk of the upload test');
  const watch = `${BASE_URL}/talks/${talk.slug}`;
  await transcodedTalk(watch);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Requests asked for after the kill must all succeed; one A was answering at that moment
  // may be cut (the player retries it), as with any server dying mid-response.
  let killed = false;
  const askedAfterKill = new Set();
  const failedAfterKill = [];
  const mediaAfterKill = [];
  context.on('request', (request) => { if (killed) askedAfterKill.add(request); });
  context.on('response', (response) => {
    if (!askedAfterKill.has(response.request())) return;
    if (response.status() >= 500) failedAfterKill.push(`${response.status()} ${response.url()}`);
    if (new URL(response.url()).pathname.startsWith('/media/')) mediaAfterKill.push(response.url());
  });
  context.on('requestfailed', (request) => {
    if (askedAfterKill.has(request)) failedAfterKill.push(`failed ${request.url()}: ${request.failure()?.errorText}`);
  });
  const { page } = await openHydrated(context, watch);
  await page.locator('.player-big-play').click();
  const playing = await untilVideo(page, (s) => !s.paused && s.time > 1 && s.height > 0, 'playback through nginx advances');

  process.kill(Number(REPLICA_A_PID), 'SIGKILL');
  killed = true;
  // The rung not playing now: its playlist and segments are fetched after the kill, so some
  // of them must come from the replica still alive.
  const other = playing.height === 360 ? 480 : 360;
  await page.locator('.player').hover();
  await page.locator('.player-quality-button').click();
  await page.locator('#player-quality-menu label').filter({ hasText: new RegExp(`^${other}p`) }).click();
  await page.keyboard.press('Escape');
  await untilVideo(page, (s) => s.height === other && !s.paused && s.time > playing.time + 3,
    `the ${other}p rung plays on after replica A died`, 60000);
  assert.ok(mediaAfterKill.length > 0, 'the other rung came over the network, after the kill');
  assert.deepEqual(failedAfterKill, [], 'nothing the viewer asked for failed');

  // Pages, the API and signing in go on through nginx too.
  for (let i = 0; i < 4; i++) assert.equal((await fetch(watch)).status, 200);
  cookie = await logIn(BASE_URL);
  const me = await json(await api(BASE_URL, '/api/v1/auth/me'), 'me through nginx');
  assert.equal(me.email, email);
  const state = await videoState(page);
  assert.ok(!state.paused, JSON.stringify(state));
  await context.close();
});
