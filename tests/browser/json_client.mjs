// A tandem.v1 (JSON-RPC 2.0 over WebSocket) client for tests: requests are
// promises, notifications and server requests queue up until a test waits
// for them. Uses the `ws` package (Node has no WebSocket client of its own
// before version 22).
import WebSocket from 'ws';

export class JsonClient {
  // `localAddress`: the source address to connect from (e.g. '127.0.0.9').
  constructor(url, { name = 'client', log = false, localAddress } = {}) {
    this.url = url;
    this.localAddress = localAddress;
    this.name = name;
    this.log = log;
    this.nextId = 1;
    this.pending = new Map();
    this.events = [];      // notifications and server requests not yet taken
    this.waiters = [];
    this.closed = null;    // {code, reason} once closed
    this.onRequest = null; // (method, params) => result, for server requests
  }

  open(protocols = ['tandem.v1']) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, protocols, this.localAddress ? { localAddress: this.localAddress } : {});
      this.ws = ws;
      ws.on('open', () => resolve(this));
      ws.on('error', (e) => reject(e));
      ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        for (const [, p] of this.pending) p.reject(new Error(`${this.name}: connection closed ${code}`));
        this.pending.clear();
        this._wake();
      });
      ws.on('message', (data) => this._onMessage(data.toString()));
    });
  }

  _onMessage(text) {
    if (this.log) console.log(`${this.name} <- ${text.slice(0, 300)}`);
    let msg;
    try { msg = JSON.parse(text); } catch { this.events.push({ method: '(unparsable)', text }); return; }
    if (msg.method === undefined && msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      p.resolve(msg);
      return;
    }
    if (msg.method !== undefined && msg.id !== undefined && this.onRequest) {
      Promise.resolve(this.onRequest(msg.method, msg.params)).then(
        (result) => this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result })),
        (err) => this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32000, message: String(err) } })));
      return;
    }
    this.events.push(msg);
    this._wake();
  }

  _wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  sendRaw(text) {
    if (this.log) console.log(`${this.name} -> ${text.slice(0, 300)}`);
    this.ws.send(text);
  }

  // Resolves with the whole response object ({result} or {error}).
  rpc(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  // Resolves with the result; rejects with the error object.
  async call(method, params = {}) {
    const r = await this.rpc(method, params);
    if (r.error) {
      const e = new Error(`${this.name}: ${method} failed: ${r.error.code} ${r.error.message}`);
      e.rpc = r.error;
      throw e;
    }
    return r.result;
  }

  // The next queued message matching `pred` (a method name or a function).
  async next(pred, timeoutMs = 10000) {
    const match = typeof pred === 'string' ? (m) => m.method === pred : pred;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) return this.events.splice(i, 1)[0];
      if (this.closed) throw new Error(`${this.name}: closed (${this.closed.code}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: timed out waiting; queued: ${JSON.stringify(this.events.map((e) => e.method))}`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  waitClosed(timeoutMs = 10000) {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: not closed in time`)), timeoutMs);
      this.ws.once('close', () => { clearTimeout(t); resolve(this.closed); });
    });
  }

  close() { this.ws.close(); }
  terminate() { this.ws.terminate(); }
}

// A minimal SDP offer/answer that a SIP peer (sipp) accepts; browsers bring
// their own.
export function fakeSdp(port = 6000, version = 1) {
  return `v=0\r\no=- 1234 ${version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n` +
    `m=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
}
