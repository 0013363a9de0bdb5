// What npm publishes: the tarball packed from a checkout without any build, installed into a fresh
// project and used from there as users do — CommonJS, ESM, the CLI, and TypeScript consumers
// type-checked against the shipped declarations under every common module setting.
import t from 'tap'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installTarball, packCleanCheckout, ROOT, run, TSC, type Packed } from './helpers/pack.js'

// It builds, installs and runs tsc five times: more than tap's default minute on a busy machine.
t.setTimeout(180_000)

const bounded = { timeout: 60_000 }
const dir = mkdtempSync(join(tmpdir(), 'fastify-wsgi-pack-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

let packed: Packed
let project: string
t.before(async () => {
  packed = await packCleanCheckout(dir)
  project = await installTarball(dir, packed.tarball)
  writeFileSync(join(project, 'consumer.mts'), ESM_IMPORTS + CONSUMER)
  writeFileSync(join(project, 'consumer.ts'), ESM_IMPORTS + CONSUMER)
  writeFileSync(join(project, 'consumer.cts'), CJS_IMPORTS + CONSUMER)
})

// One request over a real socket to a mount and to a reply.wsgi route, printed as JSON.
const SERVE_AND_ASK = `
  const app = Fastify()
  app.register(fastifyWsgi, { prefix: '/legacy', app: hello })
  app.get('/direct/*', (request, reply) => reply.wsgi(hello))
  app.listen({ host: '127.0.0.1', port: 0 }).then(async (origin) => {
    const answers = []
    for (const path of ['/legacy/x', '/direct/y']) {
      const response = await fetch(origin + path)
      answers.push([response.status, await response.text()])
    }
    await app.close()
    console.log(JSON.stringify(answers))
  })`
const HELLO = `
  function hello (environ, startResponse) {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [environ.SCRIPT_NAME + '|' + environ.PATH_INFO]
  }`
const ANSWERS = [[200, '/legacy|/x'], [200, '|/direct/y']]

t.test('the tarball ships the build, its declarations and the docs, and nothing else of the repository', bounded, async (t) => {
  const { files } = packed
  for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/errors.d.ts', 'dist/lib/cli/index.js', 'dist/types/protocol.d.ts', 'docs/options.md']) {
    t.ok(files.includes(file), `ships ${file}`)
  }
  t.notOk(files.includes('dist/lib/leftover.js'), 'prepack builds from scratch: a leftover of an earlier build is not shipped')
  // dist/lib/<file> or dist/lib/<one folder>/<file>; the docs the README links to (and the code cites).
  const shipped = /^(dist\/lib\/([\w-]+\/)?[\w-]+(\.d\.ts|\.js)|dist\/types\/[\w-]+(\.d\.ts|\.js)|docs\/[\w-]+\.md)$/
  t.same(files.filter((file) => !shipped.test(file) && !['package.json', 'README.md', 'LICENSE'].includes(file)), [],
    'only the compiled lib, declarations and docs/*.md: no sources, tests, examples, benchmarks or source maps')
  t.same(files.filter((file) => file.startsWith('dist/types/') && !file.endsWith('.d.ts')), [], 'types/ holds declarations only')
  const installed = join(project, 'node_modules', 'fastify-wsgi')
  for (const file of files.filter((name) => name.startsWith('dist/'))) {
    const text = readFileSync(join(installed, file), 'utf8')
    t.notMatch(text, /sourceMappingURL/, `${file} points at no source map`)
    t.notMatch(text, /DESIGN\.md/, `${file} cites no document that is not shipped`)
    for (const [cited] of text.matchAll(/\bdocs\/[\w-]+\.md\b/g)) t.ok(files.includes(cited), `${file} cites ${cited}, which is shipped`)
  }
})

// GitHub's anchor for a heading: its text without markup, lower-cased, punctuation but - and _
// dropped, spaces turned into -; a repeated heading gets -1, -2… (github-slugger's rules).
function anchors (markdown: string): Set<string> {
  const seen = new Set<string>()
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/gm)) {
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*]/g, '')
    const slug = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    let unique = slug
    for (let n = 1; seen.has(unique); n++) unique = `${slug}-${n}`
    seen.add(unique)
  }
  return seen
}

t.test('the README, docs/*.md and benchmarks/README.md link to the repository by absolute URLs to files and headings that exist, or to their own headings', bounded, async (t) => {
  const { repository } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const base = repository.url.replace(/^git\+/, '').replace(/\.git$/, '') + '/blob/main/'
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`), 'benchmarks/README.md']
  t.ok(pages.includes('docs/options.md'), 'docs/ holds the reference')
  for (const page of pages) {
    const markdown = readFileSync(join(ROOT, page), 'utf8')
    const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
    // Inline links, and the targets of reference-style definitions (`[name]: https://…`).
    const links = [...prose.matchAll(/\]\(([^)\s]+)\)|^ {0,3}\[[^\]]+\]:[ \t]*(\S+)/gm)].map((match) => match[1] ?? match[2])
    if (page === 'README.md') t.ok(links.some((link) => link.startsWith(base)), `README.md links to files on ${base}`)
    for (const link of links) {
      const [path, anchor] = link.startsWith(base) ? link.slice(base.length).split('#') : link.startsWith('#') ? [page, link.slice(1)] : []
      if (path === undefined) {
        t.match(link, /^https?:\/\//, `${page}: ${link} is absolute or an anchor`)
        continue
      }
      const exists = existsSync(join(ROOT, path))
      t.ok(exists, `${page}: ${link} exists in the repository`)
      if (exists && anchor !== undefined && path.endsWith('.md')) {
        t.ok(anchors(readFileSync(join(ROOT, path), 'utf8')).has(anchor), `${page}: ${link} names a heading of ${path}`)
      }
    }
  }
})

t.test('CommonJS: require() gives the plugin, which serves a mount and reply.wsgi', bounded, async (t) => {
  writeFileSync(join(project, 'index.js'), `'use strict'
  const Fastify = require('fastify')
  const { fastifyWsgi } = require('fastify-wsgi')
  if (require('fastify-wsgi').default !== fastifyWsgi) throw new Error('default and named export differ')
  ${HELLO}
  ${SERVE_AND_ASK}`)
  const { stdout } = await run(process.execPath, ['index.js'], project, 30_000)
  t.same(JSON.parse(stdout), ANSWERS)
})

t.test('ESM (an .mjs file in a "type": "commonjs" project): the default import serves a mount and reply.wsgi', bounded, async (t) => {
  writeFileSync(join(project, 'index.mjs'), `
  import Fastify from 'fastify'
  import fastifyWsgi from 'fastify-wsgi'
  ${HELLO}
  ${SERVE_AND_ASK}`)
  const { stdout } = await run(process.execPath, ['index.mjs'], project, 30_000)
  t.same(JSON.parse(stdout), ANSWERS)
})

t.test('the fastify-wsgi command is installed in node_modules/.bin and runs', bounded, async (t) => {
  const { stdout } = await run(join(project, 'node_modules', '.bin', 'fastify-wsgi'), ['--help'], project, 30_000)
  t.match(stdout, /^Usage: fastify-wsgi /)
})

// A consumer of the public types: both registrations, reply.wsgi, the toolkit and the error codes.
const CONSUMER = `
const hello: WsgiApp = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']])
  return [\`Hello from \${environ.PATH_INFO}\`]
}
const app = Fastify()
app.register(fastifyWsgi, { prefix: '/legacy', app: hello })
app.get('/hello/*', (_request, reply) => reply.wsgi(hello, { scriptName: '/hello' }))
export const headers = new Headers([['Content-Type', 'text/plain']])
export const failure: Error & { code: string } = new errors.FST_WSGI_INVALID_STATUS('x', 'y')
`
const ESM_IMPORTS = "import Fastify from 'fastify'\nimport fastifyWsgi, { errors, Headers, type WsgiApp } from 'fastify-wsgi'\n"
const CJS_IMPORTS = "import Fastify from 'fastify'\nimport { fastifyWsgi, errors, Headers, type WsgiApp } from 'fastify-wsgi'\n"
const SETTINGS: Array<[string, Record<string, string | boolean>, string[]]> = [
  ['nodenext (ESM and CommonJS files)', { module: 'nodenext' }, ['consumer.mts', 'consumer.cts']],
  ['node16', { module: 'node16' }, ['consumer.mts']],
  ['bundler with module esnext', { module: 'esnext', moduleResolution: 'bundler' }, ['consumer.ts']],
  ['module preserve', { module: 'preserve' }, ['consumer.ts']],
  ['commonjs with esModuleInterop', { module: 'commonjs', esModuleInterop: true }, ['consumer.ts']]
]

for (const [name, moduleOptions, files] of SETTINGS) {
  t.test(`TypeScript, ${name}: the shipped declarations compile with strict and skipLibCheck off`, bounded, async (t) => {
    const config = `tsconfig.${name.replace(/\W+/g, '-')}.json`
    const compilerOptions = { ...moduleOptions, target: 'es2022', strict: true, skipLibCheck: false, noEmit: true }
    writeFileSync(join(project, config), JSON.stringify({ compilerOptions, files }))
    const { code = 0, stdout } = await run(process.execPath, [TSC, '-p', config], project).catch((error) => error)
    t.equal(stdout, '', 'no type errors')
    t.equal(code, 0, 'tsc exits 0')
  })
}
