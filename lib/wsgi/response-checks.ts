import { isHopByHop } from './util.js'
import { describeValue, isToken } from './values.js'
import {
  FST_WSGI_HOP_BY_HOP_HEADER,
  FST_WSGI_INVALID_HEADER,
  FST_WSGI_INVALID_STATUS
} from '../errors.js'

// Validation of what an app passes to startResponse (wsgiref's start_response asserts, and RFC 9110), written
// as table lookups because it runs on every request.

/**
 * Index of the first character Node would refuse in a header value or reason
 * phrase (anything but tab, printable ASCII and obs-text 0x80-0xFF), or -1.
 */
function firstInvalidTextChar (text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 ? code !== 0x09 : (code === 0x7f || code > 0xff)) return i
  }
  return -1
}

function describeChar (text: string, index: number): string {
  const code = text.charCodeAt(index)
  const name = code === 0x0d ? 'CR' : code === 0x0a ? 'LF' : code === 0 ? 'NUL' : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  return code === 0x0d || code === 0x0a || code === 0
    ? `${name} (response splitting)`
    : `${name} (not allowed in HTTP header text)`
}

/** The last valid status line and its code: apps send the same few statuses, usually the same string. */
let lastStatus = '200 OK'
let lastCode = 200

/** Returns the status code of a valid WSGI status line such as `'200 OK'`, or throws. */
export function parseStatus (status: unknown): number {
  if (status === lastStatus) return lastCode
  if (typeof status !== 'string') {
    throw new FST_WSGI_INVALID_STATUS(describeValue(status), 'status must be a string')
  }
  // wsgiref: at least 4 characters, 3 digits, then a space.
  if (status.length < 4 || status.charCodeAt(3) !== 0x20) {
    throw new FST_WSGI_INVALID_STATUS(JSON.stringify(status), 'expected three digits, a space and a reason phrase, like "200 OK"')
  }
  let code = 0
  for (let i = 0; i < 3; i++) {
    const digit = status.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) {
      throw new FST_WSGI_INVALID_STATUS(JSON.stringify(status), 'the status code must be three digits')
    }
    code = code * 10 + digit
  }
  if (code < 100) {
    throw new FST_WSGI_INVALID_STATUS(JSON.stringify(status), 'the status code must be at least 100')
  }
  const bad = firstInvalidTextChar(status)
  if (bad !== -1) {
    throw new FST_WSGI_INVALID_STATUS(JSON.stringify(status), `contains ${describeChar(status, bad)}`)
  }
  lastStatus = status
  lastCode = code
  return code
}

/** What the handler needs to know about a validated header list. */
export interface HeaderFacts {
  /** The declared Content-Length, or -1 when the app set none. */
  contentLength: number
  hasDate: boolean
  hasServer: boolean
  hasContentType: boolean
}

// One facts object for every call, as a response would otherwise make one more object to collect:
// the caller reads it before anything can call checkHeaders again.
const facts: HeaderFacts = { contentLength: -1, hasDate: false, hasServer: false, hasContentType: false }

/**
 * Validates a startResponse header list (string pairs, token names, no CR/LF/NUL, no hop-by-hop) and reports the headers the handler cares about,
 * in an object that is only valid until the next call.
 */
export function checkResponseHeaders (headers: unknown): Readonly<HeaderFacts> {
  if (!Array.isArray(headers)) {
    throw new FST_WSGI_INVALID_HEADER(`list ${describeValue(headers)}: headers must be an array of [name, value] pairs${headersObjectHint(headers)}`)
  }
  facts.contentLength = -1
  facts.hasDate = false
  facts.hasServer = false
  facts.hasContentType = false
  for (let i = 0; i < headers.length; i++) {
    const pair: unknown = headers[i]
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new FST_WSGI_INVALID_HEADER(`${describeValue(pair)} at index ${i}: each header must be a [name, value] pair`)
    }
    const name: unknown = pair[0]
    const value: unknown = pair[1]
    if (i >= CHECKED_LIMIT || name !== checkedNames[i] || value !== checkedValues[i]) checkPair(pair, name, value, i)
    noteHeader(facts, name as string, value as string)
  }
  return facts
}

// The pairs found valid last time, by position: an app sends much the same list every time, so an
// equal name and value need no second look at their characters.
// (Filled with a value no app can pass, so a position never seen matches nothing, undefined included.)
const CHECKED_LIMIT = 32
const UNCHECKED = Symbol('unchecked')
const checkedNames: unknown[] = new Array(CHECKED_LIMIT).fill(UNCHECKED)
const checkedValues: unknown[] = new Array(CHECKED_LIMIT).fill(UNCHECKED)

/** Checks a header's name and value, and remembers them as valid at their position. */
function checkPair (pair: unknown[], name: unknown, value: unknown, index: number): void {
  if (typeof name !== 'string' || typeof value !== 'string') {
    throw new FST_WSGI_INVALID_HEADER(`${describeValue(pair)}: header names and values must be strings`)
  }
  if (!isToken(name)) {
    throw new FST_WSGI_INVALID_HEADER(`name ${JSON.stringify(name)}: not an HTTP token`)
  }
  const bad = firstInvalidTextChar(value)
  if (bad !== -1) {
    throw new FST_WSGI_INVALID_HEADER(`"${name}" value ${JSON.stringify(value)}: contains ${describeChar(value, bad)}`)
  }
  if (index < CHECKED_LIMIT) {
    checkedNames[index] = name
    checkedValues[index] = value
  }
}

/**
 * Whether a header name is `lower`, in any case. The usual spellings are
 * compared first: lowercasing makes a new string for every mixed-case name.
 */
function isName (name: string, lower: string, canonical: string): boolean {
  return name === canonical || name === lower || name.toLowerCase() === lower
}

// Header names are short, so a length switch avoids lowercasing most of them.
function noteHeader (facts: HeaderFacts, name: string, value: string): void {
  switch (name.length) {
    case 4:
      if (isName(name, 'date', 'Date')) facts.hasDate = true
      break
    case 6:
      if (isName(name, 'server', 'Server')) facts.hasServer = true
      break
    case 12:
      // One body, one media type: two would leave the client (and Fastify's onSend path) to guess.
      if (isName(name, 'content-type', 'Content-Type')) {
        if (facts.hasContentType) throw new FST_WSGI_INVALID_HEADER(`"${name}: ${value}": Content-Type set twice`)
        facts.hasContentType = true
      }
      break
    case 14:
      if (isName(name, 'content-length', 'Content-Length')) {
        if (facts.contentLength !== -1) throw new FST_WSGI_INVALID_HEADER(`"${name}: ${value}": Content-Length set twice`)
        facts.contentLength = parseContentLength(name, value)
      }
      break
    default:
      if (HOP_BY_HOP_LENGTHS[name.length] === 1 && isHopByHop(name)) throw new FST_WSGI_HOP_BY_HOP_HEADER(`${name}: ${value}`)
  }
}

// The lengths of the hop-by-hop names (te, upgrade, trailers, connection, keep-alive,
// transfer-encoding, proxy-authenticate, proxy-authorization): others need no lookup.
const HOP_BY_HOP_LENGTHS = new Uint8Array(32)
for (const length of [2, 7, 8, 10, 17, 18, 19]) HOP_BY_HOP_LENGTHS[length] = 1

function parseContentLength (name: string, value: string): number {
  const length = /^\d{1,15}$/.test(value) ? Number(value) : NaN
  if (Number.isNaN(length)) {
    throw new FST_WSGI_INVALID_HEADER(`"${name}: ${value}": Content-Length must be a non-negative integer`)
  }
  return length
}

/** For a header list that is a toolkit `Headers` (a view over its `list`), the way to pass it. */
export function headersObjectHint (headers: unknown): string {
  return Array.isArray((headers as { list?: unknown } | null)?.list) ? '; for a Headers object, pass headers.list' : ''
}
