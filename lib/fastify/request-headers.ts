import { FST_WSGI_BAD_REQUEST } from '../errors.js'

// Request headers into the environ (CGI, RFC 3875 §4.1.18): `HTTP_*` keys, repeats joined with `,`
// (cookies with `; `), Content-Type and Content-Length under their CGI keys, names with `_`
// dropped when so configured. Duplicate Host or Content-Type headers make the request ambiguous
// and are refused (RFC 9112 §3.2).
//
// Clients send the same header names in the same order request after request, so each sequence
// of names gets a function of its own that stores the values with constant keys. Copying them
// with computed keys makes every store megamorphic, and that costs some 20 ns per header (V8
// looks the key up in a global cache); the compiled store is an inline property write. Until a
// sequence has its function (or once the bounds below are reached), the generic copy runs.

type Environ = Record<string, unknown>
type StoreHeaders = (environ: Environ, rawHeaders: string[]) => void

// Header names arrive in a handful of spellings; remember each one's environ key. Names with
// `_` have their own cache, so the common lookup needs no scan of the name.
const environKeys = new Map<string, string | null>()
const underscoreKeys = new Map<string, string>()
const ENVIRON_KEY_CACHE_LIMIT = 1000
/** Names longer than any real one are not kept (a client could send 16 KiB names): they take the generic copy. */
const NAME_LENGTH_LIMIT = 64

/** `HTTP_*` key of a request header name, or null when the header is dropped or is not an HTTP_ key. */
function environKey (name: string, dropUnderscore: boolean): string | null {
  const key = environKeys.get(name)
  if (key !== undefined) return key
  const underscoreKey = underscoreKeys.get(name)
  if (underscoreKey !== undefined) return dropUnderscore ? null : underscoreKey
  return newEnvironKey(name, dropUnderscore)
}

/** Works out (and caches) the key of a name not seen before. */
function newEnvironKey (name: string, dropUnderscore: boolean): string | null {
  const lower = name.toLowerCase()
  // HTTP/2 pseudo-headers (:path, :authority...) are already in the CGI keys.
  const key = lower === 'content-type' || lower === 'content-length' || lower.charCodeAt(0) === 0x3a
    ? null
    : 'HTTP_' + lower.toUpperCase().replaceAll('-', '_')
  if (key !== null && name.includes('_')) {
    if (underscoreKeys.size < ENVIRON_KEY_CACHE_LIMIT && name.length <= NAME_LENGTH_LIMIT) underscoreKeys.set(name, key)
    // A name with `_` would collide with its `-` twin after the mapping (header spoofing).
    return dropUnderscore ? null : key
  }
  if (environKeys.size < ENVIRON_KEY_CACHE_LIMIT && name.length <= NAME_LENGTH_LIMIT) environKeys.set(name, key)
  return key
}

/** The CGI key of Content-Type or Content-Length (which have no HTTP_ key), else null. */
function cgiKey (name: string): 'CONTENT_TYPE' | 'CONTENT_LENGTH' | null {
  if (name.length === 12 && name.toLowerCase() === 'content-type') return 'CONTENT_TYPE'
  if (name.length === 14 && name.toLowerCase() === 'content-length') return 'CONTENT_LENGTH'
  return null
}

/**
 * With at most this many headers, a repeat is found among the keys seen so
 * far (the cached, so identical, strings), which spares a lookup on the
 * environ per header; a longer list looks each key up in the environ instead.
 */
const SCAN_LIMIT = 16
/** The keys seen so far by copyHeaders, which runs to its end synchronously: one list serves every call. */
const seenKeys: string[] = []

/** The generic copy: any header list, every store with a computed key. */
function copyHeaders (environ: Environ, rawHeaders: string[], dropUnderscore: boolean): void {
  const scan = rawHeaders.length <= SCAN_LIMIT * 2
  let seen = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    const value = rawHeaders[i + 1]
    const key = environKey(name, dropUnderscore)
    if (key === null) {
      const cgi = cgiKey(name)
      if (cgi === 'CONTENT_TYPE' && environ.CONTENT_TYPE !== undefined) throw new FST_WSGI_BAD_REQUEST('more than one Content-Type header')
      if (cgi !== null) environ[cgi] = value
      continue
    }
    let repeated = !scan
    if (scan) {
      for (let j = 0; j < seen && !repeated; j++) repeated = seenKeys[j] === key
      seenKeys[seen++] = key
    }
    const previous = repeated ? environ[key] as string | undefined : undefined
    if (previous === undefined) {
      environ[key] = value
    } else if (key === 'HTTP_HOST') {
      throw new FST_WSGI_BAD_REQUEST('more than one Host header')
    } else {
      environ[key] = previous + (key === 'HTTP_COOKIE' ? '; ' : ',') + value
    }
  }
}

/**
 * The source of the function that stores one sequence of names: per key, in
 * the order of its first header, one statement joining its values; or a
 * throw, for a sequence no request may carry. Keys go in as JSON string
 * literals and values by index, so nothing a client sent becomes code.
 */
function storeSource (names: string[], dropUnderscore: boolean): string {
  const indexes = new Map<string, number[]>()
  for (let i = 0; i < names.length; i++) {
    const key = environKey(names[i], dropUnderscore) ?? cgiKey(names[i])
    if (key === null) continue
    const list = indexes.get(key)
    if (list === undefined) indexes.set(key, [2 * i + 1])
    else list.push(2 * i + 1)
  }
  // Refused as the generic copy refuses it: at the first repeat of a Host or Content-Type header.
  const host = indexes.get('HTTP_HOST')?.[1] ?? Infinity
  const contentType = indexes.get('CONTENT_TYPE')?.[1] ?? Infinity
  if (host !== contentType) return `throw new BadRequest("more than one ${host < contentType ? 'Host' : 'Content-Type'} header")`
  const statements: string[] = []
  for (const [key, list] of indexes) {
    // Node's parser refuses differing Content-Length headers; of equal ones, the last is kept, as the generic copy does.
    const values = key === 'CONTENT_LENGTH' ? [list[list.length - 1]] : list
    const separator = key === 'HTTP_COOKIE' ? '"; "' : '","'
    statements.push(`environ[${JSON.stringify(key)}] = ${values.map((index) => `rawHeaders[${index}]`).join(` + ${separator} + `)}`)
  }
  return statements.join('\n')
}

/** A step in the tree of name sequences seen: the next names, and the store of the sequence ending here. */
interface SequenceNode {
  next: Map<string, SequenceNode>
  store: StoreHeaders | null
  /** The sequence ending here, once its store is compiled. */
  names: string[] | null
}

/** The sequences seen for one value of dropUnderscoreHeaders (which decides which names have keys). */
interface SequenceTree {
  root: SequenceNode
  /** The last sequence found: clients send theirs again and again, and comparing names beats walking the tree. */
  last: SequenceNode | null
}

// Bounds on what clients can make us keep: a client that sends ever new names gets the generic copy.
const NODE_LIMIT = 4096
const STORE_LIMIT = 256
let nodeCount = 0
let storeCount = 0
/** False once code generation failed (--disallow-code-generation-from-strings): every request takes the generic copy. */
let canCompile = true
const trees: SequenceTree[] = [{ root: newNode(), last: null }, { root: newNode(), last: null }]

function newNode (): SequenceNode {
  return { next: new Map(), store: null, names: null }
}

/** Whether a request's header names are this sequence. */
function sameNames (names: string[], rawHeaders: string[]): boolean {
  if (rawHeaders.length !== 2 * names.length) return false
  for (let i = 0; i < names.length; i++) if (names[i] !== rawHeaders[2 * i]) return false
  return true
}

/** Compiles the store of a sequence, or returns null where code cannot be generated. */
function compileStore (names: string[], dropUnderscore: boolean): StoreHeaders | null {
  try {
    // eslint-disable-next-line no-new-func -- the keys are JSON literals (storeSource)
    const make = new Function('BadRequest', `return function storeHeaders (environ, rawHeaders) {\n${storeSource(names, dropUnderscore)}\n}`)
    return make(FST_WSGI_BAD_REQUEST) as StoreHeaders
  } catch {
    canCompile = false
    return null
  }
}

/** The compiled store of this sequence of names, compiling it on first sight; null past the bounds. */
function storeFor (rawHeaders: string[], dropUnderscore: boolean): StoreHeaders | null {
  if (!canCompile) return null
  const tree = trees[dropUnderscore ? 1 : 0]
  const last = tree.last
  if (last !== null && sameNames(last.names as string[], rawHeaders)) return last.store
  let node = tree.root
  for (let i = 0; i < rawHeaders.length; i += 2) {
    let next = node.next.get(rawHeaders[i])
    if (next === undefined) {
      if (nodeCount >= NODE_LIMIT || rawHeaders[i].length > NAME_LENGTH_LIMIT) return null
      nodeCount++
      next = newNode()
      node.next.set(rawHeaders[i], next)
    }
    node = next
  }
  if (node.names === null) {
    if (storeCount >= STORE_LIMIT) return null
    storeCount++
    node.names = []
    for (let i = 0; i < rawHeaders.length; i += 2) node.names.push(rawHeaders[i])
    node.store = compileStore(node.names, dropUnderscore)
  }
  tree.last = node
  return node.store
}

/** Copies the request headers into the environ, as `HTTP_*` keys (docs/environ.md). */
export function addRequestHeaders (environ: Environ, rawHeaders: string[], dropUnderscore: boolean): void {
  const store = storeFor(rawHeaders, dropUnderscore)
  if (store === null) copyHeaders(environ, rawHeaders, dropUnderscore)
  else store(environ, rawHeaders)
}
