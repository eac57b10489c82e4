// bench/live's measurements (PHASE=auth or PHASE=latency); see bench/live for what they mean.
import { spawn } from 'node:child_process';
import { launch } from '../end2end/tests/browser.mjs';
import { push, readPageClock, medianLatency, decode, WIDTH, HEIGHT } from '../end2end/live/clock.mjs';

const BASE = process.env.BASE_URL;
let cookie = '';

async function api(method, path, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { 'content-type': 'application/json', cookie, origin: BASE },
    body: body && JSON.stringify(body),
  });
  const set = response.headers.getSetCookie?.() ?? [];
  if (set.length) cookie = set.map((c) => c.split(';')[0]).join('; ');
  return response.json().catch(() => null);
}

async function streamKey(title) {
  await api('POST', '/api/v1/auth/login', { email: 'bench-live@example.com', password: process.env.PASSWORD });
  const stream = await api('POST', '/api/v1/live/streams', { title, record: false });
  const { key } = await api('GET', `/api/v1/live/streams/${stream.id}/key`);
  return { id: stream.id, key };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];

async function hook(call, name, addr, clientid) {
  const body = new URLSearchParams({ call, app: 'live', name, addr, clientid: String(clientid), tcurl: 'rtmp://x/live' });
  const response = await fetch(`${BASE}/api/v1/live/hooks/nginx/${call}`, { method: 'POST', body });
  await response.arrayBuffer();
  return response.status;
}

let clientids = 100000;

/// Good-key publish latencies (ms), `n` of them, each followed by its publish_done.
async function goodPublishes(key, n) {
  const times = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    // Each from an address of its own: publishes are rate limited per address.
    const addr = `198.18.${Math.floor(i / 250)}.${i % 250}`;
    const status = await hook('publish', key, addr, clientids += 1);
    times.push(performance.now() - started);
    if (status !== 204 && status !== 200) throw new Error(`the good key was refused: ${status}`);
    await hook('publish_done', key, addr, clientids);
  }
  return times.sort((a, b) => a - b);
}

async function auth() {
  const { key } = await streamKey('bench auth');
  const quiet = await goodPublishes(key, 200);
  let flooding = true;
  let guesses = 0;
  const flooders = Array.from({ length: 32 }, async (_, worker) => {
    while (flooding) {
      const n = guesses += 1;
      const addr = `10.${worker}.${Math.floor(n / 250) % 250}.${n % 250}`;
      // Made-up keys of the right shape, so each costs the lookup a real guess costs.
      await hook('publish', `live_${String(n).padStart(43, '0')}`, addr, n);
    }
  });
  const flooded = await goodPublishes(key, 200);
  flooding = false;
  await Promise.all(flooders);
  console.log(`publish_auth_quiet_p99_ms = ${percentile(quiet, 0.99).toFixed(2)}`);
  console.log(`publish_auth_p99_ms = ${percentile(flooded, 0.99).toFixed(2)}`);
  console.log(`publish_auth_p50_ms = ${percentile(flooded, 0.5).toFixed(2)}`);
  console.log(`publish_flood_guesses = ${guesses}`);
  console.log(`publish_auth_flood_vs_quiet = ${(percentile(flooded, 0.99) / percentile(quiet, 0.99)).toFixed(2)}`);
}

/// The clock as ffmpeg reads it straight from the ingest: frames as gray bytes on stdout.
async function rtmpDirect(url, started) {
  const reader = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-i', url,
    '-vf', `scale=${WIDTH}:${HEIGHT},format=gray`, '-f', 'rawvideo', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const frame = WIDTH * HEIGHT;
  let buffer = Buffer.alloc(0);
  let latest = null;
  reader.stdout.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= frame) {
      const bytes = buffer.subarray(0, frame);
      latest = decode((x, y) => bytes[Math.round(y) * WIDTH + Math.round(x)]);
      buffer = buffer.subarray(frame);
    }
  });
  const deadline = Date.now() + 30000;
  while (latest === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Let the reader catch up with the live edge before sampling.
  await new Promise((r) => setTimeout(r, 2000));
  const result = await medianLatency(async () => latest, started, 9, 500);
  reader.kill('SIGKILL');
  return result.median;
}

async function latency() {
  const { id, key } = await streamKey('bench latency');
  const pusher = push(`${process.env.RTMP_URL}/${key}`, 300);
  const direct = await rtmpDirect(`${process.env.RTMP_URL}/${key}`, pusher.started);
  const browser = await launch();
  const page = await browser.newPage();
  await page.goto(`${BASE}/live/${id}`);
  await page.waitForFunction(() => (document.querySelector('video.live-video')?.currentTime ?? 0) > 3, null, { timeout: 90000 });
  // Settled at the edge hls.js keeps, not still catching up from where it joined.
  await new Promise((r) => setTimeout(r, 5000));
  const { median } = await medianLatency(() => readPageClock(page), pusher.started, 15, 500);
  await browser.close();
  pusher.child.kill('SIGTERM');
  console.log(`rtmp_direct_s = ${direct.toFixed(2)}`);
  console.log(`glass_to_glass_s = ${median.toFixed(2)}`);
  console.log(`glass_to_glass_vs_rtmp = ${(median / direct).toFixed(2)}`);
}

await (process.env.PHASE === 'auth' ? auth() : latency());
