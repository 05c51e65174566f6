/**
 * Receive throughput of netkit's packet socket against the classic C loop (one recvfrom(2) per
 * frame), measured in the same process on the same queued traffic.
 *
 * Each round queues N frames on a veth end in a lab namespace, then one method drains the
 * socket's queue and is timed: the C loop (bench/recv_loop.c, the baseline), netkit's
 * per-frame `receive()`, and netkit's batched `receiveBatch()` (recvmmsg, 64 frames per FFI
 * call, slots in a huge page arena). Methods take turns; the median of the rounds is printed
 * with its ratio to the baseline.
 *
 * Run as root: `make bench`, or `deno run -P=test bench/packet_io.ts [--frames N] [--rounds R]
 * [--hugepages] [--json]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../lib/async.ts";
import { NamespaceLab } from "../lib/lab/namespace_lab.ts";
import { BufferArena } from "../lib/net/buffer_arena.ts";
import { FrameBatch } from "../lib/net/frame_batch.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket } from "../lib/net/packet_socket.ts";
import { encodeEthernet } from "../lib/packet/mod.ts";
import { median, runBenchmark, table } from "./_shared.ts";

/** One method's result. */
export interface MethodResult {
  method: string;
  framesPerSecond: number;
  nsPerFrame: number;
  /** Throughput relative to the C recvfrom loop. */
  ratio: number;
}

/** The whole benchmark report. */
export interface PacketIoReport {
  frames: number;
  rounds: number;
  frameBytes: number;
  arenaBacking: string;
  kernel: string;
  cpus: number;
  results: MethodResult[];
}

const ETHERTYPE = 0x88b5;
const BATCH = 64;

/** Runs the benchmark and returns the report. Requires root. */
export async function benchPacketIo(
  options: { frames: number; rounds: number; hugepages: boolean },
): Promise<PacketIoReport> {
  const benchLib = Deno.dlopen(new URL("../build/libnetkit_bench.so", import.meta.url), {
    nkb_recv_loop: { parameters: ["i32", "buffer", "u32", "u32", "buffer"], result: "i32" },
  });
  const nrHugepages = "/proc/sys/vm/nr_hugepages";
  // The sysctl is global: it is read and restored only when this run changes it.
  const savedHugepages = options.hugepages ? (await Deno.readTextFile(nrHugepages)).trim() : null;
  using lab = new NamespaceLab();
  try {
    if (options.hugepages) await Deno.writeTextFile(nrHugepages, "2\n");
    const [a, b] = lab.veth({ netns: lab.netns("tx"), name: "b0" }, {
      netns: lab.netns("rx"),
      name: "b1",
    });
    using tx = runInNetns(
      a.netns,
      () => PacketSocket.open({ interface: a.name, etherType: ETHERTYPE }),
    );
    using rx = runInNetns(
      b.netns,
      () =>
        PacketSocket.open({
          interface: b.name,
          etherType: ETHERTYPE,
          rcvbuf: 512 << 20,
          maxFrame: 2044,
        }),
    );
    using arena = BufferArena.map(2 << 20);
    const sendBatch = new FrameBatch({ slots: BATCH, slotSize: 128 });
    const recvBatch = new FrameBatch({ slots: BATCH, slotSize: 2048, arena });
    const frame = encodeEthernet({
      dst: b.mac,
      src: a.mac,
      etherType: ETHERTYPE,
      payload: new Uint8Array(46),
    });
    for (let i = 0; i < BATCH; i++) sendBatch.setFrame(i, frame);
    const scratch = new Uint8Array(2048);
    const bytesOut = new BigUint64Array(1);

    const fill = async () => {
      for (let sent = 0; sent < options.frames;) {
        const n = tx.sendBatch(sendBatch, Math.min(BATCH, options.frames - sent));
        sent += n;
        if (n === 0) await delay(1);
      }
      // Let the receive side's softirq finish queueing before the clock starts.
      await delay(30);
    };
    const methods: [string, () => number][] = [
      ["C recvfrom loop (baseline)", () => {
        const n = benchLib.symbols.nkb_recv_loop(
          rx.fd,
          scratch,
          scratch.length,
          0x7fffffff,
          bytesOut,
        );
        if (n < 0) throw new Error(`recvfrom loop failed: ${-n}`);
        return n;
      }],
      ["netkit receive(), per frame", () => {
        let n = 0;
        while (rx.receive() !== null) n++;
        return n;
      }],
      [`netkit receiveBatch(), ${BATCH}/call, ${arena.backing} arena`, () => {
        let n = 0;
        let bytes = 0;
        for (let got = rx.receiveBatch(recvBatch); got > 0; got = rx.receiveBatch(recvBatch)) {
          for (let i = 0; i < got; i++) bytes += recvBatch.length(i);
          n += got;
        }
        return bytes > 0 ? n : 0;
      }],
    ];
    const rates = methods.map(() => [] as number[]);
    for (let round = 0; round < options.rounds; round++) {
      for (let k = 0; k < methods.length; k++) {
        const m = (k + round) % methods.length; // take turns so no method always goes first
        await fill();
        const start = performance.now();
        const received = methods[m]![1]();
        const seconds = (performance.now() - start) / 1000;
        if (received < options.frames * 0.9) {
          throw new Error(`${methods[m]![0]} drained only ${received} of ${options.frames} frames`);
        }
        rates[m]!.push(received / seconds);
      }
    }
    const baseline = median(rates[0]!);
    return {
      frames: options.frames,
      rounds: options.rounds,
      frameBytes: frame.length,
      arenaBacking: arena.backing,
      kernel: Deno.osRelease(),
      cpus: navigator.hardwareConcurrency,
      results: methods.map(([method], m) => {
        const rate = median(rates[m]!);
        return {
          method,
          framesPerSecond: Math.round(rate),
          nsPerFrame: Math.round(1e9 / rate),
          ratio: rate / baseline,
        };
      }),
    };
  } finally {
    if (savedHugepages !== null) await Deno.writeTextFile(nrHugepages, `${savedHugepages}\n`);
    benchLib.close();
  }
}

/** The report as the table the README quotes. */
export function formatPacketIoReport(report: PacketIoReport): string {
  const rows = report.results.map((r) => [
    r.method,
    r.framesPerSecond.toLocaleString("en-US"),
    String(r.nsPerFrame),
    `${r.ratio.toFixed(2)}x`,
  ]);
  return [
    `packet_io: drain ${report.frames} queued ${report.frameBytes}-byte frames from a veth, median of ${report.rounds}`,
    `kernel ${report.kernel}, ${report.cpus} CPUs`,
    ...table(["method", "frames/s", "ns/frame", "vs C loop"], rows),
  ].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      frames: { type: "string", default: "100000" },
      rounds: { type: "string", default: "5" },
      hugepages: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "packet_io",
    values.json,
    () =>
      benchPacketIo({
        frames: Number(values.frames),
        rounds: Number(values.rounds),
        hugepages: values.hugepages,
      }),
    formatPacketIoReport,
  );
}
