"""Speed-up of Dask against one process, and the memory of each worker over time.

Usage::

    .venv/bin/python benchmarks/bench_cluster.py [--files 40] [--file-seconds 10]
                                                 [--workers 2] [--chunk-seconds 60]
                                                 [--states 20] [--components 10]
                                                 [--iterations 2] [--json OUT.json]

Two jobs, each run in this process (one thread of BLAS, as one worker has) and on a
LocalCluster of ``--workers`` single-threaded worker processes:

- batch separation of ``--files`` real mixtures of ``--file-seconds`` each (cut from the
  corpus mixtures, in turns) with the default voice preset, online, into a fresh folder;
- N-HMM training (``--states`` x ``--components``) on the corpus speech (every reader's
  ``train.wav``, about 9 minutes) in chunks of ``--chunk-seconds``: the time of each EM
  iteration (a map over the chunks, a tree sum and the M-step), and from it the cost per
  hour of audio;
- on the cluster only, the tree sum alone: 16, 64 and 256 statistics of one chunk's size
  made on the workers, with and without summing them.

While the cluster runs, every worker's resident memory is read twice a second; the table
shows it per worker at the start, the middle and the end of each job, and its maximum.
CPU seconds (this process plus every worker) are reported beside the wall-clock times: on a
machine shared with other work the wall-clock speed-up depends on what else runs, the CPU
seconds show what the cluster adds (scheduling, transfers, the tree sum).
The corpus is ``$LIVESEP_CORPUS`` (built by scripts/build_corpus.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from livesep import audio
from livesep.cli.separate import separate_job
from livesep.models.corpus.chunks import train_files
from livesep.models.corpus.em import local_map_sum
from livesep.models.corpus.fits import NhmmStatistics
from livesep.presets.shipped import DEFAULT_PRESET, resolve_preset
from livesep.scale import ClusterSettings, batch_items, dask_client, map_sum, run_batch


def resident_mib() -> float:
    """This process's resident memory in MiB (read on a worker)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def memory_samples(client: Any, every: float = 0.5) -> Iterator[list[tuple[float, dict]]]:
    """(seconds since start, {worker: MiB}) twice a second while the block runs."""
    samples: list[tuple[float, dict]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            try:
                samples.append((time.perf_counter() - started, client.run(resident_mib)))
            except Exception:  # a worker restarting between samples; the next one counts
                pass
            stop.wait(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def memory_summary(samples: list[tuple[float, dict]]) -> dict[str, list[float]]:
    """Per worker: MiB at the start, middle and end, and the maximum."""
    workers = sorted({w for _, reading in samples for w in reading})
    summary = {}
    for index, worker in enumerate(workers):
        series = [reading[worker] for _, reading in samples if worker in reading]
        summary[f"worker {index}"] = [round(series[0]), round(series[len(series) // 2]),
                                      round(series[-1]), round(max(series))]
    return summary


def memory_series(samples: list[tuple[float, dict]], points: int = 12) -> list[list[float]]:
    """About ``points`` rows of [seconds, MiB of worker 0, MiB of worker 1, ...]."""
    workers = sorted({w for _, reading in samples for w in reading})
    step = max(1, len(samples) // points)
    return [[round(t, 1), *(round(reading.get(w, float("nan"))) for w in workers)]
            for t, reading in samples[::step]]


def make_inputs(corpus: Path, folder: Path, *, files: int, seconds: float) -> Path:
    mixtures = sorted((corpus / "mixtures").glob("*/mix.wav"))
    for index in range(files):
        y, sr = audio.load(mixtures[index % len(mixtures)], sr=16000)
        y = np.tile(y, int(np.ceil(seconds * sr / y.size)))[:int(seconds * sr)]
        audio.write(folder / f"{index:03d}.wav", y, sr=sr)
    return folder


def timed_map_sum(run: Callable[..., Any], log: list[tuple[float, float]]
                  ) -> Callable[..., Any]:
    """``run`` that appends the wall-clock and CPU seconds (of this process) of every call
    to ``log``."""
    def timed(function: Callable[..., Any], items: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        result = run(function, items)
        log.append((time.perf_counter() - started, time.process_time() - cpu))
        return result

    return timed


def cpu_seconds(client: Any | None) -> dict[str, float]:
    """CPU seconds used so far by this process (the client, and the scheduler of the local
    cluster) and by each worker process."""
    workers = {} if client is None else client.run(time.process_time)
    return {"client": time.process_time(),
            **{f"worker {i}": workers[w] for i, w in enumerate(sorted(workers))}}


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two readings, per process, and their total."""
    spent = {name: round(after[name] - before[name], 2) for name in after}
    return {**spent, "total": round(sum(spent.values()), 2)}


def bench_batch(inputs: Path, work: Path, client: Any | None
                ) -> tuple[float, dict[str, float]]:
    """Wall-clock and CPU seconds of the batch."""
    out = Path(tempfile.mkdtemp(dir=work))
    job = partial(separate_job, preset=str(resolve_preset(DEFAULT_PRESET)), mode="online",
                  block_size=512)
    cpu = cpu_seconds(client)
    started = time.perf_counter()
    result = run_batch(batch_items(str(inputs), out), job, out_dir=out, client=client)
    assert not result.failed, result.failed
    return time.perf_counter() - started, used(cpu, cpu_seconds(client))


def bench_training(files: list[Path], work: Path, run: Callable[..., Any],
                   client: Any | None, args: argparse.Namespace) -> dict[str, Any]:
    passes: list[tuple[float, float]] = []
    cpu = cpu_seconds(client)
    result = train_files(files, n_states=args.states, n_components=args.components, sr=16000,
                         n_fft=512, hop_length=128, n_iter=args.iterations, seed=0,
                         chunk_seconds=args.chunk_seconds, tol=0.0,
                         scratch=tempfile.mkdtemp(dir=work),
                         map_sum=timed_map_sum(run, passes))
    # The passes: peak, totals, then one per EM iteration (E-step and the M-step's sums).
    return {"iterations": [wall for wall, _ in passes[2:]],
            "iterations_cpu": [cpu for _, cpu in passes[2:]], "chunks": result["chunks"],
            "audio_seconds": result["frames"] * 128 / 16000, "phases": result["seconds"],
            "cpu_seconds": used(cpu, cpu_seconds(client))}


def random_statistics(seed: int, *, states: int, components: int) -> NhmmStatistics:
    """Statistics of the size one N-HMM chunk returns (a 512-point STFT's 257 bins)."""
    rng = np.random.default_rng(seed)
    return NhmmStatistics(rng.random((states, 257, components), dtype=np.float32),
                          rng.random((states, states)), rng.random(states), 0.0, 1)


def bench_reduction(client: Any, *, items: int, states: int, components: int
                    ) -> dict[str, float]:
    """Seconds to make ``items`` statistics on the workers, and to make and tree-sum them:
    the difference is what the reduction costs per EM iteration for that many chunks."""
    make = partial(random_statistics, states=states, components=components)
    started = time.perf_counter()
    client.gather(client.map(make, range(items), pure=False))
    made = time.perf_counter() - started
    started = time.perf_counter()
    map_sum(client)(make, range(items))
    summed = time.perf_counter() - started
    size = make(0).numerator.nbytes + 8 * (states * states + states)
    return {"items": items, "bytes_per_item": size, "make_seconds": round(made, 3),
            "make_and_sum_seconds": round(summed, 3),
            "sum_seconds": round(summed - made, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--file-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-seconds", type=float, default=60.0)
    parser.add_argument("--states", type=int, default=20)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1,
                        help="train on the speech files listed this many times (a larger "
                             "corpus, to see that a worker's memory does not grow with it)")
    parser.add_argument("--skip-one-process", action="store_true",
                        help="run the cluster only (for memory against corpus size)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    corpus = Path(os.environ.get("LIVESEP_CORPUS", "corpus"))
    speech = sorted((corpus / "speech").glob("*/train.wav")) * args.repeat
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
                              "load_average_at_start": os.getloadavg(),
                              "settings": vars(args) | {"json": str(args.json)}}
    # One BLAS thread here throughout, as each worker has: the client's initialisation and
    # M-steps then cost the same in both runs.
    with tempfile.TemporaryDirectory() as temporary, threadpool_limits(1):
        work = Path(temporary)
        (work / "inputs").mkdir()
        inputs = make_inputs(corpus, work / "inputs", files=args.files,
                             seconds=args.file_seconds)
        one_batch = (float("nan"), {}) if args.skip_one_process else \
            bench_batch(inputs, work, None)
        one_train = {"iterations": [float("nan")], "iterations_cpu": [float("nan")],
                     "phases": {}, "chunks": 0,
                     "cpu_seconds": {}, "audio_seconds": float("nan")} \
            if args.skip_one_process else bench_training(speech, work, local_map_sum, None,
                                                         args)
        with dask_client(ClusterSettings(workers=args.workers)) as client:
            client.wait_for_workers(args.workers)
            with memory_samples(client) as batch_memory:
                many_batch = bench_batch(inputs, work, client)
            with memory_samples(client) as train_memory:
                many_train = bench_training(speech, work, map_sum(client), client, args)
            reductions = [bench_reduction(client, items=n, states=args.states,
                                          components=args.components) for n in (16, 64, 256)]
    hours = many_train["audio_seconds"] / 3600
    one_iteration = float(np.median(one_train["iterations"]))
    many_iteration = float(np.median(many_train["iterations"]))
    report.update({
        "batch": {"files": args.files, "audio_seconds": args.files * args.file_seconds,
                  "one_process_seconds": round(one_batch[0], 2),
                  "cluster_seconds": round(many_batch[0], 2),
                  "speed_up": round(one_batch[0] / many_batch[0], 2),
                  "one_process_cpu_seconds": one_batch[1],
                  "cluster_cpu_seconds": many_batch[1],
                  "memory_mib_start_middle_end_max": memory_summary(batch_memory),
                  "memory_mib_over_time": memory_series(batch_memory)},
        "em_iteration": {"audio_seconds": round(many_train["audio_seconds"], 1),
                         "chunks": many_train["chunks"],
                         "one_process_seconds": round(one_iteration, 2),
                         "cluster_seconds": round(many_iteration, 2),
                         "speed_up": round(one_iteration / many_iteration, 2),
                         "worker_seconds_per_audio_hour": round(one_iteration / hours, 1),
                         "one_process_cpu_seconds_per_audio_hour": round(
                             float(np.median(one_train["iterations_cpu"])) / hours, 1),
                         "one_process_cpu_seconds": one_train["cpu_seconds"],
                         "cluster_cpu_seconds": many_train["cpu_seconds"],
                         "one_process_phases": one_train["phases"],
                         "cluster_phases": many_train["phases"],
                         "memory_mib_start_middle_end_max": memory_summary(train_memory),
                         "memory_mib_over_time": memory_series(train_memory)},
        "reduction": reductions,
        "load_average_at_end": os.getloadavg(),
    })
    text = json.dumps(report, indent=1)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
