import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describeValue } from '../wsgi/values.js'
import { UsageError } from './args.js'

// A location as Node prints it: `file:///app.mjs:3` or `/app.cjs:3` above a syntax error, `at … (file:///app.mjs:3:9)` in a stack.
const LOCATION_LINE = /^(?:file:\/\/|\/).*:\d+$/
const STACK_FRAME = /^\s+at (?:.*\()?((?:file:\/\/|\/)[^()]+:\d+:\d+)\)?$/

/**
 * Where an app module failed to import, as lines to append to the message: the file and line of a
 * syntax error with its source line, or the first frame of the module's own code.
 */
function whereImportFailed (err: Error, url: string): string {
  let lines = String(err.stack).split('\n')
  if (!LOCATION_LINE.test(lines[0])) {
    const frame = lines.map((line) => STACK_FRAME.exec(line)?.[1]).find((location) => location !== undefined)
    if (frame !== undefined) return `\n  at ${displayPath(frame)}`
  }
  // CommonJS puts a syntax error's location atop the stack; an ES module's only shows it when Node
  // reports the error as uncaught, so a child process imports the module again to print it.
  // Nothing is evaluated there: a syntax error stops the whole module graph before it runs.
  if (!LOCATION_LINE.test(lines[0]) && err instanceof SyntaxError) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)})`], { encoding: 'utf8', timeout: 10_000 })
    lines = String(child.stderr).split('\n')
  }
  return LOCATION_LINE.test(lines[0]) ? `\n  at ${displayPath(lines[0])}\n  ${lines[1]}\n  ${lines[2]}` : ''
}

/** A file URL in a location as a path, which is what a user types. */
function displayPath (location: string): string {
  return location.startsWith('file://') ? location.replace(/^file:\/\/[^:]*/, (url) => fileURLToPath(url)) : location
}

/** Imports the module and picks the app: the named export, else `default`, else `app`. */
export async function loadApp (file: string, exportName: string | undefined): Promise<unknown> {
  const path = resolve(file)
  if (!existsSync(path)) throw new UsageError(`cannot find the module ${path}`)
  // Node 20 cannot import TypeScript; say so rather than fail on the first type annotation.
  // (Reached only under Node 20, where cli-bad-input.test.ts checks the message.)
  /* c8 ignore next 3 */
  if (/\.[cm]?ts$/.test(path) && !(process.features as { typescript?: string | false }).typescript) {
    throw new UsageError(`cannot import ${file}: Node.js ${process.version} does not strip TypeScript types; compile it to JavaScript (tsc) and pass the .js file, or use Node.js 22.18+ (see --help)`)
  }
  let exports: Record<string, unknown>
  try {
    exports = await import(pathToFileURL(path).href)
  } catch (err) {
    const reason = err instanceof Error ? err.message + whereImportFailed(err, pathToFileURL(path).href) : `it threw ${describeValue(err)}`
    throw new UsageError(`cannot import ${file}: ${reason}`)
  }
  const names = exportName === undefined ? ['default', 'app'] : [exportName]
  const present = names.filter((name) => exports[name] !== undefined)
  if (present.length === 0) throw new UsageError(`${file} has no export named ${names.map((name) => `"${name}"`).join(' or ')}`)
  const name = present.find((candidate) => typeof exports[candidate] === 'function')
  if (name === undefined) {
    throw new UsageError(`${file}: the export "${present[0]}" is ${describeValue(exports[present[0]])}, not a WSGI app function (environ, startResponse) => body`)
  }
  return exports[name]
}
