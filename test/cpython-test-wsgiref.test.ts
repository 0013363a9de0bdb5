// CPython's own tests of wsgiref (Lib/test/test_wsgiref.py, 3.11-3.13), translated method by
// method: each test is named `Class.method` as there, and keeps CPython's expected values. Where
// the port differs on purpose, the test checks the port's rule and its name says "deviation:"
// with the reason; the deviations are listed in the README (Conformance to wsgiref).
// What differs only in form: Python's exception classes (TypeError, ValueError, AssertionError)
// are the port's coded errors, so a test checks the code; StringIO/BytesIO are small stand-ins.
import { test, type Test } from 'tap'
import {
  applicationUri, FileWrapper, guessScheme, Headers, isHopByHop, requestUri, setupTestingDefaults, shiftPathInfo,
  type ResponseHeader
} from '../lib/index.js'

type Env = Record<string, unknown>

// --- UtilityTests ---------------------------------------------------------------------------------

function checkShift (t: Test, snIn: string, piIn: string, part: string | null, snOut: string, piOut: string): void {
  const env: Env = { SCRIPT_NAME: snIn, PATH_INFO: piIn }
  setupTestingDefaults(env)
  t.equal(shiftPathInfo(env), part, `shift of ${JSON.stringify([snIn, piIn])}`)
  t.equal(env.PATH_INFO, piOut)
  t.equal(env.SCRIPT_NAME, snOut)
}

test('UtilityTests.testSimpleShifts', async (t) => {
  checkShift(t, '', '/', '', '/', '')
  checkShift(t, '', '/x', 'x', '/x', '')
  checkShift(t, '/', '', null, '/', '')
  checkShift(t, '/a', '/x/y', 'x', '/a/x', '/y')
  checkShift(t, '/a', '/x/', 'x', '/a/x', '/')
})

test('UtilityTests.testNormalizedShifts', async (t) => {
  checkShift(t, '/a/b', '/../y', '..', '/a', '/y')
  checkShift(t, '', '/../y', '..', '', '/y')
  checkShift(t, '/a/b', '//y', 'y', '/a/b/y', '')
  checkShift(t, '/a/b', '//y/', 'y', '/a/b/y', '/')
  checkShift(t, '/a/b', '/./y', 'y', '/a/b/y', '')
  checkShift(t, '/a/b', '/./y/', 'y', '/a/b/y', '/')
  checkShift(t, '/a/b', '///./..//y/.//', '..', '/a', '/y/')
  checkShift(t, '/a/b', '///', '', '/a/b/', '')
  checkShift(t, '/a/b', '/.//', '', '/a/b/', '')
  checkShift(t, '/a/b', '/x//', 'x', '/a/b/x', '/')
  checkShift(t, '/a/b', '/.', null, '/a/b', '')
})

test('UtilityTests.testDefaults', async (t) => {
  const defaults: Array<[string, unknown]> = [
    ['SERVER_NAME', '127.0.0.1'],
    ['SERVER_PORT', '80'],
    ['SERVER_PROTOCOL', 'HTTP/1.0'],
    ['HTTP_HOST', '127.0.0.1'],
    ['REQUEST_METHOD', 'GET'],
    ['SCRIPT_NAME', ''],
    ['PATH_INFO', '/'],
    ['wsgi.version', [1, 0]],
    // Python's 0 for the flags is false here (the environ's booleans).
    ['wsgi.run_once', false],
    ['wsgi.multithread', false],
    ['wsgi.multiprocess', false],
    ['wsgi.url_scheme', 'http']
  ]
  for (const [key, value] of defaults) {
    // Defaulting when empty.
    const empty: Env = {}
    setupTestingDefaults(empty)
    t.same(empty[key], value, `${key} defaults`)
    // An existing value is kept, whatever it is: Python's None is null.
    const present: Env = { [key]: null }
    setupTestingDefaults(present)
    t.equal(present[key], null, `${key} set to null is kept`)
  }
  // wsgi.input is an empty byte stream and wsgi.errors a text stream (BytesIO and StringIO in CPython).
  const env: Env = {}
  setupTestingDefaults(env)
  const input = env['wsgi.input'] as { read: () => Buffer }
  t.equal(input.read().length, 0, 'wsgi.input: empty')
  t.type((env['wsgi.errors'] as { write: unknown }).write, 'function', 'wsgi.errors: writable')
  for (const key of ['wsgi.input', 'wsgi.errors']) {
    const present: Env = { [key]: null }
    setupTestingDefaults(present)
    t.equal(present[key], null, `${key} set to null is kept`)
  }
})

test('UtilityTests.testCrossDefaults', async (t) => {
  const checkCrossDefault = (key: string, value: string, kw: Env): void => {
    setupTestingDefaults(kw)
    t.equal(kw[key], value, `${key} from ${JSON.stringify(kw)}`)
  }
  checkCrossDefault('HTTP_HOST', 'foo.bar', { SERVER_NAME: 'foo.bar' })
  checkCrossDefault('wsgi.url_scheme', 'https', { HTTPS: 'on' })
  checkCrossDefault('wsgi.url_scheme', 'https', { HTTPS: '1' })
  checkCrossDefault('wsgi.url_scheme', 'https', { HTTPS: 'yes' })
  checkCrossDefault('wsgi.url_scheme', 'http', { HTTPS: 'foo' })
  checkCrossDefault('SERVER_PORT', '80', { HTTPS: 'foo' })
  checkCrossDefault('SERVER_PORT', '443', { HTTPS: 'on' })
})

test('UtilityTests.testGuessScheme', async (t) => {
  t.equal(guessScheme({}), 'http')
  t.equal(guessScheme({ HTTPS: 'foo' }), 'http')
  t.equal(guessScheme({ HTTPS: 'on' }), 'https')
  t.equal(guessScheme({ HTTPS: 'yes' }), 'https')
  t.equal(guessScheme({ HTTPS: '1' }), 'https')
})

test('UtilityTests.testAppURIs', async (t) => {
  const checkAppURI = (uri: string, kw: Env = {}): void => {
    setupTestingDefaults(kw)
    t.equal(applicationUri(kw as unknown as Parameters<typeof applicationUri>[0]), uri)
  }
  checkAppURI('http://127.0.0.1/')
  checkAppURI('http://127.0.0.1/spam', { SCRIPT_NAME: '/spam' })
  checkAppURI('http://127.0.0.1/sp%E4m', { SCRIPT_NAME: '/sp\xe4m' })
  checkAppURI('http://spam.example.com:2071/', { HTTP_HOST: 'spam.example.com:2071', SERVER_PORT: '2071' })
  checkAppURI('http://spam.example.com/', { SERVER_NAME: 'spam.example.com' })
  checkAppURI('http://127.0.0.1/', { HTTP_HOST: '127.0.0.1', SERVER_NAME: 'spam.example.com' })
  checkAppURI('https://127.0.0.1/', { HTTPS: 'on' })
  checkAppURI('http://127.0.0.1:8000/', { SERVER_PORT: '8000', HTTP_HOST: null })
})

test('UtilityTests.testReqURIs', async (t) => {
  const checkReqURI = (uri: string, query: boolean, kw: Env = {}): void => {
    setupTestingDefaults(kw)
    t.equal(requestUri(kw as unknown as Parameters<typeof requestUri>[0], query), uri)
  }
  checkReqURI('http://127.0.0.1/', true)
  checkReqURI('http://127.0.0.1/spam', true, { SCRIPT_NAME: '/spam' })
  checkReqURI('http://127.0.0.1/sp%E4m', true, { SCRIPT_NAME: '/sp\xe4m' })
  checkReqURI('http://127.0.0.1/spammity/spam', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam' })
  checkReqURI('http://127.0.0.1/spammity/sp%E4m', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/sp\xe4m' })
  checkReqURI('http://127.0.0.1/spammity/spam;ham', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam;ham' })
  checkReqURI('http://127.0.0.1/spammity/spam;cookie=1234,5678', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam;cookie=1234,5678' })
  checkReqURI('http://127.0.0.1/spammity/spam?say=ni', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam', QUERY_STRING: 'say=ni' })
  checkReqURI('http://127.0.0.1/spammity/spam?s%E4y=ni', true, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam', QUERY_STRING: 's%E4y=ni' })
  checkReqURI('http://127.0.0.1/spammity/spam', false, { SCRIPT_NAME: '/spammity', PATH_INFO: '/spam', QUERY_STRING: 'say=ni' })
})

/** A StringIO stand-in: read(size) gives at most `size` characters, '' at the end; close() marks it closed. */
function stringIO (text: string): { read: (size: number) => string, close: () => void, closed: boolean } {
  let at = 0
  const file = {
    closed: false,
    read (size: number): string {
      const part = text.slice(at, at + size)
      at += part.length
      return part
    },
    close (): void { file.closed = true }
  }
  return file
}

test('UtilityTests.testFileWrapper', async (t) => {
  const text = 'xyz'.repeat(50)
  const size = 120
  const match = ['xyz'.repeat(40), 'xyz'.repeat(10)]
  const makeIt = (): FileWrapper => new FileWrapper(stringIO(text), size)
  // compare_generic_iter: the wrapper is its own iterator, and gives exactly `match`.
  const it = makeIt()
  t.equal(it[Symbol.iterator](), it, 'iter(it) is it')
  for (const item of match) t.same(it.next(), { value: item, done: false })
  t.equal(it.next().done, true, 'no more items')
  // Iterating to the end does not close the file; close() does.
  const again = makeIt()
  const filelike = again.filelike as unknown as { closed: boolean }
  t.notOk(filelike.closed)
  t.same([...again], match)
  t.notOk(filelike.closed)
  again.close()
  t.ok(filelike.closed)
})

test('UtilityTests.testHopByHop', async (t) => {
  const variants = (name: string): string[] => [name, name.split('-').map((part) => part[0].toUpperCase() + part.slice(1).toLowerCase()).join('-'), name.toUpperCase(), name.toLowerCase()]
  for (const hop of 'Connection Keep-Alive Proxy-Authenticate Proxy-Authorization TE Trailers Transfer-Encoding Upgrade'.split(' ')) {
    for (const alt of variants(hop)) t.ok(isHopByHop(alt), alt)
  }
  // Not comprehensive, just a few random header names.
  for (const hop of 'Accept Cache-Control Date Pragma Trailer Via Warning'.split(' ')) {
    for (const alt of variants(hop)) t.notOk(isHopByHop(alt), alt)
  }
})

// --- HeaderTests ----------------------------------------------------------------------------------

test('HeaderTests.testMappingInterface', async (t) => {
  const pairs = (): ResponseHeader[] => [['x', 'y']]
  t.equal(new Headers().length, 0)
  t.equal(new Headers([]).length, 0)
  t.equal(new Headers(pairs()).length, 1)
  t.same(new Headers(pairs()).keys(), ['x'])
  t.same(new Headers(pairs()).values(), ['y'])
  t.same(new Headers(pairs()).items(), pairs())
  const list = pairs()
  t.not(new Headers(list).items(), list, 'items() is a copy')

  const h = new Headers()
  h.delete('foo') // should not raise an error
  h.set('Foo', 'bar')
  const lookups: Array<[string, (name: string) => unknown]> = [
    ['has', (name) => h.has(name)],
    ['get', (name) => h.get(name)],
    ['getAll', (name) => h.getAll(name).length > 0]
  ]
  for (const [method, lookup] of lookups) {
    t.ok(lookup('foo'), `${method}('foo')`)
    t.ok(lookup('Foo'), `${method}('Foo')`)
    t.ok(lookup('FOO'), `${method}('FOO')`)
    t.notOk(lookup('bar'), `${method}('bar')`)
  }
  t.equal(h.get('foo'), 'bar')
  h.set('foo', 'baz')
  t.equal(h.get('FOO'), 'baz')
  t.same(h.getAll('foo'), ['baz'])
  t.equal(h.get('foo', 'whee'), 'baz')
  t.equal(h.get('zoo', 'whee'), 'whee')
  t.equal(h.setDefault('foo', 'whee'), 'baz')
  t.equal(h.setDefault('zoo', 'whee'), 'whee')
  t.equal(h.get('foo'), 'baz')
  t.equal(h.get('zoo'), 'whee')
})

test('HeaderTests.testRequireList', async (t) => {
  // CPython raises TypeError; the port's coded error for a header list that is not one.
  t.throws(() => new Headers('foo' as unknown as ResponseHeader[]), { code: 'FST_WSGI_INVALID_HEADER' })
})

test('HeaderTests.testExtras', async (t) => {
  const h = new Headers()
  t.equal(h.toString(), '\r\n')
  h.addHeader('foo', 'bar', { baz: 'spam' })
  t.equal(h.get('foo'), 'bar; baz="spam"')
  t.equal(h.toString(), 'foo: bar; baz="spam"\r\n\r\n')
  h.addHeader('Foo', 'bar', { cheese: null })
  t.same(h.getAll('foo'), ['bar; baz="spam"', 'bar; cheese'])
  t.equal(h.toString(), 'foo: bar; baz="spam"\r\nFoo: bar; cheese\r\n\r\n')
})
