/**
 * The DHCPv6 server of `netkit vnet` (RFC 8415), one per daemon, serving each NIC's guest the
 * NIC's one IPv6 address (the dataplane hands it only frames from the NIC's guest MAC).
 *
 * - Solicit → Advertise (preference 255: the client need not wait for others), or Reply when the
 *   NIC has `--rapid-commit` and the Solicit asks for it (option 14).
 * - Request, Renew, Rebind → Reply with every IA_NA asked for: the IAID echoed, T1/T2 and an
 *   IAADDR with the lease's lifetimes ({@linkcode LEASE_TIMES_S}); an address the client holds
 *   that is not the NIC's is returned with lifetimes 0. IA_PD gets NoPrefixAvail.
 * - Confirm → Reply Success when every address is on the NIC's link, else NotOnLink (no
 *   addresses: no reply, §18.3.3).
 * - Release, Decline → Reply Success, and a `release` or `decline` event.
 * - Information-request → Reply with the DNS servers and no IA.
 * - A NIC without IPv6: NoAddrsAvail (in the Advertise, and in each IA_NA of a Reply).
 *
 * Server identifier checks as §16 requires: Solicit, Confirm and Rebind carrying one, Request,
 * Renew, Release and Decline not carrying ours, an Information-request carrying someone else's
 * (§16.12), and any message without a client identifier (Information-request excepted) are
 * dropped. Only messages to ff02::1:2 are served: Solicit, Confirm, Rebind and
 * Information-request sent unicast are dropped (§16), the others answered with UseMulticast
 * (§18.3.1). The server DUID is DUID-LL of the gateway MAC; every reply goes from the gateway's
 * MAC and fe80::1 (the one link-local source), port 547, to the client's address, MAC and port
 * 546. DNS (option 23) is in every reply when IPv6 DNS servers are configured.
 *
 * Events: `lease` (address given by Reply), `release`, `decline`.
 *
 * @module
 */

import {
  type Dhcpv6IaOption,
  Dhcpv6MessageType as T,
  type Dhcpv6Option,
  Dhcpv6StatusCode,
} from "../../packet/dhcpv6.ts";
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
  decodeDhcpv6Frame,
  DHCPV6_SERVER_PORT,
  encodeDhcpv6Frame,
} from "../../packet/dhcpv6_frame.ts";
import { generateDuidLl } from "../../packet/duid.ts";
import { isMalformed } from "../../packet/errors.ts";
import { formatIpv6, isIpv6Multicast, isIpv6Unspecified } from "../../packet/ipv6.ts";
import { formatMac } from "../../packet/mac.ts";
import { findOfKind } from "../../packet/tagged.ts";
import { type NicConfig, samePrefix } from "../config.ts";
import type { Responder, ResponderContext } from "../dataplane.ts";
import { bytesEqual } from "../../packet/bytes.ts";

/** The lease: preferred and valid lifetimes of the address, T1 and T2 (s). */
export const LEASE_TIMES_S = {
  preferred: 86_400,
  valid: 172_800,
  t1: 43_200,
  t2: 69_120,
} as const;

/** Why a message handed to the DHCPv6 server was not answered. */
export type Dhcpv6DropReason =
  | "malformed"
  | "not_client_message"
  | "unicast"
  | "no_client_id"
  | "server_id"
  | "no_addresses";

const NAMES: Record<number, string> = {
  [T.SOLICIT]: "solicit",
  [T.REQUEST]: "request",
  [T.CONFIRM]: "confirm",
  [T.RENEW]: "renew",
  [T.REBIND]: "rebind",
  [T.RELEASE]: "release",
  [T.DECLINE]: "decline",
  [T.INFORMATION_REQUEST]: "information_request",
};

function status(code: number, message: string): Dhcpv6Option {
  return { kind: "status_code", status: code, message };
}

/** The DHCPv6 server for kind `"dhcp6"` (see the module doc). */
export class Dhcpv6Responder implements Responder {
  /** Messages not answered, by reason (all NICs). */
  readonly drops: Record<Dhcpv6DropReason, number> = {
    malformed: 0,
    not_client_message: 0,
    unicast: 0,
    no_client_id: 0,
    server_id: 0,
    no_addresses: 0,
  };

  #drop(reason: Dhcpv6DropReason): readonly Uint8Array[] {
    this.drops[reason]++;
    return [];
  }

  /** The reply to the guest's DHCPv6 message, or none (see the module doc). */
  handle(
    nic: NicConfig,
    frame: Uint8Array,
    _now: number,
    context: ResponderContext,
  ): readonly Uint8Array[] {
    const decoded = decodeDhcpv6Frame(frame);
    if (isMalformed(decoded)) return this.#drop("malformed");
    const { ip, udp, dhcpv6: message } = decoded;
    const type = message.messageType;
    if (
      message.kind !== "client_server" || NAMES[type] === undefined ||
      udp.dstPort !== DHCPV6_SERVER_PORT || isIpv6Unspecified(ip.src) || isIpv6Multicast(ip.src)
    ) return this.#drop("not_client_message");
    const options = message.options;
    const clientId = findOfKind(options, "client_id");
    const serverId = findOfKind(options, "server_id");
    const ours = generateDuidLl(nic.gatewayMac);
    const oursNamed = serverId !== undefined && bytesEqual(serverId.duid, ours);
    if (clientId === undefined && type !== T.INFORMATION_REQUEST) {
      return this.#drop("no_client_id");
    }
    // RFC 8415 §16: who must, and who must not, name a server.
    const mustName = type === T.REQUEST || type === T.RENEW || type === T.RELEASE ||
      type === T.DECLINE;
    if (
      mustName
        ? !oursNamed
        : serverId !== undefined && !(type === T.INFORMATION_REQUEST && oursNamed)
    ) {
      return this.#drop("server_id");
    }
    if (
      type === T.INFORMATION_REQUEST &&
      options.some((o) => o.kind === "ia_na" || o.kind === "ia_pd")
    ) {
      return this.#drop("not_client_message");
    }
    const reply = (messageType: number, body: Dhcpv6Option[]): Uint8Array[] => [
      encodeDhcpv6Frame({
        srcMac: nic.gatewayMac,
        dstMac: frame.subarray(6, 12),
        src: nic.gateway6LinkLocal,
        dst: ip.src,
        message: {
          kind: "client_server",
          messageType,
          transactionId: message.transactionId,
          options: [
            { kind: "server_id", duid: ours },
            ...(clientId === undefined ? [] : [clientId]),
            ...body,
          ],
        },
      }),
    ];
    if (!bytesEqual(ip.dst, ALL_DHCP_RELAY_AGENTS_AND_SERVERS)) {
      // §18.3.1: we never sent a Server Unicast option.
      if (!mustName) return this.#drop("unicast");
      return reply(T.REPLY, [status(Dhcpv6StatusCode.USE_MULTICAST, "use ff02::1:2")]);
    }
    const dns: Dhcpv6Option[] = nic.dns6.length === 0
      ? []
      : [{ kind: "dns_servers", servers: nic.dns6 }];
    const event = (name: "lease" | "release" | "decline", fields: Record<string, unknown>) =>
      context.emit({
        event: name,
        nic: nic.name,
        family: "ipv6",
        mac: formatMac(frame, 6),
        message: NAMES[type],
        ...fields,
      });

    switch (type) {
      case T.SOLICIT: {
        const rapid = nic.rapidCommit && findOfKind(options, "rapid_commit") !== undefined;
        if (nic.ipv6 === null && !rapid) {
          return reply(T.ADVERTISE, [
            status(Dhcpv6StatusCode.NO_ADDRS_AVAIL, "no IPv6 address for this NIC"),
            ...dns,
          ]);
        }
        const ias = this.#bindings(nic, options, T.REQUEST);
        if (rapid) {
          this.#leased(nic, event);
          return reply(T.REPLY, [{ kind: "rapid_commit" }, ...ias, ...dns]);
        }
        return reply(T.ADVERTISE, [{ kind: "preference", preference: 255 }, ...ias, ...dns]);
      }
      case T.REQUEST:
      case T.RENEW:
      case T.REBIND: {
        const ias = this.#bindings(nic, options, type);
        this.#leased(nic, event);
        return reply(T.REPLY, [...ias, status(Dhcpv6StatusCode.SUCCESS, ""), ...dns]);
      }
      case T.CONFIRM: {
        const addresses = iaAddresses(options);
        if (addresses.length === 0) return this.#drop("no_addresses");
        const onLink = nic.ipv6 !== null &&
          addresses.every((a) => samePrefix(a, nic.ipv6!.address, nic.ipv6!.prefixLength));
        return reply(T.REPLY, [
          onLink
            ? status(Dhcpv6StatusCode.SUCCESS, "")
            : status(Dhcpv6StatusCode.NOT_ON_LINK, "not this link's addresses"),
        ]);
      }
      case T.RELEASE:
      case T.DECLINE: {
        event(type === T.RELEASE ? "release" : "decline", {
          addresses: iaAddresses(options).map((a) => formatIpv6(a)),
        });
        return reply(T.REPLY, [status(Dhcpv6StatusCode.SUCCESS, "")]);
      }
      default: // Information-request
        return reply(T.REPLY, dns);
    }
  }

  #leased(
    nic: NicConfig,
    event: (name: "lease", fields: Record<string, unknown>) => void,
  ): void {
    if (nic.ipv6 === null) return;
    event("lease", {
      address: formatIpv6(nic.ipv6.address),
      preferred_lifetime: LEASE_TIMES_S.preferred,
      valid_lifetime: LEASE_TIMES_S.valid,
    });
  }

  /** The IAs of a Reply (or Advertise) to `options`: IA_NA bound, IA_PD refused. */
  #bindings(nic: NicConfig, options: readonly Dhcpv6Option[], type: number): Dhcpv6Option[] {
    const out: Dhcpv6Option[] = [];
    for (const ia of options) {
      if (ia.kind === "ia_pd") {
        out.push({
          kind: "ia_pd",
          iaid: ia.iaid,
          t1: 0,
          t2: 0,
          options: [status(Dhcpv6StatusCode.NO_PREFIX_AVAIL, "no prefixes delegated")],
        });
      }
      if (ia.kind !== "ia_na") continue;
      out.push(nic.ipv6 === null ? refusedIa(ia, type) : boundIa(ia, nic.ipv6.address));
    }
    return out;
  }
}

/** The addresses in the IA_NAs of `options`. */
function iaAddresses(options: readonly Dhcpv6Option[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const ia of options) {
    if (ia.kind !== "ia_na") continue;
    for (const o of ia.options) if (o.kind === "iaaddr") out.push(o.address);
  }
  return out;
}

/** `ia` bound to `address`; addresses the client held that are not it, with lifetimes 0. */
function boundIa(ia: Dhcpv6IaOption, address: Uint8Array): Dhcpv6Option {
  const stale: Dhcpv6Option[] = [];
  for (const o of ia.options) {
    if (o.kind === "iaaddr" && !bytesEqual(o.address, address)) {
      stale.push({
        kind: "iaaddr",
        address: o.address,
        preferredLifetime: 0,
        validLifetime: 0,
        options: [],
      });
    }
  }
  return {
    kind: "ia_na",
    iaid: ia.iaid,
    t1: LEASE_TIMES_S.t1,
    t2: LEASE_TIMES_S.t2,
    options: [
      {
        kind: "iaaddr",
        address,
        preferredLifetime: LEASE_TIMES_S.preferred,
        validLifetime: LEASE_TIMES_S.valid,
        options: [],
      },
      ...stale,
    ],
  };
}

/** `ia` refused: NoAddrsAvail for a new binding, NoBinding for one being renewed. */
function refusedIa(ia: Dhcpv6IaOption, type: number): Dhcpv6Option {
  const renewing = type === T.RENEW || type === T.REBIND;
  return {
    kind: "ia_na",
    iaid: ia.iaid,
    t1: 0,
    t2: 0,
    options: [
      renewing
        ? status(Dhcpv6StatusCode.NO_BINDING, "no binding for this IA")
        : status(Dhcpv6StatusCode.NO_ADDRS_AVAIL, "no IPv6 address for this NIC"),
    ],
  };
}
