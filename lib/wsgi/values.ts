// Small facts about the values an app hands over, shared by the handler, the validator and option checks.

/** A short description of any value for error messages. */
export function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `[${value.map(describeValue).join(', ')}]`
  switch (typeof value) {
    case 'string': return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value)
    case 'object': return `object ${value.constructor?.name ?? 'Object'}`
    case 'function': return `function ${value.name || '(anonymous)'}`
    case 'undefined': return 'undefined'
    default: return `${typeof value} ${String(value)}`
  }
}

/** A Promise or any object with a then() method: what the handler and the validator wait for. */
export function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

// RFC 9110 token characters: what a header name may consist of.
const TOKEN = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1
}

export function isToken (text: string): boolean {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 127 || TOKEN[code] === 0) return false
  }
  return true
}
