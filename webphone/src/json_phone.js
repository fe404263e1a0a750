// The web phone over Tandem's own site protocol, `tandem.v1` (JSON-RPC 2.0 on
// the same /ws endpoint; docs/protocol.md). The browser runs no SIP: Tandem's
// gateway is its SIP user agent. This class has the same methods and events as
// Phone (phone.js), so the UI (main.js) drives either one; the WebRTC side
// (RTCPeerConnection, microphone, ICE gathering) is done here, since there is
// no JsSIP to do it.
//
// Call-end causes are reported with JsSIP's cause names (JsSIP.C.causes), the
// vocabulary the UI already speaks.

import { BasePhone, JsSIP, ICE_AFTER_RELAY_MS, ICE_GATHERING_CAP_MS, describeIdentity } from './phone.js';

export const SUBPROTOCOL = 'tandem.v1';
const RPC_TIMEOUT_MS = 20000;
const RECONNECT_MIN_MS = 2000;
const RECONNECT_MAX_MS = 30000;
// JSON-RPC error codes of tandem.v1 the phone reacts to.
const ERR_LOGIN_FAILED = -32002;
const ERR_SIP = -32006;

// A JSON-RPC error as an Error, with its code and data.
class RpcError extends Error {
  constructor(error) {
    super(error && error.message ? error.message : 'request failed');
    this.code = error ? error.code : 0;
    this.data = error ? error.data : undefined;
  }
}

// JsSIP's cause for a SIP status (as JsSIP.C.SIP_ERROR_CAUSES).
function causeForStatus(status) {
  const C = JsSIP.C.causes;
  if (status >= 300 && status < 400) return C.REDIRECTED;
  for (const [cause, codes] of Object.entries(JsSIP.C.SIP_ERROR_CAUSES)) {
    if (codes.includes(status)) return C[cause];
  }
  return C.SIP_FAILURE_CODE;
}

// tandem.v1's `reason` (docs/protocol.md) as a JsSIP cause.
export function causeForReason(reason, status) {
  const C = JsSIP.C.causes;
  switch (reason) {
    case 'hangup':
      return C.BYE;
    case 'cancelled':
    case 'answered_elsewhere':
      return C.CANCELED;
    case 'busy':
      return C.BUSY;
    case 'not_found':
      return C.NOT_FOUND;
    case 'unavailable':
      return C.UNAVAILABLE;
    case 'declined':
      return C.REJECTED;
    case 'timeout':
      return status ? causeForStatus(status) : C.NO_ANSWER;
    case 'session_expired':
      return C.EXPIRES;
    case 'connection_lost':
      return C.CONNECTION_ERROR;
    default:
      return status ? causeForStatus(status) : C.SIP_FAILURE_CODE;
  }
}

// Whether an SDP puts its sender on hold: its audio is sendonly or inactive
// (RFC 3264 §8.4), or its connection address is 0.0.0.0 (RFC 2543 style).
export function sdpHolds(sdp) {
  const text = String(sdp || '');
  const audio = text.indexOf('m=audio');
  const section = audio >= 0 ? text.slice(audio) : text;
  return /\r?\na=(sendonly|inactive)\b/.test(section) || /\r?\nc=IN IP4 0\.0\.0\.0\b/.test(section);
}

// A URI string of a notification ("sip:bob@b.example") as the identity shape
// describeIdentity() reads.
function identityOf(uriText, displayName) {
  const uri = uriText ? JsSIP.URI.parse(String(uriText)) : null;
  return { uri, display_name: displayName || '' };
}

export class JsonPhone extends BasePhone {
  // config: {domain, wsUrl, iceServers}
  // credentials: {user, password} or {user, token}
  constructor(config, credentials) {
    super(config, credentials, 'json');
    this.ws = null;
    // this.session: the current call, {id, direction, offer, answering, hangupRequested}
    this.localStream = null;
    this._authFailed = false;
    this._nextId = 1;
    this._pending = new Map(); // id -> {resolve, reject, timer}
    this._reconnectDelay = RECONNECT_MIN_MS;
    this._reconnectTimer = null;
  }

  // The user agent of the SIP flavour; none here (kept for the test hooks).
  get ua() {
    return null;
  }

  // Throws with a human message when the settings are unusable.
  start() {
    const { wsUrl } = this.config;
    this._parseUser();
    if (!/^wss?:\/\//i.test(String(wsUrl))) throw new Error(`The server's WebSocket address is invalid (${wsUrl})`);
    this._connect();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._reconnectTimer);
    this._endCallLocally(null);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000, 'signed out');  // Tandem ends the calls and drops the binding
      } catch (error) {
        console.warn('[json-phone] close', error);
      }
    }
    this._rejectPending(new Error('stopped'));
  }

  // ---- calls ------------------------------------------------------------------

  call(input) {
    const target = this._beginOutgoing(input, this.registered);
    const session = { id: null, direction: 'outgoing', hangupRequested: false };
    this.session = session;
    this.emit('call', { state: 'calling', peer: this.peer });
    this._placeCall(session, target.toString()).catch((error) => this._callSetupFailed(session, error));
  }

  async _placeCall(session, to) {
    const pc = await this._newPeerConnection(session);
    const offer = await pc.createOffer({ offerToReceiveAudio: true, offerToReceiveVideo: false });
    await pc.setLocalDescription(offer);
    await this._gathered(pc);
    if (this.session !== session) return;
    if (session.hangupRequested) return this._endCallLocally({ cause: JsSIP.C.causes.CANCELED, originator: 'local' });
    const { call } = await this._rpc('call', { to, sdp: pc.localDescription.sdp });
    session.id = call;
    if (this.session === session && session.hangupRequested) this._rpc('hangup', { call }).catch(() => {});
  }

  answer() {
    const session = this.session;
    if (!session || this.callState !== 'ringing-in' || session.answering) return;
    session.answering = true;
    this.muted = false;
    this._answerCall(session).catch((error) => {
      console.warn('[json-phone] answer failed', error);
      if (session.id) this._rpc('hangup', { call: session.id }).catch(() => {});
      this._callSetupFailed(session, error);
    });
  }

  async _answerCall(session) {
    const pc = await this._newPeerConnection(session);
    if (session.offer) {
      await pc.setRemoteDescription({ type: 'offer', sdp: session.offer });
      await pc.setLocalDescription(await pc.createAnswer());
    } else {
      // A late offer (an INVITE without SDP): we offer, the caller's answer
      // comes in call.answered.
      await pc.setLocalDescription(await pc.createOffer({ offerToReceiveAudio: true, offerToReceiveVideo: false }));
    }
    await this._gathered(pc);
    if (this.session !== session) return;
    await this._rpc('answer', { call: session.id, sdp: pc.localDescription.sdp });
    if (this.session === session) this._inCall();
  }

  decline() {
    const session = this.session;
    if (!session || this.callState !== 'ringing-in') return;
    this._rpc('reject', { call: session.id, reason: 'declined' }).catch((error) => {
      console.warn('[json-phone] reject', error);
    });
  }

  hangup() {
    const session = this.session;
    if (!session) return;
    if (this.callState === 'ringing-in' && !session.answering) return this.decline();
    if (!session.id) {
      // Still gathering ICE or waiting for the call's id: _placeCall finishes it.
      session.hangupRequested = true;
      return;
    }
    this._rpc('hangup', { call: session.id }).catch((error) => {
      console.warn('[json-phone] hangup', error);
      this._endCallLocally({ cause: JsSIP.C.causes.BYE, originator: 'local' });
    });
  }

  setMuted(muted) {
    if (!this.session || !this.localStream) return;
    for (const track of this.localStream.getAudioTracks()) track.enabled = !muted;
    this.muted = !!muted;
  }

  // A text message (SIP MESSAGE): resolves with the SIP status.
  async sendMessage(input, text) {
    const target = this._target(input);
    const result = await this._rpc('message', { to: target.toString(), text: String(text) });
    return result.status;
  }

  // Puts the call on hold (our new offer is sendonly: a re-INVITE through the
  // gateway, `hold`) or resumes it (sendrecv, `resume`). The far side's
  // answer applies; when it refuses, the previous description stays.
  async setHeld(held) {
    const session = this.session;
    const pc = this.peerConnection;
    if (!session || !session.id || !pc || this.callState !== 'in-call' || this.held.local === !!held) return;
    if (session.renegotiating) throw new Error('Wait for the previous hold or resume to finish');
    session.renegotiating = true;
    const audio = pc.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === 'audio');
    const before = audio.map((t) => t.direction);
    try {
      for (const t of audio) t.direction = held ? 'sendonly' : 'sendrecv';
      await pc.setLocalDescription(await pc.createOffer());
      await this._gathered(pc);
      const { sdp } = await this._rpc(held ? 'hold' : 'resume', { call: session.id, sdp: pc.localDescription.sdp });
      if (this.session !== session) return;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      this._setHeld(!!held, this.held.remote);
    } catch (error) {
      if (this.session === session && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        audio.forEach((t, i) => (t.direction = before[i]));
      }
      throw error;
    } finally {
      session.renegotiating = false;
    }
  }

  // DTMF digits as SIP INFO.
  sendDtmf(digits) {
    if (!this.session || !this.session.id || this.callState !== 'in-call') return Promise.resolve();
    return this._rpc('dtmf', { call: this.session.id, digits: String(digits) });
  }

  // ---- the connection -----------------------------------------------------------

  _connect() {
    if (this._stopped) return;
    this.transportState = 'connecting';
    this.emit('transport', { state: 'connecting', lost: this.everConnected });
    let ws;
    try {
      ws = new WebSocket(this.config.wsUrl, SUBPROTOCOL);
    } catch (error) {
      this.emit('transport', { state: 'disconnected', lost: false, error: true, reason: String(error) });
      return this._scheduleReconnect();
    }
    this.ws = ws;
    const mine = (fn) => (e) => {
      if (this.ws === ws && !this._stopped) fn(e);
    };
    ws.onopen = mine(() => {
      if (ws.protocol !== SUBPROTOCOL) {
        console.warn(`[json-phone] the server did not accept ${SUBPROTOCOL} (got "${ws.protocol}")`);
        ws.close(1002, 'subprotocol');
        return;
      }
      this.transportState = 'connected';
      this.everConnected = true;
      this._reconnectDelay = RECONNECT_MIN_MS;
      this.emit('transport', { state: 'connected', lost: false });
      this._login(ws);
    });
    ws.onmessage = mine((e) => this._onMessage(e.data));
    ws.onclose = mine((e) => {
      this.ws = null;
      this.transportState = 'disconnected';
      this.registered = false;
      this._rejectPending(new Error('connection closed'));
      // Tandem ends the calls of a lost connection (BYE/CANCEL to the far side).
      this._endCallLocally({ cause: JsSIP.C.causes.CONNECTION_ERROR, originator: 'system' });
      this.emit('transport', {
        state: 'disconnected',
        lost: this.everConnected,
        code: e.code,
        reason: e.reason,
      });
      if (!this._authFailed) this._scheduleReconnect();
    });
  }

  _scheduleReconnect() {
    if (this._stopped) return;
    clearTimeout(this._reconnectTimer);
    const delay = this._reconnectDelay;
    this._reconnectDelay = Math.min(this._reconnectDelay * 2, RECONNECT_MAX_MS);
    this._reconnectTimer = setTimeout(() => this._connect(), delay);
  }

  async _login(ws) {
    const { user, password, token } = this.credentials;
    const params = token ? { token } : { user: String(user), password: String(password) };
    try {
      const result = await this._rpc('login', params);
      if (this.ws !== ws) return;
      if (result && result.aor) {
        const uri = JsSIP.URI.parse(result.aor);
        if (uri) this.uri = uri;
      }
      this.registered = true;
      this.emit('registration', { state: 'registered' });
    } catch (error) {
      if (this.ws !== ws) return;
      const authFailed = error instanceof RpcError && error.code === ERR_LOGIN_FAILED;
      if (authFailed) this._authFailed = true;
      this.emit('registration', {
        state: 'failed',
        cause: authFailed ? JsSIP.C.causes.AUTHENTICATION_ERROR : error.message,
        statusCode: null,
        authFailed,
      });
      // Not a credentials problem (shutting down, overloaded): try again later.
      if (!authFailed) ws.close(1000, 'login failed');
    }
  }

  _rpc(method, params) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('Not connected to the server'));
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`no answer to ${method}`));
      }, RPC_TIMEOUT_MS);
      this._pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  _reply(id, result, error) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(error ? { jsonrpc: '2.0', id, error } : { jsonrpc: '2.0', id, result }));
  }

  _rejectPending(error) {
    for (const { reject, timer } of this._pending.values()) {
      clearTimeout(timer);
      reject(error);
    }
    this._pending.clear();
  }

  _onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('[json-phone] not JSON from the server', String(data).slice(0, 200));
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.method === undefined) {
      const pending = this._pending.get(msg.id);
      if (!pending) return;
      this._pending.delete(msg.id);
      clearTimeout(pending.timer);
      if (msg.error) pending.reject(new RpcError(msg.error));
      else pending.resolve(msg.result || {});
      return;
    }
    const params = msg.params || {};
    if (msg.id !== undefined) return this._onServerRequest(msg.id, msg.method, params);
    switch (msg.method) {
      case 'call.incoming':
        return this._onIncoming(params);
      case 'call.progress':
        return this._onProgress(params);
      case 'call.answered':
        return this._onAnswered(params);
      case 'call.renegotiated':
        return this._onRenegotiated(params);
      case 'call.ended':
        return this._onEnded(params);
      case 'call.dtmf':
        return this.emit('dtmf', { digit: params.digit, duration: params.duration });
      case 'message':
        return this.emit('message', {
          peer: describeIdentity(identityOf(params.from, params.fromName), this.config.domain),
          text: params.text,
          contentType: params.contentType,
        });
      default:
        return undefined;
    }
  }

  // The one server request: a new offer from the far side (hold, resume, ...).
  async _onServerRequest(id, method, params) {
    const session = this.session;
    const pc = this.peerConnection;
    if (method !== 'call.offer') return this._reply(id, null, { code: -32601, message: `unknown method ${method}` });
    if (!session || session.id !== params.call || !pc) {
      return this._reply(id, null, { code: -32004, message: 'no such call' });
    }
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: params.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await this._gathered(pc);
      this._reply(id, { sdp: pc.localDescription.sdp });
      this._setHeld(this.held.local, sdpHolds(params.sdp));
    } catch (error) {
      console.warn('[json-phone] cannot answer the new offer', error);
      this._reply(id, null, { code: -32603, message: String(error && error.message ? error.message : error) });
    }
  }

  _onIncoming(params) {
    const peer = describeIdentity(identityOf(params.from, params.fromName), this.config.domain);
    if (this.session) {
      this._rpc('reject', { call: params.call, reason: 'busy' }).catch(() => {});
      this.emit('busy', { peer });
      return;
    }
    this.session = { id: params.call, direction: 'incoming', offer: params.sdp, answering: false };
    this.callDirection = 'incoming';
    this.callState = 'ringing-in';
    this.peer = peer;
    this.emit('incoming', { peer });
  }

  _onProgress(params) {
    const session = this.session;
    if (!session || session.id !== params.call || this.callDirection !== 'outgoing') return;
    const pc = this.peerConnection;
    if (params.sdp && pc && pc.signalingState === 'have-local-offer') {
      // Early media (183): the answer so far.
      pc.setRemoteDescription({ type: 'pranswer', sdp: params.sdp }).catch((error) => {
        console.warn('[json-phone] early media', error);
      });
    }
    if (this.callState === 'calling') {
      this.callState = 'ringing';
      this.emit('call', { state: 'ringing', peer: this.peer, early: params.status === 183 || !!params.sdp });
    }
  }

  async _onAnswered(params) {
    const session = this.session;
    const pc = this.peerConnection;
    if (!session || session.id !== params.call || !pc || pc.signalingState === 'stable') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: params.sdp });
    } catch (error) {
      console.warn('[json-phone] the answer does not apply', error);
      this._rpc('hangup', { call: session.id }).catch(() => {});
      return this._endCallLocally({ cause: JsSIP.C.causes.BAD_MEDIA_DESCRIPTION, originator: 'local' });
    }
    if (this.session === session) this._inCall();
  }

  // The far side moved the session with a re-INVITE without an offer: Tandem
  // offered our current description and this is the answer to it. The
  // connection is stable, so it takes a fresh offer of the same description
  // to apply it; if it does not apply, the previous session stays.
  async _onRenegotiated(params) {
    const session = this.session;
    const pc = this.peerConnection;
    if (!session || session.id !== params.call || !pc || this.callState !== 'in-call') return;
    if (session.renegotiating || pc.signalingState !== 'stable') return;
    session.renegotiating = true;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await pc.setRemoteDescription({ type: 'answer', sdp: params.sdp });
      this._setHeld(this.held.local, sdpHolds(params.sdp));
    } catch (error) {
      console.warn('[json-phone] the renegotiated session does not apply', error);
      if (pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
    } finally {
      session.renegotiating = false;
    }
  }

  _onEnded(params) {
    const session = this.session;
    if (!session || session.id !== params.call) return;
    this._endCallLocally({
      cause: causeForReason(params.reason, params.status),
      statusCode: params.status || null,
      originator: params.by === 'local' ? 'local' : 'remote',
    });
  }

  // Setting up the local side failed (microphone, WebRTC, the request).
  _callSetupFailed(session, error) {
    if (this.session !== session) return;
    const C = JsSIP.C.causes;
    let cause = C.WEBRTC_ERROR;
    let statusCode = null;
    if (error && (error.name === 'NotAllowedError' || error.name === 'SecurityError')) cause = C.USER_DENIED_MEDIA_ACCESS;
    else if (error instanceof RpcError && error.code === ERR_SIP && error.data) {
      statusCode = error.data.status || null;
      cause = causeForReason(error.data.reason, statusCode);
    } else if (error instanceof RpcError) cause = C.SIP_FAILURE_CODE;
    else if (!this.ws) cause = C.CONNECTION_ERROR;
    console.warn('[json-phone] call setup failed', error);
    this._endCallLocally({ cause, statusCode, originator: 'local' });
  }

  _endCallLocally(how) {
    if (!this.session) return;
    const answered = this.callState === 'in-call';
    const info = how
      ? {
          state: answered ? 'ended' : 'failed',
          peer: this.peer,
          originator: how.originator,
          cause: how.cause,
          statusCode: answered ? null : how.statusCode || null,
          direction: this.callDirection,
          answered,
        }
      : null;
    this._clearCall();
    if (info) this.emit('call', info);
  }

  // ---- WebRTC -------------------------------------------------------------------

  async _newPeerConnection(session) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    if (this.session !== session) {
      for (const track of stream.getTracks()) track.stop();
      throw new Error('the call ended');
    }
    const pc = new RTCPeerConnection(this.pcConfig);
    this.localStream = stream;
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    this.peerConnection = pc;
    pc.addEventListener('track', (e) => {
      if (this.peerConnection !== pc || e.track.kind !== 'audio') return;
      const remote = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
      this.emit('remotestream', { stream: remote });
    });
    this.emit('peerconnection', { pc });
    this.emit('localstream', { stream });
    return pc;
  }

  // Resolves once ICE gathering is complete, or capped as phone.js does: at
  // most ICE_GATHERING_CAP_MS after the first candidate, and only
  // ICE_AFTER_RELAY_MS more once a relay candidate is in.
  _gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      let cap = null;
      let relay = null;
      const done = () => {
        clearTimeout(cap);
        clearTimeout(relay);
        pc.removeEventListener('icecandidate', onCandidate);
        pc.removeEventListener('icegatheringstatechange', onState);
        resolve();
      };
      const onCandidate = (e) => {
        if (!e.candidate) return done();
        if (!cap) cap = setTimeout(done, ICE_GATHERING_CAP_MS);
        if (/ typ relay /.test(e.candidate.candidate || '') && !relay) relay = setTimeout(done, ICE_AFTER_RELAY_MS);
      };
      const onState = () => {
        if (pc.iceGatheringState === 'complete') done();
      };
      pc.addEventListener('icecandidate', onCandidate);
      pc.addEventListener('icegatheringstatechange', onState);
      // No candidate at all (no network): give up after the cap.
      cap = setTimeout(done, ICE_GATHERING_CAP_MS * 2);
    });
  }

  localAudioTrack() {
    const stream = this.localStream;
    if (!stream) return null;
    const track = stream.getAudioTracks()[0];
    return track && track.readyState === 'live' ? track : null;
  }

  _clearCall() {
    if (this.peerConnection) {
      try {
        this.peerConnection.close();
      } catch {
        // already closed
      }
    }
    if (this.localStream) for (const track of this.localStream.getTracks()) track.stop();
    this.localStream = null;
    this._resetCallState();
  }
}
