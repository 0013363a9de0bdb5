// Shared by the benchmark scripts: medians, the machine line, and RESULTS.md sections.
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'

const RESULTS = new URL('./RESULTS.md', import.meta.url)

export function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export async function machine () {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
  const fastify = JSON.parse(await readFile(new URL('../node_modules/fastify/package.json', import.meta.url), 'utf8'))
  return `${os.cpus().length} × ${os.cpus()[0].model.trim()}, Node ${process.version}, fastify ${fastify.version}, fastify-wsgi ${pkg.version}, ${new Date().toISOString().slice(0, 10)}`
}

/** Replaces (or adds) the section titled `title` in benchmarks/RESULTS.md, one per Node line (`--node`). */
export async function appendResults (title, body) {
  let text = await readFile(RESULTS, 'utf8').catch(() => '# Benchmark results\n\nWritten by the scripts in this folder, one section per script and Node line (`--node 26` runs a script under Node 26); each section is replaced when its script runs again on the same line.\n')
  const heading = `## Node ${process.versions.node.split('.')[0]}: ${title}`
  const start = text.indexOf(heading)
  const section = `${heading}\n\n${body}\n`
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`
  } else {
    const next = text.indexOf('\n## ', start + heading.length)
    text = text.slice(0, start) + section + (next === -1 ? '' : text.slice(next + 1))
  }
  await writeFile(RESULTS, text)
}
