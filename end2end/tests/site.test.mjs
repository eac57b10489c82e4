// The site in a real browser: server rendering with JavaScript off, hydration with it on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, ARTIFACTS_DIR, launch, collectErrors, settled, openHydrated } from './browser.mjs';

// The talks `seed-demo` publishes. Other test files publish talks of their own on the same
// server, so the catalog holds at least these, each once.
const DEMO_TITLES = [
  'Adaptive streaming from first principles',
  'One decode, many renditions: transcoding at scale',
  'Captions for everyone with Whisper',
  'Postgres is a fine queue',
  'Accessible video players',
];

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); }, { timeout: 30000 });

test('SSR: the catalog and a talk page are complete with JavaScript off', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(`${BASE_URL}/`);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'Talks · Ferrotape');
  const titles = await page.locator('.talk-card-title').allTextContents();
  for (const demo of DEMO_TITLES) {
    assert.equal(titles.filter((title) => title === demo).length, 1, `${demo} once in the catalog: ${titles}`);
  }
  assert.match(await page.locator('.talk-card', { hasText: 'Postgres is a fine queue' }).innerText(),
    /Marta Silva, Jonas Berg and Ada Okafor/);

  // Without JavaScript the navigation stays visible and the menu button stays hidden.
  assert.ok(await page.locator('#site-nav').isVisible());
  assert.ok(!(await page.locator('.menu-toggle').isVisible()));

  await page.locator('.talk-card-link', { hasText: 'Captions for everyone with Whisper' }).click();
  await page.waitForURL('**/talks/captions-for-everyone');
  assert.equal(await page.locator('h1').innerText(), 'Captions for everyone with Whisper');
  assert.equal(await page.title(), 'Captions for everyone with Whisper · Ferrotape');
  await context.close();
});

test('SSR: an unknown page answers 404 with a way back', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(`${BASE_URL}/talks/does-not-exist`);
  assert.equal(response.status(), 404);
  assert.equal(await page.locator('h1').innerText(), 'Page not found');
  assert.ok(await page.getByRole('link', { name: 'Browse all talks' }).isVisible());
  await context.close();
});

test('hydration: the mobile menu button works once the viewer bundle has loaded', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const { page, errors, bundles } = await openHydrated(context, `${BASE_URL}/`, 15000);

  const toggle = page.getByRole('button', { name: 'Menu' });
  const nav = page.locator('#site-nav');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.ok(!(await nav.isVisible()), 'navigation folds away on a phone once interactive');

  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.ok(await nav.isVisible(), 'the menu opens');
  await page.screenshot({ path: `${ARTIFACTS_DIR}/catalog-390x844-menu-open.png`, fullPage: true });

  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.ok(!(await nav.isVisible()), 'and closes again');

  // The public pages are plain documents around islands: a talk link loads the next page.
  await page.locator('.talk-card-link', { hasText: 'Accessible video players' }).click();
  await page.waitForURL('**/talks/accessible-video-players');
  await page.locator('h1', { hasText: 'Accessible video players' }).waitFor();
  assert.equal(await page.title(), 'Accessible video players · Ferrotape');
  assert.deepEqual(bundles, ['viewer'], 'only the viewer bundle, fetched once');

  assert.deepEqual(errors, [], 'no console errors or hydration warnings');
  await context.close();
});

test('hydration: the app pages route in the browser, on to the public pages', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const { page, errors, bundles } = await openHydrated(context, `${BASE_URL}/login`, 15000);
  await page.evaluate(() => { window.__sameDocument = true; });

  const toggle = page.getByRole('button', { name: 'Menu' });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await page.getByRole('link', { name: 'Talks', exact: true }).click();
  await page.waitForURL(`${BASE_URL}/`);
  await page.locator('.talk-card-link', { hasText: 'Accessible video players' }).click();
  await page.waitForURL('**/talks/accessible-video-players');
  await page.locator('h1', { hasText: 'Accessible video players' }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'routed in the browser');
  assert.equal(await page.title(), 'Accessible video players · Ferrotape');
  assert.deepEqual(bundles, ['ferrotape']);

  assert.deepEqual(errors, [], 'no console errors or hydration warnings');
  await context.close();
});

test('layout: the catalog fills a 4K screen without overflowing a phone', async () => {
  for (const viewport of [{ width: 360, height: 740 }, { width: 3840, height: 2160 }]) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${BASE_URL}/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px at ${viewport.width}px`);
    const columns = await page.evaluate(() =>
      getComputedStyle(document.querySelector('.talk-grid')).gridTemplateColumns.split(' ').length);
    if (viewport.width === 360) assert.equal(columns, 1);
    else assert.ok(columns >= 5, `only ${columns} columns on a 4K screen`);
    await page.screenshot({ path: `${ARTIFACTS_DIR}/catalog-${viewport.width}x${viewport.height}.png` });
    await context.close();
  }
});

test('keyboard: the skip link is the first stop and moves focus to the content', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, 'Skip to content');
  assert.ok(await page.locator('.skip-link').isVisible(), 'visible when focused');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#main');
  await context.close();
});

test('catalog: search finds a talk, marks the match, filters by tag and links speakers', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${BASE_URL}/`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 15000 });
  const wholeCatalog = await page.locator('.talk-card').count();
  assert.ok(wholeCatalog >= DEMO_TITLES.length, `the catalog shows ${wholeCatalog} talks`);

  await page.getByRole('searchbox', { name: 'Search talks' }).fill('queues');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/?q=queues**');
  const summary = page.locator('.catalog-summary');
  const summaryText = () => summary.innerText();
  assert.equal(await settled(summaryText, '1 talk matches “queues”.'), '1 talk matches “queues”.');
  const card = page.locator('.talk-card');
  assert.equal(await settled(() => card.count(), 1), 1);
  assert.equal(await card.locator('.talk-card-title mark').innerText(), 'queue');
  assert.equal(await page.title(), 'Search: queues · Ferrotape');

  // Speaker names are searchable too, and a tag narrows the results.
  await page.goto(`${BASE_URL}/?q=okafor`);
  assert.equal(await settled(() => card.count(), 2), 2);
  await page.getByLabel('Tag').selectOption({ label: 'Video' });
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL('**/?q=okafor&tag=video**');
  assert.equal(await settled(summaryText, '1 talk matches “okafor” tagged Video.'),
    '1 talk matches “okafor” tagged Video.');

  // Nothing found says so; Clear returns to the whole catalog.
  await page.goto(`${BASE_URL}/?q=zebra`);
  assert.equal(await settled(summaryText, 'No talks match “zebra”.'), 'No talks match “zebra”.');
  await page.getByRole('link', { name: 'Clear' }).click();
  await page.waitForURL(`${BASE_URL}/`);
  assert.equal(await settled(() => card.count(), wholeCatalog), wholeCatalog);

  // Speaker names on cards lead to speaker pages.
  await page.locator('.talk-card', { hasText: 'Postgres is a fine queue' }).getByRole('link', { name: 'Jonas Berg' }).click();
  await page.waitForURL('**/speakers/jonas-berg');
  await page.locator('h1', { hasText: 'Jonas Berg' }).waitFor();
  assert.equal(await settled(() => card.count(), 1), 1);
  assert.deepEqual(errors, []);
  await context.close();
});
