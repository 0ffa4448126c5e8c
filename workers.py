"""Jobs spread over workers: in this process, in local worker processes, or in actors on a Ray cluster.

A worker is built once per process or actor (``make_worker()``: an eval's agent with its planner
and skills, say) with its threads capped, then does one job at a time; the next job goes to the
first worker that is free, and results come back as jobs finish. A job's result must depend on
the job alone (its seed, its goal), never on which worker ran it or what it ran before, so that a
run gives the same results for any number of workers.

A worker that dies (killed, out of memory) loses the job it had in flight and nothing else: the
other workers go on, and :class:`WorkersDied` names the lost jobs at the end, once every other job
is done. Ray core is the engine for clusters; local processes need nothing beyond the standard
library.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from foreman.cluster import join_ray
from foreman.errors import ForemanError


class Worker(Protocol):
    def __call__(self, job: Any) -> Any: ...


class WorkersDied(ForemanError):
    """Workers died with jobs in flight; every other job finished."""

    def __init__(self, lost: dict[int, str]):
        self.lost = lost
        named = "; ".join(f"job {key}: {why}" for key, why in sorted(lost.items()))
        super().__init__(f"{len(lost)} job(s) lost with their worker ({named})")


@dataclass
class WorkerReport:
    """What one worker did: where it ran, how many jobs, its peak resident memory."""

    worker: int
    where: str
    threads: int
    jobs: int = 0
    peak_rss_mb: float = 0.0


@dataclass
class Pool:
    """Where jobs run: ``workers`` of them, locally or on the Ray cluster at ``ray_address``.

    ``ray_address`` is what ``ray.init`` takes: ``auto`` (the cluster this machine is part of),
    ``HOST:PORT``, or ``local`` (a Ray instance started for this run). ``threads`` caps each worker's
    torch and llama.cpp threads (default: this machine's cores shared out, one per actor on Ray).
    """

    workers: int = 1
    ray_address: str | None = None
    threads: int | None = None
    reports: list[WorkerReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ForemanError(f"--workers must be at least 1, not {self.workers}")

    @property
    def threads_per_worker(self) -> int:
        if self.threads is not None:
            return max(1, self.threads)
        return 1 if self.ray_address else max(1, (os.cpu_count() or 1) // self.workers)

    def run(self, make_worker: Callable[[], Worker], jobs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        """``(key, result)`` for each job as it finishes; raises :class:`WorkersDied` at the end if any
        job was lost. ``make_worker`` must be picklable (a module-level class or a partial of one)."""
        if self.ray_address:
            yield from self._on_ray(make_worker, jobs)
        elif self.workers == 1:
            yield from self._here(make_worker, jobs)
        else:
            yield from self._in_processes(make_worker, jobs)

    def _here(self, make_worker: Callable[[], Worker], jobs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        cap_threads(self.threads_per_worker)
        report = WorkerReport(0, f"this process ({socket.gethostname()} pid {os.getpid()})", self.threads_per_worker)
        self.reports = [report]
        worker = make_worker()
        for key, job in jobs.items():
            result = worker(job)
            report.jobs += 1
            report.peak_rss_mb = peak_rss_mb()
            yield key, result

    def _in_processes(self, make_worker: Callable[[], Worker], jobs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        context = mp.get_context("spawn")  # a fresh interpreter: no copied llama.cpp or torch thread state
        todo = list(jobs.items())
        conns: list[Connection] = []
        processes = []
        for number in range(min(self.workers, len(todo))):
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, make_worker, self.threads_per_worker), daemon=True, name=f"worker-{number}"
            )
            process.start()
            child.close()
            conns.append(parent)
            processes.append(process)
            self.reports.append(WorkerReport(number, f"local pid {process.pid}", self.threads_per_worker))
        in_flight: dict[int, int | None] = dict.fromkeys(range(len(conns)))
        alive = set(range(len(conns)))
        lost: dict[int, str] = {}

        def hand_out(number: int) -> None:
            request = todo.pop(0) if todo else None
            try:
                conns[number].send(request)
            except OSError:  # it died since its last answer: the job waits for another worker
                if request is not None:
                    todo.insert(0, request)
                request = None
            in_flight[number] = request[0] if request else None

        def bury(number: int) -> None:
            process = processes[number]
            process.join(timeout=5)
            alive.discard(number)
            key = in_flight.pop(number, None)
            if key is not None:
                lost[key] = f"worker {number} (pid {process.pid}) ended with exit code {process.exitcode}"
            if not alive and todo:
                lost.update({k: "not run: every worker died" for k, _ in todo})
                todo.clear()

        for number in range(len(conns)):
            hand_out(number)
        try:
            while any(in_flight.get(n) is not None for n in alive):
                ready = wait([conns[n] for n in alive] + [processes[n].sentinel for n in alive])
                for number in sorted(alive):
                    if conns[number] not in ready and processes[number].sentinel not in ready:
                        continue
                    try:
                        kind, key, payload, rss = conns[number].recv()
                    except (EOFError, OSError):  # it exited: killed, or told to stop
                        bury(number)
                        continue
                    if kind == "error":
                        raise RuntimeError(f"worker {number} failed on job {key}:\n{payload}")
                    report = self.reports[number]
                    report.jobs, report.peak_rss_mb = report.jobs + 1, max(report.peak_rss_mb, rss)
                    yield key, payload
                    hand_out(number)
        finally:
            for number in alive:
                if in_flight.get(number) is not None:
                    processes[number].kill()  # stopped early (an error, or the caller stopped reading)
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        if lost:
            raise WorkersDied(lost)

    def _on_ray(self, make_worker: Callable[[], Worker], jobs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        assert self.ray_address is not None
        threads = self.threads_per_worker
        ray = join_ray(self.ray_address, self.workers * threads)
        try:
            actor_class = ray.remote(num_cpus=threads, max_restarts=0)(RayWorker)
            todo = list(jobs.items())
            actors = [actor_class.remote(make_worker, threads) for _ in range(min(self.workers, len(todo)))]
            self.reports = [WorkerReport(n, "ray actor", threads) for n in range(len(actors))]
            pending: dict[Any, tuple[int, int]] = {}
            lost: dict[int, str] = {}
            for number, actor in enumerate(actors):
                if todo:
                    key, job = todo.pop(0)
                    pending[actor.run.remote(job)] = (number, key)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                number, key = pending.pop(done[0])
                try:
                    result, rss, where = ray.get(done[0])
                except ray.exceptions.RayActorError as error:
                    lost[key] = f"ray actor {number} died ({type(error).__name__})"
                    if not pending and todo:
                        lost |= {k: "not run: every worker died" for k, _ in todo}
                        todo.clear()
                    continue
                report = self.reports[number]
                report.jobs, report.where = report.jobs + 1, where
                report.peak_rss_mb = max(report.peak_rss_mb, rss)
                yield key, result
                if todo:
                    key, job = todo.pop(0)
                    pending[actors[number].run.remote(job)] = (number, key)
            if lost:
                raise WorkersDied(lost)
        finally:
            ray.shutdown()


def cap_threads(threads: int) -> None:
    """At most ``threads`` threads for torch and for the llama.cpp models loaded after this call."""
    import torch

    torch.set_num_threads(threads)
    os.environ["FOREMAN_THREADS"] = str(threads)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: Linux's VmHWM (``ru_maxrss`` survives ``exec``, so
    a spawned worker's would start at its parent's peak), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _serve(conn: Connection, make_worker: Callable[[], Worker], threads: int) -> None:
    """A local worker process: builds its worker, then answers jobs until told to stop (None)."""
    cap_threads(threads)
    worker = make_worker()
    while (request := conn.recv()) is not None:
        key, job = request
        try:
            conn.send(("done", key, worker(job), peak_rss_mb()))
        except Exception:
            conn.send(("error", key, traceback.format_exc(), peak_rss_mb()))
            break
    conn.close()


class RayWorker:
    """A Ray actor around one worker (Ray makes this class remote when a cluster is used)."""

    def __init__(self, make_worker: Callable[[], Worker], threads: int):
        cap_threads(threads)
        self.worker = make_worker()

    def run(self, job: Any) -> tuple[Any, float, str]:
        return self.worker(job), peak_rss_mb(), f"ray actor on {socket.gethostname()} pid {os.getpid()}"
