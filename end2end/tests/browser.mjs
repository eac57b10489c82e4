// Shared Playwright set-up: the system Chromium with flags that work on a closed network
// (Playwright gives every launch a fresh temporary profile).
import { chromium } from 'playwright-core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
export const ARTIFACTS_DIR = process.env.ARTIFACTS_DIR ?? join(tmpdir(), 'ferrotape-e2e');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/// Collects console errors and uncaught exceptions (hydration mismatches show up here).
export function collectErrors(page) {
  const errors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/// Polls until `read()` returns `expected` (deep equality of JSON) or the timeout passes, then
/// returns the last value read, so the caller's assertion reports what the page really showed.
/// Client-side navigations change the URL before the new data renders; reading once right after
/// `waitForURL` would race the render.
export async function settled(read, expected, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (JSON.stringify(value) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

/// The wasm bundles (`viewer`, `ferrotape`) a page fetches from /pkg/, each named once, in
/// order. The public pages load the viewer bundle; the rest of the site the app's.
export function wasmBundles(page) {
  const bundles = [];
  page.on('request', (request) => {
    const name = new URL(request.url()).pathname.match(/^\/pkg\/([\w-]+)\.wasm$/)?.[1];
    if (name && !bundles.includes(name)) bundles.push(name);
  });
  return bundles;
}

/// Opens `url` in a new page of `context` and waits until the page's wasm has hydrated it.
/// `errors` collects console errors, `bundles` the wasm bundles fetched, from the first request.
export async function openHydrated(context, url, timeout = 20000) {
  const page = await context.newPage();
  const errors = collectErrors(page);
  const bundles = wasmBundles(page);
  const response = await page.goto(url);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout });
  return { page, errors, bundles, response };
}

/// Logs in through the login form of a page already at `/login?next=…` and waits until the
/// browser is at `next` itself. (A glob like `**/studio` also matches `/login?next=/studio`,
/// so waiting on it returns before the log-in has finished and its cookies exist.)
export async function logIn(page, email, password, next) {
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === next, { timeout: 30000 });
}

/// Waits (up to 8 minutes: a transcode on 2 busy cores) until the watch page at `watchUrl`
/// has a player for a fully transcoded video; returns the talk's id (from its embed link).
export async function transcodedTalk(watchUrl) {
  const deadline = Date.now() + 8 * 60 * 1000;
  for (;;) {
    const html = await (await fetch(watchUrl)).text();
    const match = html.match(/\/embed\/([0-9a-f-]{36})/);
    if (html.includes('class="player"') && !html.includes('watch-processing') && match) {
      return match[1];
    }
    if (Date.now() > deadline) throw new Error(`${watchUrl}: the imported clip was not transcoded in time`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/// The player's `<video>` as tests look at it: position, paused, ready state, rendition
/// height, duration and buffered ranges.
export function videoState(page) {
  return page.evaluate(() => {
    const v = document.querySelector('video.player-video');
    const buffered = [];
    for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
    return { time: v.currentTime, paused: v.paused, ready: v.readyState, height: v.videoHeight, duration: v.duration, buffered };
  });
}

/// Polls `videoState` until `predicate` holds; fails with `what` and the last state after
/// `timeout` ms.
export async function untilVideo(page, predicate, what, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const state = await videoState(page);
    if (predicate(state)) return state;
    if (Date.now() > deadline) throw new Error(`${what}; last state ${JSON.stringify(state)}`);
    await page.waitForTimeout(100);
  }
}
