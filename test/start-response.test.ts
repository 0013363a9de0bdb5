// startResponse validation (docs/conformance.md C2-C4): table-driven, through BaseHandler.
import { test } from 'tap'
import type { ResponseHeader } from '../lib/index.js'
import { isHopByHop } from '../lib/index.js'
import { MemoryHandler } from './helpers/memory-handler.js'

function startResponseError (status: unknown, headers: unknown): { code: string, message: string } | null {
  const handler = new MemoryHandler()
  try {
    handler.startResponse(status as string, headers as ResponseHeader[])
    return null
  } catch (err) {
    return err as { code: string, message: string }
  }
}

test('C2: valid status lines are accepted', async (t) => {
  for (const status of ['200 OK', '404 Not Found', '999 Custom', '200 ', '100 Continue', '200 Ça va', '200 tab\tin reason']) {
    t.equal(startResponseError(status, []), null, status)
  }
})

test('C2: invalid status lines are refused with the value named', async (t) => {
  const cases: Array<[unknown, string]> = [
    [200, 'Invalid status number 200: status must be a string'],
    ['200', 'Invalid status "200": expected three digits, a space and a reason phrase'],
    ['200OK', 'Invalid status "200OK"'],
    ['2000 OK', 'Invalid status "2000 OK"'],
    ['20a OK', 'Invalid status "20a OK": the status code must be three digits'],
    ['099 Low', 'Invalid status "099 Low": the status code must be at least 100'],
    ['200 OK\r\nSet-Cookie: x=1', 'contains CR (response splitting)'],
    ['200 OK\n', 'contains LF (response splitting)'],
    ['200 OK\u0000', 'contains NUL (response splitting)'],
    ['200 OK\u0007', 'contains U+0007 (not allowed in HTTP header text)'],
    ['200 \u20ac', 'contains U+20AC']
  ]
  for (const [status, message] of cases) {
    const err = startResponseError(status, [])
    t.equal(err?.code, 'FST_WSGI_INVALID_STATUS', String(status))
    t.match(err?.message, message)
  }
})

test('C3: headers must be a list of [name, value] string pairs', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ 'Content-Type': 'text/plain' }, 'Invalid header list object Object: headers must be an array of [name, value] pairs'],
    ['Content-Type: text/plain', 'Invalid header list "Content-Type: text/plain"'],
    [[['Content-Type']], 'Invalid header ["Content-Type"] at index 0: each header must be a [name, value] pair'],
    [[['A', '1', '2']], 'at index 0'],
    [['A'], 'Invalid header "A" at index 0'],
    [[['X-Count', 1]], 'Invalid header ["X-Count", number 1]: header names and values must be strings'],
    [[[Symbol.iterator, 'x']], 'header names and values must be strings'],
    [[['X-Null', null]], '["X-Null", null]']
  ]
  for (const [headers, message] of cases) {
    const err = startResponseError('200 OK', headers)
    t.equal(err?.code, 'FST_WSGI_INVALID_HEADER')
    t.match(err?.message, message)
  }
})

test('C3: header names must be HTTP tokens', async (t) => {
  for (const name of ['', 'Bad Name', 'Bad:Name', 'X-Ü', 'X-\r\n', '(x)']) {
    const err = startResponseError('200 OK', [[name, 'v']])
    t.equal(err?.code, 'FST_WSGI_INVALID_HEADER', JSON.stringify(name))
    t.match(err?.message, 'not an HTTP token')
  }
  t.equal(startResponseError('200 OK', [["X-Odd!#$%&'*+.^_`|~9", 'v']]), null)
})

test('C3: header values may not contain CR, LF, NUL or other control characters', async (t) => {
  const cases: Array<[string, string]> = [
    ['a\r\nSet-Cookie: evil=1', 'contains CR (response splitting)'],
    ['a\nb', 'contains LF (response splitting)'],
    ['a\u0000b', 'contains NUL (response splitting)'],
    ['a\u001fb', 'contains U+001F'],
    ['a\u007fb', 'contains U+007F'],
    ['snow \u2603', 'contains U+2603']
  ]
  for (const [value, message] of cases) {
    const err = startResponseError('200 OK', [['X-Value', value]])
    t.equal(err?.code, 'FST_WSGI_INVALID_HEADER')
    t.match(err?.message, message)
    t.match(err?.message, '"X-Value" value')
  }
  t.equal(startResponseError('200 OK', [['X-Value', 'tab\there, latin-1 caf\u00e9, empty next']]), null)
  t.equal(startResponseError('200 OK', [['X-Empty', '']]), null)
})

test('C4: hop-by-hop headers are refused, whatever their case', async (t) => {
  for (const name of ['Connection', 'keep-alive', 'Proxy-Authenticate', 'PROXY-AUTHORIZATION', 'TE', 'Trailers', 'Transfer-Encoding', 'Upgrade']) {
    const err = startResponseError('200 OK', [[name, 'x']])
    t.equal(err?.code, 'FST_WSGI_HOP_BY_HOP_HEADER', name)
    t.equal(err?.message, `Hop-by-hop header "${name}: x" not allowed`)
  }
  t.equal(startResponseError('200 OK', [['Connection', 'close']])?.message, 'Hop-by-hop header "Connection: close" not allowed')
})

test('C4: isHopByHop agrees with wsgiref.util.is_hop_by_hop', async (t) => {
  for (const name of ['Connection', 'KEEP-ALIVE', 'te', 'upgrade']) t.equal(isHopByHop(name), true, name)
  for (const name of ['Content-Type', 'Date', 'Server', 'X-Connection', 'Content-Length']) t.equal(isHopByHop(name), false, name)
})

test('C3: Content-Length must be a non-negative integer, set once', async (t) => {
  for (const value of ['-1', '1.5', 'abc', '', ' 5', '1e3', '9999999999999999']) {
    const err = startResponseError('200 OK', [['Content-Length', value]])
    t.equal(err?.code, 'FST_WSGI_INVALID_HEADER', JSON.stringify(value))
    t.match(err?.message, 'Content-Length must be a non-negative integer')
  }
  t.match(startResponseError('200 OK', [['Content-Length', '1'], ['content-length', '1']])?.message, 'Content-Length set twice')
  t.equal(startResponseError('200 OK', [['Content-Length', '0'], ['Date', 'x'], ['Server', 'y'], ['X-Four', '4']]), null)
})

test('C3: Content-Type is set at most once (two would leave the client to guess the media type)', async (t) => {
  const err = startResponseError('200 OK', [['Content-Type', 'text/plain'], ['content-type', 'text/html']])
  t.equal(err?.code, 'FST_WSGI_INVALID_HEADER')
  t.equal(err?.message, 'Invalid header "content-type: text/html": Content-Type set twice')
  t.equal(startResponseError('200 OK', [['Content-Type', 'text/plain'], ['X-Content-Type-Options', 'nosniff']]), null)
})

test('C2/C3: validation errors are @fastify/error instances with status 500', async (t) => {
  const err = startResponseError('bad', []) as unknown as Error & { statusCode: number, name: string }
  t.ok(err instanceof Error)
  t.equal(err.statusCode, 500)
  t.equal(err.name, 'FastifyError')
})
