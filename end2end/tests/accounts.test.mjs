// Accounts in a real browser: sign up through the UI, receive the confirmation mail from the
// SMTP sink, confirm, log in, see the editor-only studio link, log out. And the same forms
// without JavaScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_URL, launch, collectErrors } from './browser.mjs';

const MAIL_DIR = process.env.MAIL_DIR;
const PASSWORD = 'a long enough passphrase';

let browser;
before(async () => {
  assert.ok(MAIL_DIR, 'MAIL_DIR is set by scripts/e2e.sh (the SMTP sink directory)');
  browser = await launch();
});
after(async () => { await browser?.close(); }, { timeout: 30000 });

/// Undoes quoted-printable: soft line breaks and =XX escapes.
function decodeQuotedPrintable(text) {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/// Waits for the SMTP sink to receive a mail to `recipient` and returns its link to `path`.
async function mailedLink(recipient, path) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    for (const name of (await readdir(MAIL_DIR)).filter((n) => n.endsWith('.eml'))) {
      const message = await readFile(join(MAIL_DIR, name), 'utf8');
      if (!message.split(/\r?\n/).some((line) => /^to:/i.test(line) && line.includes(recipient))) continue;
      const link = decodeQuotedPrintable(message).split(/\s+/).find((word) => word.startsWith('http') && word.includes(path));
      if (link) return link;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail with a ${path} link reached ${recipient}`);
}

async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 15000 });
}

test('sign up, confirm by mail, log in, see the studio link, log out', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = collectErrors(page);
  const email = `e2e-${Date.now()}@example.com`;

  await page.goto(`${BASE_URL}/signup`);
  await hydrated(page);
  await page.getByLabel('Your name').fill('Ada Lovelace');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/login?notice=check_inbox');
  assert.match(await page.getByRole('status').first().innerText(), /We sent a confirmation link/);

  const link = await mailedLink(email, '/verify-email?token=');
  assert.ok(link.startsWith(`${BASE_URL}/verify-email?token=`), link);
  await page.goto(link);
  await hydrated(page);
  await page.getByRole('button', { name: 'Confirm my email address' }).click();
  await page.waitForURL('**/login?notice=verified');

  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${BASE_URL}/`);
  // The first account of this fresh install is its admin: editor links appear.
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Studio' }).waitFor({ timeout: 10000 });
  assert.ok(await nav.getByRole('link', { name: 'Ada Lovelace' }).isVisible());
  await nav.getByRole('link', { name: 'Studio' }).click();
  await page.waitForURL('**/studio');
  await page.getByText('Welcome, Ada Lovelace.').waitFor();

  const cookies = await context.cookies();
  const access = cookies.find((c) => c.name === 'ft_access');
  assert.ok(access?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(access.sameSite, 'Lax');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts see no session cookie');

  // Log out from a public page: its header is plain HTML there (the viewer bundle hydrates
  // only islands), so the form posts without JavaScript and the server redirects back.
  await page.goto(`${BASE_URL}/`);
  await hydrated(page);
  await nav.getByRole('button', { name: 'Log out' }).click();
  await nav.getByRole('link', { name: 'Log in' }).waitFor({ timeout: 10000 });
  assert.equal(page.url(), `${BASE_URL}/`);
  assert.ok(!(await nav.getByRole('link', { name: 'Studio' }).isVisible()));
  const afterLogout = await context.cookies();
  assert.ok(!afterLogout.some((c) => c.name.startsWith('ft_')), 'session cookies removed');
  assert.deepEqual(errors, []);
  // The studio now refuses (Chromium logs the 401 document itself as a console error).
  const studio = await page.goto(`${BASE_URL}/studio`);
  assert.equal(studio.status(), 401);
  assert.ok(await page.getByRole('link', { name: 'Log in' }).first().isVisible());
  await context.close();
});

test('without JavaScript a wrong password is explained and the email kept', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/login`);
  await page.getByLabel('Email address').fill('nobody@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/login?error=invalid_credentials**');
  assert.equal(await page.getByRole('alert').innerText(), 'The email address or password is wrong.');
  assert.equal(await page.getByLabel('Email address').inputValue(), 'nobody@example.com');
  await context.close();
});

test('hydrated forms show errors in place', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/signup`);
  await hydrated(page);
  await page.getByLabel('Your name').fill('Short Password');
  await page.getByLabel('Email address').fill(`short-${Date.now()}@example.com`);
  // The browser's own minlength check would stop a short password; a repetitive one passes it.
  await page.getByLabel('Password').fill('aaaaaaaaaaaaaaaa');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').innerText(), 'Use more than a few different characters in your password.');
  assert.ok(page.url().endsWith('/signup'), page.url());
  await context.close();
});
