// BaseHandler driven over memory, as CPython's test_wsgiref HandlerTests drive
// theirs over BytesIO: the protocol without any transport.
import { test } from 'tap'
import type { Body, Environ, StartResponse, WsgiApp } from '../lib/index.js'
import { MemoryHandler } from './helpers/memory-handler.js'

const plain = (body: Body): WsgiApp => (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return body
}

async function run (app: WsgiApp, environ: Partial<Environ> = {}): Promise<MemoryHandler> {
  const handler = new MemoryHandler(environ)
  await handler.run(app)
  return handler
}

test('A1: the app is called once with the environ and startResponse; a Promise is awaited', async (t) => {
  let calls = 0
  const handler = await run(async (environ, startResponse) => {
    calls++
    t.equal(environ.REQUEST_METHOD, 'GET')
    t.type(startResponse, 'function')
    await new Promise((resolve) => setImmediate(resolve))
    startResponse('200 OK', [])
    return ['done']
  })
  t.equal(calls, 1)
  t.equal(handler.body, 'done')
  t.ok(handler.ended)
})

test('C1: startResponse returns the write callable, and write sends data before the body', async (t) => {
  const handler = await run((_environ, startResponse) => {
    const write = startResponse('200 OK', [])
    write('legacy ')
    write(Buffer.from('write, '))
    return ['then ', 'body']
  })
  t.equal(handler.body, 'legacy write, then body')
  t.equal(handler.header('Content-Length'), undefined, 'no length is claimed when write() was used')
})

test('C7: headers wait for the first non-empty chunk, so an error before it still gets a 500', async (t) => {
  const handler = await run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [['X-App', '1']])
    yield ''
    yield new Uint8Array(0)
    throw new Error('failed before any byte')
  })
  t.equal(handler.statusLine, '500 Internal Server Error')
  t.equal(handler.header('X-App'), undefined)
  t.equal(handler.body, 'A server error occurred.  Please contact the administrator.')
  t.equal(handler.logged.length, 1)
  t.match(String(handler.logged[0].err), /failed before any byte/)
})

test('C7: startResponse may be called during the first iteration of a generator body', async (t) => {
  const handler = await run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('201 Created', [])
    yield 'made'
  } as unknown as WsgiApp)
  t.equal(handler.statusLine, '201 Created')
  t.equal(handler.body, 'made')
})

test('D4: a one-element body gets Content-Length, sent with the headers in one step', async (t) => {
  const handler = await run(plain(['héllo']))
  t.equal(handler.header('Content-Length'), '6', 'the byte length, not the string length')
  t.equal(handler.body, 'héllo')
  t.equal(handler.chunks.length, 1)
})

test('D4: an empty body gets Content-Length: 0, unless the app set one', async (t) => {
  const empty = await run(plain([]))
  t.equal(empty.header('Content-Length'), '0')
  const emptyGenerator = await run(plain((function * () {})()))
  t.equal(emptyGenerator.header('Content-Length'), '0')
  const declared = await run((_environ, startResponse) => {
    startResponse('200 OK', [['Content-Length', '0']])
    return []
  })
  t.same(declared.wireHeaders.filter((h) => h.toLowerCase() === 'content-length'), ['Content-Length'])
})

test('D5: a body of several chunks gets no Content-Length (the transport frames it)', async (t) => {
  const handler = await run(plain(['a', 'b']))
  t.equal(handler.header('Content-Length'), undefined)
  t.equal(handler.body, 'ab')
})

test('D6: Date and Server are added unless the app sent them', async (t) => {
  const handler = new MemoryHandler()
  handler.serverSoftware = 'test-server/1'
  await handler.run(plain(['x']))
  t.match(handler.header('Date'), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
  t.equal(handler.header('Server'), 'test-server/1')

  const own = new MemoryHandler()
  own.serverSoftware = 'test-server/1'
  await own.run((_environ, startResponse) => {
    startResponse('200 OK', [['date', 'Wed, 24 Dec 2008 13:29:32 GMT'], ['server', 'mine']])
    return ['x']
  })
  t.equal(own.header('Date'), 'Wed, 24 Dec 2008 13:29:32 GMT')
  t.equal(own.header('Server'), 'mine')
  t.equal(own.wireHeaders.filter((h) => /^(date|server)$/i.test(h)).length, 2, 'no second Date or Server')
})

test('D6: serverSoftware false and a non-origin (CGI) handler send no Server; CGI sends no Date', async (t) => {
  const none = await run(plain(['x']))
  t.equal(none.header('Server'), undefined)
  const cgi = new MemoryHandler()
  cgi.originServer = false
  cgi.serverSoftware = 'test-server/1'
  await cgi.run(plain(['x']))
  t.equal(cgi.header('Date'), undefined)
  t.equal(cgi.header('Server'), undefined)
})

test('D2: bytes and strings are accepted; strings are encoded UTF-8', async (t) => {
  const handler = await run(plain([Buffer.from('bytes '), new Uint8Array([0xe2, 0x82, 0xac]), ' and €']))
  t.equal(handler.body, 'bytes € and €')
})

test('D2: a chunk of another type is refused with its type named', async (t) => {
  const handler = await run(plain([42] as unknown as Body))
  t.equal(handler.statusLine, '500 Internal Server Error')
  t.match((handler.logged[0].err as Error).message, 'Body chunks must be Uint8Array or string, got number 42')
})

test('D3: write() and the returned iterable are both used, in that order', async (t) => {
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [])('first;')
    return (function * () { yield 'second' })()
  })
  t.equal(handler.body, 'first;second')
})

test('D7: close() is called exactly once after a normal response', async (t) => {
  let closes = 0
  const body = Object.assign(['a', 'b'], { close: () => { closes++ } })
  const handler = await run(plain(body))
  t.equal(closes, 1)
  t.ok(handler.ended)
})

test('D7: close() is called exactly once after an error in the body', async (t) => {
  let closes = 0
  const body = {
    * [Symbol.iterator] () { yield 'a'; throw new Error('boom') },
    close: () => { closes++ }
  }
  const handler = await run(plain(body))
  t.equal(closes, 1)
  t.ok(handler.aborted, 'the response had started: the connection is abandoned')
  t.equal(handler.logged.length, 1)
})

test('D7: a generator stopped early by a disconnect gets return()', async (t) => {
  let finished = false
  const handler = new MemoryHandler()
  await handler.run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    try {
      yield 'a'
      handler.gone = true
      yield 'b'
      yield 'c'
    } finally {
      finished = true
    }
  } as unknown as WsgiApp)
  t.ok(finished)
  t.equal(handler.body, 'a')
  t.equal(handler.disconnects.length, 1, 'A2: logged as a disconnect')
  t.equal(handler.logged.length, 0, 'A2: never as an error')
})

test('D9: a HEAD response sends headers and Content-Length but no body, and still closes the body', async (t) => {
  let closes = 0
  const handler = await run(plain(Object.assign(['hello'], { close: () => { closes++ } })), { REQUEST_METHOD: 'HEAD' })
  t.equal(handler.header('Content-Length'), '5')
  t.equal(handler.body, '')
  t.equal(closes, 1)
})

test('D9: a HEAD response stops iterating once its headers are out', async (t) => {
  const yielded: string[] = []
  const handler = await run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    for (const chunk of ['a', 'b', 'c']) {
      yielded.push(chunk)
      yield chunk
    }
  } as unknown as WsgiApp, { REQUEST_METHOD: 'HEAD' })
  t.same(yielded, ['a'])
  t.equal(handler.body, '')
  t.ok(handler.ended)
})

test('D9: 204 and 304 send no body; 204 gets no Content-Length, HEAD of an empty body gets 0', async (t) => {
  for (const status of ['204 No Content', '304 Not Modified']) {
    const handler = await run((_environ, startResponse) => {
      startResponse(status, [])
      return ['ignored', 'body']
    })
    t.equal(handler.body, '', status)
    t.equal(handler.header('Content-Length'), undefined, status)
  }
  const head = await run(plain([]), { REQUEST_METHOD: 'HEAD' })
  t.equal(head.header('Content-Length'), '0')
})

test('D8: a body longer than its Content-Length is cut at the declared length and logged', async (t) => {
  let closes = 0
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [['Content-Length', '5']])
    return Object.assign(['abc', 'defgh', 'ij'], { close: () => { closes++ } })
  })
  t.equal(handler.body, 'abcde')
  t.equal(closes, 1)
  t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_CONTENT_LENGTH_MISMATCH')
  t.ok(handler.ended)
})

test('D8: a body shorter than its Content-Length ends the connection early', async (t) => {
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [['Content-Length', '10']])
    return ['abc', 'de']
  })
  t.equal(handler.body, 'abcde')
  t.ok(handler.aborted)
  t.notOk(handler.ended)
  t.match((handler.logged[0].err as Error).message, 'declared Content-Length 10 but the body ended after 5 bytes')
})

test('D10: the body is not pulled while the transport asks to wait for drain', async (t) => {
  const handler = new MemoryHandler()
  handler.fullWrites = 2
  const pulled: number[] = []
  await handler.run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    for (let i = 0; i < 4; i++) {
      pulled.push(handler.drains)
      yield String(i)
    }
  } as unknown as WsgiApp)
  t.same(pulled, [0, 1, 2, 2], 'each pull after a full write waits for one drain')
  t.equal(handler.body, '0123')
})

test('D10: array and async bodies wait for drain too', async (t) => {
  const arrays = new MemoryHandler()
  arrays.fullWrites = 1
  await arrays.run(plain(['a', 'b']))
  t.equal(arrays.drains, 1)
  const asyncBody = new MemoryHandler()
  asyncBody.fullWrites = 1
  await asyncBody.run(plain((async function * () { yield 'a'; yield 'b' })()))
  t.equal(asyncBody.drains, 1)
  t.equal(asyncBody.body, 'ab')
})

test('A2: a client that is gone while waiting for drain stops the body quietly', async (t) => {
  const handler = new MemoryHandler()
  handler.fullWrites = 1
  let closes = 0
  const body = Object.assign(['a', 'b', 'c'], { close: () => { closes++ } })
  const drain = handler['waitForDrain'].bind(handler)
  Object.assign(handler, { waitForDrain: async () => { await drain(); handler.gone = true } })
  await handler.run(plain(body))
  t.equal(handler.body, 'a')
  t.equal(closes, 1)
  t.equal(handler.disconnects.length, 1)
  t.equal(handler.logged.length, 0)
})

test('A2: transport errors with disconnect codes while the client is gone are quiet', async (t) => {
  const handler = new MemoryHandler()
  await handler.run(plain((function * () {
    yield 'a'
    handler.gone = true
    throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
  })()))
  t.equal(handler.disconnects.length, 1)
  t.equal(handler.logged.length, 0)
  t.ok(handler.aborted)
})

test('A2: a client gone before the headers went out stops the response quietly', async (t) => {
  for (const body of [['one'], ['a', 'b'], []]) {
    const handler = new MemoryHandler()
    handler.gone = true
    await handler.run(plain(body))
    t.equal(handler.statusLine, '', 'no headers written')
    t.equal(handler.disconnects.length, 1)
  }
})

test('A3: an error before any byte gets the fixed 500; the app\'s headers are dropped', async (t) => {
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [['X-Secret', 'leak']])
    throw new Error('secret details')
  })
  t.equal(handler.statusLine, '500 Internal Server Error')
  t.equal(handler.header('X-Secret'), undefined)
  t.equal(handler.header('Content-Type'), 'text/plain', 'as wsgiref writes it')
  t.equal(handler.header('Content-Length'), String(handler.errorBody.length))
  t.notMatch(handler.body, /secret/)
})

test('A3: the error status, headers and body are knobs; the default headers are one frozen list', async (t) => {
  const handler = new MemoryHandler({})
  const defaults = handler.errorHeaders
  t.ok(Object.isFrozen(defaults) && Object.isFrozen(defaults[0]), 'shared by every handler, so it cannot be changed in place')
  t.equal(new MemoryHandler({}).errorHeaders, defaults)
  handler.errorStatus = '503 Service Unavailable'
  handler.errorHeaders = [['Content-Type', 'text/html; charset=utf-8'], ['Retry-After', '5']]
  handler.errorBody = '<p>later</p>'
  await handler.run(() => { throw new Error('down') })
  t.equal(handler.statusLine, '503 Service Unavailable')
  t.equal(handler.header('Content-Type'), 'text/html; charset=utf-8')
  t.equal(handler.header('Retry-After'), '5')
  t.equal(handler.body, '<p>later</p>')
  t.same(defaults, [['Content-Type', 'text/plain']], 'the shared default is untouched')
})

test('A3: an error after output abandons the connection instead of appending to the body', async (t) => {
  const handler = await run(plain((function * () {
    yield 'partial'
    throw new Error('late failure')
  })()))
  t.equal(handler.statusLine, '200 OK')
  t.equal(handler.body, 'partial')
  t.ok(handler.aborted)
  t.notOk(handler.ended)
  t.match(handler.logged[0].message, /after the response started/)
})

test('A3: after an error the handler state stays inspectable (testDontResetInternalStateOnException)', async (t) => {
  const handler = await run(plain((function * () {
    yield 'partial'
    throw new Error('late failure')
  })()))
  t.equal(handler.status, '200 OK')
  t.ok(handler.headersSent)
})

test('A3: a HEAD request that fails before output gets the 500 headers without a body', async (t) => {
  const handler = await run(() => { throw new Error('x') }, { REQUEST_METHOD: 'HEAD' })
  t.equal(handler.statusLine, '500 Internal Server Error')
  t.equal(handler.body, '')
})

test('A3: a non-Error thrown by the app is reported as FST_WSGI_APP_THREW_NON_ERROR', async (t) => {
  // eslint-disable-next-line no-throw-literal
  const handler = await run(() => { throw 'a string' })
  t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_APP_THREW_NON_ERROR')
  t.match((handler.logged[0].err as Error).message, '"a string"')
})

test('A4: when the error output fails too, the connection is abandoned and both are logged', async (t) => {
  const handler = new MemoryHandler()
  handler.errorStatus = 'broken'
  await handler.run(() => { throw new Error('first') })
  t.ok(handler.aborted)
  t.equal(handler.logged.length, 2)
  t.equal((handler.logged[1].err as { code: string }).code, 'FST_WSGI_INVALID_STATUS')
})

test('D7: a close() that throws while an error is handled is logged, and the error still answered', async (t) => {
  const body = Object.assign((function * () { throw new Error('body failed') })(), {
    close: () => { throw new Error('close failed') }
  })
  const handler = await run(plain(body))
  t.equal(handler.statusLine, '500 Internal Server Error')
  t.same(handler.logged.map((entry) => (entry.err as Error).message), ['close failed', 'body failed'])
})

test('D7: a close() that throws after a complete body fails the response before it ends', async (t) => {
  const handler = await run(plain(Object.assign(['a', 'b'], { close: () => { throw new Error('close failed') } })))
  t.ok(handler.aborted)
  t.notOk(handler.ended)
})

test('C5: a second startResponse without excInfo fails with "Headers already set!"', async (t) => {
  let caught: unknown
  await run((_environ, startResponse) => {
    startResponse('200 OK', [])
    try {
      startResponse('200 OK', [])
    } catch (err) {
      caught = err
    }
    return []
  })
  t.match((caught as Error).message, 'Headers already set!')
  t.equal((caught as { code: string }).code, 'FST_WSGI_HEADERS_ALREADY_SET')
})

test('C6: startResponse with excInfo replaces status and headers while nothing was sent', async (t) => {
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [['X-First', '1']])
    startResponse('503 Service Unavailable', [['X-Second', '2']], new Error('handled'))
    return ['sorry']
  })
  t.equal(handler.statusLine, '503 Service Unavailable')
  t.equal(handler.header('X-First'), undefined)
  t.equal(handler.header('X-Second'), '2')
})

test('C6: startResponse with excInfo after headers were sent re-throws excInfo', async (t) => {
  const original = new Error('original')
  let rethrown: unknown
  const handler = await run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    yield 'sent'
    try {
      startResponse('500 Oops', [], original)
    } catch (err) {
      rethrown = err
      throw err
    }
  } as unknown as WsgiApp)
  t.equal(rethrown, original)
  t.ok(handler.aborted)
})

test('D1: write() and body chunks before startResponse fail with "write() before start_response()"', async (t) => {
  const body = await run(() => ['too early'])
  t.match((body.logged[0].err as Error).message, 'write() before start_response()')
  const generator = await run(function * () { yield 'too early' } as unknown as WsgiApp)
  t.equal((generator.logged[0].err as { code: string }).code, 'FST_WSGI_WRITE_BEFORE_START')
})

test('D4: an app that never calls startResponse fails with FST_WSGI_NO_START_RESPONSE', async (t) => {
  const handler = await run(() => [])
  t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_NO_START_RESPONSE')
  t.equal(handler.statusLine, '500 Internal Server Error')
})

test('the app must return an iterable: strings, null and plain objects are refused', async (t) => {
  for (const [value, named] of [['text', '"text"'], [null, 'null'], [{}, 'object Object'], [undefined, 'undefined']] as const) {
    const handler = await run((_environ, startResponse) => {
      startResponse('200 OK', [])
      return value as unknown as Body
    })
    t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_INVALID_BODY')
    t.match((handler.logged[0].err as Error).message, named)
  }
})

test('A2: a generator body whose client left while waiting for drain gets return(), and the disconnect is quiet', async (t) => {
  const handler = new MemoryHandler()
  handler.fullWrites = 1
  let finished = false
  const drain = handler['waitForDrain'].bind(handler)
  Object.assign(handler, { waitForDrain: async () => { await drain(); handler.gone = true } })
  await handler.run(function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    try {
      yield 'a'
      yield 'b'
    } finally {
      finished = true
    }
  } as unknown as WsgiApp)
  t.ok(finished)
  t.equal(handler.body, 'a')
  t.equal(handler.disconnects.length, 1)
  t.equal(handler.logged.length, 0)
})

test('D10: a generator body resumes after drain and finishes', async (t) => {
  const handler = new MemoryHandler()
  handler.fullWrites = 1
  await handler.run(plain((function * () { yield 'a'; yield 'b'; yield 'c' })()))
  t.equal(handler.body, 'abc')
  t.equal(handler.drains, 1)
  t.ok(handler.ended)
})

test('D7: when writing a chunk fails, the iterator gets return(), and an error from return() does not hide the first', async (t) => {
  let returned = 0
  const iterator = {
    next: () => ({ done: false, value: 42 }),
    return: () => { returned++; throw new Error('return failed') },
    [Symbol.iterator] () { return this }
  }
  const handler = await run(plain(iterator as unknown as Body))
  t.equal(returned, 1)
  t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_INVALID_CHUNK')
})

test('D10: an array body waits for drain as often as the transport asks', async (t) => {
  const handler = new MemoryHandler()
  handler.fullWrites = 3
  await handler.run(plain(['a', 'b', 'c', 'd']))
  t.equal(handler.drains, 3)
  t.equal(handler.body, 'abcd')
})

test('D9: a HEAD response stops an async body once its headers are out', async (t) => {
  const yielded: string[] = []
  const handler = await run(async function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [])
    for (const chunk of ['a', 'b']) {
      yielded.push(chunk)
      yield chunk
    }
  } as unknown as WsgiApp, { REQUEST_METHOD: 'HEAD' })
  t.same(yielded, ['a'])
  t.ok(handler.ended)
})

test('D8: byte chunks past the declared length are cut too', async (t) => {
  const handler = await run((_environ, startResponse) => {
    startResponse('200 OK', [['Content-Length', '4']])
    return [Buffer.from('ab'), new Uint8Array([0x63, 0x64, 0x65])]
  })
  t.equal(handler.body, 'abcd')
})

test('A2: an error without a code after the client left is still the app\'s error, not a disconnect', async (t) => {
  const handler = new MemoryHandler()
  await handler.run(plain((function * () {
    yield 'a'
    handler.gone = true
    throw new Error('app bug')
  })()))
  t.equal(handler.disconnects.length, 0)
  t.match((handler.logged[0].err as Error).message, 'app bug')
})
