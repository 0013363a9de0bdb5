import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Http2ServerRequest } from 'node:http2'
import type { AnyWsgiInput, Environ, FileWrapperFactory, WsgiErrors } from '../types/protocol.js'
import { clientSignal, earlyHints } from './extensions.js'
import { FST_WSGI_BAD_REQUEST, FST_WSGI_INVALID_OPTION } from './errors.js'
import { WSGI_VERSION } from './util.js'
import { addRequestHeaders } from './request-headers.js'
import { clientOf, http2Connection, type Client, type ConnectionFacts } from './connection.js'

/** What the environ builder needs from the plugin options, resolved once at registration. */
export interface EnvironSettings {
  /** Where the app is mounted: SCRIPT_NAME, the part of the decoded path it covers. */
  scriptName: string
  serverSoftware: string
  pathEncoding: 'latin1' | 'utf8'
  dropUnderscoreHeaders: boolean
  baseEnviron: Record<string, unknown> | null
  multiprocess: boolean
  fileWrapper: FileWrapperFactory
  /** Whether the environ gets `fastify.signal` (opt-in: its accessor costs more than the rest of the environ's extensions). */
  signal: boolean
}

/** The request target split the way PEP 3333 needs it, from the raw URL. */
export interface RequestTarget {
  /** Path as sent, percent-encoded, without query or fragment. */
  path: string
  /** Raw query string, without `?`. */
  query: string
  /** Path and query as sent (REQUEST_URI). */
  uri: string
}

/** A request target other than the origin form (`/p?q`): `*`, or the absolute form (`http://host/p?q`). */
export interface OtherTarget {
  /** The absolute form's authority (`host:port`), which stands in for the Host header; '' for `*`. */
  authority: string
  target: RequestTarget
}

// `OPTIONS *` asks about the server, not a resource: PATH_INFO is '*', as wsgiref's and gunicorn's servers give it.
const ASTERISK_FORM: OtherTarget = { authority: '', target: { path: '*', query: '', uri: '*' } }
// RFC 3986 §3.1: the scheme of an absolute URI.
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/
// RFC 3986 §3.2.2-3: a non-empty reg-name or an IP literal, then an optional port. No userinfo: a
// `user@` in an http(s) URI is treated as an error (RFC 9110 §4.2.4).
const AUTHORITY = /^(?:(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/
const AUTHORITY_END = /[/?#]/

/**
 * Checks and splits a request target that does not start with `/`. `*` is the
 * target of a server-wide OPTIONS only (RFC 9112 §3.2.4); an absolute-form target must
 * have a scheme and an authority that parse (Node's parser accepts
 * `s://]x/p`, and the router would route its path). Anything else is refused
 * with 400.
 */
export function checkOtherTarget (url: string, method: string): OtherTarget {
  if (url === '*') {
    if (method === 'OPTIONS') return ASTERISK_FORM
    throw new FST_WSGI_BAD_REQUEST(`the request target * is for OPTIONS only, not ${method}`)
  }
  const schemeEnd = url.indexOf('://')
  if (schemeEnd !== -1 && SCHEME.test(url.slice(0, schemeEnd))) {
    const rest = url.slice(schemeEnd + 3)
    const authorityEnd = rest.search(AUTHORITY_END)
    const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
    if (AUTHORITY.test(authority)) return { authority, target: splitTarget(url, schemeEnd + 3 + authority.length) }
  }
  throw new FST_WSGI_BAD_REQUEST(`the request target ${JSON.stringify(url)} is neither a path nor an absolute URI with a valid authority`)
}

/** One target for every call: buildEnviron reads it at once, and a request would otherwise make one more object to collect. */
const splitResult: RequestTarget = { path: '', query: '', uri: '' }

/**
 * Splits a raw request target from `start`, where its path begins (past an
 * absolute form's authority). Node leaves a `#fragment` in `req.url`: it never
 * reaches PATH_INFO. The result is only valid until the next call.
 */
export function splitTarget (url: string, start = 0): Readonly<RequestTarget> {
  let end = url.indexOf('#', start)
  if (end === -1) end = url.length
  const question = url.indexOf('?', start)
  const pathEnd = question === -1 || question > end ? end : question
  splitResult.path = start === pathEnd ? '/' : url.slice(start, pathEnd)
  splitResult.query = pathEnd === end ? '' : url.slice(pathEnd + 1, end)
  splitResult.uri = start === pathEnd ? '/' + url.slice(pathEnd, end) : url.slice(start, end)
  return splitResult
}

function hexValue (code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  const lower = code | 0x20
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10
  return -1
}

/**
 * Percent-decodes a path with each byte mapped to one character, as wsgiref's
 * `unquote(path, 'iso-8859-1')` (checklist B3): nothing is lost, and an
 * invalid escape stays as it was.
 */
export function unquoteLatin1 (path: string): string {
  let percent = path.indexOf('%')
  if (percent === -1) return path
  let out = ''
  let copied = 0
  while (percent !== -1) {
    const high = hexValue(path.charCodeAt(percent + 1))
    const low = high === -1 ? -1 : hexValue(path.charCodeAt(percent + 2))
    if (low !== -1) {
      out += path.slice(copied, percent) + String.fromCharCode(high * 16 + low)
      copied = percent + 3
    }
    percent = path.indexOf('%', low === -1 ? percent + 1 : percent + 3)
  }
  return out + path.slice(copied)
}

/** Re-reads a latin-1 (one char per byte) string as UTF-8 text, for `pathEncoding: 'utf8'`. */
function latin1ToUtf8 (text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'latin1').toString('utf8')
  }
  return text
}

/**
 * The part of the decoded path below SCRIPT_NAME. The router already matched
 * the prefix (case-insensitively, if so configured); a reply.wsgi scriptName
 * that does not lead the path is a programming error.
 */
function pathInfo (path: string, scriptName: string): string {
  if (scriptName === '') return path
  if (path.length >= scriptName.length && path.slice(0, scriptName.length).toLowerCase() === scriptName.toLowerCase()) {
    return path.slice(scriptName.length)
  }
  throw new FST_WSGI_INVALID_OPTION('scriptName', `"${scriptName}" does not lead the request path "${path}"`)
}

/**
 * `fastify.signal` (option `signal: true`) is an accessor: an AbortController
 * is made on first read only, since one per request would cost more than the
 * rest of the environ.
 */
const SIGNAL_PROPERTY: PropertyDescriptor = {
  get (this: Environ<AnyWsgiInput>): AbortSignal {
    const signal = clientSignal(this['fastify.reply'] as FastifyReply)
    Object.defineProperty(this, 'fastify.signal', { value: signal, enumerable: true, configurable: true, writable: true })
    return signal
  },
  enumerable: true,
  configurable: true
}

/**
 * SERVER_PROTOCOL. llhttp accepts any single-digit version on an HTTP/1
 * connection, and `GET /` as HTTP/0.9: a request line that claims a version
 * the connection does not speak would mislead the app, so it is refused
 * (as gunicorn does). HTTP/2 requests arrive on a session stream.
 */
function serverProtocol (raw: FastifyRequest['raw']): string {
  const version = raw.httpVersion
  if (version === '1.1') return 'HTTP/1.1'
  if (version === '1.0') return 'HTTP/1.0'
  if (version === '2.0' && (raw as { stream?: unknown }).stream !== undefined) return 'HTTP/2.0'
  throw new FST_WSGI_BAD_REQUEST(`the request line says HTTP/${version}, but the connection speaks HTTP/1.x`)
}

type EnvironObject = Environ<AnyWsgiInput> & Record<string, unknown>

/**
 * Makes an environ with its fixed keys. A constructor, not an object literal:
 * V8 gives objects a constructor makes spare in-object room (kept, once it has
 * seen a few, for the header keys they got next), where a literal has room
 * for its own keys only, and each header key after them would grow a store
 * of its own. Its prototype is Object.prototype: the environ stays a plain object.
 */
const EnvironRecord = function (
  this: EnvironObject, request: FastifyRequest, reply: FastifyReply, settings: EnvironSettings, input: AnyWsgiInput, errors: WsgiErrors,
  client: Client, connection: ConnectionFacts, scriptName: string, pathInfo: string, target: RequestTarget, serverName: string, serverPort: string
) {
  const raw = request.raw
  this.REQUEST_METHOD = raw.method as string
  this.SCRIPT_NAME = scriptName
  this.PATH_INFO = pathInfo
  this.QUERY_STRING = target.query
  this.SERVER_NAME = serverName
  this.SERVER_PORT = serverPort
  this.SERVER_PROTOCOL = serverProtocol(raw)
  this.SERVER_SOFTWARE = settings.serverSoftware
  this.GATEWAY_INTERFACE = 'CGI/1.1'
  this.REMOTE_ADDR = client.address
  this.REMOTE_PORT = String(connection.remotePort ?? '')
  this.REQUEST_URI = target.uri
  this['wsgi.version'] = WSGI_VERSION
  this['wsgi.url_scheme'] = client.scheme
  this['wsgi.input'] = input
  this['wsgi.errors'] = errors
  this['wsgi.multithread'] = false
  this['wsgi.multiprocess'] = settings.multiprocess
  this['wsgi.run_once'] = false
  this['wsgi.input_terminated'] = true
  this['wsgi.file_wrapper'] = settings.fileWrapper
  this['fastify.request'] = request
  this['fastify.reply'] = reply
  // One function for every environ: called as environ['fastify.earlyHints'](...), it finds the reply there.
  this['fastify.earlyHints'] = earlyHints
} as unknown as new (
  request: FastifyRequest, reply: FastifyReply, settings: EnvironSettings, input: AnyWsgiInput, errors: WsgiErrors,
  client: Client, connection: ConnectionFacts, scriptName: string, pathInfo: string, target: RequestTarget, serverName: string, serverPort: string
) => EnvironObject
EnvironRecord.prototype = Object.prototype

/** The last Host header split into SERVER_NAME and SERVER_PORT. */
let lastHost = { host: '', scheme: '', serverName: '', serverPort: '' }

/**
 * Builds the environ of one request (checklist B1-B6). Every key is built
 * from the raw request, not from Fastify's params: the router has decoded
 * those as UTF-8, and PEP 3333 wants PATH_INFO's bytes as latin-1.
 */
export function buildEnviron (
  request: FastifyRequest,
  reply: FastifyReply,
  settings: EnvironSettings,
  input: AnyWsgiInput,
  errors: WsgiErrors
): Environ<AnyWsgiInput> {
  const raw = request.raw
  // An HTTP/2 request reads its session's connection. (An HTTP/1 request line may claim 2.0 too: it has no stream, and is refused.)
  const http2 = raw.httpVersionMajor === 2 && (raw as unknown as Http2ServerRequest).stream !== undefined
  const connection: ConnectionFacts = http2 ? http2Connection(raw as unknown as Http2ServerRequest) : raw.socket
  // With wsgiRewriteUrl, Fastify routes a rewritten URL and keeps the one sent in originalUrl.
  const url = (raw as { originalUrl?: string }).originalUrl ?? raw.url as string
  // The origin form (`/p?q`) is the common case: one character tells it from the others.
  const other = url.charCodeAt(0) === 0x2f ? null : checkOtherTarget(url, raw.method as string)
  const target = other === null ? splitTarget(url) : other.target
  let path = unquoteLatin1(target.path)
  let scriptName = settings.scriptName
  if (settings.pathEncoding === 'utf8') {
    path = latin1ToUtf8(path)
    scriptName = latin1ToUtf8(scriptName)
  }
  const client = clientOf(request, connection)
  const scheme = client.scheme
  // Fastify's host honours trustProxy (X-Forwarded-Host); read it once and split it here.
  let host = request.host
  // An absolute-form target's authority replaces the Host header (RFC 9112 §3.2.2); a trusted X-Forwarded-Host still wins.
  if (other !== null && other.authority !== '' && host === (raw.headers.host ?? '')) host = other.authority
  let serverName: string
  let serverPort: string
  if (host === '') {
    serverName = connection.localAddress ?? ''
    serverPort = String(connection.localPort ?? '')
  } else if (host === lastHost.host && scheme === lastHost.scheme) {
    // Clients of one server send the same Host: its parts are reused rather than sliced anew.
    serverName = lastHost.serverName
    serverPort = lastHost.serverPort
  } else {
    const portColon = host.indexOf(':', host.charCodeAt(0) === 0x5b ? host.indexOf(']') : 0)
    serverName = portColon === -1 ? host : host.slice(0, portColon)
    // `host:` with no digits has the default port too (RFC 3986 §3.2.3).
    serverPort = portColon === -1 || portColon === host.length - 1 ? (scheme === 'https' ? '443' : '80') : host.slice(portColon + 1)
    lastHost = { host, scheme, serverName, serverPort }
  }

  const environ = new EnvironRecord(request, reply, settings, input, errors, client, connection, scriptName, pathInfo(path, scriptName), target, serverName, serverPort)
  if (settings.signal) Object.defineProperty(environ, 'fastify.signal', SIGNAL_PROPERTY)
  addRequestHeaders(environ, raw.rawHeaders, settings.dropUnderscoreHeaders)
  // HTTP/2 carries the host in :authority; apps find it where HTTP/1 puts it.
  if (environ.HTTP_HOST === undefined && raw.headers[':authority'] !== undefined) environ.HTTP_HOST = raw.headers[':authority'] as string
  if (other !== null && other.authority !== '') environ.HTTP_HOST = other.authority
  // B6: base keys come first in wsgiref; here they fill in, so the request's keys still win.
  const base = settings.baseEnviron
  if (base !== null) {
    for (const key in base) if (!(key in environ)) environ[key] = base[key]
  }
  return environ
}
