// The web phone's UI: plain DOM, no framework. The signaling lives in
// phone.js (SIP over WebSocket with JsSIP) or json_phone.js (Tandem's JSON
// protocol, tandem.v1): the user picks one at sign-in; both have the same
// methods and events.

import { Phone, JsSIP } from './phone.js';
import { JsonPhone, SUBPROTOCOL as JSON_SUBPROTOCOL } from './json_phone.js';

const CONFIG_URL = '/api/config';
const STORAGE_USER = 'tandem.webphone.user';
const STORAGE_PROTOCOL = 'tandem.webphone.protocol';
const PROTOCOLS = ['sip', 'json'];
const MSG_CONFIG = "The phone cannot reach the server's configuration — is the Tandem server running? Retrying…";
const MSG_AUTH = 'Wrong user name or password';
const MSG_NETWORK = 'Network lost — reconnecting…';
const METER_INTERVAL_MS = 100;
// Meter ballistics: instant attack, the shown level then falls by this factor
// per tick (about 0.6 s time constant), like a VU meter.
const METER_DECAY = 0.85;

const $ = (id) => document.getElementById(id);
const el = {
  loginView: $('login-view'),
  loginForm: $('login-form'),
  user: $('user'),
  password: $('password'),
  protocol: $('protocol'),
  signIn: $('sign-in'),
  domainHint: $('domain-hint'),
  phoneView: $('phone-view'),
  regStatus: $('reg-status'),
  message: $('message'),
  signOut: $('sign-out'),
  dialForm: $('dial-form'),
  dialInput: $('dial-input'),
  callButton: $('call-button'),
  textForm: $('text-form'),
  textInput: $('text-input'),
  textSend: $('text-send'),
  texts: $('texts'),
  incoming: $('incoming'),
  incomingName: $('incoming-name'),
  incomingUri: $('incoming-uri'),
  incomingInitials: $('incoming-initials'),
  accept: $('accept'),
  decline: $('decline'),
  callView: $('call-view'),
  callDismiss: $('call-dismiss'),
  callPeer: $('call-peer'),
  callPeerUri: $('call-peer-uri'),
  callInitials: $('call-initials'),
  callStatus: $('call-status'),
  callTimer: $('call-timer'),
  meters: $('meters'),
  localLevel: $('local-level'),
  remoteLevel: $('remote-level'),
  remoteLevelLabel: $('remote-level-label'),
  mute: $('mute'),
  hold: $('hold'),
  holdLabel: $('hold-label'),
  keypad: $('keypad'),
  keypadToggle: $('keypad-toggle'),
  dtmfLine: $('dtmf-line'),
  dtmfSent: $('dtmf-sent'),
  dtmfReceived: $('dtmf-received'),
  muteLabel: $('mute-label'),
  hangup: $('hangup'),
  hangupLabel: $('hangup-label'),
  remoteAudio: $('remote-audio'),
};

// ---- state ------------------------------------------------------------------

let config = null; // {domain, wsUrl, iceServers, fetchedAt, ttl}
let configPromise = null;
let phone = null;
let credentials = null;
let regState = 'pending'; // 'pending' | 'registered' | 'unregistered'
let netState = 'connecting'; // 'connecting' | 'connected' | 'lost' | 'unreachable'
let lastCall = null; // {peer, status, duration} shown after a call ends
let timerHandle = null;
let meterHandle = null;
let messageKey = null;
let keypadOpen = false;
// The last digits shown on the DTMF line.
const DTMF_SHOWN = 16;

// Test hooks: always current.
window.tandemPhone = {
  get ua() {
    return phone ? phone.ua : null;
  },
  get session() {
    return phone ? phone.session : null;
  },
  get peerConnection() {
    return phone ? phone.peerConnection : null;
  },
  get phone() {
    return phone;
  },
  get config() {
    return config;
  },
};

// ---- helpers ------------------------------------------------------------------

function show(node, visible) {
  node.hidden = !visible;
}

function setMessage(text, kind = 'error', key = null) {
  el.message.textContent = text;
  el.message.dataset.kind = kind;
  messageKey = key;
  show(el.message, true);
}

function clearMessage(...keys) {
  if (keys.length && !keys.includes(messageKey)) return;
  el.message.textContent = '';
  delete el.message.dataset.kind;
  messageKey = null;
  show(el.message, false);
}

function initials(name) {
  const words = String(name || '?')
    .replace(/@.*/, '')
    .split(/[\s._-]+/)
    .filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] || '?')[0];
  return letters.toUpperCase();
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

// The user name from a JWT's payload ("sub"), or null.
function jwtSubject(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return typeof payload.sub === 'string' && payload.sub ? payload.sub : null;
  } catch {
    return null;
  }
}

// Reads "#token=<JWT>" and removes it from the address bar (it is a credential).
function takeFragmentToken() {
  const hash = location.hash.replace(/^#/, '');
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const token = params.get('token');
  if (!token) return null;
  params.delete('token');
  const rest = params.toString();
  try {
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  } catch {
    // ignore
  }
  return token.trim();
}

function rememberedUser() {
  try {
    return localStorage.getItem(STORAGE_USER) || '';
  } catch {
    return '';
  }
}

// The signaling the user picked last: ?protocol=json|sip in the address wins.
function initialProtocol() {
  const asked = new URLSearchParams(location.search).get('protocol');
  if (PROTOCOLS.includes(asked)) return asked;
  try {
    const stored = localStorage.getItem(STORAGE_PROTOCOL);
    if (PROTOCOLS.includes(stored)) return stored;
  } catch {
    // private mode: ignore
  }
  return 'sip';
}

function rememberProtocol(protocol) {
  try {
    localStorage.setItem(STORAGE_PROTOCOL, protocol);
  } catch {
    // private mode: ignore
  }
}

function rememberUser(user) {
  try {
    localStorage.setItem(STORAGE_USER, user);
  } catch {
    // private mode: ignore
  }
}

// ---- configuration ---------------------------------------------------------------

function parseConfig(json) {
  if (!json || typeof json !== 'object') throw new Error('not a JSON object');
  const domain = typeof json.domain === 'string' ? json.domain.trim() : '';
  if (!domain) throw new Error('no "domain"');
  const urls = json.websocket && Array.isArray(json.websocket.urls) ? json.websocket.urls : [];
  let wsUrl = urls.find((u) => typeof u === 'string' && /^wss?:\/\//i.test(u));
  if (!wsUrl) wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const iceServers = Array.isArray(json.iceServers) ? json.iceServers : [];
  const ttls = iceServers.map((s) => Number(s && s.ttl)).filter((t) => t > 0);
  const subprotocols = json.websocket && Array.isArray(json.websocket.subprotocols) ? json.websocket.subprotocols : null;
  return {
    domain,
    wsUrl,
    iceServers,
    subprotocols,
    fetchedAt: Date.now(),
    ttl: ttls.length ? Math.min(...ttls) : 0,
  };
}

async function fetchConfig(user) {
  const url = user ? `${CONFIG_URL}?user=${encodeURIComponent(user)}` : CONFIG_URL;
  const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return parseConfig(await response.json());
}

function loadConfig() {
  if (config) return Promise.resolve(config);
  if (!configPromise) {
    configPromise = fetchConfig()
      .then((c) => {
        config = c;
        el.domainHint.textContent = `Your address will be user@${c.domain}`;
        // A server without the JSON protocol: offer only SIP.
        const json = el.protocol.querySelector('option[value="json"]');
        json.disabled = !!c.subprotocols && !c.subprotocols.includes(JSON_SUBPROTOCOL);
        if (json.disabled && el.protocol.value === 'json') el.protocol.value = 'sip';
        return c;
      })
      .finally(() => {
        configPromise = null;
      });
  }
  return configPromise;
}

// TURN credentials expire: fetch fresh ones (named after the user) now and then.
async function refreshIceServers() {
  if (!phone || !credentials) return;
  try {
    const fresh = await fetchConfig(credentials.user);
    if (!phone) return;
    config = { ...config, iceServers: fresh.iceServers, ttl: fresh.ttl, fetchedAt: fresh.fetchedAt };
    phone.updateIceServers(fresh.iceServers);
  } catch (error) {
    console.info('[webphone] could not refresh ICE servers', error);
  }
}

setInterval(() => {
  if (phone && config && config.ttl && Date.now() - config.fetchedAt > (config.ttl * 1000) / 2) refreshIceServers();
}, 60 * 1000);

// ---- audio: context, meters, tones -------------------------------------------------

let audioContext = null;

// Only from a user gesture (browsers refuse to start audio otherwise).
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!audioContext) {
    try {
      audioContext = new Ctx();
    } catch {
      return;
    }
  }
  if (audioContext.state === 'suspended') audioContext.resume().catch(() => {});
  if (el.remoteAudio.srcObject && el.remoteAudio.paused) el.remoteAudio.play().catch(() => {});
}

class LevelMeter {
  constructor(node) {
    this.node = node;
    this.fill = node.querySelector('.meter-fill');
    this.track = null;
    this.source = null;
    this.analyser = null;
    this.buffer = null;
    this.level = 0;
    this.shown = -1;
  }

  setTrack(track) {
    if (track === this.track && (!track || this.analyser || !audioContext)) return;
    this.disconnect();
    this.track = track;
    if (!track || !audioContext) return;
    try {
      this.source = audioContext.createMediaStreamSource(new MediaStream([track]));
      this.analyser = audioContext.createAnalyser();
      this.analyser.fftSize = 2048;
      this.buffer = new Float32Array(this.analyser.fftSize);
      this.source.connect(this.analyser);
    } catch (error) {
      console.warn('[webphone] level meter', error);
      this.disconnect();
    }
  }

  disconnect() {
    if (this.source) {
      try {
        this.source.disconnect();
      } catch {
        // ignore
      }
    }
    this.source = this.analyser = this.buffer = null;
    this.track = null;
    this.level = 0;
  }

  // RMS of the latest audio block (0..1), with METER_DECAY ballistics.
  sample() {
    if (!this.analyser) return (this.level = 0);
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (let i = 0; i < this.buffer.length; i++) sum += this.buffer[i] * this.buffer[i];
    const rms = Math.min(1, Math.sqrt(sum / this.buffer.length));
    this.level = Math.max(rms, this.level * METER_DECAY);
    if (this.level < 0.0005) this.level = 0;
    return this.level;
  }

  render(rms) {
    const level = Math.round(rms * 1000) / 1000;
    if (level === this.shown) return;
    this.shown = level;
    this.node.dataset.level = String(level);
    this.node.setAttribute('aria-valuenow', String(level));
    // Draw on a dB scale (-60..0 dBFS) so speech looks lively.
    const db = rms > 0 ? 20 * Math.log10(rms) : -100;
    const width = Math.max(0, Math.min(1, (db + 60) / 60));
    this.fill.style.transform = `scaleX(${width.toFixed(3)})`;
  }
}

const localMeter = new LevelMeter(el.localLevel);
const remoteMeter = new LevelMeter(el.remoteLevel);

function meterTick() {
  if (!phone || !phone.session) return stopMeters();
  if (!audioContext) unlockAudioSilently();
  localMeter.setTrack(phone.muted ? null : phone.localAudioTrack());
  remoteMeter.setTrack(phone.remoteAudioTrack());
  localMeter.render(localMeter.sample());
  remoteMeter.render(remoteMeter.sample());
}

// Creating a context outside a gesture is allowed; it may just stay suspended.
function unlockAudioSilently() {
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  unlockAudio();
}

function startMeters() {
  if (!meterHandle) meterHandle = setInterval(meterTick, METER_INTERVAL_MS);
}

function stopMeters() {
  clearInterval(meterHandle);
  meterHandle = null;
  localMeter.setTrack(null);
  remoteMeter.setTrack(null);
  localMeter.render(0);
  remoteMeter.render(0);
}

// Ring tones from an oscillator (no audio files).
const tones = {
  timer: null,
  nodes: null,
  start(kind) {
    this.stop();
    if (!audioContext || audioContext.state !== 'running') return;
    // Incoming: 2 s on / 2 s off; ringback: 1 s on / 3 s off.
    const [on, period] = kind === 'incoming' ? [2000, 4000] : [1000, 4000];
    const beep = () => {
      const gain = audioContext.createGain();
      gain.gain.value = kind === 'incoming' ? 0.08 : 0.05;
      gain.connect(audioContext.destination);
      const oscs = [440, 480].map((f) => {
        const o = audioContext.createOscillator();
        o.frequency.value = f;
        o.connect(gain);
        o.start();
        o.stop(audioContext.currentTime + on / 1000);
        return o;
      });
      this.nodes = { gain, oscs };
    };
    beep();
    this.timer = setInterval(beep, period);
  },
  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.nodes) {
      for (const o of this.nodes.oscs) {
        try {
          o.stop();
        } catch {
          // already stopped
        }
      }
      this.nodes.gain.disconnect();
      this.nodes = null;
    }
  },
};

// ---- rendering ----------------------------------------------------------------------

function bodyState() {
  if (!phone) return 'login';
  switch (phone.callState) {
    case 'ringing-in':
      return 'ringing-in';
    case 'calling':
    case 'ringing':
      return 'calling';
    case 'in-call':
      return 'in-call';
    default:
      break;
  }
  if (netState !== 'connected') return 'connecting';
  if (regState === 'registered') return 'registered';
  if (regState === 'unregistered') return 'unregistered';
  return 'connecting';
}

function regStatusText() {
  if (!phone) return 'Not signed in';
  switch (netState) {
    case 'lost':
      return MSG_NETWORK;
    case 'unreachable':
      return 'Cannot connect — retrying…';
    case 'connecting':
      return 'Connecting…';
    default:
      break;
  }
  if (regState === 'registered') return `Registered as ${phone.aor}${phone.protocol === 'json' ? ' (JSON)' : ''}`;
  if (regState === 'unregistered') return 'Not registered';
  return 'Registering…';
}

function render() {
  const state = bodyState();
  document.body.dataset.state = state;
  document.body.dataset.net = phone ? netState : 'none';

  el.regStatus.textContent = regStatusText();
  el.regStatus.parentElement.dataset.status = !phone
    ? 'off'
    : netState !== 'connected'
      ? 'warn'
      : regState === 'registered'
        ? 'ok'
        : regState === 'unregistered'
          ? 'bad'
          : 'warn';

  const signedIn = !!phone;
  show(el.loginView, !signedIn);
  show(el.phoneView, signedIn);
  show(el.signOut, signedIn);

  const callState = phone ? phone.callState : null;
  const active = callState === 'calling' || callState === 'ringing' || callState === 'in-call';

  show(el.dialForm, signedIn && !callState);
  show(el.textForm, signedIn && !callState);
  el.textSend.disabled = !(signedIn && netState === 'connected' && regState === 'registered');
  show(el.texts, signedIn && el.texts.childElementCount > 0);
  el.callButton.disabled = !(signedIn && netState === 'connected');
  show(el.incoming, callState === 'ringing-in');

  if (callState === 'ringing-in') {
    const peer = phone.peer || {};
    el.incomingName.textContent = peer.name || 'Unknown caller';
    el.incomingUri.textContent = peer.uri && peer.uri !== peer.name ? peer.uri : '';
    el.incomingInitials.textContent = initials(peer.name);
    document.title = `Incoming call from ${peer.name} — Tandem`;
  } else if (active) {
    document.title = `${callState === 'in-call' ? 'In call with' : 'Calling'} ${phone.peer ? phone.peer.name : ''} — Tandem`;
  } else {
    document.title = 'Tandem web phone';
  }

  const showCall = active || (!callState && !!lastCall);
  show(el.callView, signedIn && showCall);
  el.callView.dataset.phase = active ? callState : 'ended';
  if (active) {
    const peer = phone.peer || {};
    el.callPeer.textContent = peer.name || '';
    el.callPeerUri.textContent = peer.uri && peer.uri !== peer.name ? peer.uri : '';
    el.callInitials.textContent = initials(peer.name);
    el.remoteLevelLabel.textContent = shorten(peer.short || peer.name || 'Them');
    el.callStatus.textContent =
      callState === 'in-call'
        ? heldText(phone.held, peer)
        : callState === 'ringing'
          ? 'Ringing…'
          : `Calling ${peer.short || peer.name}…`;
    el.hangupLabel.textContent = callState === 'in-call' ? 'Hang up' : 'Cancel';
  } else if (lastCall) {
    el.callPeer.textContent = lastCall.peer.name || '';
    el.callPeerUri.textContent = lastCall.peer.uri && lastCall.peer.uri !== lastCall.peer.name ? lastCall.peer.uri : '';
    el.callInitials.textContent = initials(lastCall.peer.name);
    el.callStatus.textContent = lastCall.status;
    el.callTimer.textContent = lastCall.duration;
  }
  show(el.hangup, active);
  show(el.mute, callState === 'in-call');
  show(el.keypadToggle, callState === 'in-call');
  show(el.hold, callState === 'in-call');
  const heldHere = !!(phone && phone.held && phone.held.local);
  el.hold.setAttribute('aria-pressed', String(heldHere));
  el.holdLabel.textContent = heldHere ? 'Resume' : 'Hold';
  el.hold.classList.toggle('is-on', heldHere);
  if (callState !== 'in-call') {
    keypadOpen = false;
    el.dtmfSent.textContent = '';
    el.dtmfReceived.textContent = '';
  }
  show(el.keypad, callState === 'in-call' && keypadOpen);
  el.keypadToggle.setAttribute('aria-pressed', String(keypadOpen));
  show(el.dtmfLine, callState === 'in-call' && (keypadOpen || !!el.dtmfReceived.textContent));
  show(el.meters, active);
  show(el.callDismiss, !active && !!lastCall);

  const muted = !!(phone && phone.muted);
  el.mute.setAttribute('aria-pressed', String(muted));
  el.muteLabel.textContent = muted ? 'Unmute' : 'Mute';
  el.mute.classList.toggle('is-on', muted);

  if (callState === 'in-call') startTimer();
  else stopTimer(active);
}

function heldText(held, peer) {
  const who = peer.short || peer.name || 'the other side';
  if (held && held.local) return held.remote ? 'On hold (both sides)' : 'On hold';
  if (held && held.remote) return `On hold by ${who}`;
  return 'In call';
}

function shorten(text) {
  return text.length > 10 ? `${text.slice(0, 9)}…` : text;
}

function startTimer() {
  if (timerHandle) return;
  const tick = () => {
    if (phone && phone.answeredAt) el.callTimer.textContent = formatDuration(Date.now() - phone.answeredAt);
  };
  tick();
  timerHandle = setInterval(tick, 250);
}

function stopTimer(clear) {
  clearInterval(timerHandle);
  timerHandle = null;
  if (clear) el.callTimer.textContent = '';
}

// ---- call outcome texts ------------------------------------------------------------

// [banner text or null, banner kind]
function failureMessage(info) {
  const C = JsSIP.C.causes;
  const who = (info.peer && (info.peer.short || info.peer.name)) || 'The other side';
  const code = info.statusCode;
  if (info.direction === 'incoming') {
    if (info.originator === 'local' && info.cause === C.REJECTED) return [null];
    if (info.cause === C.CANCELED || info.cause === C.NO_ANSWER) return [`Missed call from ${who}`, 'info'];
    if (info.cause === C.USER_DENIED_MEDIA_ACCESS) return ['Microphone access was denied — allow it in the browser to answer calls', 'error'];
  }
  switch (info.cause) {
    case C.CANCELED:
      return [null];
    case C.UNAVAILABLE:
      if (code === 408) return [`${who} did not answer`, 'warn'];
      return [`${who} is not available`, 'warn'];
    case C.NOT_FOUND:
      return [`${who} is not available`, 'warn'];
    case C.BUSY:
      return [`${who} is busy`, 'warn'];
    case C.REJECTED:
      if (code === 403) return [`The server refused the call to ${who} (403 Forbidden)`, 'error'];
      return [`${who} declined the call`, 'warn'];
    case C.NO_ANSWER:
      return [`${who} did not answer`, 'warn'];
    case C.REQUEST_TIMEOUT:
      return [`No answer from the server — the call to ${who} timed out`, 'error'];
    case C.CONNECTION_ERROR:
      return ['Network problem — the call could not be completed', 'error'];
    case C.USER_DENIED_MEDIA_ACCESS:
      return ['Microphone access was denied — allow it in the browser to make calls', 'error'];
    case C.AUTHENTICATION_ERROR:
      return [`The server did not accept your credentials for this call — sign out and in again`, 'error'];
    case C.ADDRESS_INCOMPLETE:
      return [`"${who}" is not a complete address`, 'error'];
    case C.REDIRECTED:
      return [`${who} has moved elsewhere (redirects are not supported)`, 'warn'];
    case C.INCOMPATIBLE_SDP:
    case C.MISSING_SDP:
    case C.BAD_MEDIA_DESCRIPTION:
    case C.WEBRTC_ERROR:
      return ['The call failed: the audio connection could not be set up', 'error'];
    default:
      return [`The call to ${who} failed${code ? ` (${code})` : ''}${info.cause ? `: ${info.cause}` : ''}`, 'error'];
  }
}

function endedMessage(info) {
  const C = JsSIP.C.causes;
  const who = (info.peer && (info.peer.short || info.peer.name)) || 'The other side';
  switch (info.cause) {
    case C.BYE:
      return info.originator === 'remote' ? [`Call ended — ${who} hung up`, 'info'] : [null];
    case C.RTP_TIMEOUT:
      return ['Call ended — the audio connection was lost', 'error'];
    case C.CONNECTION_ERROR:
    case C.REQUEST_TIMEOUT:
      return ['Call ended — network problem', 'error'];
    case C.NO_ACK:
    case C.DIALOG_ERROR:
    case C.EXPIRES:
      return [`Call ended — the connection to ${who} was lost`, 'error'];
    default:
      return info.originator === 'remote' ? ['Call ended', 'info'] : [null];
  }
}

// ---- phone events -------------------------------------------------------------------

function onTransport(e) {
  if (e.state === 'connected') {
    netState = 'connected';
    regState = 'pending';
    clearMessage('network', 'connect');
  } else if (e.state === 'disconnected') {
    regState = 'pending';
    if (e.lost) {
      netState = 'lost';
      setMessage(MSG_NETWORK, 'warn', 'network');
    } else {
      netState = 'unreachable';
      setMessage(`Cannot connect to the server (${config.wsUrl}) — retrying…`, 'warn', 'connect');
    }
  } else if (e.state === 'connecting') {
    // Keep "lost"/"unreachable" while JsSIP retries.
    if (netState === 'connected') netState = 'connecting';
  }
  render();
}

function onRegistration(e) {
  if (e.state === 'registered') {
    regState = 'registered';
    clearMessage('network', 'connect', 'register');
  } else if (e.state === 'unregistered') {
    regState = 'unregistered';
  } else if (e.state === 'failed') {
    regState = 'unregistered';
    if (e.authFailed) return authFailed();
    if (netState === 'connected') {
      setMessage(`Registration failed${e.statusCode ? ` (${e.statusCode})` : ''}: ${e.cause} — retrying`, 'error', 'register');
    }
  }
  render();
}

function authFailed() {
  const usedToken = !!(credentials && credentials.token);
  const user = credentials ? credentials.user : '';
  stopPhone();
  el.user.value = user;
  el.password.value = '';
  setMessage(
    usedToken ? `${MSG_AUTH} — the sign-in link was refused (it may have expired)` : MSG_AUTH,
    'error',
    'auth'
  );
  render();
  (el.user.value ? el.password : el.user).focus();
}

function onIncoming() {
  lastCall = null;
  clearMessage('call', 'busy');
  tones.start('incoming');
  if (navigator.vibrate) {
    try {
      navigator.vibrate([400, 200, 400]);
    } catch {
      // ignore
    }
  }
  render();
  el.accept.focus();
}

function onCall(e) {
  switch (e.state) {
    case 'calling':
      lastCall = null;
      startMeters();
      break;
    case 'ringing':
      if (!e.early) tones.start('ringback');
      break;
    case 'in-call':
      tones.stop();
      clearMessage('call', 'busy');
      startMeters();
      break;
    case 'failed':
    case 'ended': {
      tones.stop();
      stopMeters();
      el.remoteAudio.srcObject = null;
      const duration = e.state === 'ended' ? el.callTimer.textContent : '';
      const [text, kind] = e.state === 'ended' ? endedMessage(e) : failureMessage(e);
      if (text) setMessage(text, kind, 'call');
      else clearMessage('call');
      // A declined or missed incoming call leaves no "last call" card.
      if (e.direction === 'incoming' && e.state === 'failed') lastCall = null;
      else
        lastCall = {
          peer: e.peer || { name: '' },
          status: e.state === 'ended' || e.cause === JsSIP.C.causes.CANCELED ? 'Call ended' : 'Call failed',
          duration,
        };
      if (e.direction === 'incoming' && e.state === 'failed') el.callStatus.textContent = 'Call ended';
      stopTimer(false);
      break;
    }
    default:
      break;
  }
  render();
}

// Text messages: newest last, at most TEXTS_KEPT.
const TEXTS_KEPT = 20;

function addText(direction, who, text) {
  const item = document.createElement('li');
  item.dataset.dir = direction;
  const name = document.createElement('span');
  name.className = 'who';
  name.textContent = direction === 'out' ? `To ${who}:` : `${who}:`;
  item.append(name, document.createTextNode(text));
  el.texts.append(item);
  while (el.texts.childElementCount > TEXTS_KEPT) el.texts.firstElementChild.remove();
  item.scrollIntoView({ block: 'nearest' });
}

function clearTexts() {
  el.texts.replaceChildren();
}

function onText(e) {
  const who = e.peer ? e.peer.short || e.peer.name : 'Someone';
  addText('in', who, e.text);
  render();
}

function appendDigit(node, digit) {
  node.textContent = (node.textContent + digit).slice(-DTMF_SHOWN);
}

function onDtmf(e) {
  if (!e.digit) return;
  appendDigit(el.dtmfReceived, String(e.digit));
  render();
}

function onBusy(e) {
  const who = e.peer ? e.peer.name : 'Someone';
  setMessage(`${who} called while you were on another call`, 'info', 'busy');
}

function onRemoteStream(e) {
  const audio = el.remoteAudio;
  tones.stop(); // early media replaces the local ringback
  if (audio.srcObject !== e.stream) {
    if (e.fallback && audio.srcObject) return;
    audio.srcObject = e.stream;
  }
  const playing = audio.play();
  if (playing && playing.catch) {
    playing.catch((error) => {
      if (error && error.name === 'NotAllowedError') {
        setMessage('The browser blocked audio playback — click anywhere on the page to hear the call', 'warn', 'autoplay');
        const resume = () => {
          audio.play().then(() => clearMessage('autoplay'), () => {});
        };
        document.addEventListener('click', resume, { once: true });
      }
    });
  }
}

// ---- sign in / out ------------------------------------------------------------------

async function signIn(creds) {
  clearMessage();
  stopPhone();
  el.signIn.disabled = true;
  try {
    await loadConfig();
  } catch (error) {
    console.warn('[webphone] /api/config', error);
    setMessage(MSG_CONFIG, 'error', 'config');
    render();
    return;
  } finally {
    el.signIn.disabled = false;
  }

  credentials = creds;
  rememberUser(creds.user);
  netState = 'connecting';
  regState = 'pending';
  lastCall = null;
  const protocol = creds.protocol === 'json' ? 'json' : 'sip';
  rememberProtocol(protocol);
  clearTexts();
  const p = protocol === 'json' ? new JsonPhone(config, creds) : new Phone(config, creds);
  p.on('transport', onTransport);
  p.on('registration', onRegistration);
  p.on('incoming', onIncoming);
  p.on('busy', onBusy);
  p.on('call', onCall);
  p.on('remotestream', onRemoteStream);
  p.on('message', onText);
  p.on('dtmf', onDtmf);
  p.on('hold', () => render());
  phone = p;
  try {
    p.start();
  } catch (error) {
    phone = null;
    credentials = null;
    setMessage(error.message, 'error', 'start');
    render();
    return;
  }
  render();
  el.dialInput.focus();
  refreshIceServers();
}

function stopPhone() {
  tones.stop();
  stopMeters();
  stopTimer(true);
  el.remoteAudio.srcObject = null;
  if (phone) {
    const p = phone;
    phone = null;
    p.stop();
  }
  credentials = null;
  lastCall = null;
  netState = 'connecting';
  regState = 'pending';
}

function signOut() {
  stopPhone();
  clearMessage();
  el.user.value = rememberedUser();
  el.password.value = '';
  render();
  (el.user.value ? el.password : el.user).focus();
}

function signInWithToken(token) {
  const user = jwtSubject(token);
  if (!user) {
    setMessage('The sign-in link is not valid — sign in with your user name and password', 'error', 'token');
    render();
    return;
  }
  el.user.value = user;
  signIn({ user, token, protocol: el.protocol.value });
}

// ---- UI events -----------------------------------------------------------------------

el.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  unlockAudio();
  const user = el.user.value.trim();
  const password = el.password.value;
  if (!user) {
    setMessage('Enter your user name', 'error', 'form');
    el.user.focus();
    return;
  }
  if (!password) {
    setMessage('Enter your password', 'error', 'form');
    el.password.focus();
    return;
  }
  signIn({ user, password, protocol: el.protocol.value });
});

el.dialForm.addEventListener('submit', (event) => {
  event.preventDefault();
  unlockAudio();
  if (!phone) return;
  const target = el.dialInput.value.trim();
  if (!target) {
    setMessage('Enter a user name or SIP address to call', 'error', 'call');
    el.dialInput.focus();
    return;
  }
  clearMessage('call', 'busy', 'autoplay');
  try {
    phone.call(target);
  } catch (error) {
    setMessage(error.message, 'error', 'call');
    render();
  }
});

el.textForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!phone) return;
  const target = el.dialInput.value.trim();
  const text = el.textInput.value;
  if (!target) {
    setMessage('Enter the user name or SIP address to send the message to', 'error', 'text');
    el.dialInput.focus();
    return;
  }
  if (!text.trim()) {
    el.textInput.focus();
    return;
  }
  clearMessage('text');
  const p = phone;
  el.textSend.disabled = true;
  try {
    await p.sendMessage(target, text);
    if (phone !== p) return;
    addText('out', target, text);
    el.textInput.value = '';
  } catch (error) {
    if (phone === p) setMessage(`The message to ${target} was not delivered: ${error.message || error}`, 'error', 'text');
  } finally {
    render();
  }
});

el.accept.addEventListener('click', () => {
  unlockAudio();
  tones.stop();
  clearMessage('call', 'busy', 'autoplay');
  if (phone) phone.answer();
  render();
});

el.decline.addEventListener('click', () => {
  tones.stop();
  if (phone) phone.decline();
});

el.hangup.addEventListener('click', () => {
  if (phone) phone.hangup();
});

el.keypadToggle.addEventListener('click', () => {
  keypadOpen = !keypadOpen;
  render();
});

el.keypad.addEventListener('click', (event) => {
  const key = event.target.closest('[data-digit]');
  if (!key || !phone) return;
  const digit = key.dataset.digit;
  appendDigit(el.dtmfSent, digit);
  phone.sendDtmf(digit).catch((error) => setMessage(`The key ${digit} was not sent: ${error.message || error}`, 'warn', 'dtmf'));
  render();
});

el.hold.addEventListener('click', async () => {
  if (!phone) return;
  const p = phone;
  el.hold.disabled = true;
  try {
    await p.setHeld(!p.held.local);
  } catch (error) {
    if (phone === p) setMessage(`${p.held.local ? 'Resume' : 'Hold'} failed: ${error.message || error}`, 'warn', 'hold');
  } finally {
    el.hold.disabled = false;
    render();
  }
});

el.mute.addEventListener('click', () => {
  if (!phone) return;
  phone.setMuted(!phone.muted);
  render();
});

el.callDismiss.addEventListener('click', () => {
  lastCall = null;
  clearMessage('call');
  render();
  el.dialInput.focus();
});

el.signOut.addEventListener('click', signOut);

// Any gesture may start audio (token sign-in has no click before a call).
document.addEventListener('pointerdown', unlockAudio, true);
document.addEventListener('keydown', unlockAudio, true);

window.addEventListener('hashchange', () => {
  const token = takeFragmentToken();
  if (!token) return;
  if (config) signInWithToken(token);
  else pendingToken = token;
});

// Best effort: un-REGISTER when the page goes away.
window.addEventListener('pagehide', () => {
  if (phone) phone.stop();
});

// ---- start ------------------------------------------------------------------------------

let pendingToken = null;

// Loads /api/config, retrying in the background until it works.
async function loadConfigWithRetry(delay = 3000) {
  try {
    await loadConfig();
  } catch (error) {
    console.warn('[webphone] /api/config', error);
    if (!phone) {
      setMessage(MSG_CONFIG, 'error', 'config');
      render();
      if (pendingToken) {
        show(el.loginView, false);
        document.body.dataset.state = 'connecting';
      }
    }
    setTimeout(() => loadConfigWithRetry(Math.min(delay * 2, 30000)), delay);
    return;
  }
  clearMessage('config');
  if (pendingToken && !phone) {
    const token = pendingToken;
    pendingToken = null;
    signInWithToken(token);
  }
}

async function init() {
  el.user.value = rememberedUser();
  el.protocol.value = initialProtocol();
  render();
  pendingToken = takeFragmentToken();
  if (pendingToken) {
    // No password form for a token sign-in: show "Connecting…" at once.
    show(el.loginView, false);
    el.regStatus.textContent = 'Connecting…';
    document.body.dataset.state = 'connecting';
  } else {
    (el.user.value ? el.password : el.user).focus();
  }
  await loadConfigWithRetry();
}

init();
