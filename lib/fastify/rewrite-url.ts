import type { IncomingMessage } from 'node:http'

/**
 * A Fastify `rewriteUrl` that lets paths with non-UTF-8 percent-escapes
 * (`/caf%E9`, cp1252 URLs of legacy clients) or stray `%` signs reach WSGI
 * apps. Fastify's router refuses them with 400 FST_ERR_BAD_URL, but PEP 3333
 * wants their bytes in PATH_INFO (as latin-1). For routing only, such a path
 * gets its `%` escaped as `%25`; the environ is built from the URL as sent,
 * which Fastify keeps in `req.originalUrl`.
 *
 * ```js
 * const app = Fastify({ rewriteUrl: wsgiRewriteUrl })
 * ```
 */
export function wsgiRewriteUrl (req: IncomingMessage): string {
  const url = req.url as string
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  if (!path.includes('%')) return url
  try {
    decodeURIComponent(path)
    return url
  } catch {
    return path.replaceAll('%', '%25') + (query === -1 ? '' : url.slice(query))
  }
}
