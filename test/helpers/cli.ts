// Running the fastify-wsgi CLI as a user does (the compiled dist/lib/cli/index.js), for the CLI tests.
import t0, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from './server.js'

const CLI = fileURLToPath(new URL('../../dist/lib/cli/index.js', import.meta.url))
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The app every test serves: its answers name the process, and its bodies say on stderr when they close.
const APP = `
import { existsSync } from 'node:fs'
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
  if (path === '/hold') {
    // Dots until the file named by the query string exists: a response the test ends when it wants.
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return (async function * () {
      while (!existsSync(environ.QUERY_STRING)) { yield '.'; await new Promise((resolve) => setTimeout(resolve, 50)) }
      yield 'released'
    })()
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
export async function upload (environ, startResponse) {
  // For --input stream: counts the body as it arrives.
  let bytes = 0
  for (let chunk; (chunk = await environ['wsgi.input'].read(65536)).length > 0;) bytes += chunk.length
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return [String(bytes)]
}
export function client (environ, startResponse) {
  const keys = ['REMOTE_ADDR', 'SERVER_NAME', 'SERVER_PORT', 'wsgi.url_scheme']
  startResponse('200 OK', [['Content-Type', 'application/json']])
  return [JSON.stringify(Object.fromEntries(keys.map((key) => [key, environ[key]])))]
}
`

export const dir = mkdtempSync(join(tmpdir(), 'fastify-wsgi-cli-'))
export const modules = {
  app: join(dir, 'app.mjs'),
  appOnly: join(dir, 'app-only.mjs'),
  commonjs: join(dir, 'legacy.cjs'),
  noApp: join(dir, 'no-app.mjs'),
  throws: join(dir, 'throws.mjs'),
  /** Imports a module with a syntax error on its line 2. */
  brokenDependency: join(dir, 'uses-broken.mjs'),
  brokenCommonjs: join(dir, 'broken.cjs'),
  missingDependency: join(dir, 'missing-dependency.mjs'),
  throwsString: join(dir, 'throws-string.mjs'),
  typescript: join(dir, 'typed.ts')
}
writeFileSync(modules.app, APP)
writeFileSync(modules.appOnly, "export const app = (environ, startResponse) => { startResponse('200 OK', []); return ['app export'] }\n")
writeFileSync(modules.commonjs, "module.exports = (environ, startResponse) => { startResponse('200 OK', []); return ['commonjs'] }\n")
writeFileSync(modules.noApp, 'export const other = 1\n')
writeFileSync(modules.throws, "throw new Error('broken at import')\n")
writeFileSync(join(dir, 'broken.mjs'), 'export const a = 1\nconst b = ;\n')
writeFileSync(modules.brokenDependency, "import './broken.mjs'\nexport default () => []\n")
writeFileSync(modules.brokenCommonjs, 'module.exports = 1\nconst b = ;\n')
writeFileSync(modules.missingDependency, "import 'no-such-package-here'\n")
writeFileSync(modules.throwsString, "throw 'a string'\n")
writeFileSync(modules.typescript, "export default (environ: unknown, startResponse: (s: string, h: string[][]) => void): string[] => { startResponse('200 OK', []); return ['typed'] }\n")
t0.teardown(() => rmSync(dir, { recursive: true, force: true }))

export interface Cli {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Spawns the CLI; it is stopped (SIGTERM, then SIGKILL) when the test ends, with every pid it served from. */
export function runCli (t: Test, args: string[]): Cli {
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
export async function listening (cli: Cli): Promise<string> {
  await waitFor(() => /listening on (http:\/\/\S+)/.test(cli.stdout()) || cli.child.exitCode !== null, 10_000)
  const match = /listening on (http:\/\/\S+)/.exec(cli.stdout())
  if (match === null) throw new Error(`the CLI did not start: ${cli.stderr()}`)
  return match[1]
}

/** A request on a connection of its own (cluster workers take connections, not requests). */
export function get (url: string, options: http.RequestOptions = {}, body?: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, text: string }> {
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
export function trackPids (t: Test): Set<number> {
  const pids = new Set<number>()
  t.teardown(() => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  })
  return pids
}

export const pidOf = (text: string): number => Number(text.split(' ')[0])

/** Whether the process has exited. */
export function gone (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`)
