import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AnyWsgiInput, Environ, WsgiErrors } from '../../types/protocol.js'
import { clientSignal, earlyHints } from './extensions.js'
import { FST_WSGI_BAD_REQUEST, FST_WSGI_INVALID_OPTION } from '../errors.js'
import { WSGI_VERSION } from '../wsgi/util.js'
import { ErrorStream } from '../wsgi/error-stream.js'
import { SERVER_SOFTWARE } from '../version.js'
import type { HandlerSettings } from '../options.js'
import { http2Connection, isHttp2, type ConnectionFacts } from '../connection/protocol.js'
import { addRequestHeaders } from './request-headers.js'
import { clientOf } from './client.js'
import { checkOtherTarget, latin1ToUtf8, splitTarget, unquoteLatin1 } from './request-target.js'
import { EMPTY_INPUT, openInput, refuseDeclaredLength } from './request-body.js'

/** What the environ builder reads of the settings. */
export type EnvironSettings = Pick<HandlerSettings,
'scriptName' | 'serverSoftware' | 'pathEncoding' | 'dropUnderscoreHeaders' | 'baseEnviron' | 'multiprocess' | 'fileWrapper' | 'signal'>

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
  if (version === '2.0' && isHttp2(raw)) return 'HTTP/2.0'
  throw new FST_WSGI_BAD_REQUEST(`the request line says HTTP/${version}, but the connection speaks HTTP/1.x`)
}

type EnvironObject = Environ<AnyWsgiInput> & Record<string, unknown>

/** The CGI values of one request, worked out before its environ is made. */
interface CgiValues {
  scriptName: string
  pathInfo: string
  query: string
  uri: string
  serverName: string
  serverPort: string
  protocol: string
  remoteAddr: string
  remotePort: string
  scheme: 'http' | 'https'
}

/** One record for every call: the environ copies it at once, and a request would otherwise make one more object to collect. */
const cgi: CgiValues = {
  scriptName: '', pathInfo: '', query: '', uri: '', serverName: '', serverPort: '', protocol: '', remoteAddr: '', remotePort: '', scheme: 'http'
}

/**
 * Makes an environ with its fixed keys. A constructor, not an object literal:
 * V8 gives objects a constructor makes spare in-object room (kept, once it has
 * seen a few, for the header keys they got next), where a literal has room
 * for its own keys only, and each header key after them would grow a store
 * of its own. Its prototype is Object.prototype: the environ stays a plain object.
 */
const EnvironRecord = function (
  this: EnvironObject, request: FastifyRequest, reply: FastifyReply, settings: EnvironSettings, input: AnyWsgiInput, errors: WsgiErrors, values: CgiValues
) {
  this.REQUEST_METHOD = request.raw.method as string
  this.SCRIPT_NAME = values.scriptName
  this.PATH_INFO = values.pathInfo
  this.QUERY_STRING = values.query
  this.SERVER_NAME = values.serverName
  this.SERVER_PORT = values.serverPort
  this.SERVER_PROTOCOL = values.protocol
  // `serverSoftware: false` drops the Server header only: the app still learns which server runs it.
  this.SERVER_SOFTWARE = settings.serverSoftware === false ? SERVER_SOFTWARE : settings.serverSoftware
  this.GATEWAY_INTERFACE = 'CGI/1.1'
  this.REMOTE_ADDR = values.remoteAddr
  this.REMOTE_PORT = values.remotePort
  this.REQUEST_URI = values.uri
  this['wsgi.version'] = WSGI_VERSION
  this['wsgi.url_scheme'] = values.scheme
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
  request: FastifyRequest, reply: FastifyReply, settings: EnvironSettings, input: AnyWsgiInput, errors: WsgiErrors, values: CgiValues
) => EnvironObject
EnvironRecord.prototype = Object.prototype

/** The last Host header split into SERVER_NAME and SERVER_PORT. */
let lastHost = { host: '', scheme: '', serverName: '', serverPort: '' }

/**
 * Builds the environ of one request (PEP 3333 "environ Variables"). Every key
 * is built from the raw request, not from Fastify's params: the router has
 * decoded those as UTF-8, and PEP 3333 wants PATH_INFO's bytes as latin-1.
 * A request that cannot become an environ (a bad request target or HTTP
 * version, ambiguous headers) throws a 400 error.
 */
export function buildEnviron (
  request: FastifyRequest,
  reply: FastifyReply,
  settings: EnvironSettings,
  input: AnyWsgiInput,
  errors: WsgiErrors
): Environ<AnyWsgiInput> {
  const raw = request.raw
  const connection: ConnectionFacts = isHttp2(raw) ? http2Connection(raw) : raw.socket
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
  if (host === '') {
    cgi.serverName = connection.localAddress ?? ''
    cgi.serverPort = String(connection.localPort ?? '')
  } else {
    // Clients of one server send the same Host: its parts are reused rather than sliced anew.
    if (host !== lastHost.host || scheme !== lastHost.scheme) lastHost = splitHost(host, scheme)
    cgi.serverName = lastHost.serverName
    cgi.serverPort = lastHost.serverPort
  }
  cgi.scriptName = scriptName
  cgi.pathInfo = pathInfo(path, scriptName)
  cgi.query = target.query
  cgi.uri = target.uri
  cgi.protocol = serverProtocol(raw)
  cgi.remoteAddr = client.address
  cgi.remotePort = String(connection.remotePort ?? '')
  cgi.scheme = scheme

  const environ = new EnvironRecord(request, reply, settings, input, errors, cgi)
  if (settings.signal) Object.defineProperty(environ, 'fastify.signal', SIGNAL_PROPERTY)
  addRequestHeaders(environ, raw.rawHeaders, settings.dropUnderscoreHeaders)
  // HTTP/2 carries the host in :authority; apps find it where HTTP/1 puts it.
  if (environ.HTTP_HOST === undefined && raw.headers[':authority'] !== undefined) environ.HTTP_HOST = raw.headers[':authority'] as string
  if (other !== null && other.authority !== '') environ.HTTP_HOST = other.authority
  // wsgiref copies its base environ in first; here its keys fill in, so the request's keys still win.
  const base = settings.baseEnviron
  if (base !== null) {
    for (const key in base) if (!(key in environ)) environ[key] = base[key]
  }
  return environ
}

/** A Host header (`name`, `name:port`, `[v6]:port`) split into SERVER_NAME and SERVER_PORT. */
function splitHost (host: string, scheme: string): typeof lastHost {
  const portColon = host.indexOf(':', host.charCodeAt(0) === 0x5b ? host.indexOf(']') : 0)
  const serverName = portColon === -1 ? host : host.slice(0, portColon)
  // `host:` with no digits has the default port too (RFC 3986 §3.2.3).
  const serverPort = portColon === -1 || portColon === host.length - 1 ? (scheme === 'https' ? '443' : '80') : host.slice(portColon + 1)
  return { host, scheme, serverName, serverPort }
}

/**
 * The environ of a request, with its wsgi.input open, made in one step before
 * any handler exists: a request that cannot be run is refused here, by a
 * throw (a body declared over bodyLimit: 413; a request that cannot become an
 * environ: 400) or, while a buffered body is read, by the returned Promise
 * rejecting (413, or the upload broke off). Only a buffered body still on the
 * wire is waited for: the common bodiless request stays synchronous.
 */
export function openEnviron (request: FastifyRequest, reply: FastifyReply, settings: HandlerSettings): Environ<AnyWsgiInput> | Promise<Environ<AnyWsgiInput>> {
  refuseDeclaredLength(request, settings.bodyLimit)
  // Built before the body is read, so a bad request is refused before its upload is waited for.
  const environ = buildEnviron(request, reply, settings, EMPTY_INPUT, new ErrorStream(request.log))
  const input = openInput(request, settings)
  if (input instanceof Promise) {
    return input.then((opened) => {
      environ['wsgi.input'] = opened
      return environ
    })
  }
  if (input !== EMPTY_INPUT) environ['wsgi.input'] = input
  return environ
}
