// wsgiref.util and wsgiref.headers, ported: the cases of CPython's test_wsgiref UtilityTests and
// HeaderTests, in our own words (docs/conformance.md H1, H2).
import { test } from 'tap'
import { Headers, applicationUri, guessScheme, requestUri, setupTestingDefaults, shiftPathInfo } from '../lib/index.js'

function shift (scriptName: string, pathInfo: string): [string | null, string, string] {
  const environ = { SCRIPT_NAME: scriptName, PATH_INFO: pathInfo }
  const name = shiftPathInfo(environ)
  return [name, environ.SCRIPT_NAME, environ.PATH_INFO]
}

test('H2: shiftPathInfo moves one segment (testSimpleShifts)', async (t) => {
  t.same(shift('', '/'), ['', '/', ''])
  t.same(shift('', '/x'), ['x', '/x', ''])
  t.same(shift('/', ''), [null, '/', ''])
  t.same(shift('/a', '/x/y'), ['x', '/a/x', '/y'])
  t.same(shift('/a', '/x/'), ['x', '/a/x', '/'])
})

test('H2: shiftPathInfo normalizes empty, . and .. segments (testNormalizedShifts)', async (t) => {
  t.same(shift('/a/b', '/../y'), ['..', '/a', '/y'])
  t.same(shift('', '/../y'), ['..', '', '/y'])
  t.same(shift('/a/b', '//y'), ['y', '/a/b/y', ''])
  t.same(shift('/a/b', '//y/'), ['y', '/a/b/y', '/'])
  t.same(shift('/a/b', '/./y'), ['y', '/a/b/y', ''])
  t.same(shift('/a/b', '/./y/'), ['y', '/a/b/y', '/'])
  t.same(shift('/a/b', '///./..//y/.//'), ['..', '/a', '/y/'])
  t.same(shift('/a/b', '///'), ['', '/a/b/', ''])
  t.same(shift('/a/b', '/.//'), ['', '/a/b/', ''])
  t.same(shift('/a/b', '/x//'), ['x', '/a/b/x', '/'])
  t.same(shift('/a/b', '/.'), [null, '/a/b', ''])
  t.same(shift('/', '/x'), ['x', '//x', ''], 'POSIX normpath keeps two leading slashes, as wsgiref does')
  t.throws(() => shift('', 'x'), { name: 'TypeError', message: 'PATH_INFO must be empty or start with "/", got "x"' })
})

test('H2: a missing SCRIPT_NAME counts as empty, as in wsgiref (the setupTestingDefaults example of docs/toolkit.md)', async (t) => {
  const environ: Record<string, unknown> = { PATH_INFO: '/users/7' }
  setupTestingDefaults(environ)
  t.notOk('SCRIPT_NAME' in environ, 'setupTestingDefaults leaves SCRIPT_NAME alone when PATH_INFO is given, as wsgiref does')
  t.equal(shiftPathInfo(environ), 'users')
  t.equal(environ.SCRIPT_NAME, '/users')
  t.equal(environ.PATH_INFO, '/7')
  t.equal(applicationUri(environ as Parameters<typeof applicationUri>[0]), 'http://127.0.0.1/users')
  // The values CPython's wsgiref gives for the same environ.
  const untouched = { PATH_INFO: '/a/b' }
  t.equal(shiftPathInfo(untouched), 'a')
  t.same(untouched, { PATH_INFO: '/b', SCRIPT_NAME: '/a' })
})

test('H2: the URI functions name a missing key, where wsgiref raises KeyError; other keys default as wsgiref', async (t) => {
  const uri = applicationUri as (environ: Record<string, unknown>) => string
  t.throws(() => uri({ HTTP_HOST: 'h' }), { name: 'TypeError', message: /^applicationUri: the environ has no wsgi\.url_scheme \(got undefined\)/ })
  t.throws(() => uri({ 'wsgi.url_scheme': 'http' }), { name: 'TypeError', message: /no SERVER_NAME.*setupTestingDefaults/ })
  t.throws(() => uri({ 'wsgi.url_scheme': 'http', HTTP_HOST: '', SERVER_NAME: 'h' }), { name: 'TypeError', message: /no SERVER_PORT/ })
  // The values CPython's wsgiref gives for the same environs: no SCRIPT_NAME, PATH_INFO or QUERY_STRING is ''.
  const request = requestUri as (environ: Record<string, unknown>) => string
  t.equal(request({ 'wsgi.url_scheme': 'http', HTTP_HOST: 'h' }), 'http://h/')
  t.equal(request({ 'wsgi.url_scheme': 'http', HTTP_HOST: 'h', PATH_INFO: '/a b', QUERY_STRING: '' }), 'http://h/a%20b')
  t.equal(shiftPathInfo({}), null)
  t.equal(guessScheme({}), 'http')
})

const base = { 'wsgi.url_scheme': 'http', SERVER_NAME: '127.0.0.1', SERVER_PORT: '80', HTTP_HOST: '127.0.0.1' }

test('H2: applicationUri (testAppURIs)', async (t) => {
  t.equal(applicationUri({ ...base }), 'http://127.0.0.1/')
  t.equal(applicationUri({ ...base, HTTP_HOST: '127.0.0.1', SERVER_NAME: 'spam.example.com' }), 'http://127.0.0.1/', 'HTTP_HOST wins')
  t.equal(applicationUri({ ...base, SCRIPT_NAME: '/spam' }), 'http://127.0.0.1/spam')
  t.equal(applicationUri({ ...base, SCRIPT_NAME: '/sp\u00e4m' }), 'http://127.0.0.1/sp%E4m')
  t.equal(applicationUri({ ...base, HTTP_HOST: 'spam.example.com:8000' }), 'http://spam.example.com:8000/')
  t.equal(applicationUri({ ...base, HTTP_HOST: undefined, SERVER_NAME: 'spam.example.com', SERVER_PORT: '8080' }), 'http://spam.example.com:8080/')
  t.equal(applicationUri({ ...base, 'wsgi.url_scheme': 'https', HTTP_HOST: undefined, SERVER_PORT: '443' }), 'https://127.0.0.1/')
  t.equal(applicationUri({ ...base, 'wsgi.url_scheme': 'https', HTTP_HOST: undefined, SERVER_PORT: '8443' }), 'https://127.0.0.1:8443/')
})

test('H2: requestUri quotes PATH_INFO bytes and keeps the query (testReqURIs)', async (t) => {
  t.equal(requestUri({ ...base }), 'http://127.0.0.1/')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam' }), 'http://127.0.0.1/spam/spammity/spam')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/sp\u00e4m' }), 'http://127.0.0.1/spam/spammity/sp%E4m')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam;ham' }), 'http://127.0.0.1/spam/spammity/spam;ham')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam;cookie=1234,5678' }), 'http://127.0.0.1/spam/spammity/spam;cookie=1234,5678')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam', QUERY_STRING: 'say=ni' }), 'http://127.0.0.1/spam/spammity/spam?say=ni')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam', QUERY_STRING: 'say=ni' }, false), 'http://127.0.0.1/spam/spammity/spam')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spammity', PATH_INFO: '/spam', QUERY_STRING: 's%E4y=ni' }), 'http://127.0.0.1/spammity/spam?s%E4y=ni', 'the query stays as sent')
  t.equal(requestUri({ ...base, PATH_INFO: '/snow\u2603' }), 'http://127.0.0.1/snow%E2%98%83', 'a character beyond latin-1 is sent as UTF-8')
  t.equal(requestUri({ ...base, SCRIPT_NAME: '/spam', PATH_INFO: '/spammity/spam?' }), 'http://127.0.0.1/spam/spammity/spam%3F')
  t.equal(requestUri({ ...base, PATH_INFO: '/a b' }), 'http://127.0.0.1/a%20b')
})

test('H2: guessScheme reads the CGI HTTPS variable (testGuessScheme)', async (t) => {
  t.equal(guessScheme({}), 'http')
  for (const on of ['yes', 'on', '1']) t.equal(guessScheme({ HTTPS: on }), 'https', on)
  for (const off of ['no', 'off', '0', 'foo']) t.equal(guessScheme({ HTTPS: off }), 'http', off)
})

test('H1: Headers is a case-insensitive view that edits the list it was given (testMappingInterface)', async (t) => {
  const list: Array<[string, string]> = [['Content-Type', 'text/plain'], ['X-Multi', 'a'], ['x-multi', 'b']]
  const headers = new Headers(list)
  t.equal(headers.length, 3)
  t.equal(headers.get('content-type'), 'text/plain')
  t.equal(headers.get('missing'), undefined)
  t.equal(headers.get('missing', 'fallback'), 'fallback')
  t.same(headers.getAll('X-MULTI'), ['a', 'b'])
  t.ok(headers.has('x-multi'))
  headers.set('X-Multi', 'c')
  t.same(list, [['Content-Type', 'text/plain'], ['X-Multi', 'c']], 'the list itself changed')
  headers.delete('content-type')
  t.same(headers.keys(), ['X-Multi'])
  t.same(headers.values(), ['c'])
  t.equal(headers.setDefault('X-New', 'n'), 'n')
  t.equal(headers.setDefault('x-new', 'other'), 'n')
  t.same([...headers], [['X-Multi', 'c'], ['X-New', 'n']])
  t.equal(headers.toString(), 'X-Multi: c\r\nX-New: n\r\n\r\n')
  t.equal(new Headers().toString(), '\r\n')
})

test('H1: Headers refuses non-string names and values, and CR/LF (testRequireList)', async (t) => {
  t.throws(() => new Headers('x' as never), { code: 'FST_WSGI_INVALID_HEADER' })
  t.throws(() => new Headers([['X', 1 as never]]), { message: /header names and values must be strings/ })
  const headers = new Headers()
  t.throws(() => headers.set('X', 'a\r\nInjected: 1'), { message: /response splitting/ })
  for (let code = 0; code < 0x20; code++) {
    const c0 = String.fromCharCode(code)
    t.throws(() => headers.set(`key${c0}`, 'val'), { code: 'FST_WSGI_INVALID_HEADER' }, `name with U+${code}`)
    t.throws(() => headers.addHeader('key', 'val', { param: `param${c0}` }), { code: 'FST_WSGI_INVALID_HEADER' })
    if (c0 === '\t') headers.set('key', `val${c0}`)
    else t.throws(() => headers.set('key', `val${c0}`), { code: 'FST_WSGI_INVALID_HEADER' })
  }
  t.throws(() => headers.addHeader('X', 'v', { p: 5 as never }), { code: 'FST_WSGI_INVALID_HEADER' })
})

test('H1: addHeader formats parameters (testExtras)', async (t) => {
  const headers = new Headers()
  headers.addHeader('foo', 'bar', { spam: 'eggs' })
  t.equal(headers.get('foo'), 'bar; spam="eggs"')
  headers.addHeader('Content-Disposition', 'attachment', { file_name: 'a "b" \\c.txt' })
  t.equal(headers.get('content-disposition'), 'attachment; file-name="a \\"b\\" \\\\c.txt"')
  headers.addHeader('Bare', null, { flag: null, on: true, empty: '' })
  t.equal(headers.get('bare'), 'flag; on; empty')
})

test('addCookie writes Set-Cookie with unquoted attributes, which addHeader (as wsgiref) would quote', async (t) => {
  const headers = new Headers()
  headers.addHeader('Set-Cookie', 'a=1', { Path: '/x' })
  t.equal(headers.get('set-cookie'), 'a=1; Path="/x"', "wsgiref's quoting, which browsers do not understand for cookies")
  headers.addCookie('sid', 'abc', { Path: '/', HttpOnly: true, Max_Age: 3600, SameSite: 'Lax', Secure: null })
  headers.addCookie('empty', '')
  headers.addCookie('quoted', '"v"', { Expires: 'Wed, 21 Oct 2026 07:28:00 GMT' })
  t.same(headers.getAll('Set-Cookie').slice(1), [
    'sid=abc; Path=/; HttpOnly; Max-Age=3600; SameSite=Lax; Secure',
    'empty=',
    'quoted="v"; Expires=Wed, 21 Oct 2026 07:28:00 GMT'
  ])
  const refused: Array<[() => void, RegExp]> = [
    [() => headers.addCookie('bad name', 'v'), /^Invalid header Set-Cookie name "bad name": must be an HTTP token$/],
    [() => headers.addCookie('n', 'a b'), /value of n "a b": may not contain spaces, ", comma, ; or \\ \(encode it first/],
    [() => headers.addCookie('n', 'a;b'), /value of n/],
    [() => headers.addCookie('n', 'v', { Path: '/a;Domain=evil' }), /attribute Path "\/a;Domain=evil": must be a string or number of printable ASCII without ";"/],
    [() => headers.addCookie('n', 'v', { Path: '/\r\nX: y' }), /attribute Path/],
    [() => headers.addCookie('n', 'v', { Max_Age: Number.NaN }), /attribute Max-Age number NaN/],
    [() => headers.addCookie('n', 'v', { 'bad attr': true }), /attribute name "bad attr"/],
    [() => headers.addCookie('n', 5 as never), /value of n number 5/]
  ]
  for (const [add, message] of refused) t.throws(add, { code: 'FST_WSGI_INVALID_HEADER', message })
  t.equal(headers.getAll('Set-Cookie').length, 4, 'nothing is added when a part is refused')
})

test('H2: setupTestingDefaults fills in what is missing and keeps what is set (testDefaults)', async (t) => {
  const environ: Record<string, unknown> = {}
  setupTestingDefaults(environ)
  t.match(environ, {
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.0',
    HTTP_HOST: '127.0.0.1',
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/',
    'wsgi.version': [1, 0],
    'wsgi.run_once': false,
    'wsgi.multithread': false,
    'wsgi.multiprocess': false,
    'wsgi.url_scheme': 'http'
  })
  t.equal((environ['wsgi.input'] as { read: () => Buffer }).read().length, 0)
  t.type((environ['wsgi.errors'] as { write: unknown }).write, 'function')
  const kept = { SERVER_NAME: 'mine', PATH_INFO: '/x', 'wsgi.url_scheme': 'ftp' } as Record<string, unknown>
  setupTestingDefaults(kept)
  t.equal(kept.SERVER_NAME, 'mine')
  t.equal(kept.PATH_INFO, '/x')
  t.equal(kept.SCRIPT_NAME, undefined, 'SCRIPT_NAME is only defaulted together with PATH_INFO')
  t.notOk('SERVER_PORT' in kept, 'a scheme other than http and https gets no SERVER_PORT, as in CPython\'s wsgiref')
})

test('H2: setupTestingDefaults derives keys from each other (testCrossDefaults)', async (t) => {
  const cross = (given: Record<string, unknown>, key: string): unknown => {
    setupTestingDefaults(given)
    return given[key]
  }
  t.equal(cross({ SERVER_NAME: 'foo.bar' }, 'HTTP_HOST'), 'foo.bar')
  t.equal(cross({ HTTPS: 'on' }, 'wsgi.url_scheme'), 'https')
  t.equal(cross({ HTTPS: '1' }, 'wsgi.url_scheme'), 'https')
  t.equal(cross({ HTTPS: 'yes' }, 'wsgi.url_scheme'), 'https')
  t.equal(cross({ HTTPS: 'foo' }, 'wsgi.url_scheme'), 'http')
  t.equal(cross({ HTTPS: 'foo' }, 'SERVER_PORT'), '80')
  t.equal(cross({ HTTPS: 'on' }, 'SERVER_PORT'), '443')
})
