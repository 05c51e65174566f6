/**
 * The LSoE timers and their defaults: lsoed's `[lsoed]` options of the same names (seconds
 * there, milliseconds here).
 *
 * @module
 */

/** The session engine's timers, in milliseconds. */
export interface LsoeTimers {
  /** `hello-interval`: between HELLOs on each interface. */
  helloIntervalMs: number;
  /** `keepalive-send-interval`: between KEEPALIVEs on each open session. */
  keepaliveSendIntervalMs: number;
  /** `keepalive-receive-timeout`: silence after which a session closes; 0: never. */
  keepaliveReceiveTimeoutMs: number;
  /** `retransmit-initial-interval`: before the first retransmission. */
  retransmitInitialIntervalMs: number;
  /** `retransmit-exponential-backoff`: the interval doubles each time. */
  retransmitExponentialBackoff: boolean;
  /** `retransmit-max-drop`: retransmission timeouts before the session closes. */
  retransmitMaxDrop: number;
}

/** lsoed's defaults. */
export const DEFAULT_TIMERS: Readonly<LsoeTimers> = Object.freeze({
  helloIntervalMs: 60_000,
  keepaliveSendIntervalMs: 1_000,
  keepaliveReceiveTimeoutMs: 60_000,
  retransmitInitialIntervalMs: 1_000,
  retransmitExponentialBackoff: true,
  retransmitMaxDrop: 3,
});

/** `reassembly-timeout`: how long a partial multi-datagram PDU is kept (ms). */
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 1_000;
/** `mac-address-cache-timeout`: how long a MAC stays bound to its interface (ms). */
export const DEFAULT_MAC_CACHE_TIMEOUT_MS = 300_000;
