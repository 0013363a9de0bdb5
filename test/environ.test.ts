// The environ (docs/conformance.md B1-B6), checked over real sockets: undici for ordinary
// requests, raw `net` writes where the exact bytes on the wire matter.
import { test } from 'tap'
import { connect } from 'node:net'
import { request } from 'undici'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fastifyWsgi, { VERSION, wsgiRewriteUrl, type Environ, type WsgiApp, type WsgiErrors, type WsgiInput } from '../lib/index.js'
import { buildEnviron } from '../lib/fastify/environ.js'
import { defaultSettings } from '../lib/options.js'
import { createServer, listenWithMount, parseHead, rawExchange } from './helpers/server.js'

/** Every test ends in bounded time, whatever the server does. */
const bounded = { timeout: 10000 }

type Dump = Record<string, unknown>

/** How a non-JSON environ value is reported: its kind, so types can be asserted. */
function describe (value: unknown): unknown {
  if (typeof value === 'function') return '[function]'
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return `[object ${value.constructor?.name ?? 'Object'}]`
  return value
}

/** JSON with every non-ASCII character escaped, so a latin-1 read of the raw response loses nothing. */
function asciiJson (value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** An app that answers with its whole environ as JSON (objects and functions described by kind). */
function dumpApp (calls = { count: 0 }): WsgiApp {
  return (environ, startResponse) => {
    calls.count++
    const dump: Dump = {}
    for (const [key, value] of Object.entries(environ)) dump[key] = describe(value)
    startResponse('200 OK', [['Content-Type', 'application/json']])
    return [asciiJson(dump)]
  }
}

/** GETs `path` with undici and returns the environ the app saw. */
async function environOf (origin: string, path: string, options: Parameters<typeof request>[1] = {}): Promise<Dump> {
  const response = await request(origin + path, options)
  if (response.statusCode !== 200) throw new Error(`${path}: status ${response.statusCode}: ${await response.body.text()}`)
  return await response.body.json() as Dump
}

/** Sends raw request bytes and returns the status line and the environ of a 200 response. */
async function rawEnviron (port: number, requestText: string | Buffer): Promise<{ statusLine: string, environ: Dump }> {
  const { text } = await rawExchange(port, requestText)
  const { statusLine, body } = parseHead(text)
  return { statusLine, environ: statusLine.includes(' 200 ') ? JSON.parse(body) as Dump : {} }
}

/** Like rawExchange, and also tells the client's local port (the server's REMOTE_PORT). */
function exchangeWithPort (port: number, requestText: string): Promise<{ text: string, localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const chunks: Buffer[] = []
    let localPort = 0
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 2 s')), 2000)
    socket.on('connect', () => { localPort = socket.localPort ?? 0; socket.write(requestText) })
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('close', () => { clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString('latin1'), localPort }) })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

// ---------------------------------------------------------------------------------------------
// B1: CGI keys

test('B1: REQUEST_METHOD is the request method', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const environ = await environOf(origin, '/legacy/x', { method: method as 'GET' })
    t.equal(environ.REQUEST_METHOD, method)
  }
})

test('B1: SCRIPT_NAME is the mount prefix and PATH_INFO the rest of the path', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const cases: Array<[string, string, string, string]> = [
    ['/legacy', '/legacy', '', ''],
    ['/legacy/', '/legacy', '/', ''],
    ['/legacy/a/b?x=1', '/legacy', '/a/b', 'x=1']
  ]
  for (const [path, scriptName, pathInfo, query] of cases) {
    const environ = await environOf(origin, path)
    t.equal(environ.SCRIPT_NAME, scriptName, `SCRIPT_NAME of ${path}`)
    t.equal(environ.PATH_INFO, pathInfo, `PATH_INFO of ${path}`)
    t.equal(environ.QUERY_STRING, query, `QUERY_STRING of ${path}`)
  }
})

test('B1: QUERY_STRING is the raw query, escapes and bare keys untouched', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { environ } = await rawEnviron(port, 'GET /legacy/q?a=%20b&c&d=%2F+e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(environ.QUERY_STRING, 'a=%20b&c&d=%2F+e')
  const empty = await rawEnviron(port, 'GET /legacy/q? HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(empty.environ.QUERY_STRING, '', 'a lone ? gives an empty query')
  t.equal(empty.environ.PATH_INFO, '/q')
})

test('B1/B4: CONTENT_TYPE and CONTENT_LENGTH carry the body headers, and only as CGI keys', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const environ = await environOf(origin, '/legacy/form', {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: 'hello'
  })
  t.equal(environ.CONTENT_TYPE, 'text/plain; charset=utf-8')
  t.equal(environ.CONTENT_LENGTH, '5')
  t.notOk('HTTP_CONTENT_TYPE' in environ, 'no HTTP_CONTENT_TYPE')
  t.notOk('HTTP_CONTENT_LENGTH' in environ, 'no HTTP_CONTENT_LENGTH')
})

test('B1: CONTENT_TYPE and CONTENT_LENGTH are absent when the request has none', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { environ } = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(environ.REQUEST_METHOD, 'GET')
  t.notOk('CONTENT_TYPE' in environ, 'no CONTENT_TYPE')
  t.notOk('CONTENT_LENGTH' in environ, 'no CONTENT_LENGTH')
  t.notOk('HTTP_CONTENT_TYPE' in environ)
  t.notOk('HTTP_CONTENT_LENGTH' in environ)
})

test('B1: SERVER_NAME and SERVER_PORT come from the Host header', bounded, async (t) => {
  const { origin, port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const viaUndici = await environOf(origin, '/legacy/')
  t.equal(viaUndici.SERVER_NAME, '127.0.0.1')
  t.equal(viaUndici.SERVER_PORT, String(port))
  t.equal(viaUndici.HTTP_HOST, `127.0.0.1:${port}`)
  for (let i = 0; i < 2; i++) {
    const named = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n')
    t.equal(named.environ.SERVER_NAME, 'example.com', 'the same Host twice in a row')
    t.equal(named.environ.SERVER_PORT, '8080')
  }
  const noPort = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n')
  t.equal(noPort.environ.SERVER_NAME, 'example.com')
  t.equal(noPort.environ.SERVER_PORT, '80', 'no port in Host: the scheme default')
  const ipv6 = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: [::1]:9000\r\nConnection: close\r\n\r\n')
  t.equal(ipv6.environ.SERVER_NAME, '[::1]')
  t.equal(ipv6.environ.SERVER_PORT, '9000')
})

test('B1: SERVER_NAME and SERVER_PORT come from the socket when an HTTP/1.0 request has no Host', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { statusLine, environ } = await rawEnviron(port, 'GET /legacy/x HTTP/1.0\r\n\r\n')
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(environ.SERVER_NAME, '127.0.0.1')
  t.equal(environ.SERVER_PORT, String(port))
  t.notOk('HTTP_HOST' in environ)
})

test('B1: SERVER_PROTOCOL is HTTP/1.0 or HTTP/1.1 as the request line says', bounded, async (t) => {
  const { port, origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const old = await rawEnviron(port, 'GET /legacy/ HTTP/1.0\r\nHost: x\r\n\r\n')
  t.equal(old.environ.SERVER_PROTOCOL, 'HTTP/1.0')
  const current = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(current.environ.SERVER_PROTOCOL, 'HTTP/1.1')
  t.equal((await environOf(origin, '/legacy/')).SERVER_PROTOCOL, 'HTTP/1.1')
})

test('B1: SERVER_SOFTWARE is fastify-wsgi/<version> by default, or the serverSoftware option', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { prefix: '/default', app: dumpApp() })
  await fastify.register(fastifyWsgi, { prefix: '/custom', app: dumpApp(), serverSoftware: 'legacy-gateway/2.1' })
  await fastify.register(fastifyWsgi, { prefix: '/none', app: dumpApp(), serverSoftware: false })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  t.equal((await environOf(origin, '/default/')).SERVER_SOFTWARE, `fastify-wsgi/${VERSION}`)
  t.equal((await environOf(origin, '/custom/')).SERVER_SOFTWARE, 'legacy-gateway/2.1')
  t.equal((await environOf(origin, '/none/')).SERVER_SOFTWARE, `fastify-wsgi/${VERSION}`,
    'without a Server header the environ still names the server')
})

test('B1: GATEWAY_INTERFACE is CGI/1.1', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  t.equal((await environOf(origin, '/legacy/')).GATEWAY_INTERFACE, 'CGI/1.1')
})

test('B1: REMOTE_ADDR and REMOTE_PORT are the client socket\'s address and port', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { text, localPort } = await exchangeWithPort(port, 'GET /legacy/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const environ = JSON.parse(parseHead(text).body) as Dump
  t.equal(environ.REMOTE_ADDR, '127.0.0.1')
  t.equal(environ.REMOTE_PORT, String(localPort))
  t.not(localPort, 0)
})

test('B1: REQUEST_URI is the raw path and query as sent, without a #fragment', bounded, async (t) => {
  const { port, origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const viaUndici = await environOf(origin, '/legacy/a%20b/c?x=%41&y')
  t.equal(viaUndici.REQUEST_URI, '/legacy/a%20b/c?x=%41&y')
  t.equal(viaUndici.PATH_INFO, '/a b/c')
  const withFragment = await rawEnviron(port, 'GET /legacy/p%2Fq?x=1#frag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(withFragment.statusLine, 'HTTP/1.1 200 OK')
  t.equal(withFragment.environ.REQUEST_URI, '/legacy/p%2Fq?x=1')
  t.equal(withFragment.environ.QUERY_STRING, 'x=1')
  t.equal(withFragment.environ.PATH_INFO, '/p/q')
  const fragmentOnly = await rawEnviron(port, 'GET /legacy/p#frag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(fragmentOnly.environ.REQUEST_URI, '/legacy/p')
  t.equal(fragmentOnly.environ.PATH_INFO, '/p')
  t.equal(fragmentOnly.environ.QUERY_STRING, '')
})

// ---------------------------------------------------------------------------------------------
// B2: wsgi.* keys

test('B2: the wsgi.* keys have the PEP 3333 types and values', bounded, async (t) => {
  // Without the validator, whose wrappers would stand in for the server's own streams.
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(), validate: false })
  const environ = await environOf(origin, '/legacy/')
  t.same(environ['wsgi.version'], [1, 0])
  t.equal(environ['wsgi.url_scheme'], 'http')
  t.equal(environ['wsgi.input'], '[object BufferedInput]')
  t.equal(environ['wsgi.errors'], '[object ErrorStream]')
  t.equal(environ['wsgi.multithread'], false)
  t.equal(environ['wsgi.multiprocess'], false, 'false outside a cluster worker')
  t.equal(environ['wsgi.run_once'], false)
  t.equal(environ['wsgi.input_terminated'], true)
  t.equal(environ['wsgi.file_wrapper'], '[function]')
})

test('B2: the environ is a plain object, as a dict is: Object.prototype, own enumerable keys, copies keep every key', bounded, async (t) => {
  let seen: Record<string, unknown> | undefined
  const app: WsgiApp = (environ, startResponse) => {
    seen = environ as unknown as Record<string, unknown>
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return ['ok']
  }
  const { origin } = await listenWithMount(t, { app, validate: false })
  for (let i = 0; i < 10; i++) await (await request(`${origin}/x`, { headers: { 'x-one': '1', 'x-two': '2' } })).body.dump()
  const environ = seen as Record<string, unknown>
  t.equal(Object.getPrototypeOf(environ), Object.prototype)
  t.equal(environ.constructor, Object)
  t.same({ ...environ }, environ, 'a spread copy has every key')
  t.same(Object.keys(environ).slice(0, 3), ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO'], 'the CGI keys come first, as set')
  t.ok(Object.keys(environ).includes('HTTP_X_TWO'), 'request headers are own enumerable keys')
  t.equal(environ.HTTP_X_ONE, '1')
})

test('B2: wsgi.input and wsgi.errors offer the file-like methods', bounded, async (t) => {
  let seen: Environ | undefined
  const { origin } = await listenWithMount(t, {
    prefix: '/legacy',
    app: (environ, startResponse) => {
      seen = environ
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return []
    }
  })
  await (await request(origin + '/legacy/')).body.dump()
  const input = seen?.['wsgi.input']
  const errors = seen?.['wsgi.errors']
  for (const method of ['read', 'readline', 'readlines'] as const) t.equal(typeof input?.[method], 'function', `wsgi.input.${method}`)
  t.equal(typeof input?.[Symbol.iterator], 'function', 'wsgi.input is iterable')
  for (const method of ['write', 'writelines', 'flush'] as const) t.equal(typeof errors?.[method], 'function', `wsgi.errors.${method}`)
})

test('B2: wsgi.multiprocess is true with the option multiprocess: true', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(), multiprocess: true })
  const environ = await environOf(origin, '/legacy/')
  t.equal(environ['wsgi.multiprocess'], true)
  t.equal(environ['wsgi.multithread'], false)
})

test('B2: wsgi.url_scheme honours X-Forwarded-Proto only with Fastify\'s trustProxy', bounded, async (t) => {
  const trusting = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() }, { trustProxy: true })
  const forwarded = await environOf(trusting.origin, '/legacy/', { headers: { 'x-forwarded-proto': 'https' } })
  t.equal(forwarded['wsgi.url_scheme'], 'https')
  const plain = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const ignored = await environOf(plain.origin, '/legacy/', { headers: { 'x-forwarded-proto': 'https' } })
  t.equal(ignored['wsgi.url_scheme'], 'http', 'an untrusted X-Forwarded-Proto is ignored')
})

test('B1: behind a trusted proxy, SERVER_NAME and SERVER_PORT follow X-Forwarded-Host and the https default port', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() }, { trustProxy: true })
  const environ = await environOf(origin, '/legacy/', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' } })
  t.equal(environ.SERVER_NAME, 'public.example')
  t.equal(environ.SERVER_PORT, '443')
  // The same host right after, but over plain http: the parts of the last Host are reused only for the same scheme.
  const plainHttp = await environOf(origin, '/legacy/', { headers: { 'x-forwarded-host': 'public.example' } })
  t.equal(plainHttp.SERVER_NAME, 'public.example')
  t.equal(plainHttp.SERVER_PORT, '80')
})

test('B1: an absolute-form target\'s authority replaces Host (RFC 9112 §3.2.2); the last Host\'s parts are not reused for it', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const head = (target: string): string => `GET ${target} HTTP/1.1\r\nHost: example.com:8080\r\nConnection: close\r\n\r\n`
  const origin = await rawEnviron(port, head('/legacy/'))
  t.same([origin.environ.SERVER_NAME, origin.environ.SERVER_PORT, origin.environ.HTTP_HOST], ['example.com', '8080', 'example.com:8080'])
  const absolute = await rawEnviron(port, head('http://evil.example/legacy/x'))
  t.same([absolute.environ.SERVER_NAME, absolute.environ.SERVER_PORT, absolute.environ.HTTP_HOST], ['evil.example', '80', 'evil.example'])
  t.equal(absolute.environ.PATH_INFO, '/x')
  const again = await rawEnviron(port, head('/legacy/'))
  t.same([again.environ.SERVER_NAME, again.environ.SERVER_PORT, again.environ.HTTP_HOST], ['example.com', '8080', 'example.com:8080'], 'the Host header again')
  const emptyPort = await rawEnviron(port, head('http://evil.example:/legacy/x'))
  t.equal(emptyPort.environ.SERVER_PORT, '80', 'an empty port is the default one')
})

test('B1: behind a trusted proxy, X-Forwarded-Host still wins over an absolute-form authority', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() }, { trustProxy: true })
  const { environ } = await rawEnviron(port, 'GET http://evil.example/legacy/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: public.example\r\nConnection: close\r\n\r\n')
  t.equal(environ.SERVER_NAME, 'public.example')
  t.equal(environ.HTTP_HOST, 'evil.example', 'HTTP_HOST is the Host the request names')
})

test('B1: a socket that is already gone leaves REMOTE_ADDR, REMOTE_PORT and the socket address empty, not undefined', bounded, async (t) => {
  const socket = {}
  const raw = { url: '/x', method: 'GET', httpVersion: '1.0', rawHeaders: [], headers: {}, socket }
  const request = { raw, host: '', protocol: 'http', ip: undefined } as unknown as FastifyRequest
  const environ = buildEnviron(request, {} as FastifyReply, defaultSettings(0, { closing: false, sessions: new Set(), running: new Set() }), {} as WsgiInput, {} as WsgiErrors)
  t.equal(environ.REMOTE_ADDR, '')
  t.equal(environ.REMOTE_PORT, '')
  t.equal(environ.SERVER_NAME, '')
  t.equal(environ.SERVER_PORT, '')
})

// ---------------------------------------------------------------------------------------------
// B3: PATH_INFO decoding

test('B3: PATH_INFO is percent-decoded byte-per-char (latin-1)', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const environ = await environOf(origin, '/legacy/caf%C3%A9/%41%62')
  t.equal(environ.PATH_INFO, '/caf\u00c3\u00a9/Ab', 'each UTF-8 byte is one character')
  t.equal(environ.REQUEST_URI, '/legacy/caf%C3%A9/%41%62', 'REQUEST_URI stays raw')
})

// PEP 3333 and wsgiref's test_cp1252_url want non-UTF-8 bytes of the path in PATH_INFO, one
// character each. A raw byte >= 0x80 in the target never reaches Fastify: Node's llhttp answers 400
// (HPE_INVALID_URL), even with insecureHTTPParser. Escapes the router cannot decode as UTF-8 are
// refused with 400 FST_ERR_BAD_URL (docs/environ.md) unless the server uses wsgiRewriteUrl. Those
// refusals, absolute-form targets, duplicate and underscore headers are rows of bad-input.test.ts.
test('B3: with wsgiRewriteUrl, a non-UTF-8 escape (%E9, cp1252) reaches PATH_INFO as one character', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() }, { rewriteUrl: wsgiRewriteUrl })
  const { statusLine, environ } = await rawEnviron(port, 'GET /legacy/caf%E9/%80?q=%E9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(environ.PATH_INFO, '/caf\u00e9/\u0080')
  t.equal(environ.QUERY_STRING, 'q=%E9')
  t.equal(environ.REQUEST_URI, '/legacy/caf%E9/%80?q=%E9', 'the URL as sent, not the rewritten one')
})

test('B3: with wsgiRewriteUrl, invalid percent escapes like %zz are kept verbatim', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() }, { rewriteUrl: wsgiRewriteUrl })
  const { statusLine, environ } = await rawEnviron(port, 'GET /legacy/a%zz%2%41%%g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(environ.PATH_INFO, '/a%zz%2A%%g')
})

test('B3: wsgiRewriteUrl leaves decodable URLs alone', bounded, async (t) => {
  const rewrite = (url: string): string => wsgiRewriteUrl({ url } as Parameters<typeof wsgiRewriteUrl>[0])
  t.equal(rewrite('/plain/path?x=%zz'), '/plain/path?x=%zz')
  t.equal(rewrite('/caf%C3%A9'), '/caf%C3%A9')
  t.equal(rewrite('/caf%E9?x=1'), '/caf%25E9?x=1')
  t.equal(rewrite('/100%'), '/100%25')
})

test('B3: %25 decodes to a literal % exactly once', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const environ = await environOf(origin, '/legacy/100%25/%2541')
  t.equal(environ.PATH_INFO, '/100%/%41', 'not decoded a second time into A')
})

test('B3: pathEncoding utf8 gives decoded text in PATH_INFO', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(), pathEncoding: 'utf8' })
  const environ = await environOf(origin, '/legacy/caf%C3%A9')
  t.equal(environ.PATH_INFO, '/café')
  t.equal(environ.SCRIPT_NAME, '/legacy')
})

// ---------------------------------------------------------------------------------------------
// B4, B5: request headers

test('B4: a header name is upper-cased, - becomes _, prefixed HTTP_', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { environ } = await rawEnviron(port,
    'GET /legacy/ HTTP/1.1\r\nHost: x\r\nX-Custom-Thing: one\r\nx-lower-CASE: two\r\nAccept: */*\r\nConnection: close\r\n\r\n')
  t.equal(environ.HTTP_X_CUSTOM_THING, 'one')
  t.equal(environ.HTTP_X_LOWER_CASE, 'two')
  t.equal(environ.HTTP_ACCEPT, '*/*')
  t.equal(environ.HTTP_HOST, 'x')
  t.equal(environ.HTTP_CONNECTION, 'close')
  t.same(Object.keys(environ).filter((key) => key.startsWith('HTTP_')).sort(),
    ['HTTP_ACCEPT', 'HTTP_CONNECTION', 'HTTP_HOST', 'HTTP_X_CUSTOM_THING', 'HTTP_X_LOWER_CASE'])
})

test('B4: two Cookie headers are joined with "; "', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const { environ } = await rawEnviron(port,
    'GET /legacy/ HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2; c=3\r\nConnection: close\r\n\r\n')
  t.equal(environ.HTTP_COOKIE, 'a=1; b=2; c=3')
})

test('B4: repeats are joined, and a second Host refused, in a long header list too', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const filler = Array.from({ length: 20 }, (_, i) => `X-Filler-${i}: ${i}\r\n`).join('')
  const { environ } = await rawEnviron(port,
    `GET /legacy/ HTTP/1.1\r\nHost: x\r\nX-Many: 1\r\n${filler}X-Many: 2\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n`)
  t.equal(environ.HTTP_X_MANY, '1,2')
  t.equal(environ.HTTP_COOKIE, 'a=1; b=2')
  t.equal(environ.HTTP_X_FILLER_19, '19')
  const { statusLine } = await rawEnviron(port, `GET /legacy/ HTTP/1.1\r\nHost: x\r\n${filler}Host: y\r\nConnection: close\r\n\r\n`)
  t.equal(statusLine, 'HTTP/1.1 400 Bad Request')
})

test('B5: a name with _ seen before is still dropped, or kept, as each mount says', bounded, async (t) => {
  const dropping = await listenWithMount(t, { prefix: '/legacy', app: dumpApp() })
  const keeping = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(), dropUnderscoreHeaders: false })
  const request = 'GET /legacy/ HTTP/1.1\r\nHost: x\r\nX_Seen_Twice: 1\r\nConnection: close\r\n\r\n'
  for (let i = 0; i < 2; i++) {
    t.equal((await rawEnviron(dropping.port, request)).environ.HTTP_X_SEEN_TWICE, undefined)
    t.equal((await rawEnviron(keeping.port, request)).environ.HTTP_X_SEEN_TWICE, '1')
  }
})

test('B5: dropUnderscoreHeaders false keeps a header named with _', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(), dropUnderscoreHeaders: false })
  const { environ } = await rawEnviron(port, 'GET /legacy/ HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n')
  t.equal(environ.HTTP_X_FORWARDED_FOR, '6.6.6.6')
})

// ---------------------------------------------------------------------------------------------
// B6 and the reply.wsgi / extension keys

test('B6: baseEnviron keys are present, and the request\'s own keys win over them', bounded, async (t) => {
  const { port } = await listenWithMount(t, {
    prefix: '/legacy',
    app: dumpApp(),
    baseEnviron: {
      DEPLOYMENT: 'staging',
      REQUEST_METHOD: 'BOGUS',
      PATH_INFO: '/bogus',
      HTTP_X_TOKEN: 'base-token',
      HTTP_X_ONLY_BASE: 'kept',
      HTTP_HOST: 'base-host',
      'wsgi.run_once': true
    }
  })
  const { statusLine, environ } = await rawEnviron(port,
    'GET /legacy/real HTTP/1.1\r\nHost: request-host\r\nX-Token: request-token\r\nConnection: close\r\n\r\n')
  t.equal(statusLine, 'HTTP/1.1 200 OK', 'a base HTTP_HOST does not make the request\'s Host a duplicate')
  t.equal(environ.DEPLOYMENT, 'staging')
  t.equal(environ.HTTP_X_ONLY_BASE, 'kept')
  t.equal(environ.REQUEST_METHOD, 'GET')
  t.equal(environ.PATH_INFO, '/real')
  t.equal(environ.HTTP_X_TOKEN, 'request-token', 'the request header replaces the base value, not joined to it')
  t.equal(environ.HTTP_HOST, 'request-host')
  t.equal(environ['wsgi.run_once'], false)
})

test('B1: reply.wsgi(app) from a plain route gives SCRIPT_NAME "" and the whole path', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.get('/hello/*', (_request, reply) => reply.wsgi(dumpApp()))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const environ = await environOf(origin, '/hello/world/x%20y?q=1')
  t.equal(environ.SCRIPT_NAME, '')
  t.equal(environ.PATH_INFO, '/hello/world/x y')
  t.equal(environ.QUERY_STRING, 'q=1')
  t.equal(environ.REQUEST_URI, '/hello/world/x%20y?q=1')
})

test('B1: reply.wsgi(app, { scriptName }) splits the path into SCRIPT_NAME and PATH_INFO', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.get('/hello/*', (_request, reply) => reply.wsgi(dumpApp(), { scriptName: '/hello' }))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const environ = await environOf(origin, '/hello/world?q=1')
  t.equal(environ.SCRIPT_NAME, '/hello')
  t.equal(environ.PATH_INFO, '/world')
  t.equal(environ.QUERY_STRING, 'q=1')
})

test('extension keys fastify.request and fastify.reply are this request\'s Fastify objects', bounded, async (t) => {
  let hookRequest: FastifyRequest | undefined
  let hookReply: FastifyReply | undefined
  let seen: Environ | undefined
  const app: WsgiApp = (environ, startResponse) => {
    seen = environ
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return []
  }
  const { fastify } = createServer(t)
  fastify.addHook('onRequest', async (req, reply) => { hookRequest = req; hookReply = reply })
  await fastify.register(fastifyWsgi, { prefix: '/legacy', app })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const response = await request(`http://127.0.0.1:${(fastify.server.address() as { port: number }).port}/legacy/x`)
  t.equal(response.statusCode, 200)
  await response.body.dump()
  t.ok(hookRequest !== undefined && hookReply !== undefined)
  t.equal(seen?.['fastify.request'], hookRequest)
  t.equal(seen?.['fastify.reply'], hookReply)
})

test('a request that cannot become an environ is refused before its body is read: 400 at once, and the connection closes', bounded, async (t) => {
  const calls = { count: 0 }
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: dumpApp(calls) })
  const socket = connect({ port, host: '127.0.0.1' })
  t.teardown(() => { socket.destroy() })
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { text += chunk })
  // A second Host makes the environ ambiguous. The body is declared and never sent: the answer may not wait for it.
  socket.write('POST /legacy/ HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Type: text/plain\r\nContent-Length: 500000\r\n\r\n')
  await new Promise((resolve) => socket.once('end', resolve))
  const { statusLine, headers, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 400 Bad Request')
  t.equal(headers.connection, 'close', 'more than a small rest of the body is unread')
  t.match(body, /FST_WSGI_BAD_REQUEST/)
  t.equal(calls.count, 0, 'the app never ran')
})
