// The fastify-wsgi CLI in one process, spawned as a user runs it (the compiled dist/lib/cli/index.js), over real sockets.
import { test } from 'tap'
import { openConnection, waitFor } from './helpers/server.js'
import { get, listening, modules, runCli, sleep } from './helpers/cli.js'

const bounded = { timeout: 30_000 }

test('--help lists every option and exits 0', bounded, async (t) => {
  const cli = runCli(t, ['--help'])
  t.same(await cli.exited, { code: 0, signal: null })
  const flags = ['--host', '--port', '--workers', '--input', '--prefix', '--graceful-timeout', '--body-limit', '--keep-alive-timeout', '--request-timeout', '--trust-proxy', '--log-level', '--help']
  for (const flag of [...flags, 'SIGHUP', 'SIGTERM']) {
    t.match(cli.stdout(), flag)
  }
})

test('serves the default export at / and prints the URL; --prefix mounts it as SCRIPT_NAME', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', modules.app])
  const url = await listening(cli)
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const answer = await get(`${url}/some/path`, { method: 'POST' }, 'abc')
  t.equal(answer.text, `${cli.child.pid} |/some/path 3 false`, 'served by this process, not multiprocess')
  const prefixed = runCli(t, ['--port', '0', '--prefix', '/legacy', '--input', 'stream', `${modules.app}:named`])
  const prefixedUrl = await listening(prefixed)
  t.equal((await get(`${prefixedUrl}/legacy/x`)).text, 'named')
  t.equal((await get(`${prefixedUrl}/elsewhere`)).status, 404, 'nothing outside the prefix')
  const ipv6 = runCli(t, ['--host', '::1', '--port', '0', modules.app])
  const ipv6Url = await listening(ipv6)
  t.match(ipv6Url, /^http:\/\/\[::1\]:\d+$/, 'an IPv6 address in brackets')
  t.match((await get(`${ipv6Url}/v6`)).text, '|/v6 0')
})

test('export resolution: :name, then default, then app; a CommonJS module.exports', bounded, async (t) => {
  for (const [spec, expected] of [[`${modules.app}:named`, 'named'], [modules.appOnly, 'app export'], [modules.commonjs, 'commonjs']]) {
    const cli = runCli(t, ['--port', '0', '--log-level', 'silent', spec])
    t.equal((await get(`${await listening(cli)}/`)).text, expected, spec)
  }
})

test('access log: one line per request at info; app errors with their stack at error', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', modules.app])
  const url = await listening(cli)
  await get(`${url}/logged?q=1`)
  t.equal((await get(`${url}/error`)).status, 500)
  await waitFor(() => cli.stdout().split('\n').filter((line) => line.includes('"request completed"')).length === 2)
  const records = cli.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  const access = records.filter((record) => record.msg === 'request completed')
  t.match(access, [
    { level: 30, method: 'GET', url: '/logged?q=1', statusCode: 200, bytes: Number, responseTime: Number, reqId: String },
    { level: 30, method: 'GET', url: '/error', statusCode: 500 }
  ])
  t.notOk(records.some((record) => record.msg === 'incoming request'), 'one line, not two')
  const error = records.find((record) => record.level === 50)
  t.match(error?.err?.stack, /boom from the app/)
  t.equal(error?.reqId, access[1].reqId)
})

test('--log-level warn: no access lines', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', '--log-level', 'warn', modules.app])
  await get(`${await listening(cli)}/quiet`)
  await sleep(100)
  t.notMatch(cli.stdout(), 'request completed')
})

test('--body-limit: a 5 MB upload reaches an --input stream app whole; the 1 MiB default answers it 413', bounded, async (t) => {
  const raised = runCli(t, ['--port', '0', '--input', 'stream', '--body-limit', '10000000', `${modules.app}:upload`])
  const byDefault = runCli(t, ['--port', '0', '--input', 'stream', `${modules.app}:upload`])
  const small = runCli(t, ['--port', '0', '--body-limit', '100', modules.app])
  const [raisedUrl, defaultUrl, smallUrl] = await Promise.all([listening(raised), listening(byDefault), listening(small)])
  const body = 'x'.repeat(5_000_000)
  const accepted = await get(raisedUrl, { method: 'POST' }, body)
  t.equal(accepted.status, 200)
  t.equal(accepted.text, '5000000', 'every byte read by the app')
  t.equal((await get(defaultUrl, { method: 'POST' }, body)).status, 413)
  t.match((await get(smallUrl, { method: 'POST' }, 'x'.repeat(100))).text, / 100 false$/, 'a body of exactly the limit is read')
  t.equal((await get(smallUrl, { method: 'POST' }, 'x'.repeat(101))).status, 413, 'one byte more is answered 413')
})

test('--keep-alive-timeout: an idle keep-alive connection is closed after it', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', '--keep-alive-timeout', '0.3', modules.app])
  const connection = openConnection(t, Number(new URL(await listening(cli)).port))
  connection.socket.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().endsWith('|/idle 0 false'))
  const answered = Date.now()
  await Promise.race([connection.closed, sleep(5000)])
  const idle = Date.now() - answered
  t.ok(idle >= 250 && idle < 2000, `closed after ${idle} ms idle (Fastify's default: 72 s)`)
})

test('--request-timeout: a body still arriving after it is answered 408, within a second', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', '--request-timeout', '0.5', modules.app])
  const connection = openConnection(t, Number(new URL(await listening(cli)).port))
  const started = Date.now()
  connection.socket.write('POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde')
  await Promise.race([connection.closed, sleep(5000)])
  const elapsed = Date.now() - started
  t.match(connection.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.ok(elapsed >= 450 && elapsed < 1800, `answered after ${elapsed} ms (Node checks every 30 s unless told otherwise)`)
})

test('--trust-proxy: X-Forwarded-* from a listed proxy set REMOTE_ADDR, wsgi.url_scheme, SERVER_NAME and SERVER_PORT; from another address they are ignored', bounded, async (t) => {
  const trusting = runCli(t, ['--port', '0', '--trust-proxy', '10.0.0.0/8, 127.0.0.1', `${modules.app}:client`])
  const elsewhere = runCli(t, ['--port', '0', '--trust-proxy', '::1/128,uniquelocal,linklocal', `${modules.app}:client`])
  const [trustingUrl, elsewhereUrl] = await Promise.all([listening(trusting), listening(elsewhere)])
  // As nginx's $proxy_add_x_forwarded_for sends it: what the client claimed, then the client's address.
  const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' }
  t.same(JSON.parse((await get(trustingUrl, { headers })).text), {
    REMOTE_ADDR: '203.0.113.7', SERVER_NAME: 'public.example', SERVER_PORT: '443', 'wsgi.url_scheme': 'https'
  }, 'the address nginx saw, not the one the client wrote')
  t.same(JSON.parse((await get(elsewhereUrl, { headers })).text), {
    REMOTE_ADDR: '127.0.0.1', SERVER_NAME: '127.0.0.1', SERVER_PORT: new URL(elsewhereUrl).port, 'wsgi.url_scheme': 'http'
  }, 'not from a listed proxy: the socket and the Host header')
})

test('SIGTERM during a slow streamed response: it completes, the body closes, exit 0', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', modules.app])
  const url = await listening(cli)
  const response = get(`${url}/slow`)
  await sleep(100)
  cli.child.kill('SIGTERM')
  await sleep(50)
  cli.child.kill('SIGINT')
  t.equal((await response).text, 'line 0\nline 1\nline 2\nline 3\nline 4\n', 'a second signal (Ctrl-C) does not cut it short')
  t.same(await cli.exited, { code: 0, signal: null })
  t.match(cli.stderr(), 'closed /slow')
})

test('SIGTERM during an upload: it completes and is answered, the body closes, exit 0', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', modules.app])
  const { port } = new URL(await listening(cli))
  const connection = openConnection(t, Number(port))
  connection.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n')
  connection.socket.write(Buffer.alloc(10000, 'a'))
  await sleep(100)
  cli.child.kill('SIGTERM')
  await sleep(200)
  connection.socket.write(Buffer.alloc(10000, 'b'))
  await connection.closed
  t.match(connection.text(), /^HTTP\/1\.1 200 OK\r\n/)
  t.match(connection.text(), /connection: close/i)
  t.ok(connection.text().endsWith(`${cli.child.pid} |/upload 20000 false`))
  t.same(await cli.exited, { code: 0, signal: null })
  t.match(cli.stderr(), 'closed /upload')
})

test('--graceful-timeout: a response still running after it is cut off, its body still closed, exit 0', bounded, async (t) => {
  const cli = runCli(t, ['--port', '0', '--graceful-timeout', '0.2', modules.app])
  const url = await listening(cli)
  const response = get(`${url}/slow`).catch((err: Error) => err)
  await sleep(100)
  const signalled = Date.now()
  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
  t.ok(Date.now() - signalled < 600, 'stopped after about 0.2 s, before the 0.75 s response ended')
  t.type(await response, Error, 'the client saw the response cut off')
  t.match(cli.stderr(), 'closed /slow')
})
