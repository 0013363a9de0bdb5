// The package as a user gets it: packed by `npm pack` (so its prepack runs) from a copy of the
// repository without any build, then installed from the tarball into a fresh project, offline.
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const execFileAsync = promisify(execFile)
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
// What a fresh clone has not: installs, builds and test output (.gitignore).
const NOT_IN_A_CLONE = new Set(['.git', 'node_modules', 'dist', '.tap', 'coverage'])

// The children are npm, tsc and the user's scripts, none of them ours to measure: tap's coverage
// loader (NODE_OPTIONS) would only slow them down.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('_TAPJS_')))

/** Runs a command to its end, within `timeout` ms; rejects with its output if it fails. */
export async function run (command: string, args: string[], cwd: string, timeout = 60_000): Promise<{ stdout: string, stderr: string }> {
  return await execFileAsync(command, args, { cwd, env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 })
}

export interface Packed {
  /** The tarball's path. */
  tarball: string
  /** Every path in the tarball, relative to the package root. */
  files: string[]
}

/**
 * Copies the repository as a fresh clone has it (plus a leftover of an earlier build in dist/, which
 * must not ship), with the repository's node_modules linked in, and packs it into `dir`.
 */
export async function packCleanCheckout (dir: string): Promise<Packed> {
  const checkout = join(dir, 'checkout')
  cpSync(ROOT, checkout, { recursive: true, filter: (path) => !NOT_IN_A_CLONE.has(relative(ROOT, path)) })
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir')
  mkdirSync(join(checkout, 'dist', 'lib'), { recursive: true })
  writeFileSync(join(checkout, 'dist', 'lib', 'leftover.js'), 'export {}\n')
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], checkout)
  const [result] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  return { tarball: join(dir, result.filename), files: result.files.map((file) => file.path) }
}

type LockEntry = Record<string, unknown> & { dependencies?: Record<string, string>, optionalDependencies?: Record<string, string> }

/**
 * Installs `tarball` with fastify (and @types/node, for the TypeScript consumers) into a new project in
 * `dir` whose package.json is npm 11's `npm init -y` one ("type": "commonjs"), without the network:
 * the project's lockfile pins everything else to what the repository's lockfile installed, all in
 * npm's cache since `npm ci` (a plain `npm install --offline` would need full registry documents that
 * `npm ci` never fetches). Returns the project's directory.
 */
export async function installTarball (dir: string, tarball: string): Promise<string> {
  const project = join(dir, 'project')
  mkdirSync(project)
  const repository = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const repositoryLock: Record<string, LockEntry> = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages
  const packages: Record<string, LockEntry> = {}
  // Node's lookup: the closest node_modules/<name> above the dependent package.
  const locate = (from: string, name: string): string | undefined => {
    for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
      const path = `${at === '' ? '' : at + '/'}node_modules/${name}`
      if (repositoryLock[path] !== undefined) return path
      if (at === '') return undefined
    }
  }
  const add = (path: string): void => {
    if (packages[path] !== undefined) return
    const { dev, devOptional, peer, ...entry } = repositoryLock[path]
    packages[path] = entry
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const found = locate(path, name)
      if (found !== undefined) add(found)
      else if (entry.optionalDependencies?.[name] === undefined) throw new Error(`${name}, a dependency of ${path}, is not in package-lock.json`)
    }
  }
  const userDependencies = {
    fastify: repository.devDependencies.fastify,
    '@types/node': repository.devDependencies['@types/node'],
    'fastify-wsgi': `file:${relative(project, tarball)}`
  }
  for (const name of [...Object.keys(userDependencies), ...Object.keys(repository.dependencies)]) {
    if (name !== 'fastify-wsgi') add(`node_modules/${name}`)
  }
  const { version, dependencies, peerDependencies, bin, engines, license } = repository
  packages['node_modules/fastify-wsgi'] = { version, resolved: userDependencies['fastify-wsgi'], license, dependencies, peerDependencies, bin, engines }
  const manifest = { name: 'project', version: '1.0.0', type: 'commonjs', dependencies: userDependencies }
  packages[''] = { name: manifest.name, version: manifest.version, dependencies: userDependencies }
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2))
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2))
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel', 'error'], project)
  return project
}
