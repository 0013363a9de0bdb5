// The work every contender does, once as a WSGI app and once for the native routes, so the
// scenarios compare transports, not work. Paths: /hello /legacy /64k /1m /file /async /echo /missing.
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
export const HELLO = 'Hello, World!'
export const BLOCK_64K = Buffer.alloc(64 * 1024, 'x')
export const PIECE_64K = BLOCK_64K // 16 × 64 KiB = 1 MiB
export const SMALL = 'a small chunk of text\n'
/** What a browser sends besides Host (which every client adds): 11 request headers in all. */
export const BROWSER_HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-language': 'en-GB,en;q=0.5',
  'accept-encoding': 'gzip, deflate, br',
  referer: 'http://127.0.0.1/app/',
  cookie: 'theme=dark; session=abc123',
  'upgrade-insecure-requests': '1',
  'sec-fetch-dest': 'document',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-site': 'same-origin'
}

/** A 1 MiB file each process that loads this module writes once, and removes when it exits. */
export const FILE = join(tmpdir(), `fastify-wsgi-bench-${process.pid}.bin`)
writeFileSync(FILE, Buffer.alloc(1024 * 1024, 'f'))
process.once('exit', () => rmSync(FILE, { force: true }))

/** What the legacy scenario computes from a request: a few CGI keys, the query and a cookie. */
export function legacyText (method, path, query, cookieHeader, userAgent) {
  const name = new URLSearchParams(query).get('name') ?? 'nobody'
  const session = /(?:^|;\s*)session=([^;]*)/.exec(cookieHeader ?? '')?.[1] ?? 'none'
  return `${method} ${path} for ${name}, session ${session}, agent ${userAgent ?? '-'}\n`
}

export function * oneMebibyte () {
  for (let i = 0; i < 16; i++) yield PIECE_64K
}

export async function * hundredSmall () {
  for (let i = 0; i < 100; i++) yield SMALL
}

/**
 * The scenarios as one WSGI app routing on PATH_INFO. Mounted at /app, PATH_INFO is the rest;
 * served from the root (the CLI), the /app prefix is its own to drop.
 */
export function wsgiApp (environ, startResponse) {
  const path = environ.PATH_INFO
  switch (environ.SCRIPT_NAME === '' && path.startsWith('/app/') ? path.slice(4) : path) {
    case '/hello':
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [HELLO]
    case '/legacy':
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [legacyText(environ.REQUEST_METHOD, environ.PATH_INFO, environ.QUERY_STRING, environ.HTTP_COOKIE, environ.HTTP_USER_AGENT)]
    case '/64k':
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']])
      return [BLOCK_64K]
    case '/1m':
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']])
      return oneMebibyte()
    case '/async':
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return hundredSmall()
    case '/file':
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']])
      return environ['wsgi.file_wrapper'](FILE)
    case '/echo':
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']])
      return [environ['wsgi.input'].read()]
    default:
      startResponse('404 Not Found', [['Content-Type', 'text/plain']])
      return ['not found']
  }
}
