/**
 * Ids of the wire formats (alliance, member, origin, kid, batch fields): 1 to 128 ASCII letters,
 * digits, `.`, `_`, `:` or `-`.
 */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
