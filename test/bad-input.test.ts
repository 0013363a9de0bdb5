// The bad-input matrix (issue #7, reference/hardening-notes.md): hostile or unusual requests as raw
// bytes, one row each, read by one loop. Each row states the expected status, whether the app may
// run, and, when it runs, what it must see in the environ; after each row a good request on a new
// connection must still get 200. Rows carry their reason (`why`), so the table is its own
// documentation. Who decides first:
//   - llhttp (Node's parser) refuses request smuggling framings and malformed header lines, and
//     oversized heads, before Fastify or the app see anything; the servers here answer those as
//     makeServer does, with wsgiClientErrorHandler (400; 414 for a request line, 431 for headers);
//   - Fastify's router refuses URLs it cannot decode (400 FST_ERR_BAD_URL) and unrouted methods (404);
//   - fastify-wsgi refuses what would make the environ ambiguous (400 FST_WSGI_BAD_REQUEST) and
//     drops header names with `_`.
// Environ details of well-formed requests live in environ.test.ts; the options that change these
// outcomes (dropUnderscoreHeaders: false, wsgiRewriteUrl) are tested there too.
import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import fastifyWsgi, { wsgiClientErrorHandler, type WsgiApp } from '../lib/index.js'
import { createServer, parseHead, rawExchange } from './helpers/server.js'

interface Row {
  name: string
  why: string
  request: string | Buffer
  status: number
  /** Whether the app runs for this request. */
  appRuns: boolean
  /** The server the row needs: `dav` added PROPFIND and PURGE with addHttpMethod before registering, `root` mounts at /. */
  server?: 'default' | 'dav' | 'root'
  /** Environ keys the app must see (null: absent), when it runs. */
  environ?: Record<string, string | null>
  /** What the response body must contain. */
  body?: RegExp
}

const CLOSE = 'Connection: close\r\n'
const get = (target: string, headers = 'Host: x\r\n'): string => `GET ${target} HTTP/1.1\r\n${headers}${CLOSE}\r\n`

// Node counts the request line and every header name and value into one 16 KiB limit.
const NEAR_LIMIT = 15 * 1024
const OVER_LIMIT = 17 * 1024

const rows: Row[] = [
  // --- Header names with _ ---------------------------------------------------------------------
  {
    name: 'a header named with _ is dropped from the environ',
    why: 'X_Forwarded_For and X-Forwarded-For both map to HTTP_X_FORWARDED_FOR: header spoofing (gunicorn, waitress, werkzeug drop it)',
    request: get('/m/', 'Host: x\r\nX_Forwarded_For: 6.6.6.6\r\n'),
    status: 200,
    appRuns: true,
    environ: { HTTP_X_FORWARDED_FOR: null }
  },
  {
    name: 'a header named with _ cannot join its - twin',
    why: 'the proxy-set X-Forwarded-For keeps its value alone',
    request: get('/m/', 'Host: x\r\nX-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n'),
    status: 200,
    appRuns: true,
    environ: { HTTP_X_FORWARDED_FOR: '10.0.0.1' }
  },
  // --- Duplicate headers -------------------------------------------------------------------------
  {
    name: 'repeated headers are joined with ","',
    why: 'PEP 3333 takes CGI\'s single value per name; RFC 9110 §5.3 makes a list of them',
    request: get('/m/', 'Host: x\r\nX-Multi: a\r\nAccept: text/html\r\nx-multi: b c\r\nX-MULTI: d\r\nAccept: application/json\r\n'),
    status: 200,
    appRuns: true,
    environ: { HTTP_X_MULTI: 'a,b c,d', HTTP_ACCEPT: 'text/html,application/json' }
  },
  {
    name: 'a duplicate Host is refused',
    why: 'Node keeps the first; a proxy may have used the second: the environ would be ambiguous',
    request: get('/m/', 'Host: a.example\r\nHost: b.example\r\n'),
    status: 400,
    appRuns: false,
    body: /FST_WSGI_BAD_REQUEST/
  },
  {
    name: 'a duplicate Content-Type is refused',
    why: 'Node keeps the first, so CONTENT_TYPE would be a guess',
    request: `POST /m/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${CLOSE}\r\nhi`,
    status: 400,
    appRuns: false,
    body: /FST_WSGI_BAD_REQUEST/
  },
  // --- Node's size limits --------------------------------------------------------------------------
  {
    name: 'a header value just under the 16 KiB limit reaches the app',
    why: 'the limit is Node\'s maxHeaderSize, counted over the whole head',
    request: get('/m/', `Host: x\r\nX-Big: ${'v'.repeat(NEAR_LIMIT)}\r\n`),
    status: 200,
    appRuns: true,
    environ: { HTTP_X_BIG: 'v'.repeat(NEAR_LIMIT) }
  },
  {
    name: 'a header value over the limit is refused with 431',
    why: 'llhttp stops reading the head at maxHeaderSize',
    request: get('/m/', `Host: x\r\nX-Big: ${'v'.repeat(OVER_LIMIT)}\r\n`),
    status: 431,
    appRuns: false
  },
  {
    name: 'a header name over the limit is refused with 431',
    why: 'names count into the same limit',
    request: get('/m/', `Host: x\r\nX-${'n'.repeat(OVER_LIMIT)}: v\r\n`),
    status: 431,
    appRuns: false
  },
  {
    name: 'an over-long request line is refused with 414 (test_wsgiref test_request_length)',
    why: 'Node counts the request line into its head limit; wsgiClientErrorHandler answers as wsgiref does, while the client is still sending',
    request: get(`/m/${'x'.repeat(70 * 1024)}`),
    status: 414,
    appRuns: false
  },
  {
    name: 'a long path under the limit reaches PATH_INFO whole',
    why: 'no limit of ours below Node\'s',
    request: get(`/m/${'p'.repeat(NEAR_LIMIT)}`),
    status: 200,
    appRuns: true,
    environ: { PATH_INFO: `/${'p'.repeat(NEAR_LIMIT)}` }
  },
  {
    name: 'a long query string reaches QUERY_STRING raw',
    why: 'QUERY_STRING is never decoded',
    request: get(`/m/q?${'a=%41&'.repeat(2000)}`),
    status: 200,
    appRuns: true,
    environ: { PATH_INFO: '/q', QUERY_STRING: 'a=%41&'.repeat(2000) }
  },
  // --- Percent-encoding ----------------------------------------------------------------------------
  {
    name: 'an invalid escape (%zz) is refused with a body that says so',
    why: 'Fastify\'s router cannot decode it; wsgiRewriteUrl keeps it verbatim instead (environ.test.ts)',
    request: get('/m/a%zz'),
    status: 400,
    appRuns: false,
    body: /FST_ERR_BAD_URL.*'\/m\/a%zz' is not a valid url component/
  },
  {
    name: 'a lone % at the end is refused',
    why: 'an escape cut short is as invalid as %zz',
    request: get('/m/100%'),
    status: 400,
    appRuns: false,
    body: /FST_ERR_BAD_URL/
  },
  {
    name: 'a non-UTF-8 escape (%E9) is refused by the router',
    why: 'the router decodes as UTF-8 before any plugin runs (docs/environ.md); wsgiRewriteUrl lets it through',
    request: get('/m/caf%E9'),
    status: 400,
    appRuns: false,
    body: /FST_ERR_BAD_URL/
  },
  {
    name: 'a raw non-ASCII byte in the target is refused by Node',
    why: 'llhttp refuses bytes >= 0x80 in the URL, even with insecureHTTPParser',
    request: Buffer.from(get('/m/\x80'), 'latin1'),
    status: 400,
    appRuns: false
  },
  {
    name: '%00 in the path reaches PATH_INFO as a NUL character',
    why: 'PEP 3333 decodes the path byte for byte (unquote_to_bytes, as gunicorn and waitress); apps must not pass it to C APIs',
    request: get('/m/a%00b?x=%00'),
    status: 200,
    appRuns: true,
    environ: { PATH_INFO: '/a\u0000b', QUERY_STRING: 'x=%00' }
  },
  // --- Request targets -----------------------------------------------------------------------------
  {
    name: 'an absolute-form target uses its path and query only',
    why: 'RFC 9112 §3.2.2: proxies send it, servers must accept it',
    request: get('http://127.0.0.1/m/p?q=1', 'Host: 127.0.0.1\r\n'),
    status: 200,
    appRuns: true,
    environ: { SCRIPT_NAME: '/m', PATH_INFO: '/p', QUERY_STRING: 'q=1', REQUEST_URI: '/m/p?q=1' }
  },
  {
    name: 'an absolute-form target naming another host: its authority replaces Host',
    why: 'RFC 9112 §3.2.2: the server must ignore Host and use the target\'s authority (Node and Fastify read Host)',
    request: get('http://other.example/m/p', 'Host: x\r\n'),
    status: 200,
    appRuns: true,
    environ: { HTTP_HOST: 'other.example', SERVER_NAME: 'other.example', SERVER_PORT: '80', PATH_INFO: '/p' }
  },
  {
    name: 'an absolute-form authority with a port and no Host header (HTTP/1.0)',
    why: 'the authority is the Host the request names',
    request: 'GET http://[::1]:8081/m/p HTTP/1.0\r\n\r\n',
    status: 200,
    appRuns: true,
    environ: { HTTP_HOST: '[::1]:8081', SERVER_NAME: '[::1]', SERVER_PORT: '8081', PATH_INFO: '/p' }
  },
  {
    name: 'an absolute-form target whose authority does not parse is refused',
    why: 'Node accepts `s://]ufd/...` and the router routes its path: the app would see a request for no host',
    server: 'root',
    request: `PUT s://]ufd/: HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false,
    body: /FST_WSGI_BAD_REQUEST/
  },
  {
    name: 'an absolute-form target with userinfo is refused',
    why: 'RFC 9110 §4.2.4: userinfo in an http URI is to be treated as an error (it hides the real host from a reader)',
    request: get('http://user@other.example/m/p'),
    status: 400,
    appRuns: false
  },
  {
    name: 'GET * is refused',
    why: 'RFC 9112 §3.2.4: the asterisk form is for a server-wide OPTIONS only; as a path it would reach a root app as PATH_INFO *',
    server: 'root',
    request: get('*'),
    status: 400,
    appRuns: false,
    body: /for OPTIONS only, not GET/
  },
  {
    name: 'OPTIONS * reaches the app',
    why: 'RFC 9112 §3.2.4: the server as a whole is asked, no resource: PATH_INFO is \'*\', as wsgiref and gunicorn give it',
    server: 'root',
    request: `OPTIONS * HTTP/1.1\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 200,
    appRuns: true,
    environ: { SCRIPT_NAME: '', PATH_INFO: '*', REQUEST_URI: '*' }
  },
  // --- Methods -------------------------------------------------------------------------------------
  {
    name: 'PROPFIND without addHttpMethod is not routed: 404',
    why: 'Fastify 5 routes only fastify.supportedMethods; a mount answers the methods known when it registers',
    request: `PROPFIND /m/ HTTP/1.1\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 404,
    appRuns: false
  },
  {
    name: 'PURGE without addHttpMethod is not routed: 404',
    why: 'as PROPFIND',
    request: `PURGE /m/ HTTP/1.1\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 404,
    appRuns: false
  },
  {
    name: 'PROPFIND added with addHttpMethod before registering reaches the app with its body',
    why: 'README (Mount or reply.wsgi): WebDAV methods are the user\'s to add, before the mount registers',
    request: `PROPFIND /m/dav HTTP/1.1\r\nHost: x\r\nDepth: 1\r\nContent-Type: application/xml\r\nContent-Length: 9\r\n${CLOSE}\r\n<propfind`,
    status: 200,
    appRuns: true,
    server: 'dav',
    environ: { REQUEST_METHOD: 'PROPFIND', PATH_INFO: '/dav', HTTP_DEPTH: '1', CONTENT_LENGTH: '9', CONTENT_TYPE: 'application/xml' }
  },
  {
    name: 'PURGE added with addHttpMethod before registering reaches the app',
    why: 'as PROPFIND, without a body',
    request: `PURGE /m/cache HTTP/1.1\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 200,
    appRuns: true,
    server: 'dav',
    environ: { REQUEST_METHOD: 'PURGE', PATH_INFO: '/cache' }
  },
  // --- Host ----------------------------------------------------------------------------------------
  {
    name: 'HTTP/1.1 without Host is refused by Node',
    why: 'RFC 9112 §3.2 requires it; Node\'s requireHostHeader is on by default',
    request: `GET /m/ HTTP/1.1\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'HTTP/1.0 without Host reaches the app, named after the socket',
    why: 'HTTP/1.0 has no Host; SERVER_NAME falls back to the local address (PEP 3333 url reconstruction)',
    request: 'GET /m/ HTTP/1.0\r\n\r\n',
    status: 200,
    appRuns: true,
    environ: { HTTP_HOST: null, SERVER_NAME: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.0' }
  },
  // --- HTTP versions -------------------------------------------------------------------------------
  {
    name: 'a request line claiming HTTP/2.0 over an HTTP/1 connection is refused',
    why: 'llhttp accepts it; SERVER_PROTOCOL would say HTTP/2.0 on an HTTP/1 connection (gunicorn refuses it too)',
    request: `GET /m/ HTTP/2.0\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false,
    body: /FST_WSGI_BAD_REQUEST.*HTTP\/2\.0/
  },
  {
    name: 'an HTTP/0.9-style request line (no version) is refused',
    why: 'llhttp takes it as HTTP/0.9, whose client could not read an HTTP/1.1 response anyway',
    request: 'GET /m/\r\n\r\n',
    status: 400,
    appRuns: false,
    body: /HTTP\/0\.9/
  },
  {
    name: 'an unknown HTTP/1 minor version is refused by Node',
    why: 'llhttp accepts only 1.0 and 1.1 (and the forms above)',
    request: `GET /m/ HTTP/1.2\r\nHost: x\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  // --- Framings llhttp refuses (request smuggling) -----------------------------------------------
  {
    name: 'Transfer-Encoding with Content-Length is refused',
    why: 'the classic request smuggling framing (RFC 9112 §6.1)',
    request: `POST /m/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n${CLOSE}\r\n0\r\n\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'two Content-Length headers, even equal, are refused',
    why: 'llhttp refuses any repeated Content-Length (RFC 9112 §6.3 would let identical ones pass)',
    request: `POST /m/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n${CLOSE}\r\na`,
    status: 400,
    appRuns: false
  },
  {
    name: 'bare LF line endings are refused',
    why: 'front ends that accept them split lines differently',
    request: 'GET /m/ HTTP/1.1\nHost: x\nConnection: close\n\n',
    status: 400,
    appRuns: false
  },
  {
    name: 'one bare LF among CRLF lines is refused',
    why: 'as a whole request in bare LF',
    request: `GET /m/ HTTP/1.1\r\nHost: x\nX-A: b\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'an obs-fold continuation line is refused',
    why: 'RFC 9112 §5.2 lets a server refuse line folding with 400',
    request: `GET /m/ HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'a space before the colon is refused',
    why: 'RFC 9112 §5.1 requires 400',
    request: `GET /m/ HTTP/1.1\r\nHost: x\r\nX-A : b\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'NUL in a header value is refused',
    why: 'CTL characters are not field content',
    request: `GET /m/ HTTP/1.1\r\nHost: x\r\nX-A: b\u0000c\r\n${CLOSE}\r\n`,
    status: 400,
    appRuns: false
  },
  {
    name: 'an unknown Expect is refused with 417',
    why: 'Node answers 417 for anything but 100-continue',
    request: `POST /m/ HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 1\r\n${CLOSE}\r\na`,
    status: 417,
    appRuns: false
  }
]

/** An app that counts its calls and answers with the environ's string values as JSON. */
function environApp (calls: { count: number }): WsgiApp {
  return (environ, startResponse) => {
    calls.count++
    const strings: Record<string, string> = {}
    for (const [key, value] of Object.entries(environ)) if (typeof value === 'string') strings[key] = value
    startResponse('200 OK', [['Content-Type', 'application/json']])
    // Every non-ASCII character escaped, so a latin-1 read of the raw response loses nothing.
    return [JSON.stringify(strings).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))]
  }
}

async function listen (fastify: FastifyInstance): Promise<number> {
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  return (fastify.server.address() as { port: number }).port
}

test('the bad-input matrix: status, whether the app ran, what it saw, and a server that goes on', async (t) => {
  const calls = { count: 0 }
  const options = { clientErrorHandler: wsgiClientErrorHandler }
  const plain = createServer(t, options).fastify
  await plain.register(fastifyWsgi, { prefix: '/m', app: environApp(calls), validate: true })
  const dav = createServer(t, options).fastify
  dav.addHttpMethod('PROPFIND', { hasBody: true })
  dav.addHttpMethod('PURGE')
  await dav.register(fastifyWsgi, { prefix: '/m', app: environApp(calls), validate: true })
  const root = createServer(t, options).fastify
  await root.register(fastifyWsgi, { app: environApp(calls), validate: true })
  const ports = { default: await listen(plain), dav: await listen(dav), root: await listen(root) }

  for (const row of rows) {
    await t.test(row.name, async (t) => {
      const port = ports[row.server ?? 'default']
      calls.count = 0
      const { text } = await rawExchange(port, row.request)
      const { statusLine, body } = parseHead(text)
      t.equal(Number(statusLine.split(' ')[1]), row.status, `status (${row.why})`)
      t.equal(calls.count, row.appRuns ? 1 : 0, row.appRuns ? 'the app ran' : 'the app never ran')
      if (row.body !== undefined) t.match(body, row.body)
      t.notMatch(body, /\n\s+at /, 'no stack trace')
      if (row.environ !== undefined) {
        const environ = JSON.parse(body) as Record<string, string>
        for (const [key, value] of Object.entries(row.environ)) {
          if (value === null) t.notOk(key in environ, `${key} is absent`)
          else t.equal(environ[key], value, key)
        }
      }
      const next = await rawExchange(port, get('/m/after'))
      t.match(next.text, /^HTTP\/1\.1 200 OK/, 'a good request on a new connection still gets 200')
    })
  }
})
