// SimpleHandler over Node streams and CGIHandler run as a real CGI script (wsgiref.handlers'
// SimpleHandler, BaseCGIHandler and CGIHandler; test_wsgiref's handler tests over BytesIO).
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { PassThrough, Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { SimpleHandler, validator, type Environ, type SimpleHandlerOptions, type WsgiApp } from '../lib/index.js'

const DIST = fileURLToPath(new URL('../dist/', import.meta.url))

/** Collects everything written to it. */
class Sink extends Writable {
  chunks: Buffer[] = []
  constructor (highWaterMark = 16 * 1024) {
    super({ highWaterMark })
  }

  _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk)
    // An asynchronous write: a small buffer fills up and asks for drain.
    setImmediate(callback)
  }

  get text (): string {
    return Buffer.concat(this.chunks).toString('latin1')
  }
}

/** Runs `app` (under the validator unless `validate` is false) over in-memory streams. */
async function runSimple (app: WsgiApp, environ: Record<string, unknown> = {}, options: SimpleHandlerOptions = {}, input: Readable = Readable.from([]), validate = true): Promise<{ out: Sink, err: Sink }> {
  const out = new Sink()
  const err = new Sink()
  const handler = new SimpleHandler(input, out, err, { REQUEST_METHOD: 'GET', SERVER_NAME: 'localhost', SERVER_PORT: '80', SCRIPT_NAME: '', PATH_INFO: '/', QUERY_STRING: '', ...environ }, options)
  await handler.run(validate ? validator(app) : app)
  await Promise.all([out, err].map((sink) => new Promise((resolve) => { sink.destroyed ? resolve(null) : sink.write('', resolve) })))
  return { out, err }
}

const TEXT: Array<[string, string]> = [['Content-Type', 'text/plain']]

test('SimpleHandler: an origin server writes an HTTP/1.0 head with Date, Server and Content-Length', async (t) => {
  const { out } = await runSimple((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return ['Hello, world!']
  })
  // wsgiref's send_preamble order: Date and Server first, then the app's headers, then Content-Length.
  t.match(out.text, /^HTTP\/1\.0 200 OK\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\nServer: fastify-wsgi\/[\d.]+\r\nContent-Type: text\/plain\r\nContent-Length: 13\r\n\r\nHello, world!$/)
})

test('SimpleHandler: the environ has the wsgi.* keys of its options, and HTTPS=on makes it https', async (t) => {
  let seen: Environ | undefined
  const app: WsgiApp = (environ, startResponse) => {
    seen = environ
    startResponse('200 OK', TEXT)
    return []
  }
  await runSimple(app, { HTTPS: 'on' }, { multithread: true, multiprocess: true, runOnce: true })
  t.same(seen?.['wsgi.version'], [1, 0])
  t.equal(seen?.['wsgi.url_scheme'], 'https')
  t.equal(seen?.['wsgi.multithread'], true)
  t.equal(seen?.['wsgi.multiprocess'], true)
  t.equal(seen?.['wsgi.run_once'], true)
  t.equal(typeof seen?.['wsgi.file_wrapper'], 'function')
  t.match(seen?.SERVER_SOFTWARE, /^fastify-wsgi\//)
  await runSimple(app)
  t.equal(seen?.['wsgi.url_scheme'], 'http')
  t.equal(seen?.['wsgi.multithread'], false)
  t.equal(seen?.['wsgi.run_once'], false)
})

test('SimpleHandler: serverSoftware false sends no Server header', async (t) => {
  const { out } = await runSimple((_environ, startResponse) => {
    startResponse('204 No Content', [])
    return []
  }, {}, { serverSoftware: false })
  t.notMatch(out.text, /Server:/)
  t.match(out.text, /^HTTP\/1\.0 204 No Content\r\n/)
})

test('SimpleHandler: wsgi.input holds CONTENT_LENGTH bytes of the input stream, and nothing without it', async (t) => {
  const reads: string[] = []
  const app: WsgiApp = (environ, startResponse) => {
    reads.push(environ['wsgi.input'].read().toString())
    startResponse('200 OK', TEXT)
    return []
  }
  const input = new PassThrough()
  input.write('name=Ada&rest-not-part-of-the-body')
  await runSimple(app, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '8' }, {}, input)
  t.equal(input.destroyed, false, 'the input stream is left to its owner')
  const unread = new PassThrough()
  unread.write('ignored')
  await runSimple(app, {}, {}, unread)
  t.same(reads, ['name=Ada', ''])
})

test('SimpleHandler: a body over bodyLimit is refused with a 500 and logged to the error stream', async (t) => {
  const input = Readable.from([Buffer.alloc(64)])
  const { out, err } = await runSimple(() => { throw new Error('not reached') }, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '64' }, { bodyLimit: 16 }, input)
  t.match(out.text, /^HTTP\/1\.0 500 Internal Server Error\r\n/)
  t.match(err.text, /FST_WSGI_BODY_TOO_LARGE|larger than bodyLimit/)
})

test('SimpleHandler: wsgi.errors and app errors go to the error stream; the client gets a plain 500', async (t) => {
  const { out, err } = await runSimple((environ) => {
    environ['wsgi.errors'].write('about to fail\n')
    environ['wsgi.errors'].writelines(['really\n'])
    environ['wsgi.errors'].flush()
    throw new Error('kaput')
  }, {}, {}, undefined, false) // the handler's own wsgi.errors, not the validator's wrapper
  t.match(out.text, /^HTTP\/1\.0 500 Internal Server Error\r\n[^]*\r\n\r\nA server error occurred\. {2}Please contact the administrator\.$/)
  t.match(err.text, /^about to fail\nreally\nThe WSGI app failed: Error: kaput\n\s+at /)
})

test('SimpleHandler: an error after the head destroys the output, so its reader sees it incomplete', async (t) => {
  const { out, err } = await runSimple((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (function * () { yield 'partial'; throw new Error('mid-body') })()
  })
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(out.destroyed)
  t.match(out.text, /\r\n\r\npartial$/)
  t.match(err.text, /failed after the response started[^]*mid-body/)
})

test('SimpleHandler: a close() that throws a non-Error while handling an error is logged as text', async (t) => {
  const { out, err } = await runSimple(() => Object.assign((function * () { yield 'never sent' })(), {
    close: () => { throw 'close broke too' } // eslint-disable-line no-throw-literal
  }), {}, {}, undefined, false)
  t.match(out.text, /^HTTP\/1\.0 500 /)
  t.match(err.text, /close\(\) failed while handling an error: close broke too\n/)
})

test('SimpleHandler: a large body is written with backpressure, whole', async (t) => {
  const chunk = 'x'.repeat(64 * 1024)
  let pulled = 0
  const { out } = await runSimple((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (function * () { for (; pulled < 32; pulled++) yield chunk })()
  })
  t.equal(out.text.split('\r\n\r\n')[1].length, 32 * chunk.length)
})

test('SimpleHandler: a destroyed output stops the body quietly', async (t) => {
  const out = new Sink()
  const err = new Sink()
  let closes = 0
  const handler = new SimpleHandler(Readable.from([]), out, err, { REQUEST_METHOD: 'GET', SERVER_NAME: 'x', SERVER_PORT: '80', PATH_INFO: '/' })
  await handler.run((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return Object.assign((function * () {
      yield 'x'.repeat(64 * 1024)
      out.destroy()
      yield 'more'
    })(), { close: () => { closes++ } })
  })
  t.equal(closes, 1)
  t.equal(err.text, '', 'a gone reader is not an app error')
})

/** Runs a script as a web server runs a CGI script: the request in the environment, the body on stdin. */
async function runCgi (script: string, env: Record<string, string>, body = ''): Promise<{ stdout: string, stderr: string, code: number | null }> {
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH, SERVER_NAME: 'localhost', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.1', SCRIPT_NAME: '/cgi-bin/form', PATH_INFO: '', QUERY_STRING: '', GATEWAY_INTERFACE: 'CGI/1.1', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  // Like a web server, keep stdin open after the body: the script must not wait for its end.
  child.stdin.write(body)
  const [code] = await once(child, 'exit')
  child.stdin.destroy()
  return { stdout, stderr, code }
}

test('CGIHandler: examples/cgi.ts answers a POST with a Status line, headers and body, then exits 0', { timeout: 20000 }, async (t) => {
  const result = await runCgi(`${DIST}examples/cgi.js`, { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '19', CONTENT_TYPE: 'application/x-www-form-urlencoded' }, 'name=Ada&colour=red')
  t.equal(result.code, 0)
  t.equal(result.stderr, '')
  const [head, body] = result.stdout.split('\r\n\r\n')
  t.same(head.split('\r\n'), ['Status: 200 OK', 'Content-Type: text/html; charset=utf-8', 'Content-Length: 84'], 'no Date or Server: the web server adds them')
  t.equal(body, '<!doctype html><title>sent</title><ul><li>name = Ada</li><li>colour = red</li></ul>\n')
})

test('CGIHandler: examples/cgi.ts shows the form on GET and refuses other methods with 405', { timeout: 20000 }, async (t) => {
  const form = await runCgi(`${DIST}examples/cgi.js`, { REQUEST_METHOD: 'GET' })
  t.match(form.stdout, /^Status: 200 OK\r\nContent-Type: text\/html; charset=utf-8\r\nContent-Length: \d+\r\n\r\n<!doctype html>/)
  const unsized = await runCgi(`${DIST}examples/cgi.js`, { REQUEST_METHOD: 'POST' }, 'ignored=1')
  t.match(unsized.stdout, /<ul><\/ul>/, 'without CONTENT_LENGTH there is no body (CGI)')
  const refused = await runCgi(`${DIST}examples/cgi.js`, { REQUEST_METHOD: 'PUT' })
  t.match(refused.stdout, /^Status: 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\n/)
})

test('CGIHandler: the environ comes from process.env, with run_once and multiprocess; errors go to stderr', { timeout: 20000 }, async (t) => {
  const script = `${DIST}test-cgi-${process.pid}.mjs`
  const { writeFile, rm } = await import('node:fs/promises')
  await writeFile(script, `
    import { CGIHandler, validator } from './lib/index.js'
    await new CGIHandler().run(validator((environ, startResponse) => {
      if (environ.PATH_INFO === '/fail') throw new Error('cgi app failed')
      startResponse('200 OK', [['Content-Type', 'application/json']])
      const keys = ['REQUEST_METHOD', 'PATH_INFO', 'wsgi.run_once', 'wsgi.multiprocess', 'wsgi.multithread', 'wsgi.url_scheme']
      return [JSON.stringify(Object.fromEntries(keys.map((key) => [key, environ[key]])))]
    }))
  `)
  t.teardown(() => rm(script, { force: true }))
  const ok = await runCgi(script, { REQUEST_METHOD: 'GET', PATH_INFO: '/info', HTTPS: 'on' })
  t.equal(ok.code, 0)
  t.same(JSON.parse(ok.stdout.split('\r\n\r\n')[1]), {
    REQUEST_METHOD: 'GET', PATH_INFO: '/info', 'wsgi.run_once': true, 'wsgi.multiprocess': true, 'wsgi.multithread': false, 'wsgi.url_scheme': 'https'
  })
  const failed = await runCgi(script, { REQUEST_METHOD: 'GET', PATH_INFO: '/fail' })
  t.equal(failed.code, 0, 'an app error is a 500 response, not a crashed script')
  t.match(failed.stdout, /^Status: 500 Internal Server Error\r\n/)
  t.notMatch(failed.stdout, /cgi app failed/, 'no error detail reaches the client')
  t.match(failed.stderr, /The WSGI app failed: Error: cgi app failed\n\s+at /)
})

test('SimpleHandler: an output stream that fails is reported once on the error stream, and the process goes on', async (t) => {
  const failing = new Writable({
    write (_chunk, _encoding, callback) { callback(Object.assign(new Error('disk full'), { code: 'EIO' })) }
  })
  // Another listener of the stream makes it report a second failure: still one line on the error stream.
  let repeated = false
  failing.on('error', () => {
    if (repeated) return
    repeated = true
    failing.emit('error', Object.assign(new Error('disk still full'), { code: 'EIO' }))
  })
  const err = new Sink()
  const handler = new SimpleHandler(Readable.from([]), failing, err, { REQUEST_METHOD: 'GET', SERVER_NAME: 'localhost', SERVER_PORT: '80', SCRIPT_NAME: '', PATH_INFO: '/' })
  await handler.run((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return ['Hello, world!']
  })
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => err.write('', resolve))
  t.equal(err.text.split('Writing the response failed').length - 1, 1, 'one report')
  t.match(err.text, /EIO|disk (still )?full/)
})
