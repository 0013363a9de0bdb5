// The shape of lib/: its folders are layers, read bottom-up, and imports only point down (or
// sideways within a layer), with no import circle anywhere. lib/index.ts only exports.
import { test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIB = fileURLToPath(new URL('../lib/', import.meta.url))

/** The layers, bottom-up, each a folder (`name/`) or a file: a file may import its own layer or one below. */
const LAYERS = [['errors.ts', 'version.ts'], ['wsgi/'], ['connection/'], ['options.ts'], ['fastify/'], ['server/'], ['cli/'], ['index.ts']]
const RANK = new Map(LAYERS.flatMap((names, rank) => names.map((name) => [name, rank] as const)))

function layerOf (file: string): string {
  const layer = [...RANK.keys()].find((name) => name.endsWith('/') ? file.startsWith(name) : file === name)
  if (layer === undefined) throw new Error(`lib/${file} is in no layer: put it in a folder of ${[...RANK.keys()].join(', ')}`)
  return layer
}

function sourceFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => entry.isDirectory()
    ? sourceFiles(join(dir, entry.name))
    : entry.name.endsWith('.ts') ? [relative(LIB, join(dir, entry.name)).split('\\').join('/')] : [])
}

/** What a file imports: other lib files (relative, .ts), and package names. */
function importsOf (file: string): { files: string[], packages: string[] } {
  const text = readFileSync(join(LIB, file), 'utf8')
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g)].map((match) => match[1] ?? match[2])
  const files: string[] = []
  const packages: string[] = []
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) packages.push(specifier)
    else {
      const target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts')
      if (!target.startsWith('../')) files.push(target)
    }
  }
  return { files, packages }
}

const FILES = sourceFiles(LIB)
const GRAPH = new Map(FILES.map((file) => [file, importsOf(file)]))

test('every file of lib/ is in a layer, and imports only its own layer or those below', async (t) => {
  for (const [file, { files }] of GRAPH) {
    for (const target of files) {
      t.ok(GRAPH.has(target), `lib/${file} imports lib/${target}, which exists`)
      t.ok((RANK.get(layerOf(target)) as number) <= (RANK.get(layerOf(file)) as number), `lib/${file} (${layerOf(file)}) may import lib/${target} (${layerOf(target)})`)
    }
  }
})

test('the WSGI engine (lib/wsgi/) imports nothing of Fastify\'s', async (t) => {
  for (const [file, { packages }] of GRAPH) {
    if (!file.startsWith('wsgi/')) continue
    t.same(packages.filter((name) => name === 'fastify' || name.startsWith('fastify-') || name.startsWith('@fastify/')), [], `lib/${file}`)
  }
})

/** Every import circle of a graph, each as the path around it. */
function findCircles (graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, 'visiting' | 'done'>()
  const circles: string[] = []
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return
    if (state.get(node) === 'visiting') {
      circles.push([...path.slice(path.indexOf(node)), node].join(' → '))
      return
    }
    state.set(node, 'visiting')
    for (const next of graph.get(node) ?? []) visit(next, [...path, node])
    state.set(node, 'done')
  }
  for (const node of graph.keys()) visit(node, [])
  return circles
}

test('no import circle in lib/', async (t) => {
  t.same(findCircles(new Map([...GRAPH].map(([file, { files }]) => [file, files]))), [])
})

test('the circle check finds a circle', async (t) => {
  t.same(findCircles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), ['a → b → c → a'])
})

test('lib/index.ts only exports', async (t) => {
  const text = readFileSync(join(LIB, 'index.ts'), 'utf8')
  const rest = text.replace(/export (?:type )?(?:\*|\{[^}]*\})(?: as \w+)? from '[^']+'\n/g, '').trim()
  t.equal(rest, '', 'nothing but export … from statements')
})
