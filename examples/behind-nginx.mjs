// Checks the nginx config of docs/deploying.md with a real nginx: the CLI behind
// it, requests through it over TLS from another loopback address, and what the app saw.
//
//   npm run build && node examples/behind-nginx.mjs
//
// Needs nginx and openssl on PATH (Debian: apt-get install nginx-light). The config is read from
// docs/deploying.md, so the documented one is the checked one; only its ports and certificate are swapped
// for local ones. Prints one line per check and exits 1 if any fails.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'dist/lib/cli/index.js')
// The client's address: any 127.x address reaches the loopback on Linux, and this one is not nginx's.
const CLIENT = '127.0.0.2'
// The app's flags, as docs/deploying.md's command line has them (one process, at a port of its own).
const CLI_FLAGS = ['--trust-proxy', '127.0.0.1', '--body-limit', '104857600', '--input', 'stream', '--log-level', 'warn']

// What the app reports: the keys the guide's table is about, and the size of the body it read.
const APP = `
export default async function app (environ, startResponse) {
  let bytes = 0
  for (let chunk; (chunk = await environ['wsgi.input'].read(65536)).length > 0;) bytes += chunk.length
  const keys = ['REMOTE_ADDR', 'wsgi.url_scheme', 'SERVER_NAME', 'SERVER_PORT', 'HTTP_HOST', 'PATH_INFO', 'QUERY_STRING']
  startResponse('200 OK', [['Content-Type', 'application/json']])
  return [JSON.stringify({ ...Object.fromEntries(keys.map((key) => [key, environ[key]])), bytes })]
}
`

/** The first nginx block of docs/deploying.md's "Behind nginx" section. */
function readmeConfig () {
  const guide = readFileSync(join(ROOT, 'docs', 'deploying.md'), 'utf8')
  const match = /```nginx\n([\s\S]*?)```/.exec(guide.slice(guide.indexOf('## Behind nginx')))
  if (match === null) throw new Error('docs/deploying.md has no nginx block under "## Behind nginx"')
  return match[1]
}

/** The guide's config with local ports and certificate, inside a main config that keeps nginx in the foreground and in `dir`. */
function localConfig (dir, { appPort, httpPort, httpsPort }) {
  let config = readmeConfig()
  const swaps = [
    [/server 127\.0\.0\.1:8000;/, `server 127.0.0.1:${appPort};`],
    [/listen 80;/, `listen 127.0.0.1:${httpPort};`],
    [/listen 443 ssl;/, `listen 127.0.0.1:${httpsPort} ssl;`],
    [/ssl_certificate +\S+;/, `ssl_certificate ${dir}/cert.pem;`],
    [/ssl_certificate_key +\S+;/, `ssl_certificate_key ${dir}/key.pem;`]
  ]
  for (const [pattern, replacement] of swaps) {
    if (!pattern.test(config)) throw new Error(`docs/deploying.md's nginx config has no ${pattern}: update this script along with it`)
    config = config.replace(pattern, replacement)
  }
  // Every temporary path in `dir`, for the modules this nginx has.
  const built = spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr
  const temporary = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((name) => !built.includes(`--without-http_${name}_module`))
    .map((name) => `${name}_temp_path ${dir}/${name};`)
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 64; }
http {
access_log off;
${temporary.join('\n')}
${config}
}
`
}

function freePort () {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on the port (up to 5 s). */
async function accepting (port) {
  for (let tries = 0; tries < 100; tries++) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listens on port ${port}`)
}

/** The CLI serving the app; resolves with its port once it listens. */
async function startCli (dir, children) {
  const app = join(dir, 'app.mjs')
  writeFileSync(app, APP)
  const child = spawn(process.execPath, [CLI, '--port', '0', ...CLI_FLAGS, app], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
    if (listening !== null) return Number(listening[1])
  }
  throw new Error(`the CLI did not start: ${output}`)
}

/** One request from CLIENT's address; TLS without verification (the certificate is made up here). */
function send (url, { method = 'GET', headers = {}, body } = {}) {
  const target = new URL(url)
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const outgoing = request(target, { method, headers, localAddress: CLIENT, rejectUnauthorized: false, agent: false }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => { text += chunk })
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, text }))
    })
    outgoing.on('error', reject)
    outgoing.end(body)
  })
}

let failures = 0
function check (what, actual, expected) {
  const ok = JSON.stringify(actual) === JSON.stringify(expected)
  if (!ok) failures++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(actual)}${ok ? '' : ` (expected ${JSON.stringify(expected)})`}`)
}

async function main () {
  const nginxVersion = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
  if (nginxVersion.error) throw new Error('nginx is not on PATH (Debian: apt-get install nginx-light)')
  console.log(`${nginxVersion.stderr.trim()}, Node.js ${process.version}`)
  const dir = mkdtempSync(join(tmpdir(), 'fastify-wsgi-nginx-'))
  const children = []
  try {
    const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=example.com',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' })
    if (openssl.status !== 0) throw new Error(`openssl could not make a certificate: ${openssl.error?.message ?? openssl.stderr}`)
    const appPort = await startCli(dir, children)
    const [httpPort, httpsPort] = [await freePort(), await freePort()]
    writeFileSync(join(dir, 'nginx.conf'), localConfig(dir, { appPort, httpPort, httpsPort }))
    const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'inherit', 'inherit'] })
    children.push(nginx)
    await accepting(httpsPort)
    console.log(`fastify-wsgi ${CLI_FLAGS.join(' ')} on 127.0.0.1:${appPort}; nginx on 127.0.0.1:${httpPort} and :${httpsPort} (TLS); the client at ${CLIENT}`)

    const host = `example.com:${httpsPort}`
    // The client forges an X-Forwarded-For of its own: nginx appends the address it saw, the one the app must get.
    const seen = await send(`https://127.0.0.1:${httpsPort}/some/path?q=1`, { headers: { host, 'x-forwarded-for': '6.6.6.6' } })
    check('GET over TLS through nginx, status', seen.status, 200)
    const environ = JSON.parse(seen.text)
    check('REMOTE_ADDR (the client, not nginx nor the forged 6.6.6.6)', environ.REMOTE_ADDR, CLIENT)
    check('wsgi.url_scheme', environ['wsgi.url_scheme'], 'https')
    check('SERVER_NAME', environ.SERVER_NAME, 'example.com')
    check('SERVER_PORT (nginx\'s TLS port)', environ.SERVER_PORT, String(httpsPort))
    check('HTTP_HOST', environ.HTTP_HOST, host)
    check('PATH_INFO and QUERY_STRING', [environ.PATH_INFO, environ.QUERY_STRING], ['/some/path', 'q=1'])

    const upload = await send(`https://127.0.0.1:${httpsPort}/upload`, { method: 'POST', headers: { host }, body: Buffer.alloc(5_000_000, 'x') })
    check('a 5 MB upload through nginx, status and bytes the app read', [upload.status, JSON.parse(upload.text).bytes], [200, 5_000_000])

    const redirect = await send(`http://127.0.0.1:${httpPort}/x?y=1`, { headers: { host: 'example.com' } })
    check('plain HTTP is redirected to HTTPS', [redirect.status, redirect.headers.location], [301, 'https://example.com/x?y=1'])

    // Straight to the app, not through nginx: the same headers are not believed from the client's address.
    const direct = JSON.parse((await send(`http://127.0.0.1:${appPort}/`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example' }
    })).text)
    check('X-Forwarded-* sent straight to the app, ignored', [direct.REMOTE_ADDR, direct['wsgi.url_scheme'], direct.SERVER_NAME], [CLIENT, 'http', '127.0.0.1'])
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await Promise.all(children.map((child) => child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined))
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`)
  process.exitCode = failures === 0 ? 0 : 1
}

await main()
