/**
 * The floor Deno's QUIC sets under the L2 tunnel: two bare Deno processes exchanging QUIC
 * datagrams, with nothing of netkit between them. bench/l2 runs them over the same WAN
 * namespaces as the tunnel, in the same run, to tell what the tunnel adds from what the
 * transport costs: the round trip of one datagram echoed (the tunnel's round trip crosses two),
 * and the CPU time to send and to receive one 1000-byte datagram at a given rate (the tunnel
 * sends and receives two per frame: client → relay → gateway).
 *
 * `deno run --unstable-net -A bench/quic_floor.ts serve PORT CERT KEY` answers one connection
 * and prints its counts as JSON when the peer closes; `... drive HOST PORT SERVER_NAME PIN RATE
 * SECONDS PINGS` measures and prints its report as JSON.
 *
 * @module
 */

import { delay } from "../lib/async.ts";
import { certificateHash } from "../lib/l2/certs.ts";
import { pinnedConnectOptions } from "../lib/l2/relay_session.ts";
import { cpuMs, median } from "./_shared.ts";

const ALPN = "netkit-floor";
const ECHO = 1;
const SINK = 2;

/** What the sending side measured. */
export interface FloorDrive {
  /** Median echo round trip (ms) per datagram size, one echo every 10 ms. */
  rttMs: Record<string, number>;
  sent: number;
  /** CPU time of the sending process per datagram sent (µs). */
  sendCpuUs: number;
}

/** What the receiving side counted. */
export interface FloorServe {
  received: number;
  /** CPU time of the receiving process per datagram received (µs). */
  receiveCpuUs: number;
}

async function serve(port: number, certFile: string, keyFile: string): Promise<FloorServe> {
  const endpoint = new Deno.QuicEndpoint({ hostname: "0.0.0.0", port });
  const listener = endpoint.listen({
    alpnProtocols: [ALPN],
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  });
  const conn = await listener.accept();
  let received = 0;
  let cpuStart = 0;
  try {
    while (true) {
      const datagram = await conn.readDatagram();
      if (datagram[0] === ECHO) {
        await conn.sendDatagram(datagram);
        continue;
      }
      if (received++ === 0) cpuStart = cpuMs();
    }
  } catch {
    // the driver closed
  }
  const cpu = cpuMs() - cpuStart;
  endpoint.close();
  return { received, receiveCpuUs: received === 0 ? NaN : (cpu * 1000) / received };
}

async function drive(
  hostname: string,
  port: number,
  serverName: string,
  pinFile: string,
  rate: number,
  seconds: number,
  pings: number,
): Promise<FloorDrive> {
  const pin = await Deno.readTextFile(pinFile);
  // The relay's pinning, with this benchmark's own ALPN.
  const conn = await Deno.connectQuic({
    ...pinnedConnectOptions({ hostname, port, serverName, pin }, await certificateHash(pin)),
    alpnProtocols: [ALPN],
  });
  const rttMs: Record<string, number> = {};
  for (const size of [64, 1000]) {
    const datagram = new Uint8Array(size);
    datagram[0] = ECHO;
    const times: number[] = [];
    for (let i = 0; i < pings; i++) {
      const start = performance.now();
      await conn.sendDatagram(datagram);
      await conn.readDatagram();
      times.push(performance.now() - start);
      await delay(10);
    }
    // The first ones compile the path; a short run (--pings 5) keeps them rather than nothing.
    rttMs[size] = median(times.length > 5 ? times.slice(5) : times);
  }
  // Paced like the tunnel's sender: what is due every millisecond, at most 256 in flight.
  const datagram = new Uint8Array(1000);
  datagram[0] = SINK;
  const total = Math.round(rate * seconds);
  let sent = 0;
  let inFlight = 0;
  const cpuStart = cpuMs();
  const start = performance.now();
  for (let offered = 0; offered < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; offered < due; offered++) {
      if (inFlight >= 256) continue;
      inFlight++;
      sent++;
      conn.sendDatagram(datagram).then(() => inFlight--, () => inFlight--);
    }
    await delay(1);
  }
  while (inFlight > 0) await delay(1);
  const cpu = cpuMs() - cpuStart;
  await delay(200); // let the last ones arrive
  conn.close({ closeCode: 0, reason: "done" });
  return { rttMs, sent, sendCpuUs: (cpu * 1000) / Math.max(1, sent) };
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  const report = mode === "serve" ? await serve(Number(args[0]), args[1]!, args[2]!) : await drive(
    args[0]!,
    Number(args[1]),
    args[2]!,
    args[3]!,
    Number(args[4]),
    Number(args[5]),
    Number(args[6]),
  );
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report) + "\n"));
}
