import type { FastifyReply } from 'fastify'
import { replyHeaderStore } from './internals.js'

type HeaderValues = Record<string, string | number | string[] | undefined>

function isEmptyObject (value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  for (const key in value) if (key !== undefined) return false
  return true
}

/**
 * The headers hooks and plugins set before the app ran, or null when they
 * set none: the common case then skips reply.getHeaders(), which copies two
 * objects per request. Should Fastify keep its headers elsewhere one day,
 * every reply takes the getHeaders() path, slower but still right.
 */
export function hookHeaders (reply: FastifyReply): HeaderValues | null {
  return holdsHeaders(reply) ? reply.getHeaders() : null
}

/** Whether hooks or plugins set any header on the reply or on reply.raw (the common answer, no, without copying them). */
export function holdsHeaders (reply: FastifyReply): boolean {
  return !isEmptyObject(replyHeaderStore(reply)) || reply.raw.getHeaderNames().length !== 0
}

// The body's framing is the app's and the handler's business, never a hook's.
const FRAMING = new Set(['content-length', 'transfer-encoding'])

/**
 * Adds the headers that hooks and plugins set before the app ran (with
 * reply.header() or reply.raw.setHeader()), which would be lost after
 * reply.hijack(). The app's value wins a clash, except Set-Cookie, where both
 * are kept (the app's last). Returns whether there were any.
 */
export function addHookHeaders (headers: string[], hookHeaders: HeaderValues): boolean {
  let appNames: Set<string> | null = null
  for (const name in hookHeaders) {
    const value = hookHeaders[name]
    if (value === undefined || FRAMING.has(name)) continue
    appNames ??= new Set(headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()))
    const pairs = Array.isArray(value) ? value.flatMap((item) => [name, item]) : [name, String(value)]
    if (!appNames.has(name)) headers.push(...pairs)
    else if (name === 'set-cookie') headers.splice(firstCookieIndex(headers), 0, ...pairs)
  }
  return appNames !== null
}

/**
 * Where the app's first Set-Cookie is: the hooks' cookies go before it, so a
 * cookie both set reaches the browser with the app's value last, which wins.
 */
function firstCookieIndex (headers: string[]): number {
  let i = 0
  while (headers[i].toLowerCase() !== 'set-cookie') i += 2
  return i
}

/**
 * Whether a name appears twice in a flat `[name, value...]` list, in any case. Pairwise, as
 * lists are short: names of different lengths differ, so most pairs cost one comparison and
 * nothing is allocated (a Set of lower-cased names cost a string per name and the Set itself).
 */
function hasRepeatedName (headers: string[]): boolean {
  for (let i = 2; i < headers.length; i += 2) {
    const name = headers[i]
    for (let j = 0; j < i; j += 2) {
      const other = headers[j]
      if (other.length === name.length && (other === name || other.toLowerCase() === name.toLowerCase())) return true
    }
  }
  return false
}

/**
 * The flat `[name, value...]` list for res.writeHead, with repeated names
 * grouped into one entry whose value is the array of values. Node writes each
 * array value as its own header line; a repeated name, though, keeps only its
 * last value once the response holds headers set with setHeader(), so this is
 * needed when hooks or plugins set headers.
 */
export function groupRepeatedNames (headers: string[]): Array<string | string[]> {
  if (!hasRepeatedName(headers)) return headers
  const groups = new Map<string, [string, string[]]>()
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i].toLowerCase()
    const group = groups.get(lower)
    if (group === undefined) groups.set(lower, [headers[i], [headers[i + 1]]])
    else group[1].push(headers[i + 1])
  }
  const grouped: Array<string | string[]> = []
  for (const [name, values] of groups.values()) grouped.push(name, values.length === 1 ? values[0] : values)
  return grouped
}

/**
 * The flat `[name, value...]` list as one object for HTTP/2's res.writeHead,
 * keyed by lower-cased name, a repeated name's values as one array.
 */
export function headerObject (headers: string[]): Record<string, string | string[]> {
  // No prototype: a header may be named __proto__.
  const grouped: Record<string, string | string[]> = Object.create(null)
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase()
    const previous = grouped[name]
    grouped[name] = previous === undefined ? headers[i + 1] : ([] as string[]).concat(previous, headers[i + 1])
  }
  return grouped
}
