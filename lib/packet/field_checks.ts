/**
 * The checks encoders make of the fields they are given: a `RangeError` naming the field, since
 * a value that does not fit is the caller's mistake, not a stranger's bytes.
 *
 * @module
 */

import { IPV6_ADDRESS_LEN } from "./ipv6.ts";

/** Throws a `RangeError` unless `value` is an integer from 0 to `max`. */
export function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to ${max}`);
  }
}

/** Throws a `RangeError` unless `address` is 16 bytes long. */
export function checkIpv6Length(address: Uint8Array, what: string): void {
  if (address.length !== IPV6_ADDRESS_LEN) {
    throw new RangeError(`Invalid ${what}: expected 16 bytes, got ${address.length}`);
  }
}
