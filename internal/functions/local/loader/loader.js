'use strict';
// The hks node loader. The engine starts it in a sandbox before any
// function needs it; the first frame it reads specializes it: it loads
// /code/<entry> (CommonJS, or an ES module for .mjs) and from then on
// answers invoke frames. Frames are a 4-byte big-endian length and JSON,
// read from fd 3 and written to fd 4. console output during an invocation
// is that invocation's logs (AsyncLocalStorage keeps concurrent calls
// apart), at most 64 KiB of it.
const net = require('net');
const path = require('path');
const { AsyncLocalStorage } = require('async_hooks');
const { pathToFileURL } = require('url');

const CODE = process.env.HKS_CODE_DIR || '/code';
delete process.env.HKS_CODE_DIR;
const LOG_CAP = 64 * 1024;
const als = new AsyncLocalStorage();

function capture(real) {
  return function write(chunk, encoding, cb) {
    const store = als.getStore();
    if (!store) return real(chunk, encoding, cb);
    if (typeof encoding === 'function') { cb = encoding; encoding = undefined; }
    const buf = Buffer.isBuffer(chunk) || chunk instanceof Uint8Array
      ? Buffer.from(chunk)
      : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
    const room = LOG_CAP - store.size;
    if (room > 0) {
      const part = buf.length > room ? buf.subarray(0, room) : buf;
      store.chunks.push(part);
      store.size += part.length;
    }
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}
process.stdout.write = capture(process.stdout.write.bind(process.stdout));
process.stderr.write = capture(process.stderr.write.bind(process.stderr));

// describe renders an error as the runtime reports it, without the
// loader's frames and without the host's paths.
function describe(e) {
  let text;
  if (e instanceof Error) {
    text = String(e.stack || `${e.name}: ${e.message}`);
    if (!text.includes(e.message)) text = `${e.name}: ${e.message}\n${text}`;
  } else {
    text = `Uncaught ${typeof e === 'string' ? e : safeJSON(e)}`;
  }
  return text.split('\n')
    .filter((l) => !/^\s+at /.test(l) || l.includes(CODE + '/'))
    .join('\n')
    .split(CODE + '/').join('')
    .trim();
}

function safeJSON(v) {
  try { return JSON.stringify(v); } catch (_) { return String(v); }
}

const RESPONSE_KEYS = new Set(['status', 'statusCode', 'headers', 'body']);

function bodyText(b) {
  if (b === undefined || b === null) return '';
  if (typeof b === 'string') return b;
  if (Buffer.isBuffer(b) || b instanceof Uint8Array) return Buffer.from(b).toString('utf8');
  return JSON.stringify(b);
}

// normalize turns what a handler returned into {status, headers, body}.
function normalize(res) {
  if (res === undefined || res === null) return { status: 200, headers: {}, body: '' };
  if (typeof res === 'string') return { status: 200, headers: {}, body: res };
  if (Buffer.isBuffer(res) || res instanceof Uint8Array) return { status: 200, headers: {}, body: bodyText(res) };
  if (typeof res === 'object' && !Array.isArray(res)) {
    const keys = Object.keys(res);
    if (keys.length > 0 && keys.every((k) => RESPONSE_KEYS.has(k)) &&
        ('status' in res || 'statusCode' in res || 'body' in res)) {
      const headers = {};
      for (const [k, v] of Object.entries(res.headers || {})) {
        headers[k] = Array.isArray(v) ? v.map(String) : [String(v)];
      }
      const b = res.body;
      if (b !== undefined && b !== null && typeof b === 'object' && !Buffer.isBuffer(b) &&
          !(b instanceof Uint8Array) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
        headers['content-type'] = ['application/json'];
      }
      return { status: Number(res.status ?? res.statusCode ?? 200) || 200, headers, body: bodyText(b) };
    }
  }
  return { status: 200, headers: { 'content-type': ['application/json'] }, body: JSON.stringify(res) };
}

const output = new net.Socket({ fd: 4, readable: false, writable: true });
function send(msg) {
  let json;
  try {
    json = JSON.stringify(msg);
  } catch (e) {
    json = JSON.stringify({ type: msg.type, id: msg.id, error: describe(e), logs: msg.logs });
  }
  const body = Buffer.from(json, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  output.write(Buffer.concat([head, body]));
}

let handler = null;

function pick(mod) {
  if (typeof mod === 'function') return mod;
  if (mod && typeof mod.handler === 'function') return mod.handler;
  if (mod && typeof mod.default === 'function') return mod.default;
  if (mod && mod.default && typeof mod.default.handler === 'function') return mod.default.handler;
  return null;
}

async function specialize(msg) {
  for (const [k, v] of Object.entries(msg.env || {})) process.env[k] = v;
  const file = path.join(CODE, msg.entry);
  try {
    const mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
    handler = pick(mod);
    if (!handler) throw new TypeError(`${msg.entry} exports no handler: use module.exports = async (req) => response`);
    send({ type: 'ready' });
  } catch (e) {
    send({ type: 'ready', error: describe(e) });
  }
}

function invoke(msg) {
  const store = { chunks: [], size: 0 };
  als.run(store, async () => {
    const reply = { type: 'result', id: msg.id };
    try {
      reply.response = normalize(await handler(msg.request));
      // The body travels base64-encoded: a bounded size whatever its bytes.
      reply.response.body = Buffer.from(reply.response.body, 'utf8').toString('base64');
    } catch (e) {
      delete reply.response;
      reply.error = describe(e);
    }
    reply.logs = Buffer.concat(store.chunks).toString('utf8');
    send(reply);
  });
}

function onMessage(msg) {
  if (msg.type === 'specialize' && !handler) return specialize(msg);
  if (msg.type === 'invoke' && handler) return invoke(msg);
  return undefined;
}

let pending = Buffer.alloc(0);
const input = new net.Socket({ fd: 3, readable: true, writable: false });
input.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 4) {
    const n = pending.readUInt32BE(0);
    if (pending.length < 4 + n) break;
    const frame = pending.subarray(4, 4 + n);
    pending = pending.subarray(4 + n);
    onMessage(JSON.parse(frame.toString('utf8')));
  }
});
input.on('end', () => process.exit(0));
send({ type: 'started' });
input.on('error', () => process.exit(0));
