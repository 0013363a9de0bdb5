// Imported first by each benchmark script: `--node 26` (or BENCH_NODE=26) runs the whole script,
// and so every server process it starts, under that pinned Node line (scripts/node-versions.mjs),
// fetched from the npm registry on first use. Without either, the Node running the script is used.
import { spawnSync } from 'node:child_process'
import { nodeBinary } from '../scripts/node-versions.mjs'

const args = process.argv.slice(2)
const flag = args.findIndex((arg) => arg === '--node' || arg.startsWith('--node='))
const wanted = flag === -1 ? process.env.BENCH_NODE : args[flag].startsWith('--node=') ? args[flag].slice(7) : args[flag + 1]
if (flag !== -1) args.splice(flag, args[flag].startsWith('--node=') ? 1 : 2)

if (wanted !== undefined && wanted !== '') {
  const binary = nodeBinary(wanted)
  if (binary !== process.execPath) {
    const env = { ...process.env }
    delete env.BENCH_NODE
    const { status, signal } = spawnSync(binary, [...process.execArgv, process.argv[1], ...args], { stdio: 'inherit', env })
    process.exit(status ?? (signal === null ? 1 : 128))
  }
}
// The script's own option parsing does not know --node.
process.argv.splice(2, process.argv.length - 2, ...args)
