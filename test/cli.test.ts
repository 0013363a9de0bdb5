// The fastify-wsgi CLI, spawned as a user runs it (the compiled dist/lib/cli.js), over real sockets.
import t0, { test, type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openConnection, waitFor } from './helpers/server.js'

const CLI = fileURLToPath(new URL('../dist/lib/cli.js', import.meta.url))
const bounded = { timeout: 30_000 }
// Cluster tests boot several processes each, on a machine that may be busy.
const clustered = { timeout: 60_000 }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The app every test serves: its answers name the process, and its bodies say on stderr when they close.
const APP = `
function closable (environ, chunks) {
  return Object.assign(chunks, { close () { console.error('closed ' + environ.PATH_INFO) } })
}
export default function app (environ, startResponse) {
  const path = environ.PATH_INFO
  if (path === '/error') throw new Error('boom from the app')
  if (path === '/exit') process.exit(3)
  if (path === '/slow') {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    const lines = Number(environ.QUERY_STRING || 5)
    const body = (async function * () {
      for (let i = 0; i < lines; i++) { yield 'line ' + i + '\\n'; await new Promise((resolve) => setTimeout(resolve, 150)) }
    })()
    body.close = () => { console.error('closed ' + path) }
    return body
  }
  const input = environ['wsgi.input'].read()
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return closable(environ, [process.pid + ' ' + environ.SCRIPT_NAME + '|' + path + ' ' + input.length + ' ' + environ['wsgi.multiprocess']])
}
export function named (environ, startResponse) {
  startResponse('200 OK', [])
  return ['named']
}
export const notAFunction = 42
`

const dir = mkdtempSync(join(tmpdir(), 'fastify-wsgi-cli-'))
const modules = {
  app: join(dir, 'app.mjs'),
  appOnly: join(dir, 'app-only.mjs'),
  commonjs: join(dir, 'legacy.cjs'),
  noApp: join(dir, 'no-app.mjs'),
  throws: join(dir, 'throws.mjs'),
  typescript: join(dir, 'typed.ts')
}
writeFileSync(modules.app, APP)
writeFileSync(modules.appOnly, "export const app = (environ, startResponse) => { startResponse('200 OK', []); return ['app export'] }\n")
writeFileSync(modules.commonjs, "module.exports = (environ, startResponse) => { startResponse('200 OK', []); return ['commonjs'] }\n")
writeFileSync(modules.noApp, 'export const other = 1\n')
writeFileSync(modules.throws, "throw new Error('broken at import')\n")
writeFileSync(modules.typescript, "export default (environ: unknown, startResponse: (s: string, h: string[][]) => void): string[] => { startResponse('200 OK', []); return ['typed'] }\n")
t0.teardown(() => rmSync(dir, { recursive: true, force: true }))

interface Cli {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Spawns the CLI; it is stopped (SIGTERM, then SIGKILL) when the test ends, with every pid it served from. */
function runCli (t: Test, args: string[]): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Waits for the "listening on" line and returns the URL. */
async function listening (cli: Cli): Promise<string> {
  await waitFor(() => /listening on (http:\/\/\S+)/.test(cli.stdout()) || cli.child.exitCode !== null, 10_000)
  const match = /listening on (http:\/\/\S+)/.exec(cli.stdout())
  if (match === null) throw new Error(`the CLI did not start: ${cli.stderr()}`)
  return match[1]
}

/** A request on a connection of its own (cluster workers take connections, not requests). */
function get (url: string, options: http.RequestOptions = {}, body?: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { agent: false, ...options }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode as number, headers: response.headers, text }))
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

/** Pids of worker processes seen in answers, killed at teardown if still alive (SIGKILL of a primary orphans them). */
function trackPids (t: Test): Set<number> {
  const pids = new Set<number>()
  t.teardown(() => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  })
  return pids
}

const pidOf = (text: string): number => Number(text.split(' ')[0])

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`)

test('--help lists every option and exits 0', bounded, async (t) => {
  const cli = runCli(t, ['--help'])
  t.same(await cli.exited, { code: 0, signal: null })
  for (const flag of ['--host', '--port', '--workers', '--input', '--prefix', '--graceful-timeout', '--log-level', '--help', 'SIGHUP', 'SIGTERM']) {
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

test('bad input: one line on stderr and exit code 2', bounded, async (t) => {
  const blocker = createNetServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const busy = String((blocker.address() as AddressInfo).port)
  const typeScript = Boolean((process.features as { typescript?: unknown }).typescript)
  const cases: Array<[string, string[], RegExp]> = [
    ['missing file', [join(dir, 'missing.mjs')], /cannot find the module .*missing\.mjs/],
    ['missing export', [`${modules.app}:nope`], /has no export named "nope"/],
    ['no default and no app', [modules.noApp], /has no export named "default" or "app"/],
    ['export not a function', [`${modules.app}:notAFunction`], /the export "notAFunction" is number 42, not a WSGI app function/],
    ['module that throws at import', [modules.throws], /cannot import .*throws\.mjs: broken at import/],
    ['port in use', ['--port', busy, modules.app], new RegExp(`cannot listen on http://127\\.0\\.0\\.1:${busy}: .*EADDRINUSE`)],
    ['port in use, with workers', ['--port', busy, '--workers', '2', modules.app], /cannot listen on .*EADDRINUSE/],
    ['unknown flag', ['--colour', 'red', modules.app], /Unknown option '--colour'; see --help/],
    ['flag without value', [modules.app, '--port'], /Option '--port <value>' argument missing/],
    ['port not a number', ['--port', 'http', modules.app], /--port: expected an integer from 0 to 65535, got "http"/],
    ['port too large', ['--port', '70000', modules.app], /--port: expected an integer/],
    ['workers zero', ['--workers', '0', modules.app], /--workers: expected an integer from 1 to 1024, got "0"/],
    ['input mode', ['--input', 'lines', modules.app], /--input: expected buffer or stream, got "lines"/],
    ['log level', ['--log-level', 'loud', modules.app], /--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    ['prefix', ['--prefix', 'legacy', modules.app], /--prefix: expected a path starting with \/, got "legacy"/],
    ['graceful timeout', ['--graceful-timeout', '5s', modules.app], /--graceful-timeout: expected a number of seconds, got "5s"/],
    ['no module', [], /expected one module \(path\/to\/app\.mjs\[:export\]\), got 0/],
    ['two modules', [modules.app, modules.appOnly], /expected one module .*, got 2/]
  ]
  if (!typeScript) cases.push(['TypeScript on a Node without type stripping', [modules.typescript], /cannot import .*typed\.ts: Node\.js v\d+.* does not strip TypeScript types; compile it to JavaScript/])
  for (const [name, args, message] of cases) {
    const cli = runCli(t, args)
    t.same(await cli.exited, { code: 2, signal: null }, `${name}: exit code 2`)
    const lines = cli.stderr().split('\n').filter((line) => line !== '')
    t.equal(lines.length, 1, `${name}: one line`)
    t.match(lines[0], /^fastify-wsgi: /, name)
    t.match(lines[0], message, name)
    t.notMatch(cli.stdout(), 'listening on', `${name}: never listened`)
  }
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

test('--workers 2: both workers answer, wsgi.multiprocess is true, a killed worker is replaced, SIGTERM exits 0', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  t.match(cli.stdout(), `(primary ${cli.child.pid}, 2 workers)`)
  const answers = await Promise.all(Array.from({ length: 40 }, () => get(`${url}/pid`)))
  for (const answer of answers) {
    pids.add(pidOf(answer.text))
    t.match(answer.text, / \|\/pid 0 true$/)
  }
  t.equal(pids.size, 2, 'two workers answered')
  t.notOk(pids.has(cli.child.pid as number), 'the primary serves nothing')
  const [victim, survivor] = [...pids]
  process.kill(victim, 'SIGKILL')
  await waitFor(() => cli.stderr().includes(`worker ${victim} died (SIGKILL); starting a new one`), 5000)
  const seen = new Set<number>()
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && seen.size < 2;) {
    const pid = pidOf((await get(`${url}/pid`)).text)
    seen.add(pid)
    pids.add(pid)
  }
  t.equal(seen.size, 2, 'two workers again')
  t.ok(seen.has(survivor))
  t.notOk(seen.has(victim), 'the killed worker is gone')
  await get(`${url}/exit`).catch(() => {})
  await waitFor(() => / died \(exit code 3\); starting a new one/.test(cli.stderr()), 5000)
  t.match(cli.stderr(), / died \(exit code 3\); starting a new one/, 'a worker that exits is replaced too')

  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
  for (const pid of seen) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} stopped`)
})

test('--workers: SIGTERM during a slow streamed response lets it complete and exits 0', clustered, async (t) => {
  trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', modules.app])
  const url = await listening(cli)
  const response = get(`${url}/slow`)
  await sleep(100)
  cli.child.kill('SIGTERM')
  t.equal((await response).text, 'line 0\nline 1\nline 2\nline 3\nline 4\n')
  t.same(await cli.exited, { code: 0, signal: null })
  t.match(cli.stderr(), 'closed /slow')
})

test('SIGHUP under load: every worker is replaced and no request fails', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  const before = new Set<number>()
  for (let i = 0; i < 20 && before.size < 2; i++) before.add(pidOf((await get(`${url}/pid`)).text))
  for (const pid of before) pids.add(pid)
  const failures: unknown[] = []
  const after = new Set<number>()
  let answered = 0
  const load = { running: true }
  const client = async (): Promise<void> => {
    while (load.running) {
      try {
        const answer = await get(`${url}/pid`)
        if (answer.status !== 200) failures.push(answer.status)
        const pid = pidOf(answer.text)
        pids.add(pid)
        if (!before.has(pid)) after.add(pid)
        answered++
      } catch (err) {
        failures.push(err)
      }
    }
  }
  const clients = Array.from({ length: 8 }, client)
  await waitFor(() => answered > 50, 5000)
  cli.child.kill('SIGHUP')
  await waitFor(() => after.size >= 2, 15_000)
  // The old workers are gone once only new ones answer.
  await waitFor(() => [...before].every((pid) => { try { process.kill(pid, 0); return false } catch { return true } }), 10_000)
  const answeredAfterReload = answered
  await waitFor(() => answered > answeredAfterReload + 50, 5000)
  load.running = false
  await Promise.all(clients)
  t.same(failures, [], `no failed request out of ${answered}`)
  t.equal(after.size, 2, 'two new workers')
  for (const pid of before) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `old worker ${pid} stopped`)
  t.notMatch(cli.stderr(), 'died', 'no worker was counted as crashed')
  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
})

test('two SIGHUPs in a row: workers still finishing a response are not replaced twice, and the response completes', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  const old = new Set<number>()
  for (let i = 0; i < 20 && old.size < 2; i++) old.add(pidOf((await get(`${url}/pid`)).text))
  for (const pid of old) pids.add(pid)
  // 20 lines, 150 ms apart: an old worker is still finishing this when the second reload starts.
  const slow = get(`${url}/slow?20`)
  await sleep(100)
  cli.child.kill('SIGHUP')
  await sleep(50)
  cli.child.kill('SIGHUP')
  const expected = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join('')
  t.equal((await slow).text, expected, 'the slow response completed')
  // Both reloads are over by now (each takes two worker boots): 2 workers, or 3 if a retiring one was replaced again.
  const answering = new Set<number>()
  for (let i = 0; i < 40; i++) answering.add(pidOf((await get(`${url}/pid`)).text))
  t.equal(answering.size, 2, 'two workers serve')
  for (const pid of answering) t.notOk(old.has(pid), 'new workers only')
  t.notMatch(cli.stderr(), 'died', 'nothing died')
  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
})
