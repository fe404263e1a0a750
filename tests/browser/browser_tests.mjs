#!/usr/bin/env node
// Browser tests: Debian's Chromium (headless, fake microphone), driven by
// playwright-core, runs the web phone (JsSIP) and a SIP.js page against the
// real tandem binary, with sipp as the plain SIP peer. Everything runs in a
// private loopback-only network namespace, which this script enters itself
// (unshare --net; needs root, as CI has).
//
//   node browser_tests.mjs --tandem PATH --webroot DIR --run NAME
//
// NAME is one of the tests below. The script prints what it does, and exits 0
// when the test passed, 1 with the reason when it failed.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonClient, fakeSdp } from './json_client.mjs';
import { A_B_TEST_DNS, C_TEST, startDns53, startKamailio } from './kamailio/kamailio.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const NETNS_MARK = 'TANDEM_BROWSER_NETNS';
const DOMAIN = 'example.test';
const TANDEM_IP = '127.0.0.1';
const SIP_PORT = 5060;
const HTTP_PORT = 8080;
const SIPP_IP = '127.0.0.20';
const JWT_SECRET = 'browser-tests-shared-secret-0123456789';
const PASSWORDS = { alice: 'alice-pw-1', bob: 'bob-pw-2', carol: 'carol-pw-3', desk: 'desk-pw-4' };
const CHROMIUM = process.env.TANDEM_CHROMIUM || '/usr/bin/chromium';
// Where pages are opened: https when the test runs Tandem with TLS (then the
// web phone's WebSocket is wss). Plain http keeps working on the same port.
let pageBase = `http://${TANDEM_IP}:${HTTP_PORT}`;
const TLS_TESTS = new Set(['wss_call']);
// More configuration for the default node, by test.
const TEST_CONFIG = {
  json_gateway_limits: ['[gateway]', 'ring_timeout = 2', 'max_calls_per_connection = 1'],
};
// Tests of the site protocol (tandem.v1) with headless JSON clients: no browser.
const NO_BROWSER_TESTS = new Set(['federation_json', 'json_call', 'json_calls_sipp', 'sipp_calls_json', 'sipp_reoffers_json', 'federation_silent_target', 'json_errors',
                                  'json_connection_lost', 'json_two_devices', 'json_gateway_limits']);

// ------------------------------------------------------------------ helpers

class TestFailure extends Error {}
function expect(cond, message) {
  if (!cond) throw new TestFailure(message);
}
function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...args);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = 10000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new TestFailure(`timed out after ${timeoutMs} ms waiting for ${what}` +
                            (last instanceof Error ? ` (last error: ${last.message})` : ''));
    }
    await sleep(intervalMs);
  }
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['tandem', 'webroot', 'run']) {
    if (!args[k]) throw new Error(`missing --${k}`);
  }
  return args;
}

// Re-executes this script in a new network namespace with only loopback up.
function enterNamespace() {
  if (process.env[NETNS_MARK] === '1') {
    const up = spawnSync('ip', ['link', 'set', 'lo', 'up']);
    if (up.status !== 0) throw new Error(`ip link set lo up failed: ${up.stderr}`);
    // (/sys/class/net shows the host's interfaces: sysfs is not remounted.)
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    const ifaces = links.split('\n').filter(Boolean).map((l) => l.split(':')[1].trim().split('@')[0]);
    if (ifaces.length !== 1 || ifaces[0] !== 'lo') {
      throw new Error(`refusing to run: expected a loopback-only namespace, found ${ifaces}`);
    }
    return false;
  }
  if (process.getuid() !== 0) {
    console.error('the browser tests need root: they run in a private network namespace (unshare --net)');
    process.exit(1);
  }
  const r = spawnSync('unshare', ['--net', '--fork', '--kill-child', '--', process.execPath,
                                  fileURLToPath(import.meta.url), ...process.argv.slice(2)],
                      { stdio: 'inherit', env: { ...process.env, [NETNS_MARK]: '1' } });
  process.exit(r.status ?? 1);
}

// Every process started here, stopped by pid at the end.
const children = [];
function startProcess(name, cmd, args, logFile) {
  const out = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  child.exitCodePromise = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  child.logFile = logFile;
  child.label = name;
  children.push(child);
  return child;
}
async function stopProcess(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exitCodePromise, sleep(timeoutMs).then(() => 'timeout')]);
  if (done === 'timeout') child.kill('SIGKILL');
}
function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
}

// ------------------------------------------------------------------ tandem

class Tandem {
  // `tls`: also serve HTTPS/WSS on the web port, with a self-signed certificate.
  // `name`, `domain`, `ip`: another node (the federation tests run several);
  // `sip`: its SIP listeners; `extra`: more TOML lines.
  constructor(binary, dir, webroot, tls = false,
              { name = 'tandem', domain = DOMAIN, ip = TANDEM_IP, sip = null, extra = [] } = {}) {
    this.binary = binary;
    this.dir = dir;
    this.name = name;
    this.domain = domain;
    this.ip = ip;
    this.dataDir = path.join(dir, name === 'tandem' ? 'data' : `data-${name}`);
    this.config = path.join(dir, `${name}.toml`);
    const listen = (sip ?? [`udp:${ip}:${SIP_PORT}`]).map((l) => `"${l}"`).join(', ');
    const lines = [
      '[server]', `domain = "${domain}"`, `data_dir = "${this.dataDir}"`,
      '[sip]', `listen = [${listen}]`,
      '[http]', `listen = "${ip}:${HTTP_PORT}"`, `root = "${webroot}"`,
      '[auth]', `jwt_secret = "${JWT_SECRET}"`, ...extra];
    if (tls) {
      const cert = path.join(dir, 'cert.pem');
      const key = path.join(dir, 'key.pem');
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                                      '-keyout', key, '-out', cert, '-subj', `/CN=${DOMAIN}`,
                                      '-addext', `subjectAltName=IP:${TANDEM_IP},DNS:${DOMAIN}`],
                          { encoding: 'utf8', timeout: 60000 });
      expect(r.status === 0, `openssl failed: ${r.stderr}`);
      lines.push('[tls]', `cert = "${cert}"`, `key = "${key}"`);
      pageBase = `https://${TANDEM_IP}:${HTTP_PORT}`;
    }
    fs.writeFileSync(this.config, [...lines, ''].join('\n'));
  }
  run(args) {
    const r = spawnSync(this.binary, [...args, '--config', this.config], { encoding: 'utf8', timeout: 20000 });
    expect(r.status === 0, `tandem ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  }
  addUser(name) {
    this.run(['user', 'add', name, '--password', PASSWORDS[name]]);
  }
  mintToken(user, ttl = 600) {
    return this.run(['token', 'mint', user, '--ttl', String(ttl)]);
  }
  async start() {
    // One log per start: a restart (network_lost_and_back) keeps the first.
    this.starts = (this.starts ?? 0) + 1;
    this.proc = startProcess(this.name, this.binary,
                             ['serve', '--config', this.config, '--log-level', process.env.TANDEM_LOG_LEVEL || 'debug'],
                             path.join(this.dir, `${this.name}${this.starts > 1 ? this.starts : ''}.log`));
    await waitFor(`${this.name} to answer /healthz`, async () => {
      if (this.proc.exitCode !== null) {
        throw new TestFailure(`${this.name} exited with ${this.proc.exitCode}:\n${tail(this.proc.logFile)}`);
      }
      const r = await fetch(`http://${this.ip}:${HTTP_PORT}/healthz`);
      return r.ok;
    }, 15000);
    log(`${this.name} is up (${this.domain})`);
  }
  logText() {
    return fs.readFileSync(this.proc.logFile, 'utf8');
  }
  async stop() {
    await stopProcess(this.proc);
    log('tandem stopped');
  }
}

// ------------------------------------------------------------------ sipp

function sippScenario(dir, file, vars) {
  const src = fs.readFileSync(file, 'utf8');
  const text = src.replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in vars)) throw new Error(`${file}: no value for {{${k}}}`);
    return String(vars[k]);
  });
  const out = path.join(dir, `${path.basename(file, '.xml')}-${Object.values(vars).join('-').replace(/[^\w.-]/g, '_').slice(0, 60)}.xml`);
  fs.writeFileSync(out, text);
  return out;
}

// Starts sipp with a scenario; returns the child (await .exitCodePromise).
// `target`: the SIP server it talks to (default: the test's Tandem).
function startSipp(dir, name, scenario, vars, { port, user, authUri, extra = [], target = `${TANDEM_IP}:${SIP_PORT}` }) {
  const sf = sippScenario(dir, scenario, vars);
  const args = ['-sf', sf, target, '-i', SIPP_IP, '-p', String(port), '-m', '1',
                '-timeout', '30', '-timeout_error', '-trace_msg', '-message_file', path.join(dir, `${name}.msg`),
                '-trace_err', '-error_file', path.join(dir, `${name}.err`), '-nostdin', ...extra];
  if (user) args.push('-au', user, '-ap', PASSWORDS[user], '-auth_uri', authUri || DOMAIN);
  log(`sipp ${name}: ${scenario.split('/').pop()}`);
  const child = startProcess(`sipp-${name}`, 'sipp', args, path.join(dir, `${name}.log`));
  child.messageFile = path.join(dir, `${name}.msg`);
  return child;
}

async function sippDone(child, what, timeoutMs = 40000) {
  const code = await Promise.race([child.exitCodePromise, sleep(timeoutMs).then(() => 'timeout')]);
  if (code === 'timeout') {
    await stopProcess(child);
    throw new TestFailure(`${what}: sipp did not finish within ${timeoutMs} ms:\n${tail(child.messageFile, 60)}`);
  }
  expect(code === 0, `${what}: sipp exited with ${code}:\n${tail(child.logFile, 20)}\n--- messages:\n${tail(child.messageFile, 80)}`);
}

async function registerSipp(dir, user, port, { domain = DOMAIN, target } = {}) {
  const s = startSipp(dir, `register-${user}`, path.join(here, '../integration/scenarios/register.xml'),
                      { DOMAIN: domain, USER: user, CONTACT: `sip:${user}@${SIPP_IP}:${port}`, EXPIRES: 300 },
                      { port, user, authUri: domain, target });
  await sippDone(s, `registering ${user} from sipp`);
}

// ------------------------------------------------------------------ browser

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // Loopback is the only interface here: without this Chromium gathers no ICE
  // candidates. Playwright's own --disable-features list comes earlier and
  // Chromium honours only the last one, so this one names what matters.
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns,Translate,MediaRouter,OptimizationHints,' +
    'AutofillServerCommunication,CertificateTransparencyComponentUpdater,' +
    // Pages fulfilled by Playwright's router count as public: let them reach loopback.
    'LocalNetworkAccessChecks',
];

async function launchBrowser(dir) {
  const { chromium } = await import('playwright-core');
  const profile = path.join(dir, 'chromium-profile');
  fs.mkdirSync(path.join(profile, 'Default'), { recursive: true });
  fs.writeFileSync(path.join(profile, 'Default', 'Preferences'),
                   JSON.stringify({ alternate_error_pages: { enabled: false } }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, permissions: ['microphone'],
    ignoreHTTPSErrors: true,  // the wss test's self-signed certificate
    viewport: { width: 1000, height: 800 },
    // Screenshots for the docs: phone-sharp.
    deviceScaleFactor: process.env.TANDEM_SCREENSHOTS ? 2 : 1,
  });
  return context;
}

// A page of the web phone, with its console collected for failure reports.
// `base`: another node's web server; `query`: e.g. '?protocol=json'.
async function openPhone(context, name, fragment = '', { base = pageBase, query = '' } = {}) {
  const page = await context.newPage();
  if (process.env.TANDEM_JSSIP_DEBUG) {
    await page.addInitScript(() => localStorage.setItem('debug', 'JsSIP:*'));
  }
  page.label = name;
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`${base}/${query}${fragment}`);
  return page;
}

async function state(page) {
  return page.evaluate(() => document.body.dataset.state);
}

async function waitState(page, want, timeoutMs = 15000) {
  const wanted = Array.isArray(want) ? want : [want];
  try {
    await waitFor(`${page.label} to be ${wanted.join('/')}`, async () => wanted.includes(await state(page)), timeoutMs);
  } catch (e) {
    const msg = await page.evaluate(() => document.querySelector('#message')?.textContent ?? '');
    throw new TestFailure(`${e.message}; it is '${await state(page)}', message '${msg}'\n` +
                          page.consoleLines.slice(-15).join('\n'));
  }
}

// Signs in through the form; `protocol` picks the signaling ('sip' for JsSIP,
// 'json' for tandem.v1) in the form's selector.
async function login(page, user, password, { protocol } = {}) {
  if (protocol) await page.selectOption('#protocol', protocol);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#sign-in');
  await waitState(page, 'registered');
  const status = await page.textContent('#reg-status');
  expect(status.includes(user), `${page.label}: registration status '${status}' does not name ${user}`);
  if (protocol) {
    expect(status.includes('(JSON)') === (protocol === 'json'),
           `${page.label}: registration status '${status}' does not show the ${protocol} signaling`);
  }
  log(`${page.label} registered as ${user}`);
}

async function dial(page, target) {
  await page.fill('#dial-input', target);
  await page.click('#call-button');
}

// One sample of Tandem's /metrics, e.g. metric('tandem_sip_dialogs') or
// metric('tandem_sip_requests_received_total{method="INVITE"}').
// One series of a Tandem's /metrics (the default node's unless `ip` is given).
async function metric(series, ip = TANDEM_IP) {
  const text = await (await fetch(`http://${ip}:${HTTP_PORT}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  expect(line, `${ip}'s /metrics has no series ${series}`);
  return Number(line.slice(series.length + 1));
}

async function messageText(page) {
  return (await page.textContent('#message')) ?? '';
}

async function waitMessage(page, fragment, timeoutMs = 15000) {
  await waitFor(`${page.label} to say '${fragment}'`, async () => (await messageText(page)).includes(fragment), timeoutMs)
    .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(page)}'`); });
}

// With TANDEM_SCREENSHOTS=DIR, saves the phone's card as DIR/NAME.png (for
// the docs: docs/images/webphone.png is json_phone's 'in-call').
async function snap(page, name) {
  const dir = process.env.TANDEM_SCREENSHOTS;
  if (!dir) return;
  await sleep(600);  // let the level meters move
  await page.locator('main.card').screenshot({ path: path.join(dir, `${name}.png`) });
}

// Opens the in-call keypad and presses `digits`, one by one.
async function pressKeys(page, digits) {
  if ((await page.getAttribute('#keypad-toggle', 'aria-pressed')) !== 'true') await page.click('#keypad-toggle');
  for (const d of digits) {
    await page.click(`#keypad [data-digit="${d}"]`);
    await sleep(250);  // JsSIP sends one INFO per tone: keep them in order
  }
  const sent = await page.textContent('#dtmf-sent');
  expect(sent.endsWith(digits), `${page.label}'s keypad shows '${sent}' sent, not ${digits}`);
}

// Sends a text message through the page's message form, to `to`.
async function sendText(page, to, text) {
  await page.fill('#dial-input', to);
  await page.fill('#text-input', text);
  await page.click('#text-send');
  await waitFor(`${page.label}'s message to ${to} to be sent`, () => page.evaluate(
    (t) => [...document.querySelectorAll('#texts li[data-dir="out"]')].some((li) => li.textContent.includes(t)), text))
    .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(page)}'`); });
}

// Waits until the page shows a received text message containing `text` from `from`.
async function receivedText(page, from, text) {
  const shown = await waitFor(`${page.label} to show the message '${text}'`, () => page.evaluate(
    (t) => [...document.querySelectorAll('#texts li[data-dir="in"]')].map((li) => li.textContent).find((x) => x.includes(t)),
    text));
  expect(shown.includes(from), `${page.label} shows the message as '${shown}', not from ${from}`);
}

// inbound-rtp audio packetsReceived of the page's current call.
async function packetsReceived(page) {
  return page.evaluate(async () => {
    const pc = window.tandemPhone?.peerConnection;
    if (!pc) return -1;
    let n = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived;
    });
    return n;
  });
}

// Audio must flow and keep flowing into `page`: ~50 packets/s from the fake
// microphone; asserted as growth over a window, not a single value.
async function expectAudioFlowing(page) {
  await waitFor(`${page.label} to receive audio packets`, async () => (await packetsReceived(page)) > 0, 10000);
  const first = await packetsReceived(page);
  await sleep(3000);
  const second = await packetsReceived(page);
  log(`${page.label}: inbound audio packets ${first} -> ${second} in 3 s`);
  expect(second - first >= 50, `${page.label}: inbound audio packets grew only from ${first} to ${second} in 3 s`);
}

// Audio into `page` has stopped: at most a few stragglers in 2 s (on hold).
async function expectAudioStopped(page) {
  await sleep(500);  // what was in flight
  const first = await packetsReceived(page);
  await sleep(2000);
  const second = await packetsReceived(page);
  log(`${page.label}: inbound audio packets ${first} -> ${second} in 2 s (on hold)`);
  expect(second - first <= 5, `${page.label} still receives audio on hold: ${first} -> ${second} in 2 s`);
}

async function waitCallStatus(page, text) {
  await waitFor(`${page.label}'s call status to be '${text}'`,
                async () => (await page.textContent('#call-status')) === text, 10000)
    .catch(async (e) => { throw new TestFailure(`${e.message}; it is '${await page.textContent('#call-status')}'`); });
}

// ------------------------------------------------------------------ tests

// Two web phones sign in as alice and bob through the UI; alice calls bob,
// bob sees her on the incoming screen and accepts; alice is in the call.
async function aliceCallsBob(context) {
  const alice = await openPhone(context, 'alice');
  const bob = await openPhone(context, 'bob');
  await login(alice, 'alice', PASSWORDS.alice);
  await login(bob, 'bob', PASSWORDS.bob);
  await dial(alice, 'bob');
  await waitState(bob, 'ringing-in');
  const caller = await bob.textContent('#incoming');
  expect(caller.includes('alice'), `bob's incoming call does not name alice: '${caller}'`);
  await bob.click('#accept');
  await waitState(alice, 'in-call');
  return { alice, bob };
}

// `caller` dials `target`; `callee` rings (showing `shownAs`) and accepts;
// audio flows both ways; `hangsUp` (one of the two) ends it, both sides end.
async function callWithAudio(caller, callee, target, shownAs, hangsUp) {
  await dial(caller, target);
  await waitState(callee, 'ringing-in');
  const incoming = await callee.textContent('#incoming');
  expect(incoming.includes(shownAs), `${callee.label}'s incoming call does not show ${shownAs}: '${incoming}'`);
  await callee.click('#accept');
  await waitState(caller, 'in-call');
  await waitState(callee, 'in-call');
  await expectAudioFlowing(caller);
  await expectAudioFlowing(callee);
  await hangsUp.click('#hangup');
  await waitState(caller, 'registered');
  await waitState(callee, 'registered');
}

async function networkLostAndBack(context, tandem, protocol) {
  const alice = await openPhone(context, 'alice');
  await login(alice, 'alice', PASSWORDS.alice, { protocol });
  await tandem.stop();
  await waitFor('the network-lost message', async () => (await messageText(alice)).includes('Network lost'), 15000)
    .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(alice)}'`); });
  log(`alice says: ${await messageText(alice)}`);
  await tandem.start();
  await waitState(alice, 'registered', 40000);
  log('alice registered again after the restart');
  const bob = await openPhone(context, 'bob');
  await login(bob, 'bob', PASSWORDS.bob, { protocol: 'sip' });
  await dial(alice, 'bob');
  await waitState(bob, 'ringing-in');
  await bob.click('#decline');
  await waitState(alice, 'registered');
}

// desk (a sipp UAS with a WebRTC answer) registers; alice's web phone calls it
// and is in the call.
async function aliceCallsDesk(context, dir) {
  await registerSipp(dir, 'desk', 5070);
  const uas = startSipp(dir, 'desk-uas', path.join(here, 'scenarios/uas_webrtc.xml'),
                        { CONTACT: `sip:desk@${SIPP_IP}:5070` }, { port: 5070 });
  await sleep(300);
  const alice = await openPhone(context, 'alice');
  await login(alice, 'alice', PASSWORDS.alice);
  await dial(alice, 'desk');
  await waitState(alice, 'in-call');
  await sleep(500);
  return { uas, alice };
}

const tests = {
  // Two web phones log in as alice and bob; alice calls bob, bob accepts,
  // audio flows both ways, alice hangs up and both sides end.
  async call({ context }) {
    const { alice, bob } = await aliceCallsBob(context);
    await waitState(bob, 'in-call');
    await expectAudioFlowing(alice);
    await expectAudioFlowing(bob);
    // What /metrics says of this: two browsers registered, one call up.
    expect(await metric('tandem_sip_registrations') === 2, 'tandem_sip_registrations is not 2');
    expect(await metric('tandem_sip_dialogs') === 1, 'tandem_sip_dialogs is not 1 during the call');
    // One INVITE: alice's connection authenticated at REGISTER, so no 407.
    expect(await metric('tandem_sip_requests_received_total{method="INVITE"}') === 1,
           'not exactly one INVITE counted');
    expect(await metric('tandem_websocket_connections') === 2, 'tandem_websocket_connections is not 2');
    const timer = await alice.textContent('#call-timer');
    expect(/^\d+:\d\d/.test(timer.trim()) && timer.trim() !== '0:00' && timer.trim() !== '00:00',
           `alice's call timer does not run: '${timer}'`);
    await alice.click('#hangup');
    await waitState(alice, 'registered');
    await waitState(bob, 'registered');
    await waitFor('tandem_sip_dialogs to drop to 0', async () => (await metric('tandem_sip_dialogs')) === 0);
    log('both sides ended the call');
  },

  // JsSIP's session timer (RFC 4028, Session-Expires 90 s, refreshed by an
  // UPDATE after half of it) passes through Tandem unmodified: the call is
  // still up after the refresh, on both sides.
  async session_timer_refresh({ context }) {
    const { alice, bob } = await aliceCallsBob(context);
    await waitFor('the session refresh (an UPDATE through Tandem)',
                  async () => (await metric('tandem_sip_requests_received_total{method="UPDATE"}')) >= 1,
                  60000, 1000);
    const updateOk = await metric('tandem_sip_responses_received_total{class="2xx"}');
    log(`UPDATE relayed; 2xx responses so far: ${updateOk}`);
    await sleep(2000);
    expect((await state(alice)) === 'in-call' && (await state(bob)) === 'in-call',
           `the call did not survive its session refresh: alice '${await state(alice)}', bob '${await state(bob)}'`);
    await expectAudioFlowing(bob);
    await alice.click('#hangup');
    await waitState(bob, 'registered');
  },

  // bob is in a call with alice; carol's call to him gets 486 from his
  // phone and her page says he is busy.
  async busy({ context }) {
    const { alice, bob } = await aliceCallsBob(context);
    const carol = await openPhone(context, 'carol');
    await login(carol, 'carol', PASSWORDS.carol);
    await dial(carol, 'bob');
    await waitFor('the busy message', async () => (await messageText(carol)).includes('busy'), 15000)
      .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(carol)}'`); });
    await waitState(carol, 'registered');
    expect((await state(alice)) === 'in-call' && (await state(bob)) === 'in-call',
           'the call between alice and bob did not survive carol\'s attempt');
  },

  // Tandem restarts under a signed-in page: it says the network is lost,
  // reconnects by itself and registers again; then a call works.
  async network_lost_and_back({ context, tandem }) {
    await networkLostAndBack(context, tandem, 'sip');
  },

  // The same with the web phone in JSON mode: it reconnects and logs in again.
  async json_network_lost_and_back({ context, tandem }) {
    await networkLostAndBack(context, tandem, 'json');
  },

  // The same call over HTTPS and WSS (a self-signed certificate): the web
  // phone takes wss:// from /api/config, Tandem sees WSS connections.
  async wss_call({ context, tandem }) {
    const { alice, bob } = await aliceCallsBob(context);
    const url = await alice.evaluate(() => location.href);
    expect(url.startsWith('https://'), `the page is not on https: ${url}`);
    await waitState(bob, 'in-call');
    await expectAudioFlowing(bob);
    await bob.click('#hangup');
    await waitState(alice, 'registered');
    expect(/WSS connection \d+ from/.test(tandem.logText()), 'Tandem logged no WSS connection');
    expect(!/ WS connection \d+ from/.test(tandem.logText()), 'a browser connected over plain WS');
  },

  async wrong_password({ context }) {
    const page = await openPhone(context, 'alice');
    await page.fill('#user', 'alice');
    await page.fill('#password', 'not-the-password');
    await page.click('#sign-in');
    await waitFor('the wrong-password message', async () => (await messageText(page)).includes('Wrong user name or password'), 15000)
      .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(page)}'`); });
    expect((await state(page)) !== 'registered', 'alice is registered with a wrong password');
  },

  // carol exists but has no registration: 480, "not available".
  async offline_user({ context }) {
    const alice = await openPhone(context, 'alice');
    await login(alice, 'alice', PASSWORDS.alice);
    await dial(alice, 'carol');
    await waitFor('the not-available message', async () => (await messageText(alice)).includes('not available'), 15000)
      .catch(async (e) => { throw new TestFailure(`${e.message}; message is '${await messageText(alice)}'`); });
    await waitState(alice, 'registered');
  },

  // The web phone logs in with a token in the URL fragment (no password) and
  // calls bob: REGISTER and INVITE pass on the bearer token / connection.
  async token_login({ context, tandem }) {
    const token = tandem.mintToken('alice');
    const alice = await openPhone(context, 'alice', `#token=${token}`);
    await waitState(alice, 'registered');
    const bob = await openPhone(context, 'bob');
    await login(bob, 'bob', PASSWORDS.bob);
    await dial(alice, 'bob');
    await waitState(bob, 'ringing-in');
    await bob.click('#accept');
    await waitState(alice, 'in-call');
    await waitState(bob, 'in-call');
    await bob.click('#hangup');
    await waitState(alice, 'registered');

    // The same token kind logs the JSON mode in (tandem.v1 `login` with a token).
    const carol = await openPhone(context, 'carol', `#token=${tandem.mintToken('carol')}`,
                                  { query: '?protocol=json' });
    await waitState(carol, 'registered');
    const status = await carol.textContent('#reg-status');
    expect(status.includes('carol@') && status.includes('(JSON)'), `carol's JSON token login shows '${status}'`);
    await dial(carol, 'bob');
    await waitState(bob, 'ringing-in');
    await bob.click('#decline');
    await waitState(carol, 'registered');
    await waitMessage(carol, 'declined');
  },

  // WS -> UDP: the web phone calls a sipp UAS registered as desk.
  async browser_calls_sipp({ context, dir }) {
    const { uas, alice } = await aliceCallsDesk(context, dir);
    await alice.click('#hangup');
    await waitState(alice, 'registered');
    await sippDone(uas, 'desk answering the browser');
  },

  // The browser's tab crashes mid-call (its WebSocket drops, no BYE from it):
  // Tandem ends the call with a BYE to the sipp phone in the browser's name.
  async browser_vanishes_mid_call({ context, dir, tandem }) {
    const { uas, alice } = await aliceCallsDesk(context, dir);
    const cdp = await context.newCDPSession(alice);
    cdp.send('Page.crash').catch(() => { /* the renderer is gone before it answers */ });
    log('alice\'s tab crashed');
    await sippDone(uas, 'desk receiving the BYE for the vanished browser');
    expect(/caller left \(connection closed\), BYE to sip:desk@/.test(tandem.logText()),
           'Tandem\'s log does not say it sent the BYE for the vanished caller');
  },

  // UDP -> WS: a sipp UAC (desk) calls the web phone; it answers.
  async sipp_calls_browser({ context, dir }) {
    const bob = await openPhone(context, 'bob');
    await login(bob, 'bob', PASSWORDS.bob);
    const uac = startSipp(dir, 'desk-uac', path.join(here, 'scenarios/uac_webrtc.xml'),
                          { DOMAIN, CALLER: 'desk', CALLEE: 'bob', HOLD_MS: 1500 },
                          { port: 5071, user: 'desk', authUri: `bob@${DOMAIN}` });
    await waitState(bob, 'ringing-in');
    await bob.click('#accept');
    await waitState(bob, 'in-call');
    await sippDone(uac, 'desk calling the browser');
    await waitState(bob, 'registered');
  },

  // A foreign SIP domain that is not Tandem: Kamailio serves c.test (with
  // digest auth, RFC 3263 through dnsmasq on port 53, Record-Route). carol, a
  // sipp phone registered at Kamailio, calls alice@a.test, whose JSON web
  // phone rings and answers; carol hangs up. Then alice calls carol@c.test
  // (a sipp UAS) from the browser and hangs up; dave@c.test does not exist.
  async federation_kamailio({ context, args, dir }) {
    startDns53(dir, startProcess);  // a.test, b.test and c.test on 127.0.0.1:53
    const { a } = await startDomains(args, dir, { dnsPort: 53 });
    await startKamailio(dir, startProcess, { users: { carol: PASSWORDS.carol } });
    log('kamailio is up (c.test)');
    const kamailio = `${C_TEST.ip}:${C_TEST.port}`;
    await registerSipp(dir, 'carol', 5070, { domain: C_TEST.domain, target: kamailio });
    const alice = await openPhone(context, 'alice', '', { base: `http://${a.ip}:${HTTP_PORT}` });
    await login(alice, 'alice', PASSWORDS.alice, { protocol: 'json' });

    // c.test -> a.test: Kamailio challenges carol (407), resolves a.test by
    // NAPTR/SRV/A and relays; alice's browser rings.
    const uac = startSipp(dir, 'carol-uac', path.join(here, 'kamailio/uac_federated.xml'),
                          { CALLER: 'carol', CALLER_DOMAIN: C_TEST.domain, CALLEE: 'alice', CALLEE_DOMAIN: 'a.test',
                            HOLD_MS: 1500 },
                          { port: 5070, user: 'carol', authUri: 'alice@a.test', target: kamailio });
    await waitState(alice, 'ringing-in', 20000);
    const caller = await alice.textContent('#incoming');
    expect(caller.includes('carol@c.test'), `alice's incoming call does not show carol@c.test: '${caller}'`);
    await alice.click('#accept');
    await waitState(alice, 'in-call');
    await sippDone(uac, 'carol@c.test calling alice@a.test through Kamailio');
    await waitState(alice, 'registered');
    await waitMessage(alice, 'hung up');
    // The BYE came along the route set: through Kamailio, then a.test.
    const trace = fs.readFileSync(uac.messageFile, 'utf8');
    expect(/BYE sip:[^\r\n]*\r\n(?:[^\r\n]+\r\n)*Route: <sip:127\.0\.0\.4[;:][^\r\n]*127\.0\.0\.2/.test(trace),
           'carol\'s BYE did not follow the Record-Route through Kamailio and a.test');

    // a.test -> c.test: Tandem resolves c.test (NAPTR: UDP first) to Kamailio.
    const uas = startSipp(dir, 'carol-uas', path.join(here, 'scenarios/uas_webrtc.xml'),
                          { CONTACT: `sip:carol@${SIPP_IP}:5070` }, { port: 5070, target: kamailio });
    await sleep(300);
    await dial(alice, 'carol@c.test');
    await waitState(alice, 'in-call', 20000);
    await sleep(500);
    await alice.click('#hangup');
    await waitState(alice, 'registered');
    await sippDone(uas, 'carol@c.test answering alice@a.test');
    expect(/c\.test: \d+ target\(s\), first UDP 127\.0\.0\.4:5060/.test(a.logText()),
           'a.test did not find c.test by DNS (NAPTR/SRV/A)');

    // An unknown user at c.test: Kamailio's 404 reaches the browser.
    await dial(alice, 'dave@c.test');
    await waitMessage(alice, 'not available');
    await waitState(alice, 'registered');
  },

  // A late offer (INVITE without SDP, as some desk phones and PBXs send) to the
  // web phone in JSON mode: it answers with an offer in the 200, the sipp
  // caller's answer comes back in the ACK and is applied; BYE ends it.
  async late_offer_json_phone({ context, dir }) {
    const bob = await openPhone(context, 'bob', '', { query: '?protocol=json' });
    await login(bob, 'bob', PASSWORDS.bob);
    const uac = startSipp(dir, 'desk-uac', path.join(here, 'scenarios/uac_late_offer.xml'),
                          { DOMAIN, CALLER: 'desk', CALLEE: 'bob', HOLD_MS: 2000 },
                          { port: 5071, user: 'desk', authUri: `bob@${DOMAIN}` });
    await waitState(bob, 'ringing-in');
    await bob.click('#accept');
    await waitState(bob, 'in-call');
    await waitFor('bob to apply the answer from the ACK', () => bob.evaluate(() => {
      const pc = window.tandemPhone.peerConnection;
      return pc && pc.signalingState === 'stable' && pc.remoteDescription?.type === 'answer' &&
             pc.remoteDescription.sdp.includes('ice-ufrag:sippdesk');
    }));
    await sippDone(uac, 'desk calling the JSON web phone with a late offer');
    await waitState(bob, 'registered');
    await waitMessage(bob, 'hung up');
  },

  // A SIP.js page registers (as carol) and calls the JsSIP web phone (bob).
  async sipjs_calls_jssip({ context }) {
    await sipJsCallsBob(context, { password: PASSWORDS.carol });
  },

  // The same with a bearer token instead of carol's password.
  async sipjs_token({ context, tandem }) {
    await sipJsCallsBob(context, { token: tandem.mintToken('carol') });
  },

  // The web phone in JSON mode (tandem.v1, the gateway is its SIP user agent)
  // and the web phone in SIP mode (JsSIP) on one node: calls both ways with
  // audio, mute, hang-up from either side, text messages both ways, a busy
  // JSON phone, an offline user, and a wrong password in JSON mode.
  async json_phone({ context }) {
    const wrong = await openPhone(context, 'wrong');
    await wrong.selectOption('#protocol', 'json');
    await wrong.fill('#user', 'alice');
    await wrong.fill('#password', 'not-the-password');
    await wrong.click('#sign-in');
    await waitMessage(wrong, 'Wrong user name or password');
    expect((await state(wrong)) === 'login', `a wrong password left the JSON phone in '${await state(wrong)}'`);
    await wrong.close();

    const alice = await openPhone(context, 'alice');
    const bob = await openPhone(context, 'bob');
    await login(alice, 'alice', PASSWORDS.alice, { protocol: 'json' });
    await login(bob, 'bob', PASSWORDS.bob, { protocol: 'sip' });
    expect(await metric('tandem_gateway_sessions') === 1, 'tandem_gateway_sessions is not 1');

    // JSON -> JsSIP.
    await dial(alice, 'bob');
    await waitState(bob, 'ringing-in');
    expect((await bob.textContent('#incoming')).includes('alice'), 'bob\'s incoming call does not name alice');
    await bob.click('#accept');
    await waitState(alice, 'in-call');
    await waitState(bob, 'in-call');
    expect(await metric('tandem_gateway_calls') === 1, 'tandem_gateway_calls is not 1 during the call');
    await expectAudioFlowing(alice);
    await expectAudioFlowing(bob);
    await snap(alice, 'in-call');
    // Mute on the JSON phone: its microphone track is disabled.
    await alice.click('#mute');
    expect(await alice.evaluate(() => window.tandemPhone.phone.localAudioTrack()?.enabled === false),
           'mute did not disable alice\'s microphone track');
    await alice.click('#mute');
    // DTMF both ways through the keypads: SIP INFO (dtmf-relay) from JsSIP,
    // `dtmf` requests and `call.dtmf` notifications on the JSON side.
    await pressKeys(alice, '12#');
    await pressKeys(bob, '5*');
    await waitFor('bob to receive 12#', async () => (await bob.textContent('#dtmf-received')) === '12#');
    await waitFor('alice to receive 5*', async () => (await alice.textContent('#dtmf-received')) === '5*');

    await bob.click('#hangup');
    await waitState(alice, 'registered');
    await waitMessage(alice, 'hung up');
    await waitState(bob, 'registered');

    // JsSIP -> JSON, hung up by the JSON side.
    await dial(bob, 'alice');
    await waitState(alice, 'ringing-in');
    expect((await alice.textContent('#incoming')).includes('bob'), 'alice\'s incoming call does not name bob');
    await alice.click('#accept');
    await waitState(bob, 'in-call');
    await waitState(alice, 'in-call');
    await expectAudioFlowing(alice);
    await expectAudioFlowing(bob);

    // Hold and resume from the JSON side (a re-INVITE through the gateway:
    // `hold`/`resume`), then from the JsSIP side (a re-INVITE the gateway hands
    // to the JSON phone as call.offer). The held side stops sending.
    await alice.click('#hold');
    await waitCallStatus(alice, 'On hold');
    await waitCallStatus(bob, 'On hold by alice');
    await expectAudioStopped(alice);
    await alice.click('#hold');
    await waitCallStatus(alice, 'In call');
    await waitCallStatus(bob, 'In call');
    await expectAudioFlowing(alice);
    await bob.click('#hold');
    await waitCallStatus(bob, 'On hold');
    await waitCallStatus(alice, 'On hold by bob');
    await expectAudioStopped(bob);
    await bob.click('#hold');
    await waitCallStatus(alice, 'In call');
    await expectAudioFlowing(bob);

    // carol calls alice, who is busy: the JSON phone answers 486.
    const carol = await openPhone(context, 'carol');
    await login(carol, 'carol', PASSWORDS.carol);
    await dial(carol, 'alice');
    await waitMessage(carol, 'busy');
    expect((await state(alice)) === 'in-call', 'alice\'s call did not survive carol\'s attempt');
    await carol.close();

    await alice.click('#hangup');
    await waitState(bob, 'registered');
    await waitState(alice, 'registered');
    await waitFor('tandem_gateway_calls to drop to 0', async () => (await metric('tandem_gateway_calls')) === 0);

    // Text messages both ways.
    await sendText(alice, 'bob', 'hello bob, from JSON');
    await receivedText(bob, 'alice', 'hello bob, from JSON');
    await sendText(bob, 'alice', 'hi alice, from JsSIP');
    await receivedText(alice, 'bob', 'hi alice, from JsSIP');

    // An offline user, from the JSON phone.
    await dial(alice, 'desk');
    await waitMessage(alice, 'not available');
    await waitState(alice, 'registered');

    // Signing out closes the connection: the gateway's session goes.
    await alice.click('#sign-out');
    await waitFor('tandem_gateway_sessions to drop to 0', async () => (await metric('tandem_gateway_sessions')) === 0);
  },

  // Federation with real browsers: a JSON-protocol web phone alice@a.test and a
  // JsSIP web phone bob@b.test, on two Tandems that find each other through
  // dnsmasq. alice calls bob and bob calls alice; audio flows both ways each
  // time; each side hangs up once; text messages cross both ways.
  async federation_browsers({ context, args, dir }) {
    const { a, b } = await startDomains(args, dir);
    const alice = await openPhone(context, 'alice', '', { base: `http://${a.ip}:${HTTP_PORT}` });
    const bob = await openPhone(context, 'bob', '', { base: `http://${b.ip}:${HTTP_PORT}`, query: '?protocol=sip' });
    await login(alice, 'alice', PASSWORDS.alice, { protocol: 'json' });
    await login(bob, 'bob', PASSWORDS.bob, { protocol: 'sip' });

    await callWithAudio(alice, bob, 'bob@b.test', 'alice@a.test', bob);
    log('a.test -> b.test: done');
    await callWithAudio(bob, alice, 'alice@a.test', 'bob@b.test', alice);
    log('b.test -> a.test: done');

    await sendText(alice, 'bob@b.test', 'hello from a.test');
    await receivedText(bob, 'alice@a.test', 'hello from a.test');
    await sendText(bob, 'alice@a.test', 'hello from b.test');
    await receivedText(alice, 'bob@b.test', 'hello from b.test');
  },

};

// bob signs in on the web phone; a SIP.js page registers as carol (with a
// password or a token) and calls him; he accepts; audio flows both ways; the
// SIP.js side hangs up.
// ------------------------------------------------------------------ site protocol

// A tandem.v1 connection, logged in as `user` (with a password, or `token`),
// to the default node or to `node`.
async function jsonLogin(user, { token, node } = {}) {
  const ip = node ? node.ip : TANDEM_IP;
  const domain = node ? node.domain : DOMAIN;
  const client = await new JsonClient(`ws://${ip}:${HTTP_PORT}/ws`,
                                      { name: user, log: !!process.env.TANDEM_JSON_LOG }).open();
  const result = await client.call('login', token ? { token } : { user, password: PASSWORDS[user] });
  expect(result.user === user && result.aor === `sip:${user}@${domain}`,
         `login of ${user} answered ${JSON.stringify(result)}`);
  return client;
}

// dnsmasq on 127.0.0.1:5353 serving the federation tests' domains: a.test
// prefers UDP, b.test TCP (NAPTR order), both through SRV to A records;
// other names under .test do not exist (NXDOMAIN).
const DNS_PORT = 5353;
function startDns(dir) {
  return startDns53(dir, startProcess, { port: DNS_PORT, records: A_B_TEST_DNS });
}

// Two domains, each its own Tandem, finding each other through dnsmasq.
// `dnsPort`: where their DNS server is (startDns() is started on DNS_PORT,
// unless another port is given: then the caller starts one there).
async function startDomains(args, dir, { dnsPort = DNS_PORT } = {}) {
  if (dnsPort === DNS_PORT) startDns(dir);
  const federation = ['[federation]', `dns_servers = ["127.0.0.1:${dnsPort}"]`];
  const a = new Tandem(path.resolve(args.tandem), dir, path.resolve(args.webroot), false,
                       { name: 'a', domain: 'a.test', ip: '127.0.0.2', extra: federation,
                         sip: ['udp:127.0.0.2:5060', 'tcp:127.0.0.2:5060'] });
  const b = new Tandem(path.resolve(args.tandem), dir, path.resolve(args.webroot), false,
                       { name: 'b', domain: 'b.test', ip: '127.0.0.3', extra: federation,
                         sip: ['udp:127.0.0.3:5060', 'tcp:127.0.0.3:5060'] });
  a.addUser('alice');
  b.addUser('bob');
  await a.start();
  await b.start();
  return { a, b };
}

// The error a request gets; fails when it succeeds.
async function rpcError(client, method, params) {
  const r = await client.rpc(method, params);
  expect(r.error, `${method} ${JSON.stringify(params).slice(0, 80)} did not fail: ${JSON.stringify(r)}`);
  return r.error;
}

const jsonTests = {
  // Federation: JSON alice@a.test and JSON bob@b.test on two Tandems that find
  // each other by NAPTR/SRV/A in dnsmasq. Calls both ways, a text message,
  // an unknown domain (404) and a refused relay.
  async federation_json({ args, dir }) {
    const { a, b } = await startDomains(args, dir);
    const alice = await jsonLogin('alice', { node: a });
    const bob = await jsonLogin('bob', { node: b });

    const { call } = await alice.call('call', { to: 'bob@b.test', sdp: fakeSdp(6000) });
    const incoming = await bob.next('call.incoming');
    expect(incoming.params.from === 'sip:alice@a.test', `bob sees the call from ${incoming.params.from}`);
    await bob.call('answer', { call: incoming.params.call, sdp: fakeSdp(7000) });
    const answered = await alice.next('call.answered');
    expect(answered.params.sdp.includes('m=audio 7000'), 'alice did not get bob\'s answer');
    await bob.call('hangup', { call: incoming.params.call });
    const ended = await alice.next('call.ended');
    expect(ended.params.call === call && ended.params.by === 'remote', `alice: ${JSON.stringify(ended.params)}`);
    // b.test prefers TCP (NAPTR order 10): a's Tandem reached it over TCP,
    // after its first SRV target (gone.b.test, 127.0.0.5) refused (RFC 3263 §4.3).
    expect(/TCP connection \d+ connecting to 127\.0\.0\.3:5060/.test(a.logText()),
           'a.test did not reach b.test over TCP as its NAPTR records prefer');
    expect(/INVITE for sip:bob@b\.test: trying the next target, TCP 127\.0\.0\.3:5060/.test(a.logText()),
           'a.test did not fail over from gone.b.test to sip.b.test');

    // The other way round, and hung up by the caller.
    const back = await bob.call('call', { to: 'sip:alice@a.test', sdp: fakeSdp(7100) });
    const ringing = await alice.next('call.incoming');
    expect(ringing.params.from === 'sip:bob@b.test', `alice sees the call from ${ringing.params.from}`);
    await alice.call('answer', { call: ringing.params.call, sdp: fakeSdp(6100) });
    await bob.next('call.answered');
    await bob.call('hangup', { call: back.call });
    const over = await alice.next('call.ended');
    expect(over.params.by === 'remote', `alice: ${JSON.stringify(over.params)}`);

    const sent = await alice.call('message', { to: 'bob@b.test', text: 'hello from a.test' });
    expect(sent.status === 200, `message status ${sent.status}`);
    const msg = await bob.next('message');
    expect(msg.params.text === 'hello from a.test' && msg.params.from === 'sip:alice@a.test',
           `bob got ${JSON.stringify(msg.params)}`);

    // A domain that does not exist: 404, at once.
    const nowhere = await alice.call('call', { to: 'someone@nowhere.test', sdp: fakeSdp() });
    const lost = await alice.next((m) => m.method === 'call.ended' && m.params.call === nowhere.call);
    expect(lost.params.status === 404 && lost.params.reason === 'not_found', `nowhere.test: ${JSON.stringify(lost.params)}`);
    // a.test's /metrics: two requests for b.test routed by DNS (INVITE, MESSAGE), one not found.
    const aMetric = (series) => metric(series, a.ip);
    expect(await aMetric('tandem_federation_routes_total{result="dns"}') === 2 &&
           await aMetric('tandem_federation_routes_total{result="not_found"}') === 1,
           'tandem_federation_routes_total does not count the routes of a.test');
    expect(await aMetric('tandem_dns_cached_answers') === 0, 'TTL-0 answers were cached');
    alice.close();
    bob.close();
  },


  // JSON alice calls JSON bob through the gateway: ringing, answer, a re-INVITE
  // (hold) answered by bob's client, DTMF, a text message, hang-up.
  async json_call() {
    const alice = await jsonLogin('alice');
    const bob = await jsonLogin('bob');
    const { call } = await alice.call('call', { to: 'bob', sdp: fakeSdp(6000) });
    const incoming = await bob.next('call.incoming');
    expect(incoming.params.from === `sip:alice@${DOMAIN}`, `incoming from ${incoming.params.from}`);
    expect(incoming.params.sdp.includes('m=audio 6000'), 'bob did not get alice\'s offer');
    const ringing = await alice.next('call.progress');
    expect(ringing.params.status === 180, `progress ${JSON.stringify(ringing.params)}`);
    await bob.call('answer', { call: incoming.params.call, sdp: fakeSdp(7000) });
    const answered = await alice.next('call.answered');
    expect(answered.params.call === call && answered.params.sdp.includes('m=audio 7000'),
           `answered ${JSON.stringify(answered.params)}`);
    expect(await metric('tandem_gateway_calls') === 2, 'the gateway does not count two call legs');

    bob.onRequest = (method, params) => {
      expect(method === 'call.offer' && params.sdp.includes('a=sendonly'), `bob got ${method}`);
      return { sdp: fakeSdp(7000, 2).replace('a=sendrecv', 'a=recvonly') };
    };
    const held = await alice.call('hold', { call, sdp: fakeSdp(6000, 2).replace('a=sendrecv', 'a=sendonly') });
    expect(held.sdp.includes('a=recvonly'), `hold answered ${held.sdp}`);

    await alice.call('dtmf', { call, digits: '4#' });
    const d1 = await bob.next('call.dtmf');
    const d2 = await bob.next('call.dtmf');
    expect(d1.params.digit === '4' && d2.params.digit === '#', `dtmf ${d1.params.digit}${d2.params.digit}`);

    const sent = await alice.call('message', { to: 'bob', text: 'hello bob' });
    expect(sent.status === 200, `message status ${sent.status}`);
    const msg = await bob.next('message');
    expect(msg.params.text === 'hello bob' && msg.params.from === `sip:alice@${DOMAIN}`,
           `bob got ${JSON.stringify(msg.params)}`);

    await alice.call('hangup', { call });
    const mine = await alice.next('call.ended');
    const theirs = await bob.next('call.ended');
    expect(mine.params.by === 'local' && theirs.params.by === 'remote' && theirs.params.reason === 'hangup',
           `ended ${JSON.stringify(mine.params)} / ${JSON.stringify(theirs.params)}`);
    await waitFor('the gateway to count no calls', async () => (await metric('tandem_gateway_calls')) === 0);
    alice.close();
    bob.close();
  },

  // JSON -> UDP: JSON alice calls desk, a sipp UAS; alice hangs up and sipp
  // gets the BYE.
  async json_calls_sipp({ dir }) {
    await registerSipp(dir, 'desk', 5070);
    const uas = startSipp(dir, 'desk-uas', path.join(here, 'scenarios/uas_webrtc.xml'),
                          { CONTACT: `sip:desk@${SIPP_IP}:5070` }, { port: 5070 });
    await sleep(300);
    const alice = await jsonLogin('alice');
    const { call } = await alice.call('call', { to: `desk@${DOMAIN}`, sdp: fakeSdp(6000) });
    const answered = await alice.next('call.answered');
    expect(answered.params.sdp.includes('a=ice-ufrag:sippdesk'), 'alice did not get sipp\'s answer');
    await sleep(500);
    await alice.call('hangup', { call });
    await sippDone(uas, 'desk answering the JSON caller');
    alice.close();
  },

  // UDP -> JSON: a sipp UAC (desk, authenticating) calls JSON bob; bob
  // answers; sipp hangs up and bob hears of it.
  async sipp_calls_json({ dir }) {
    const bob = await jsonLogin('bob');
    const uac = startSipp(dir, 'desk-uac', path.join(here, 'scenarios/uac_webrtc.xml'),
                          { DOMAIN, CALLER: 'desk', CALLEE: 'bob', HOLD_MS: 1000 },
                          { port: 5071, user: 'desk', authUri: `bob@${DOMAIN}` });
    const incoming = await bob.next('call.incoming', 15000);
    expect(incoming.params.from === `sip:desk@${DOMAIN}`, `incoming from ${incoming.params.from}`);
    await bob.call('answer', { call: incoming.params.call, sdp: fakeSdp(7000) });
    const ended = await bob.next('call.ended', 15000);
    expect(ended.params.by === 'remote' && ended.params.reason === 'hangup', `ended ${JSON.stringify(ended.params)}`);
    await sippDone(uac, 'desk calling the JSON user');
    bob.close();
  },

  // A re-INVITE without an offer (a PBX moving media, RFC 3261 §14.2): Tandem
  // offers bob's current description in the 200 without asking him, and the
  // ACK's answer, a new version of the session, reaches him as
  // call.renegotiated.
  async sipp_reoffers_json({ dir }) {
    const bob = await jsonLogin('bob');
    const uac = startSipp(dir, 'desk-uac', path.join(here, 'scenarios/uac_reoffer.xml'),
                          { DOMAIN, CALLER: 'desk', CALLEE: 'bob', CALLEE_PORT: 7000, HOLD_MS: 500 },
                          { port: 5071, user: 'desk', authUri: `bob@${DOMAIN}` });
    const incoming = await bob.next('call.incoming', 15000);
    await bob.call('answer', { call: incoming.params.call, sdp: fakeSdp(7000) });
    const renegotiated = await bob.next('call.renegotiated', 15000);
    expect(renegotiated.params.call === incoming.params.call &&
           renegotiated.params.sdp.includes('o=desk 1 2') && renegotiated.params.sdp.includes('a=sendonly'),
           `renegotiated ${JSON.stringify(renegotiated.params)}`);
    const ended = await bob.next('call.ended', 15000);
    expect(ended.params.by === 'remote', `ended ${JSON.stringify(ended.params)}`);
    await sippDone(uac, 'desk re-offering to the JSON user');
    bob.close();
  },

  // RFC 3263 failover on silence: b.test's first UDP target (127.0.0.6) has
  // nothing listening, and a UDP socket hears nothing of it. a.test gives it
  // up after federation.failover_timeout_ms (5 s) and calls the next target,
  // long before Timer B (32 s) would have.
  async federation_silent_target({ args, dir }) {
    const dnsPort = 5354;
    startDns53(dir, startProcess, {
      port: dnsPort,
      records: [
        ...A_B_TEST_DNS.filter((r) => !r.includes('b.test')),
        '--naptr-record=b.test,10,10,S,SIP+D2U,,_sip._udp.b.test',
        '--srv-host=_sip._udp.b.test,silent.b.test,5060,0,10',
        '--srv-host=_sip._udp.b.test,sip.b.test,5060,1,10',
        '--host-record=silent.b.test,127.0.0.6',
        '--host-record=sip.b.test,127.0.0.3',
      ],
    });
    const { a, b } = await startDomains(args, dir, { dnsPort });
    const alice = await jsonLogin('alice', { node: a });
    const bob = await jsonLogin('bob', { node: b });
    const started = Date.now();
    const { call } = await alice.call('call', { to: 'bob@b.test', sdp: fakeSdp(6000) });
    const incoming = await bob.next('call.incoming', 25000);  // Timer B would be 32 s
    const waited = Date.now() - started;
    expect(waited >= 4900, `bob rang after ${waited} ms, before the failover timeout`);
    expect(/INVITE for sip:bob@b\.test: no response from UDP 127\.0\.0\.6:5060 in 5000 ms/.test(a.logText()),
           'a.test did not give up the silent target');
    expect(/INVITE for sip:bob@b\.test: trying the next target, UDP 127\.0\.0\.3:5060/.test(a.logText()),
           'a.test did not move on to sip.b.test');
    await bob.call('answer', { call: incoming.params.call, sdp: fakeSdp(7000) });
    await alice.next('call.answered');
    await alice.call('hangup', { call });
    const ended = await bob.next('call.ended');
    expect(ended.params.by === 'remote', `bob: ${JSON.stringify(ended.params)}`);
    alice.close();
    bob.close();
  },

  // Bad input and refusals on the site protocol, each with its error; the
  // connection stays usable until an oversized message closes it.
  async json_errors({ tandem }) {
    const c = await new JsonClient(`ws://${TANDEM_IP}:${HTTP_PORT}/ws`, { name: 'anon' }).open();
    c.sendRaw('{"jsonrpc":"2.0","id":1,"method":');
    const parse = await c.next((m) => m.error);
    expect(parse.error.code === -32700 && parse.id === null, `bad JSON answered ${JSON.stringify(parse)}`);
    c.sendRaw('[1,2]');
    expect((await c.next((m) => m.error)).error.code === -32600, 'a batch is not refused with -32600');
    expect((await rpcError(c, 'fly', {})).code === -32601, 'an unknown method is not -32601');
    expect((await rpcError(c, 'call', { to: 'bob', sdp: 'v=0' })).code === -32001, 'a call before login is not refused');
    expect((await rpcError(c, 'login', { user: 'alice' })).code === -32602, 'login without password is not -32602');
    expect((await rpcError(c, 'login', { user: 'alice', password: 'nope' })).code === -32002, 'a wrong password is not -32002');
    expect((await rpcError(c, 'login', { user: 'nobody', password: 'nope' })).code === -32002, 'an unknown user is not -32002');
    expect((await rpcError(c, 'login', { token: 'e30.e30.e30' })).code === -32002, 'a forged token is not -32002');
    await c.call('ping');  // still open
    const token = tandem.mintToken('alice');
    const who = await c.call('login', { token });
    expect(who.user === 'alice', `token login gave ${JSON.stringify(who)}`);
    expect((await rpcError(c, 'login', { token })).code === -32003, 'a second login is not refused');
    expect((await rpcError(c, 'call', { to: 'bob' })).code === -32602, 'a call without SDP is not -32602');
    expect((await rpcError(c, 'call', { to: 'tel:+1', sdp: fakeSdp() })).code === -32602, 'a tel: target is not -32602');
    expect((await rpcError(c, 'answer', { call: 'c99', sdp: fakeSdp() })).code === -32004, 'an unknown call is not -32004');
    expect((await rpcError(c, 'dtmf', { call: 'c1', digits: 'xyz' })).code === -32602, 'bad digits are not -32602');

    // Calls that fail get call.ended with the cause and the SIP status.
    const ended = async (to) => {
      const { call } = await c.call('call', { to, sdp: fakeSdp() });
      const e = await c.next((m) => m.method === 'call.ended' && m.params.call === call);
      return e.params;
    };
    let e = await ended('nosuchuser');
    expect(e.reason === 'not_found' && e.status === 404, `unknown user: ${JSON.stringify(e)}`);
    e = await ended('carol');
    expect(e.reason === 'unavailable' && e.status === 480, `offline user: ${JSON.stringify(e)}`);
    // Federation is on and this namespace has no DNS server: 503, at once.
    e = await ended(`someone@elsewhere.test`);
    expect(e.status === 503 && e.reason === 'unavailable', `unresolvable domain: ${JSON.stringify(e)}`);
    const bob = await jsonLogin('bob');
    const { call } = await c.call('call', { to: 'bob', sdp: fakeSdp() });
    const incoming = await bob.next('call.incoming');
    await bob.call('reject', { call: incoming.params.call, reason: 'busy' });
    const busy = await c.next((m) => m.method === 'call.ended' && m.params.call === call);
    expect(busy.params.reason === 'busy' && busy.params.status === 486, `busy: ${JSON.stringify(busy.params)}`);

    // A subprotocol nobody speaks is refused at the handshake.
    let refused = null;
    try {
      await new JsonClient(`ws://${TANDEM_IP}:${HTTP_PORT}/ws`, { name: 'x' }).open(['tandem.v9']);
    } catch (err) {
      refused = err.message;
    }
    expect(refused && /HTTP 4\d\d/.test(refused), `an unknown subprotocol was not refused: ${refused}`);

    // An oversized message closes the connection with 1009; the server goes on.
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping', params: { pad: 'x'.repeat(70000) } }));
    const closed = await c.waitClosed();
    expect(closed.code === 1009, `an oversized message closed with ${closed.code}`);
    await bob.call('ping');
    bob.close();

    // Password guessing: 3 failures above, 7 more reach the limit (10 a minute
    // per address); then even the right password is refused unchecked, from
    // any connection of that address, while another address logs in.
    const guesser = await new JsonClient(`ws://${TANDEM_IP}:${HTTP_PORT}/ws`, { name: 'guesser' }).open();
    for (let i = 0; i < 7; i++) {
      const err = await rpcError(guesser, 'login', { user: 'alice', password: `guess-${i}` });
      expect(err.code === -32002 && /wrong user or password/.test(err.message), `guess ${i}: ${JSON.stringify(err)}`);
    }
    const limited = await rpcError(guesser, 'login', { user: 'alice', password: PASSWORDS.alice });
    expect(limited.code === -32002 && /too many failed logins/.test(limited.message) &&
           limited.data?.retryAfter > 0 && limited.data.retryAfter <= 60,
           `the 11th login was not refused for too many failures: ${JSON.stringify(limited)}`);
    const elsewhere = await new JsonClient(`ws://${TANDEM_IP}:${HTTP_PORT}/ws`,
                                           { name: 'other', localAddress: '127.0.0.9' }).open();
    const ok = await elsewhere.call('login', { user: 'alice', password: PASSWORDS.alice });
    expect(ok.user === 'alice', `a login from another address was refused: ${JSON.stringify(ok)}`);
    // 9 wrong passwords (1 unknown user among them), 1 forged token, 1 refused unchecked.
    expect(await metric('tandem_gateway_login_failures_total{reason="password"}') === 9 &&
           await metric('tandem_gateway_login_failures_total{reason="token"}') === 1 &&
           await metric('tandem_gateway_login_failures_total{reason="limited"}') === 1,
           'tandem_gateway_login_failures_total does not count 9 password, 1 token, 1 limited');
    guesser.close();
    elsewhere.close();
  },

  // JSON alice calls a sipp UAS, then her connection drops without a word:
  // the gateway ends the call with a BYE and drops her binding.
  async json_connection_lost({ dir }) {
    await registerSipp(dir, 'desk', 5070);
    const uas = startSipp(dir, 'desk-uas', path.join(here, 'scenarios/uas_webrtc.xml'),
                          { CONTACT: `sip:desk@${SIPP_IP}:5070` }, { port: 5070 });
    await sleep(300);
    const alice = await jsonLogin('alice');
    await alice.call('call', { to: 'desk', sdp: fakeSdp(6000) });
    await alice.next('call.answered');
    expect(await metric('tandem_sip_registrations') === 2, 'alice\'s JSON binding is not registered');
    alice.terminate();
    await sippDone(uas, 'desk receiving the BYE for the lost JSON connection');
    await waitFor('alice\'s binding to go', async () => (await metric('tandem_sip_registrations')) === 1);
  },

  // [gateway] keys reach the gateway: with ring_timeout = 2 an unanswered
  // call ends after about 2 s (timeout for the caller, cancelled for the
  // callee); with max_calls_per_connection = 1 a second call is refused.
  async json_gateway_limits() {
    const alice = await jsonLogin('alice');
    const bob = await jsonLogin('bob');
    const started = Date.now();
    const { call } = await alice.call('call', { to: 'bob', sdp: fakeSdp() });
    await bob.next('call.incoming');
    const second = await rpcError(alice, 'call', { to: 'carol', sdp: fakeSdp() });
    expect(second.code === -32005 && /at most 1/.test(second.message), `a second call: ${JSON.stringify(second)}`);
    const ended = await alice.next((m) => m.method === 'call.ended' && m.params.call === call, 10000);
    const took = Date.now() - started;
    expect(ended.params.reason === 'timeout' && ended.params.by === 'local', `alice: ${JSON.stringify(ended.params)}`);
    expect(took >= 1900 && took < 8000, `the ring timeout of 2 s ended the call after ${took} ms`);
    const gone = await bob.next('call.ended');
    expect(gone.params.reason === 'cancelled', `bob: ${JSON.stringify(gone.params)}`);
    alice.close();
    bob.close();
  },

  // bob is logged in twice (two tabs): a call rings both; one answers, the
  // other stops ringing with "answered elsewhere".
  async json_two_devices() {
    const alice = await jsonLogin('alice');
    const bob1 = await jsonLogin('bob');
    const bob2 = await jsonLogin('bob');
    const { call } = await alice.call('call', { to: 'bob', sdp: fakeSdp(6000) });
    const in1 = await bob1.next('call.incoming');
    const in2 = await bob2.next('call.incoming');
    await bob2.call('answer', { call: in2.params.call, sdp: fakeSdp(7002) });
    const answered = await alice.next('call.answered');
    expect(answered.params.sdp.includes('m=audio 7002'), 'alice is not connected to the device that answered');
    const other = await bob1.next('call.ended');
    expect(other.params.call === in1.params.call && other.params.reason === 'answered_elsewhere',
           `the other device ended with ${JSON.stringify(other.params)}`);
    await bob2.call('hangup', { call: in2.params.call });
    const ended = await alice.next('call.ended');
    expect(ended.params.call === call && ended.params.by === 'remote', `alice: ${JSON.stringify(ended.params)}`);
  },
};

async function sipJsCallsBob(context, credentials) {
  const bob = await openPhone(context, 'bob');
  await login(bob, 'bob', PASSWORDS.bob);
  const sipjs = await openSipJsPage(context);
  const result = sipjs.evaluate(async (args) => window.runSipJs(args), {
    user: 'carol', ...credentials, domain: DOMAIN, ws: `ws://${TANDEM_IP}:${HTTP_PORT}/ws`,
    target: `sip:bob@${DOMAIN}`,
  });
  await waitState(bob, 'ringing-in', 20000);
  await bob.click('#accept');
  await waitState(bob, 'in-call');
  await expectAudioFlowing(bob);
  const outcome = await result;
  log(`SIP.js page: ${JSON.stringify(outcome)}`);
  expect(outcome.registered, `SIP.js did not register: ${JSON.stringify(outcome)}`);
  expect(outcome.established, `SIP.js call was not established: ${JSON.stringify(outcome)}`);
  expect(outcome.packetsReceived >= 50, `SIP.js received only ${outcome.packetsReceived} audio packets`);
  await waitState(bob, 'registered');
}

// The SIP.js page: served from the same origin through Playwright's router
// (nothing is added to Tandem's web root); SIP.js loads as ES modules.
async function openSipJsPage(context) {
  const sipjsRoot = path.join(here, 'node_modules', 'sip.js', 'lib');
  await context.route(`http://${TANDEM_IP}:${HTTP_PORT}/test/**`, async (route) => {
    const url = new URL(route.request().url());
    let file;
    if (url.pathname === '/test/sipjs.html') file = path.join(here, 'pages', 'sipjs.html');
    else if (url.pathname.startsWith('/test/sip.js/')) file = path.join(sipjsRoot, url.pathname.slice('/test/sip.js/'.length));
    if (!file || !file.startsWith(here) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    const type = file.endsWith('.html') ? 'text/html' : 'text/javascript';
    return route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(file) });
  });
  const page = await context.newPage();
  page.label = 'sipjs';
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`http://${TANDEM_IP}:${HTTP_PORT}/test/sipjs.html`);
  await waitFor('the SIP.js page to load', () => page.evaluate(() => typeof window.runSipJs === 'function'), 10000);
  return page;
}

// ------------------------------------------------------------------ main

async function main() {
  const args = parseArgs(process.argv.slice(2));
  enterNamespace();
  const test = tests[args.run] ?? jsonTests[args.run];
  if (!test) {
    throw new Error(`unknown test ${args.run}; known: ${[...Object.keys(tests), ...Object.keys(jsonTests)].join(', ')}`);
  }
  expect(fs.existsSync(path.join(args.webroot, 'index.html')),
         `the web phone is not built: ${args.webroot}/index.html is missing (scripts/build-webphone.sh)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-browser-${args.run}-`));
  log(`test ${args.run} in ${dir}`);
  const tandem = new Tandem(path.resolve(args.tandem), dir, path.resolve(args.webroot),
                            TLS_TESTS.has(args.run), { extra: TEST_CONFIG[args.run] ?? [] });
  for (const u of ['alice', 'bob', 'carol', 'desk']) tandem.addUser(u);
  let context;
  let failed = null;
  const pages = () => (context ? context.pages() : []);
  try {
    await tandem.start();
    if (!NO_BROWSER_TESTS.has(args.run)) context = await launchBrowser(dir);
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new TestFailure('the test did not finish within 120 s')), 120000);
    });
    try {
      await Promise.race([test({ context, tandem, dir, args }), limit]);
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    failed = e;
  }
  if (failed) {
    for (const p of pages()) {
      if (p.consoleLines?.length) console.log(`--- console of ${p.label}:\n${p.consoleLines.slice(-30).join('\n')}`);
      try {
        await p.screenshot({ path: path.join(dir, `${p.label || 'page'}.png`) });
      } catch { /* the page may be gone */ }
    }
    if (tandem.proc) console.log(`--- tandem log (last lines):\n${tail(tandem.proc.logFile, 60)}`);
  }
  try {
    if (context) await context.close();
  } catch { /* already gone */ }
  for (const c of children.reverse()) await stopProcess(c);
  if (failed) {
    console.log(`FAILED ${args.run}: ${failed instanceof TestFailure ? failed.message : failed.stack}`);
    console.log(`(files in ${dir})`);
    process.exit(1);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`PASSED ${args.run}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  process.exit(1);
});
