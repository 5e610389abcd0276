"""What a store read costs beside busy threads, by the interpreter's switch interval.

Every LMDB call lets go of the interpreter lock; taking it back waits until the thread that
holds it switches, which a busy thread does once per switch interval. So a loop of reads
beside busy threads runs at one read per interval, not at LMDB's speed. The daemon sets a
shorter interval (cli.serve.SWITCH_INTERVAL_S); this measures why, and what the busy
threads lose by it (their own work per second, beside the reads).

    python bench/bench_gil.py [--reads 20000] [--busy 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time

import lmdb


def spin(stop: threading.Event, done: list[int], slot: int) -> None:
    """A busy thread: pure Python, counting its rounds of work."""
    while not stop.is_set():
        sum(range(1000))
        done[slot] += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--busy", type=int, default=2, help="busy Python threads beside")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = lmdb.open(tmp, map_size=1 << 30)
        keys = [i.to_bytes(8, "big") for i in range(args.reads)]
        with env.begin(write=True) as txn:
            for key in keys:
                txn.put(key, b"x" * 40)

        def reads() -> float:
            start = time.perf_counter()
            with env.begin() as txn:
                for key in keys:
                    txn.get(key)
            return time.perf_counter() - start

        print(f"{args.reads:,} LMDB reads in one transaction; busy threads: {args.busy}\n")
        print("| switch interval | reads alone ms | reads beside busy threads ms | "
              "busy threads' work per s |")
        print("|---:|---:|---:|---:|")
        for interval in (0.005, 0.001, 0.0005, 0.0002):
            sys.setswitchinterval(interval)
            alone = reads()
            stop = threading.Event()
            done = [0] * args.busy
            spinners = [threading.Thread(target=spin, args=(stop, done, i))
                        for i in range(args.busy)]
            for spinner in spinners:
                spinner.start()
            beside = reads()
            stop.set()
            for spinner in spinners:
                spinner.join()
            print(f"| {interval * 1000:g} ms | {alone * 1000:.0f} | {beside * 1000:,.0f} | "
                  f"{sum(done) / beside:,.0f} |")
        env.close()


if __name__ == "__main__":
    main()
