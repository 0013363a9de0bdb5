import { FST_WSGI_BAD_REQUEST } from '../errors.js'

// The request target (RFC 9112 §3.2) as PEP 3333 wants it: split into path and query, and the
// path percent-decoded byte by byte.

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
 * `unquote(path, 'iso-8859-1')` (PEP 3333 "Unicode Issues"): nothing is lost, and an
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
export function latin1ToUtf8 (text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'latin1').toString('utf8')
  }
  return text
}
