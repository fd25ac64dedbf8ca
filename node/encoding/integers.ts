/**
 * The largest integer any message of the wire may carry (schema/wire.md): 2^53 - 1, the largest every
 * JSON parser that reads numbers as doubles keeps exact. Every number a peer sends is checked against
 * it, or a tighter bound of its own, before it is used; the API shows such numbers as `SafeInt`, whose
 * range this is (GraphQL's `Int` stops at 2^31 - 1).
 */
export const MAX_WIRE_INTEGER = Number.MAX_SAFE_INTEGER;
