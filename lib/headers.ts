import type { ResponseHeader } from '../types/protocol.js'
import { describeValue } from './response-checks.js'
import { FST_WSGI_INVALID_HEADER } from './errors.js'

// Control characters (C0) are refused, as wsgiref.headers does; a tab is fine in a value, not in a name or parameter.
function hasControl (text: string, tabAllowed: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 && !(tabAllowed && code === 0x09)) return true
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
