// Small pure helpers: request-target checks and splitting, latin-1 unquoting, value descriptions.
import { test } from 'tap'
import { checkOtherTarget, splitTarget, unquoteLatin1 } from '../lib/fastify/request-target.js'
import { describeValue } from '../lib/wsgi/values.js'
import { formatDateTime } from '../lib/index.js'

test('splitTarget separates path, query and fragment, from where the path starts', async (t) => {
  t.same(splitTarget('/a/b?x=1#frag'), { path: '/a/b', query: 'x=1', uri: '/a/b?x=1' })
  t.same(splitTarget('/a#frag?not-query'), { path: '/a', query: '', uri: '/a' })
  t.same(splitTarget('http://host:8080/p/q?z', 16), { path: '/p/q', query: 'z', uri: '/p/q?z' })
  t.same(splitTarget('http://host', 11), { path: '/', query: '', uri: '/' })
  t.same(splitTarget('http://host?x=1', 11), { path: '/', query: 'x=1', uri: '/?x=1' })
  t.same(splitTarget('*'), { path: '*', query: '', uri: '*' })
})

test('checkOtherTarget: * for OPTIONS only, and an absolute form\'s authority that parses', async (t) => {
  t.same(checkOtherTarget('*', 'OPTIONS'), { authority: '', target: { path: '*', query: '', uri: '*' } }, 'PATH_INFO is \'*\', as wsgiref and gunicorn give it')
  t.throws(() => checkOtherTarget('*', 'GET'), { code: 'FST_WSGI_BAD_REQUEST', statusCode: 400, message: 'Bad request: the request target * is for OPTIONS only, not GET' })
  t.same(checkOtherTarget('http://host:8080/p/q?z#f', 'GET'), { authority: 'host:8080', target: { path: '/p/q', query: 'z', uri: '/p/q?z' } })
  t.same(checkOtherTarget('HTTPS://[::1]:8443', 'GET'), { authority: '[::1]:8443', target: { path: '/', query: '', uri: '/' } })
  t.same(checkOtherTarget('http://h:?q', 'GET').authority, 'h:', 'an empty port is allowed (RFC 3986 §3.2.3)')
  t.same(checkOtherTarget("http://a%41.b-c~_!$&'()*+,;=d#f", 'GET').authority, "a%41.b-c~_!$&'()*+,;=d", 'every reg-name character')
  t.same(checkOtherTarget('x-y+z.1://h/p', 'PUT').authority, 'h', 'any scheme that parses')
  for (const bad of ['s://]ufd/:', 'http://user@host/p', 'http:///p', 'http://h:8x/p', 'http://[zz]/p', 'http://ho st/p', '1http://h/p', '://h/p', 'h/p']) {
    t.throws(() => checkOtherTarget(bad, 'GET'), { code: 'FST_WSGI_BAD_REQUEST', message: `Bad request: the request target ${JSON.stringify(bad)} is neither a path nor an absolute URI with a valid authority` }, bad)
  }
})

test('unquoteLatin1 maps each escaped byte to one character and keeps invalid escapes', async (t) => {
  t.equal(unquoteLatin1('/plain'), '/plain')
  t.equal(unquoteLatin1('/%41%62%e9%FF'), '/Ab\u00e9\u00ff')
  t.equal(unquoteLatin1('/%zz/%4/%'), '/%zz/%4/%')
  t.equal(unquoteLatin1('%2541'), '%41', 'decoded once')
})

test('describeValue names values for error messages', async (t) => {
  t.equal(describeValue('x'.repeat(100)), JSON.stringify('x'.repeat(80) + '…'))
  t.equal(describeValue(Object.create(null)), 'object Object')
  t.equal(describeValue(new Map()), 'object Map')
  t.equal(describeValue(function named () {}), 'function named')
  t.equal(describeValue(() => {}), 'function (anonymous)')
  t.equal(describeValue(Symbol('s')), 'symbol Symbol(s)')
  t.equal(describeValue([1, 'a']), '[number 1, "a"]')
})

test('formatDateTime is an RFC 9110 IMF-fixdate, like wsgiref.handlers.format_date_time', async (t) => {
  t.equal(formatDateTime(Date.UTC(2008, 11, 24, 13, 29, 32)), 'Wed, 24 Dec 2008 13:29:32 GMT')
})

test('a body stream closed without an error or an end fails the read with ECONNRESET (both input modes)', async (t) => {
  const { readBody } = await import('../lib/wsgi/input.js')
  const { StreamInput } = await import('../lib/wsgi/stream-input.js')
  const { PassThrough } = await import('node:stream')
  const buffered = new PassThrough()
  const reading = readBody(buffered, 100)
  buffered.write('partial')
  buffered.destroy()
  await t.rejects(reading, { code: 'ECONNRESET', message: 'The client closed the connection before the request body ended' })

  const streamed = new PassThrough()
  const input = new StreamInput(streamed, 100)
  const pending = input.read()
  streamed.destroy()
  await t.rejects(pending, { code: 'ECONNRESET' })
  await t.rejects(input.read(), { code: 'ECONNRESET' }, 'later reads fail the same way')
})

test('groupRepeatedNames groups repeated header names, case-insensitively, and leaves other lists alone', async (t) => {
  const { groupRepeatedNames } = await import('../lib/fastify/response-headers.js')
  const single = ['A', '1']
  t.equal(groupRepeatedNames(single), single)
  const distinct = ['A', '1', 'B', '2']
  t.equal(groupRepeatedNames(distinct), distinct)
  t.same(groupRepeatedNames(['Set-Cookie', 'a=1', 'X', 'x', 'set-cookie', 'b=2']), ['Set-Cookie', ['a=1', 'b=2'], 'X', 'x'])
  const sameLengths = ['Date', 'd', 'Vary', 'v', 'Etag', 'e']
  t.equal(groupRepeatedNames(sameLengths), sameLengths, 'names of one length that differ are not repeats')
  t.same(groupRepeatedNames(['X-A', '1', 'X-B', '2', 'x-a', '3']), ['X-A', ['1', '3'], 'X-B', '2'])
  t.same(groupRepeatedNames(['Via', '1', 'Via', '2']), ['Via', ['1', '2']], 'the same spelling twice')
})

test('checkResponseHeaders and parseStatus remember what they found valid, and nothing invalid gets through that memory', async (t) => {
  // A fresh module: its memory of checked pairs is empty, and undefined must not read as checked.
  const fresh = await t.mockImport<typeof import('../lib/wsgi/response-checks.js')>('../lib/wsgi/response-checks.js')
  t.throws(() => fresh.checkResponseHeaders([[undefined, undefined]]), /names and values must be strings/)
  t.throws(() => fresh.parseStatus(''), /expected three digits/)
  const valid: Array<[string, string]> = [['Content-Type', 'text/plain'], ['X-A', '1']]
  t.equal(fresh.checkResponseHeaders(valid).hasContentType, true)
  t.equal(fresh.checkResponseHeaders(valid).hasContentType, true, 'the same list again')
  t.throws(() => fresh.checkResponseHeaders([['Content-Type', 'text/plain'], ['X-A', 'bad\r\nvalue']]), /response splitting/, 'a changed value at a checked position is checked')
  t.throws(() => fresh.checkResponseHeaders([['Content-Type', 'text/plain'], ['X A', '1']]), /not an HTTP token/, 'a changed name too')
  t.throws(() => fresh.checkResponseHeaders([['Content-Type', 'text/plain'], [undefined, undefined]]), /names and values must be strings/)
  // Past the positions remembered, every pair is checked every time.
  const long: Array<[string, string]> = Array.from({ length: 40 }, (_, i) => [`X-${i}`, String(i)])
  fresh.checkResponseHeaders(long)
  fresh.checkResponseHeaders(long)
  long[35] = ['X-35', 'a\nb']
  t.throws(() => fresh.checkResponseHeaders(long), /response splitting/)
  long[35] = [undefined as unknown as string, undefined as unknown as string]
  t.throws(() => fresh.checkResponseHeaders(long), /names and values must be strings/)
  t.equal(fresh.parseStatus('404 Not Found'), 404)
  t.equal(fresh.parseStatus('404 Not Found'), 404, 'again, remembered')
  t.throws(() => fresh.parseStatus('404 Not\nFound'), /response splitting/)
  t.throws(() => fresh.parseStatus(404), /status must be a string/)
})
