"""A worker for Eddy's REST API in Python, standard library only.

    EDDY_URL=http://127.0.0.1:8080 EDDY_API_KEY=... python3 worker.py

It claims jobs of the kinds it has handlers for, one at a time, waiting on the server for new
ones; while a job runs a heartbeat extends its lease, so a long job is never rescued while this
process lives. A job that returns is completed with what it returned as output; one that raises
is failed (retried with River's backoff, or discarded once its attempts are used up). If this
process dies, the heartbeat stops, the lease passes, and the server's maintenance rescues the
job for another attempt. SIGTERM and Ctrl-C stop it after the job in hand.
"""

import os
import signal
import sys
import threading
import time
import traceback

from eddy_rest import Eddy, EddyError, LeaseLost

LEASE_MS = int(os.environ.get("EDDY_LEASE_MS", "30000"))


def echo(args, job):
    """Completes with its args as output."""
    return {"echo": args, "attempt": job["attempt"]}


def flaky(args, job):
    """Fails until attempt `succeed_on` (default 2), then completes."""
    if job["attempt"] < args.get("succeed_on", 2):
        raise RuntimeError(f"flaky failure on attempt {job['attempt']}")
    return {"succeeded_on": job["attempt"]}


def sleep(args, job):
    """Works for `seconds` (`retry_seconds` on later attempts): a long job, to kill mid-way."""
    seconds = args.get("seconds", 1)
    if job["attempt"] > 1:
        seconds = args.get("retry_seconds", seconds)
    print(f"job {job['id']}: sleeping {seconds} s", flush=True)
    time.sleep(seconds)
    return {"slept": seconds, "attempt": job["attempt"]}


HANDLERS = {"echo": echo, "flaky": flaky, "sleep": sleep}


def heartbeat(eddy, job, done):
    """Extends the job's lease every third of it until `done` is set or the lease is lost."""
    while not done.wait(LEASE_MS / 3000):
        try:
            lease = eddy.extend(job, LEASE_MS)
            if lease.get("cancelRequested"):
                print(f"job {job['id']}: cancel requested", flush=True)
        except LeaseLost:
            print(f"job {job['id']}: lease lost", flush=True)
            return
        except (EddyError, OSError) as error:
            print(f"job {job['id']}: heartbeat failed: {error}", flush=True)


def work(eddy, job):
    done = threading.Event()
    beat = threading.Thread(target=heartbeat, args=(eddy, job, done), daemon=True)
    beat.start()
    try:
        output = HANDLERS[job["kind"]](job["args"], job)
    except Exception as error:  # noqa: BLE001 - any failure is the job's
        done.set()
        try:
            answer = eddy.fail(job, f"{type(error).__name__}: {error}", traceback.format_exc())
            print(f"job {job['id']}: failed on attempt {job['attempt']} -> {answer['state']}", flush=True)
        except LeaseLost as lost:
            print(f"job {job['id']}: late failure ignored: {lost}", flush=True)
        return
    done.set()
    try:
        eddy.complete(job, output)
        print(f"job {job['id']}: completed on attempt {job['attempt']}", flush=True)
    except LeaseLost as lost:
        print(f"job {job['id']}: late completion ignored: {lost}", flush=True)


def main():
    eddy = Eddy(os.environ.get("EDDY_URL", "http://127.0.0.1:8080"), os.environ["EDDY_API_KEY"])
    queues = os.environ.get("EDDY_QUEUES", "default").split(",")
    name = os.environ.get("EDDY_WORKER", f"python-{os.getpid()}")
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"worker {name}: working {', '.join(HANDLERS)} from {', '.join(queues)}", flush=True)
    while not stopping.is_set():
        try:
            jobs = eddy.claim(HANDLERS.keys(), queues, lease_ms=LEASE_MS, wait_ms=5_000, worker=name)
        except (EddyError, OSError) as error:
            print(f"claim failed: {error}; retrying", flush=True)
            stopping.wait(1)
            continue
        for job in jobs:
            work(eddy, job)
    print(f"worker {name}: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
