"""A producer for Eddy's REST API in Python, standard library only.

    EDDY_URL=http://127.0.0.1:8080 EDDY_API_KEY=... python3 producer.py

Inserts one job, then a batch in one call, one of them unique so that running this twice
inserts it once; then waits a little for the first job to finish (with worker.py running) and
prints its output, read back from the API.
"""

import os
import time

from eddy_rest import Eddy

eddy = Eddy(os.environ.get("EDDY_URL", "http://127.0.0.1:8080"), os.environ["EDDY_API_KEY"])

job = eddy.insert("echo", {"hello": "world"}, priority=2, tags=["example"])
print(f"inserted echo job {job['id']} ({job['state']})")

jobs = eddy.insert_many([
    {"kind": "flaky", "args": {"succeed_on": 2}, "maxAttempts": 5},
    {"kind": "sleep", "args": {"seconds": 2}, "performIn": 1000},
    {"kind": "echo", "args": {"report": "daily"}, "unique": {"byArgs": True, "byPeriodMs": 86_400_000}},
])
for j in jobs:
    print(f"job {j['id']} {j['kind']}: {'duplicate' if j['duplicate'] else j['state']}")

deadline = time.monotonic() + 10
while (current := eddy.job(job["id"]))["finalizedAt"] is None and time.monotonic() < deadline:
    time.sleep(0.5)
if current["state"] == "completed":
    print(f"echo job {job['id']} completed: {current['metadata'].get('output')}")
else:
    print(f"echo job {job['id']} is {current['state']} (is worker.py running?)")
