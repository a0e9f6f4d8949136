"""python -m tf_cyclegan.bench.demo_load --model PATH [--requests 200] [--threads 8] [--size 256]

A bounded load run of the demo page: the demo served in a process of its own on loopback, `--requests`
translations of one size x size image sent from `--threads` Gradio clients at once. Prints how many were
answered, lost or refused, the latency percentiles and the server's peak RSS (docs/demo.md has the figures).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROG = "python -m tf_cyclegan.bench.demo_load"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"the demo exited with {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return time.perf_counter() - started
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the demo did not answer on {url} within {timeout:.0f} s")


def load(url: str, image: str, requests: int, threads: int) -> tuple[list[float], list[str]]:
    """(latencies of the answered requests in seconds, errors)."""
    import threading

    from gradio_client import Client, handle_file

    local = threading.local()

    def one(_):
        if not hasattr(local, "client"):
            local.client = Client(url, verbose=False)
        started = time.perf_counter()
        out = local.client.predict(handle_file(image), "a2b", api_name="/translate")
        if not os.path.isfile(out[1]):
            raise RuntimeError(f"no translation file in the answer: {out}")
        return time.perf_counter() - started

    latencies, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(one, i) for i in range(requests)]:
            try:
                latencies.append(future.result())
            except Exception as e:  # counted and shown: a lost request is what this run looks for
                errors.append(f"{type(e).__name__}: {e}")
    return latencies, errors


def main(argv=None) -> int:
    import numpy as np
    from PIL import Image

    from tf_cyclegan.bench.workers import vm_hwm_mib
    from tf_cyclegan.data.seasons import render_scene

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="demo_load_")
    image = os.path.join(work, "scene.png")
    Image.fromarray(render_scene(3, "summer", args.size)).save(image)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "tf_cyclegan.demo", "--model", args.model, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        up = wait_until_up(url, server)
        started = time.perf_counter()
        latencies, errors = load(url, image, args.requests, args.threads)
        wall = time.perf_counter() - started
        peak = vm_hwm_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    p50, p95, p99 = (np.percentile(latencies, q) if latencies else float("nan") for q in (50, 95, 99))
    print(f"demo up in {up:.1f} s; {args.requests} requests of {args.size}x{args.size} from {args.threads} threads "
          f"in {wall:.1f} s ({len(latencies) / wall:.2f} answered/s)")
    print(f"answered {len(latencies)}, lost {len(errors)}; latency p50 {p50:.2f} s, p95 {p95:.2f} s, "
          f"p99 {p99:.2f} s, max {max(latencies, default=float('nan')):.2f} s; server peak RSS {peak} MiB")
    for error in sorted(set(errors))[:5]:
        print("  error:", error)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
