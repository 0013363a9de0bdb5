// The run options are described once (RUN_OPTIONS in lib/options.ts): the settings, makeServer's
// split between the plugin and Fastify, and the documentation must all name the same options.
import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PLUGIN_ONLY_OPTIONS, RUN_OPTION_NAMES, defaultSettings, resolveSettings } from '../lib/options.js'

const read = (path: string): string => readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8')
const lifecycle = { closing: false, sessions: new Set(), running: new Set() } as unknown as Parameters<typeof defaultSettings>[1]

test('every run option has a default setting, and nothing else is a setting but where the registration puts the app', async (t) => {
  const settings = defaultSettings(1024, lifecycle)
  t.same(Object.keys(settings).sort(), [...RUN_OPTION_NAMES, 'scriptName', 'fileWrapper', 'lifecycle'].sort())
  t.equal(settings.bodyLimit, 1024, "bodyLimit's default is Fastify's")
})

test('makeServer hands Fastify its own bodyLimit and the plugin every other run option', async (t) => {
  t.same([...PLUGIN_ONLY_OPTIONS].sort(), RUN_OPTION_NAMES.filter((name) => name !== 'bodyLimit').sort())
})

test('an option not given keeps the value it had; a given one is checked', async (t) => {
  const base = resolveSettings({ input: 'stream', lingeringTime: 5 }, defaultSettings(1024, lifecycle))
  const child = resolveSettings({ validate: true }, base)
  t.equal(child.input, 'stream')
  t.equal(child.lingeringTime, 5)
  t.equal(child.validate, true)
  t.throws(() => resolveSettings({ lingeringLimit: -1 }, base), { code: 'FST_WSGI_INVALID_OPTION', message: /lingeringLimit.*expected a non-negative integer, got number -1/ })
})

test('docs/options.md has a section for every run option, and the README\'s options table a row', async (t) => {
  const reference = read('docs/options.md')
  const readme = read('README.md')
  for (const name of RUN_OPTION_NAMES) {
    t.match(reference, new RegExp(`^## \`${name}\`$`, 'm'), `docs/options.md: ${name}`)
    t.match(readme, new RegExp(`^\\| \\[\`${name}\`\\]\\(https://[^)]+/docs/options\\.md#${name.toLowerCase()}\\)`, 'm'), `README: ${name}`)
  }
})

test('null counts as not given for bodyLimit and baseEnviron, as it always did; for the others it is refused', async (t) => {
  const base = resolveSettings({ bodyLimit: 10, baseEnviron: { X: '1' } }, defaultSettings(1024, lifecycle))
  const child = resolveSettings({ bodyLimit: null, baseEnviron: null } as unknown as Parameters<typeof resolveSettings>[0], base)
  t.equal(child.bodyLimit, 10)
  t.same(child.baseEnviron, { X: '1' })
  t.throws(() => resolveSettings({ input: null } as unknown as Parameters<typeof resolveSettings>[0], base), { code: 'FST_WSGI_INVALID_OPTION' })
})
