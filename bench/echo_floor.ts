/**
 * The least a Deno process can take to pass one datagram on: a bare echo server, over plain UDP
 * or over Deno's QUIC, with nothing of netkit in it. bench/l2_peers.ts runs the server in the
 * relay's namespace and the driver in a client's, one echo every 10 ms as its pings, and times
 * the server's turnaround from tshark's kernel timestamps: what one traversal of an idle Deno
 * process costs, against which each hop of the tunnel is read.
 *
 * `deno run -A --unstable-net bench/echo_floor.ts serve udp PORT` or `... serve quic PORT CERT
 * KEY` echoes until killed; `... drive udp HOST PORT COUNT` or `... drive quic HOST PORT
 * SERVER_NAME PIN COUNT` sends COUNT datagrams of {@linkcode ECHO_BYTES} bytes, each after the
 * last one came back and 10 ms passed, and prints `{ "rttMs": [...] }`.
 *
 * @module
 */

import { certificateHash } from "../lib/l2/certs.ts";
import { pinnedConnectOptions } from "../lib/l2/relay_session.ts";
import { delay } from "../lib/async.ts";

const ALPN = "netkit-echo";
/** The size of the tunnel's datagram for a 98-byte ping frame. */
export const ECHO_BYTES = 135;
const INTERVAL_MS = 10;

async function serveUdp(port: number): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
  for await (const [data, from] of socket) await socket.send(data, from);
}

async function serveQuic(port: number, certFile: string, keyFile: string): Promise<void> {
  const endpoint = new Deno.QuicEndpoint({ hostname: "0.0.0.0", port });
  const listener = endpoint.listen({
    alpnProtocols: [ALPN],
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  });
  for await (const incoming of listener) {
    (async () => {
      const conn = await incoming.accept();
      try {
        while (true) await conn.sendDatagram(await conn.readDatagram());
      } catch {
        // the driver closed
      }
    })();
  }
}

/** Times `count` echoes of `once` (which sends one datagram and resolves on its echo). */
async function drive(count: number, once: (datagram: Uint8Array) => Promise<void>) {
  const datagram = new Uint8Array(ECHO_BYTES);
  const rttMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await once(datagram);
    rttMs.push(performance.now() - start);
    await delay(INTERVAL_MS);
  }
  return { rttMs };
}

if (import.meta.main) {
  const [mode, transport, ...args] = Deno.args;
  if (mode === "serve") {
    if (transport === "udp") await serveUdp(Number(args[0]));
    else await serveQuic(Number(args[0]), args[1]!, args[2]!);
  } else {
    let report;
    if (transport === "udp") {
      const socket = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
      const to = { transport: "udp" as const, hostname: args[0]!, port: Number(args[1]) };
      report = await drive(Number(args[2]), async (datagram) => {
        await socket.send(datagram, to);
        await socket.receive();
      });
      socket.close();
    } else {
      const [hostname, port, serverName, pinFile, count] = args;
      const pin = await Deno.readTextFile(pinFile!);
      const relay = { hostname: hostname!, port: Number(port), serverName: serverName!, pin };
      const conn = await Deno.connectQuic({
        ...pinnedConnectOptions(relay, await certificateHash(pin)),
        alpnProtocols: [ALPN],
      });
      report = await drive(Number(count), async (datagram) => {
        await conn.sendDatagram(datagram);
        await conn.readDatagram();
      });
      conn.close({ closeCode: 0, reason: "done" });
    }
    Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report) + "\n"));
  }
}
