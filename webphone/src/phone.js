// A thin wrapper around JsSIP: one user agent, at most one call. It turns
// JsSIP's events into a few plain ones for the UI (main.js) and keeps every
// SIP detail here.
//
// Events (phone.on(name, fn)):
//   'transport'    {state: 'connecting'|'connected'|'disconnected', lost: bool, code, reason}
//   'registration' {state: 'registered'|'unregistered'|'failed', cause, statusCode, authFailed}
//   'incoming'     {peer}                      a call is ringing in (phone.session is set)
//   'busy'         {peer}                      a call came in while busy; answered 486
//   'call'         {state, peer, ...}          state of the current call:
//        'calling'  outgoing INVITE sent
//        'ringing'  18x received               {early: bool}
//        'in-call'  answered
//        'ended'    {originator, cause, statusCode, direction, answered}
//        'failed'   {originator, cause, statusCode, direction}
//   'remotestream' {stream}  'localstream' {stream}
//   'peerconnection' {pc}

import * as JsSIP from 'jssip';

const USER_AGENT = 'Tandem web phone';

// How long to wait for ICE candidates before sending the offer/answer: JsSIP
// waits for gathering to complete, which takes long when a STUN/TURN server
// does not answer. Counted from the first candidate.
export const ICE_GATHERING_CAP_MS = 3000;
// Once a relay (TURN) candidate is in, wait only a little for the rest.
export const ICE_AFTER_RELAY_MS = 400;
// Retry REGISTER after a failure that JsSIP does not retry by itself.
const REGISTER_RETRY_MS = 30000;

export class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  on(name, fn) {
    if (!this._handlers.has(name)) this._handlers.set(name, new Set());
    this._handlers.get(name).add(fn);
    return () => this._handlers.get(name).delete(fn);
  }
  emit(name, data = {}) {
    for (const fn of this._handlers.get(name) || []) {
      try {
        fn(data);
      } catch (error) {
        console.error(`[phone] handler for "${name}" threw`, error);
      }
    }
  }
}

// Keeps only what RTCIceServer knows (the config adds e.g. "ttl").
export function cleanIceServers(list) {
  if (!Array.isArray(list)) return [];
  const out = [];
  for (const server of list) {
    if (!server || !server.urls) continue;
    const entry = { urls: server.urls };
    if (server.username != null) entry.username = String(server.username);
    if (server.credential != null) entry.credential = String(server.credential);
    out.push(entry);
  }
  return out;
}

// "bob" -> sip:bob@domain, "bob@host" -> sip:bob@host, "sip:x@y" as is.
export function normalizeTarget(input, domain) {
  let text = String(input || '').trim();
  if (!text) return null;
  if (/^sips?:/i.test(text)) {
    // keep as is
  } else if (text.includes('@')) {
    text = `sip:${text}`;
  } else {
    // Allow phone-number-like input: drop visual separators.
    if (/^\+?[\d\s().-]+$/.test(text)) text = text.replace(/[\s().-]/g, '');
    text = `sip:${encodeUser(text)}@${domain}`;
  }
  const uri = JsSIP.URI.parse(text);
  if (!uri || !uri.user) return null;
  return uri;
}

export function encodeUser(user) {
  // RFC 3261 user part: unreserved / escaped / user-unreserved.
  return user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) =>
    Array.from(new TextEncoder().encode(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')
  );
}

// A short, human name for a URI: the user part when it is in our domain.
export function shortName(uri, domain) {
  if (!uri) return '';
  const user = uri.user ? safeDecode(uri.user) : '';
  if (user && uri.host && domain && uri.host.toLowerCase() === String(domain).toLowerCase()) return user;
  return user ? `${user}@${uri.host}` : String(uri.host || '');
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// Describes a NameAddrHeader (remote identity) for display.
export function describeIdentity(identity, domain) {
  if (!identity) return { name: 'Unknown', uri: '' };
  const uri = identity.uri;
  const display = identity.display_name ? String(identity.display_name) : '';
  const short = shortName(uri, domain);
  return {
    name: display || short || 'Unknown',
    short: short || display || 'Unknown',
    uri: uri ? `${uri.user ? `${safeDecode(uri.user)}@` : ''}${uri.host}` : '',
  };
}

// What both phones (this JsSIP one and JsonPhone) share: the state the UI
// reads, the ICE configuration, the call's target, and the WebRTC streams.
export class BasePhone extends Emitter {
  // config: {domain, wsUrl, iceServers}
  // credentials: {user, password} or {user, token}
  constructor(config, credentials, protocol) {
    super();
    this.config = config;
    this.credentials = credentials;
    this.protocol = protocol;
    this.session = null;
    this.peerConnection = null;
    this.peer = null;
    this.muted = false;
    this.held = { local: false, remote: false }; // on hold by us / by the other side
    this.transportState = 'disconnected';
    this.registered = false;
    this.everConnected = false;
    this.callState = null; // 'calling' | 'ringing' | 'ringing-in' | 'in-call' | null
    this.callDirection = null;
    this.answeredAt = null;
    this._stopped = false;
  }

  get aor() {
    return this.uri ? `${this.uri.user}@${this.uri.host}` : '';
  }

  // Sets this.uri from the credentials' user; throws when it is not one.
  _parseUser() {
    const { user } = this.credentials;
    const address = String(user).includes('@') ? `sip:${user}` : `sip:${encodeUser(String(user))}@${this.config.domain}`;
    this.uri = JsSIP.URI.parse(address);
    if (!this.uri || !this.uri.user) throw new Error(`"${user}" is not a valid user name`);
  }

  updateIceServers(iceServers) {
    this.config = { ...this.config, iceServers };
  }

  get pcConfig() {
    // Always explicit, even when empty: nothing may default to a public STUN server.
    return { iceServers: cleanIceServers(this.config.iceServers) };
  }

  // The URI to call for what the user typed; throws with a human message.
  _target(input) {
    const target = normalizeTarget(input, this.config.domain);
    if (!target) throw new Error(`"${String(input).trim()}" is not a valid user name or SIP address`);
    return target;
  }

  // Starts an outgoing call's state; throws when one is going on already.
  _beginOutgoing(input, connected) {
    if (this.session) throw new Error('Hang up the current call first');
    if (!connected) throw new Error('Not connected to the server yet');
    const target = this._target(input);
    const name = shortName(target, this.config.domain);
    this.peer = { name, short: name, uri: `${target.user}@${target.host}` };
    this.callDirection = 'outgoing';
    this.callState = 'calling';
    this.muted = false;
    return target;
  }

  // What a call leaves behind, forgotten when it ends.
  _resetCallState() {
    this.session = null;
    this.peerConnection = null;
    this.callState = null;
    this.answeredAt = null;
    this.muted = false;
    this.held = { local: false, remote: false };
  }

  _setHeld(local, remote) {
    if (this.held.local === local && this.held.remote === remote) return;
    this.held = { local, remote };
    this.emit('hold', { ...this.held });
  }

  _inCall() {
    if (this.callState === 'in-call') return;
    this.callState = 'in-call';
    this.answeredAt = Date.now();
    this.emit('call', { state: 'in-call', peer: this.peer });
    this._pickStreams();
  }

  // Fallback when 'track' fired before we listened.
  _pickStreams() {
    const pc = this.peerConnection;
    if (!pc) return;
    const remote = pc
      .getReceivers()
      .map((r) => r.track)
      .filter((t) => t && t.kind === 'audio');
    if (remote.length) this.emit('remotestream', { stream: new MediaStream(remote), fallback: true });
  }

  remoteAudioTrack() {
    const pc = this.peerConnection;
    if (!pc || pc.signalingState === 'closed') return null;
    for (const receiver of pc.getReceivers()) {
      if (receiver.track && receiver.track.kind === 'audio' && receiver.track.readyState === 'live') return receiver.track;
    }
    return null;
  }
}

export class Phone extends BasePhone {
  // config: {domain, wsUrl, iceServers}
  // credentials: {user, password} or {user, token}
  constructor(config, credentials) {
    super(config, credentials, 'sip');
    this.ua = null;
    this._registerRetry = null;
  }

  // Throws with a human message when the settings are unusable.
  start() {
    const { password, token } = this.credentials;
    const { wsUrl } = this.config;
    this._parseUser();

    let socket;
    try {
      socket = new JsSIP.WebSocketInterface(wsUrl);
    } catch {
      throw new Error(`The server's WebSocket address is invalid (${wsUrl})`);
    }

    const settings = {
      sockets: [socket],
      uri: this.uri.toString(),
      register: true,
      register_expires: 300,
      session_timers: true,
      user_agent: USER_AGENT,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    };
    if (token) {
      settings.authorization_jwt = `Bearer ${token}`;
      settings.password = null;
    } else {
      settings.password = password;
    }

    try {
      this.ua = new JsSIP.UA(settings);
    } catch (error) {
      const param = error && error.parameter ? ` (${error.parameter})` : '';
      throw new Error(`Cannot start the phone: invalid setting${param}`);
    }
    this._bindUa(this.ua);
    this.ua.start();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._registerRetry);
    const ua = this.ua;
    if (ua) {
      try {
        ua.stop(); // terminates calls, un-REGISTERs, closes the WebSocket
      } catch (error) {
        console.warn('[phone] ua.stop()', error);
      }
    }
    this._clearCall();
  }

  call(input) {
    const target = this._beginOutgoing(input, !!this.ua && this.ua.isConnected());
    // Emitted before ua.call(): JsSIP may fail synchronously-ish (no mic).
    this.emit('call', { state: 'calling', peer: this.peer });
    try {
      return this.ua.call(target.toString(), {
        mediaConstraints: { audio: true, video: false },
        pcConfig: this.pcConfig,
        rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
        eventHandlers: {
          // Emitted inside ua.call(), before 'newRTCSession'.
          peerconnection: (e) => this._attachPeerConnection(e.peerconnection),
        },
      });
    } catch (error) {
      this._clearCall();
      this.emit('call', { state: 'failed', peer: this.peer, originator: 'local', cause: 'Internal Error', direction: 'outgoing' });
      throw new Error(`Cannot start the call: ${error.message || error}`);
    }
  }

  answer() {
    const session = this.session;
    if (!session || this.callState !== 'ringing-in') return;
    this.muted = false;
    session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: this.pcConfig,
    });
  }

  decline() {
    const session = this.session;
    if (!session || this.callState !== 'ringing-in') return;
    try {
      session.terminate({ status_code: 603, reason_phrase: 'Decline' });
    } catch (error) {
      console.warn('[phone] decline', error);
    }
  }

  hangup() {
    const session = this.session;
    if (!session) return;
    if (this.callState === 'ringing-in') return this.decline();
    try {
      session.terminate();
    } catch (error) {
      console.warn('[phone] terminate', error);
      this._clearCall();
    }
  }

  setMuted(muted) {
    const session = this.session;
    if (!session) return;
    if (muted) session.mute({ audio: true });
    else session.unmute({ audio: true });
    this.muted = session.isMuted().audio;
  }

  // Puts the call on hold (a re-INVITE with a=sendonly) or resumes it.
  setHeld(held) {
    const session = this.session;
    if (!session || this.callState !== 'in-call' || this.held.local === !!held) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => resolve();
      const ok = held
        ? session.hold({ useUpdate: false }, done)
        : session.unhold({ useUpdate: false }, done);
      if (!ok) reject(new Error(held ? 'The call cannot be put on hold now' : 'The call cannot be resumed now'));
    });
  }

  // DTMF as SIP INFO (application/dtmf-relay), as the gateway sends and reads it.
  async sendDtmf(digits) {
    if (!this.session || this.callState !== 'in-call') return;
    this.session.sendDTMF(String(digits), { duration: 160, interToneGap: 70 });  // throws when it cannot
  }

  // A text message (SIP MESSAGE, RFC 3428): resolves with the SIP status.
  sendMessage(input, text) {
    if (!this.ua || !this.ua.isConnected()) return Promise.reject(new Error('Not connected to the server yet'));
    let target;
    try {
      target = this._target(input);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.ua.sendMessage(target.toString(), String(text), {
        contentType: 'text/plain;charset=utf-8',
        eventHandlers: {
          succeeded: (e) => resolve(e.response ? e.response.status_code : 200),
          failed: (e) => {
            const code = e.response ? e.response.status_code : null;
            reject(new Error(code ? `${code} ${e.response.reason_phrase || e.cause}` : e.cause));
          },
        },
      });
    });
  }

  // ---- JsSIP wiring -------------------------------------------------------

  _bindUa(ua) {
    const mine = (fn) => (e) => {
      if (this.ua !== ua || this._stopped) return;
      fn(e || {});
    };

    ua.on(
      'connecting',
      mine((e) => {
        this.transportState = 'connecting';
        this.emit('transport', { state: 'connecting', lost: this.everConnected, attempt: e.attempts });
      })
    );
    ua.on(
      'connected',
      mine(() => {
        this.transportState = 'connected';
        this.everConnected = true;
        this.emit('transport', { state: 'connected', lost: false });
      })
    );
    ua.on(
      'disconnected',
      mine((e) => {
        this.transportState = 'disconnected';
        this.registered = false;
        clearTimeout(this._registerRetry);
        this.emit('transport', {
          state: 'disconnected',
          lost: this.everConnected,
          code: e.code,
          reason: e.reason,
          error: !!e.error,
        });
      })
    );
    ua.on(
      'registered',
      mine(() => {
        this.registered = true;
        clearTimeout(this._registerRetry);
        this.emit('registration', { state: 'registered' });
      })
    );
    ua.on(
      'unregistered',
      mine((e) => {
        this.registered = false;
        this.emit('registration', { state: 'unregistered', cause: e.cause || null });
      })
    );
    ua.on(
      'registrationFailed',
      mine((e) => {
        this.registered = false;
        const statusCode = e.response ? e.response.status_code : null;
        const C = JsSIP.C.causes;
        const authFailed =
          e.cause === C.AUTHENTICATION_ERROR ||
          e.cause === C.REJECTED ||
          statusCode === 401 ||
          statusCode === 403 ||
          statusCode === 407;
        if (!authFailed && e.cause !== C.CONNECTION_ERROR) {
          // JsSIP retries only after a reconnection; retry a server error ourselves.
          clearTimeout(this._registerRetry);
          this._registerRetry = setTimeout(() => {
            if (this.ua === ua && !this._stopped && ua.isConnected() && !ua.isRegistered()) ua.register();
          }, REGISTER_RETRY_MS);
        }
        this.emit('registration', { state: 'failed', cause: e.cause, statusCode, authFailed });
      })
    );
    ua.on(
      'newMessage',
      mine((e) => {
        if (e.originator !== 'remote' || !e.request) return;
        const contentType = String(e.request.getHeader('Content-Type') || 'text/plain');
        if (!/^text\//i.test(contentType)) return;
        this.emit('message', {
          peer: describeIdentity(e.message.remote_identity, this.config.domain),
          text: String(e.request.body || ''),
          contentType,
        });
      })
    );
    ua.on(
      'newRTCSession',
      mine((e) => this._onNewSession(e))
    );
  }

  _onNewSession({ session, originator }) {
    if (originator === 'remote') {
      if (this.session) {
        // Already in a call (or ringing): busy.
        const peer = describeIdentity(session.remote_identity, this.config.domain);
        try {
          session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        } catch (error) {
          console.warn('[phone] busy', error);
        }
        this.emit('busy', { peer });
        return;
      }
      this.session = session;
      this.callDirection = 'incoming';
      this.callState = 'ringing-in';
      this.peer = describeIdentity(session.remote_identity, this.config.domain);
      this._bindSession(session);
      this.emit('incoming', { peer: this.peer });
      return;
    }
    // Outgoing: created by call().
    this.session = session;
    this._bindSession(session);
    if (session.connection) this._attachPeerConnection(session.connection);
  }

  _bindSession(session) {
    const mine = (fn) => (e) => {
      if (this.session !== session) return;
      fn(e || {});
    };
    session.on(
      'peerconnection',
      mine((e) => this._attachPeerConnection(e.peerconnection))
    );
    session.on(
      'progress',
      mine((e) => {
        if (this.callDirection !== 'outgoing' || e.originator !== 'remote') return;
        const code = e.response ? e.response.status_code : 0;
        if (code > 100 && this.callState === 'calling') {
          this.callState = 'ringing';
          this.emit('call', { state: 'ringing', peer: this.peer, early: code === 183 });
        }
      })
    );
    session.on(
      'accepted',
      mine(() => this._inCall())
    );
    session.on(
      'confirmed',
      mine(() => this._inCall())
    );
    session.on(
      'icecandidate',
      mine((e) => this._onIceCandidate(e))
    );
    session.on(
      'failed',
      mine((e) => {
        const info = {
          state: 'failed',
          peer: this.peer,
          originator: e.originator,
          cause: e.cause,
          statusCode: e.message && e.message.status_code ? e.message.status_code : null,
          direction: this.callDirection,
        };
        this._clearCall();
        this.emit('call', info);
      })
    );
    session.on(
      'ended',
      mine((e) => {
        const info = {
          state: 'ended',
          peer: this.peer,
          originator: e.originator,
          cause: e.cause,
          statusCode: null,
          direction: this.callDirection,
          answered: true,
        };
        this._clearCall();
        this.emit('call', info);
      })
    );
    session.on(
      'newDTMF',
      mine((e) => {
        if (e.originator === 'remote' && e.dtmf) this.emit('dtmf', { digit: e.dtmf.tone, duration: e.dtmf.duration });
      })
    );
    const onHold = () => {
      const h = session.isOnHold();
      this._setHeld(!!h.local, !!h.remote);
    };
    session.on('hold', mine(onHold));
    session.on('unhold', mine(onHold));
    session.on('muted', mine(() => (this.muted = true)));
    session.on('unmuted', mine(() => (this.muted = false)));
  }

  // Caps ICE gathering (see ICE_GATHERING_CAP_MS).
  _onIceCandidate(e) {
    this._iceReady = e.ready;
    const candidate = e.candidate && e.candidate.candidate ? e.candidate.candidate : '';
    if (!this._iceTimer) {
      this._iceTimer = setTimeout(() => this._iceDone(), ICE_GATHERING_CAP_MS);
    }
    if (/ typ relay /.test(candidate) && !this._iceRelayTimer) {
      this._iceRelayTimer = setTimeout(() => this._iceDone(), ICE_AFTER_RELAY_MS);
    }
  }

  _iceDone() {
    clearTimeout(this._iceTimer);
    clearTimeout(this._iceRelayTimer);
    this._iceTimer = this._iceRelayTimer = null;
    const ready = this._iceReady;
    this._iceReady = null;
    if (ready) ready();
  }

  _attachPeerConnection(pc) {
    if (!pc || this.peerConnection === pc) return;
    this.peerConnection = pc;
    // A new offer/answer round (e.g. re-INVITE) restarts the ICE cap.
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'gathering') {
        clearTimeout(this._iceTimer);
        clearTimeout(this._iceRelayTimer);
        this._iceTimer = this._iceRelayTimer = null;
      }
    });
    pc.addEventListener('track', (e) => {
      if (this.peerConnection !== pc || e.track.kind !== 'audio') return;
      const stream = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
      this.emit('remotestream', { stream });
    });
    this.emit('peerconnection', { pc });
  }

  // The local microphone track, once JsSIP has added it.
  localAudioTrack() {
    const pc = this.peerConnection;
    if (!pc || pc.signalingState === 'closed') return null;
    for (const sender of pc.getSenders()) {
      if (sender.track && sender.track.kind === 'audio') return sender.track;
    }
    return null;
  }

  _clearCall() {
    clearTimeout(this._iceTimer);
    clearTimeout(this._iceRelayTimer);
    this._iceTimer = this._iceRelayTimer = null;
    this._iceReady = null;
    this._resetCallState();
  }
}

export { JsSIP };
