// Request headers into the environ (docs/conformance.md B4, B5), through both paths: the store compiled
// for a sequence of names and the generic copy (past the bounds, or where code generation is
// disallowed). Each is checked against a plain model of the rules.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'tap'
import fc from 'fast-check'
import { addRequestHeaders } from '../lib/fastify/request-headers.js'

type Outcome = Record<string, unknown> | { error: string }

/** The rules as docs/conformance.md states them (B4, B5), one header at a time. */
function model (rawHeaders: string[], dropUnderscore: boolean): Outcome {
  const environ: Record<string, string> = {}
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    const value = rawHeaders[i + 1]
    const lower = name.toLowerCase()
    if (lower.startsWith(':')) continue
    if (lower === 'content-type') {
      if ('CONTENT_TYPE' in environ) return { error: 'Bad request: more than one Content-Type header' }
      environ.CONTENT_TYPE = value
      continue
    }
    if (lower === 'content-length') {
      environ.CONTENT_LENGTH = value
      continue
    }
    if (dropUnderscore && name.includes('_')) continue
    const key = 'HTTP_' + lower.toUpperCase().replaceAll('-', '_')
    if (!(key in environ)) environ[key] = value
    else if (key === 'HTTP_HOST') return { error: 'Bad request: more than one Host header' }
    else environ[key] += (key === 'HTTP_COOKIE' ? '; ' : ',') + value
  }
  return environ
}

function copy (rawHeaders: string[], dropUnderscore: boolean): Outcome {
  const environ: Record<string, unknown> = {}
  try {
    addRequestHeaders(environ, rawHeaders, dropUnderscore)
  } catch (err) {
    return { error: (err as Error).message }
  }
  return environ
}

const NAMES = ['Host', 'host', 'Cookie', 'cookie', 'Content-Type', 'content-length', 'Accept', 'accept', 'X-Forwarded-For', 'X_Forwarded_For', ':authority', 'User-Agent', 'x-a']
const headerList = fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom('a', 'b=1', '', 'c d')), { maxLength: 8 })
  .map((pairs) => pairs.flat())

test('B4, B5: every header list copies as the model says, on first sight (compiling) and after (compiled or generic), keys in the same order', async (t) => {
  fc.assert(fc.property(headerList, fc.boolean(), (rawHeaders, dropUnderscore) => {
    const expected = model(rawHeaders, dropUnderscore)
    for (let round = 0; round < 2; round++) {
      const actual = copy(rawHeaders, dropUnderscore)
      t.strictSame(actual, expected)
      t.strictSame(Object.keys(actual), Object.keys(expected))
    }
  }), { numRuns: 400 })
})

test('a name longer than any real one is not kept, and still copies right, twice and among other headers', async (t) => {
  for (const underscore of ['', '_']) {
    const long = `X-${'a'.repeat(100)}${underscore}`
    const rawHeaders = ['Host', 'h', long, 'v', 'Cookie', 'c']
    for (let round = 0; round < 2; round++) t.strictSame(copy(rawHeaders, false), model(rawHeaders, false))
    t.strictSame(copy(rawHeaders, true), model(rawHeaders, true))
  }
})

test('a client sending ever new names: past the bounds on what is kept, headers still copy right (generic copy)', async (t) => {
  for (let i = 0; i < 6000; i++) {
    const rawHeaders = ['Host', 'h', `X-Name-${i}`, String(i), 'Cookie', 'a=1', `X_Under_${i}`, 'u', 'cookie', 'b=2']
    const expected = { HTTP_HOST: 'h', [`HTTP_X_NAME_${i}`]: String(i), HTTP_COOKIE: 'a=1; b=2', [`HTTP_X_UNDER_${i}`]: 'u' }
    const first = copy(rawHeaders, false)
    const again = copy(rawHeaders, false)
    if (i % 500 === 0 || i > 5990) {
      t.strictSame(first, expected, `sequence ${i}`)
      t.strictSame(again, expected, `sequence ${i}, again`)
    }
  }
  t.strictSame(copy(['Host', 'a', 'host', 'b'], false), { error: 'Bad request: more than one Host header' })
})

test('where code generation is disallowed (--disallow-code-generation-from-strings), every list takes the generic copy', async (t) => {
  const lists = [['Host', 'h', 'Cookie', 'a', 'cookie', 'b', 'X_Y', 'dropped'], ['Host', 'h', 'Host', 'i'], ['Content-Type', 'x', 'content-type', 'y'], []]
  const fixture = fileURLToPath(new URL('./fixtures/request-headers-child.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, '--disallow-code-generation-from-strings', fixture, JSON.stringify(lists)], { timeout: 20_000 })
  t.strictSame(JSON.parse(stdout), lists.map((list) => model(list, true)))
})
