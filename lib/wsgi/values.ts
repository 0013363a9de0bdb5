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
