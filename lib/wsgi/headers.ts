import type { ResponseHeader } from '../../types/protocol.js'
import { describeValue, isToken } from './values.js'
import { FST_WSGI_INVALID_HEADER } from '../errors.js'

// Control characters (C0 and DEL) are refused, as wsgiref.headers does; a tab is fine in a value
// (RFC 9110 §5.5), not in a name or parameter.
function hasControl (text: string, tabAllowed: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if ((code < 0x20 && !(tabAllowed && code === 0x09)) || code === 0x7f) return true
  }
  return false
}

function checkText (value: unknown, what: 'name' | 'value' | 'parameter'): string {
  if (typeof value !== 'string') throw new FST_WSGI_INVALID_HEADER(`${what} ${describeValue(value)}: header names and values must be strings`)
  if (hasControl(value, what === 'value')) {
    throw new FST_WSGI_INVALID_HEADER(`${what} ${JSON.stringify(value)}: contains a control character (CR and LF are response splitting)`)
  }
  return value
}

/** `key="value"`, escaping `\` and `"` (wsgiref.headers._formatparam, always quoting). */
function formatParam (name: string, value: string | null | undefined | true): string {
  if (value === null || value === undefined || value === true || value === '') return name
  return `${name}="${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

// RFC 6265 cookie-octet: printable ASCII but space, `"`, `,`, `;` and `\`.
const COOKIE_VALUE = /^(?:[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*|"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*")$/
// An attribute value runs to the next `;`: anything printable but that.
const COOKIE_ATTRIBUTE_VALUE = /^[\x20-\x3A\x3C-\x7E]*$/

function cookieText (text: unknown, what: string, valid: (text: string) => boolean, rule: string): string {
  if (typeof text !== 'string' || !valid(text)) throw new FST_WSGI_INVALID_HEADER(`Set-Cookie ${what} ${describeValue(text)}: ${rule}`)
  return text
}

function cookieAttribute (name: string, value: string | number | true | null): string {
  cookieText(name, 'attribute name', isToken, 'must be an HTTP token')
  if (value === null || value === true) return name
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value
  return `${name}=${cookieText(text, `attribute ${name}`, (v) => COOKIE_ATTRIBUTE_VALUE.test(v), 'must be a string or number of printable ASCII without ";"')}`
}

/**
 * A case-insensitive view over a WSGI header list (wsgiref.headers.Headers):
 * changes are made to the list itself, so it can be given to startResponse
 * before or after it is filled in.
 */
export class Headers implements Iterable<ResponseHeader> {
  /** The underlying `[name, value]` list. */
  readonly list: ResponseHeader[]

  constructor (list: ResponseHeader[] = []) {
    if (!Array.isArray(list)) throw new FST_WSGI_INVALID_HEADER(`list ${describeValue(list)}: Headers needs an array of [name, value] pairs`)
    for (const [name, value] of list) {
      checkText(name, 'name')
      checkText(value, 'value')
    }
    this.list = list
  }

  /** Number of header lines, repeats included. */
  get length (): number {
    return this.list.length
  }

  /** The first value of `name`, or `defaultValue` (undefined) when absent. */
  get (name: string, defaultValue?: string): string | undefined {
    const lower = name.toLowerCase()
    for (const [key, value] of this.list) if (key.toLowerCase() === lower) return value
    return defaultValue
  }

  /** Every value of `name`, in order. */
  getAll (name: string): string[] {
    const lower = name.toLowerCase()
    return this.list.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value)
  }

  has (name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Replaces every `name` header with one line `name: value`, at the end. */
  set (name: string, value: string): void {
    this.delete(name)
    this.list.push([checkText(name, 'name'), checkText(value, 'value')])
  }

  /** Removes every `name` header. */
  delete (name: string): void {
    const lower = name.toLowerCase()
    const kept = this.list.filter(([key]) => key.toLowerCase() !== lower)
    this.list.splice(0, this.list.length, ...kept)
  }

  /** The value of `name`; when absent, adds `name: value` first and returns `value`. */
  setDefault (name: string, value: string): string {
    const existing = this.get(name)
    if (existing !== undefined) return existing
    this.list.push([checkText(name, 'name'), checkText(value, 'value')])
    return value
  }

  /**
   * Adds a header with parameters: `addHeader('Content-Disposition', 'attachment', { filename: 'a.txt' })`
   * gives `attachment; filename="a.txt"`. `_` in a parameter name becomes `-`; a parameter whose value
   * is `null` or `true` is written bare.
   */
  addHeader (name: string, value: string | null, params: Record<string, string | null | true> = {}): void {
    const parts: string[] = []
    if (value !== null) parts.push(checkText(value, 'value'))
    for (const [key, param] of Object.entries(params)) {
      parts.push(formatParam(key.replaceAll('_', '-'), param === null || param === true ? param : checkText(param, 'parameter')))
    }
    this.list.push([checkText(name, 'name'), parts.join('; ')])
  }

  /**
   * Adds a `Set-Cookie` header with unquoted attributes, as browsers expect:
   * `addCookie('sid', 'abc', { Path: '/', HttpOnly: true, Max_Age: 3600 })` gives
   * `sid=abc; Path=/; HttpOnly; Max-Age=3600`. `_` in an attribute name becomes `-`; `true` or
   * `null` writes it bare. (`addHeader` quotes every parameter, as wsgiref does, and browsers
   * ignore a quoted `Path="/"`.) The name must be a token and the value RFC 6265 cookie octets.
   */
  addCookie (name: string, value: string, attributes: Record<string, string | number | true | null> = {}): void {
    let cookie = `${cookieText(name, 'name', isToken, 'must be an HTTP token')}=` +
      cookieText(value, `value of ${name}`, (v) => COOKIE_VALUE.test(v), 'may not contain spaces, ", comma, ; or \\ (encode it first, e.g. encodeURIComponent)')
    for (const [key, attribute] of Object.entries(attributes)) cookie += '; ' + cookieAttribute(key.replaceAll('_', '-'), attribute)
    this.list.push(['Set-Cookie', cookie])
  }

  /** A copy of the `[name, value]` list (wsgiref's items()): changing it leaves the headers as they are. */
  items (): ResponseHeader[] {
    return this.list.map(([key, value]) => [key, value])
  }

  keys (): string[] {
    return this.list.map(([key]) => key)
  }

  values (): string[] {
    return this.list.map(([, value]) => value)
  }

  [Symbol.iterator] (): Iterator<ResponseHeader> {
    return this.list[Symbol.iterator]()
  }

  /** The header block as sent: `Name: value\r\n` lines and the blank line. */
  toString (): string {
    return this.list.map(([key, value]) => `${key}: ${value}\r\n`).join('') + '\r\n'
  }
}
