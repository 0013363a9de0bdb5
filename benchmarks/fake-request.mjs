// A request as Node's HTTP server hands it over, without a connection: for the in-process
// benchmarks (overhead.mjs, overhead-fastify.mjs), where sockets and the parser are left out.
import { IncomingMessage } from 'node:http'

// What Node, Fastify and the handler read of a connection; writes go nowhere.
const socket = {
  remoteAddress: '127.0.0.1',
  remotePort: 54321,
  localAddress: '127.0.0.1',
  localPort: 3000,
  encrypted: false,
  destroyed: false,
  readable: true,
  writable: true,
  _httpMessage: null,
  on () {},
  once () {},
  off () {},
  removeListener () {},
  setTimeout () {},
  cork () {},
  uncork () {},
  write () { return true }
}

/** The headers object Node's parser makes from a raw `[name, value...]` list. */
export function headerObject (rawHeaders) {
  const headers = {}
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i].toLowerCase()] = rawHeaders[i + 1]
  return headers
}

/** A complete, bodiless HTTP/1.1 GET; `headers` (from headerObject) is copied, as each request has its own. */
export function fakeRequest (url, rawHeaders, headers) {
  const req = new IncomingMessage(socket)
  req.method = 'GET'
  req.url = url
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.rawHeaders = rawHeaders
  req.headers = { ...headers }
  req.complete = true
  return req
}
