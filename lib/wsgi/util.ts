// wsgiref.util, and the helpers of wsgiref.handlers that more than one module needs.
import { ErrorStream } from './error-stream.js'
import { BufferedInput } from './input.js'

/** `wsgi.version`: one frozen pair for every environ, as Python's is an immutable tuple. */
export const WSGI_VERSION: readonly [1, 0] = Object.freeze([1, 0] as const)

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailers', 'transfer-encoding', 'upgrade'
])

/** True for the HTTP/1.1 hop-by-hop header names a WSGI app may not set (wsgiref.util.is_hop_by_hop). */
export function isHopByHop (headerName: string): boolean {
  return HOP_BY_HOP.has(headerName.toLowerCase())
}

/** The RFC 9110 IMF-fixdate of a timestamp in milliseconds (wsgiref.handlers.format_date_time). */
export function formatDateTime (timestampMs: number): string {
  return new Date(timestampMs).toUTCString()
}

/** The environ keys wsgiref.util reads (any environ has them). */
interface UriEnviron {
  'wsgi.url_scheme': string
  HTTP_HOST?: unknown
  SERVER_NAME: string
  SERVER_PORT: string
  SCRIPT_NAME?: string
  PATH_INFO?: string
  QUERY_STRING?: string
  [key: string]: unknown
}

const UNRESERVED = /[A-Za-z0-9_.~-]/

/**
 * Percent-encodes each character of `text` as its latin-1 byte, leaving
 * unreserved characters and those in `safe` alone (Python's
 * `quote(text, safe, encoding='latin1')`): PATH_INFO holds bytes as latin-1
 * characters, so this gives back the bytes of the original URL.
 */
function quoteLatin1 (text: string, safe: string): string {
  let out = ''
  for (const char of text) {
    if (UNRESERVED.test(char) || safe.includes(char)) {
      out += char
      continue
    }
    const code = char.codePointAt(0) as number
    const bytes = code <= 0xff ? [code] : [...Buffer.from(char, 'utf8')]
    for (const byte of bytes) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** The string at `key`, or a TypeError naming it (where wsgiref's `environ[key]` raises KeyError). */
function requiredKey (environ: Record<string, unknown>, key: string, caller: string): string {
  const value = environ[key]
  if (typeof value !== 'string') throw new TypeError(`${caller}: the environ has no ${key} (got ${String(value)}); setupTestingDefaults(environ) fills it in`)
  return value
}

/** The base URL of the application: scheme, host and SCRIPT_NAME (wsgiref.util.application_uri). */
export function applicationUri (environ: UriEnviron): string {
  const scheme = requiredKey(environ, 'wsgi.url_scheme', 'applicationUri')
  let url = scheme + '://'
  if (typeof environ.HTTP_HOST === 'string' && environ.HTTP_HOST !== '') {
    url += environ.HTTP_HOST
  } else {
    url += requiredKey(environ, 'SERVER_NAME', 'applicationUri')
    const port = requiredKey(environ, 'SERVER_PORT', 'applicationUri')
    if (port !== (scheme === 'https' ? '443' : '80')) url += ':' + port
  }
  return url + quoteLatin1(environ.SCRIPT_NAME || '/', '/')
}

/** The full URL of the request, optionally with its query string (wsgiref.util.request_uri). */
export function requestUri (environ: UriEnviron, includeQuery = true): string {
  let url = applicationUri(environ)
  const pathInfo = quoteLatin1(environ.PATH_INFO ?? '', '/;=,')
  url += environ.SCRIPT_NAME ? pathInfo : pathInfo.slice(1)
  if (includeQuery && environ.QUERY_STRING) url += '?' + environ.QUERY_STRING
  return url
}

/** `'https'` when the CGI variable HTTPS is on, else `'http'` (wsgiref.util.guess_scheme). */
export function guessScheme (environ: Record<string, unknown>): 'http' | 'https' {
  return ['yes', 'on', '1'].includes(environ.HTTPS as string) ? 'https' : 'http'
}

/**
 * Moves one path segment from PATH_INFO to SCRIPT_NAME and returns it
 * (wsgiref.util.shift_path_info): the step of a dispatching middleware. Empty
 * and `.` segments in between are dropped; null when PATH_INFO is empty.
 * A missing SCRIPT_NAME or PATH_INFO counts as `''`, as wsgiref's `environ.get(key, '')`.
 */
export function shiftPathInfo (environ: { SCRIPT_NAME?: string, PATH_INFO?: string }): string | null {
  const pathInfo = environ.PATH_INFO
  if (!pathInfo) return null
  if (pathInfo[0] !== '/') throw new TypeError(`PATH_INFO must be empty or start with "/", got ${JSON.stringify(pathInfo)}`)
  const parts = pathInfo.split('/')
  const middle = parts.slice(1, -1).filter((part) => part !== '' && part !== '.')
  const name = middle.length > 0 ? middle[0] : parts[parts.length - 1]
  const rest = middle.length > 0 ? ['', ...middle.slice(1), parts[parts.length - 1]] : ['']
  let scriptName = normalizeAbsolutePath((environ.SCRIPT_NAME ?? '') + '/' + name)
  if (scriptName.endsWith('/')) scriptName = scriptName.slice(0, -1)
  if (!name && !scriptName.endsWith('/')) scriptName += '/'
  environ.SCRIPT_NAME = scriptName
  environ.PATH_INFO = rest.join('/')
  // '/.' is left as the last segment above; it names nothing.
  return name === '.' ? null : name
}

/** posixpath.normpath of a path starting with "/" (POSIX keeps exactly two leading slashes). */
function normalizeAbsolutePath (path: string): string {
  const leading = path.startsWith('//') && !path.startsWith('///') ? '//' : '/'
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return leading + out.join('/')
}

/**
 * Fills in the environ keys a WSGI app needs, for tests that call apps
 * directly (wsgiref.util.setup_testing_defaults, which uses dict.setdefault):
 * a key that is set is kept, whatever its value, `null` included (Python's
 * None); a key that is missing or `undefined` gets its default.
 */
export function setupTestingDefaults (environ: Record<string, unknown>): void {
  setDefault(environ, 'SERVER_NAME', '127.0.0.1')
  setDefault(environ, 'SERVER_PROTOCOL', 'HTTP/1.0')
  setDefault(environ, 'HTTP_HOST', environ.SERVER_NAME)
  setDefault(environ, 'REQUEST_METHOD', 'GET')
  if (environ.SCRIPT_NAME === undefined && environ.PATH_INFO === undefined) {
    environ.SCRIPT_NAME = ''
    environ.PATH_INFO = '/'
  }
  setDefault(environ, 'wsgi.version', WSGI_VERSION)
  setDefault(environ, 'wsgi.run_once', false)
  setDefault(environ, 'wsgi.multithread', false)
  setDefault(environ, 'wsgi.multiprocess', false)
  if (environ['wsgi.input'] === undefined) environ['wsgi.input'] = new BufferedInput(Buffer.alloc(0))
  if (environ['wsgi.errors'] === undefined) environ['wsgi.errors'] = new ErrorStream(console)
  setDefault(environ, 'wsgi.url_scheme', guessScheme(environ))
  // Only for the schemes it knows, as wsgiref: another scheme leaves SERVER_PORT to the caller.
  if (environ['wsgi.url_scheme'] === 'http') setDefault(environ, 'SERVER_PORT', '80')
  else if (environ['wsgi.url_scheme'] === 'https') setDefault(environ, 'SERVER_PORT', '443')
}

function setDefault (environ: Record<string, unknown>, key: string, value: unknown): void {
  if (environ[key] === undefined) environ[key] = value
}
