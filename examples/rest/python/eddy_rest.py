"""A small client for Eddy's REST API, standard library only (Python 3.9+).

Every call is one HTTP request with an API key. Errors are RFC 9457 problem details;
`EddyError.problem` holds the parsed body, and `LeaseLost` (a 409 about a lease) means the
attempt no longer holds its job: stop working it, another attempt owns it or it was rescued.
"""

import json
import urllib.error
import urllib.parse
import urllib.request


class EddyError(Exception):
    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")


class LeaseLost(EddyError):
    """The job's lease passed (it was rescued) or it was finalized meanwhile: nothing changed."""


class Eddy:
    def __init__(self, url, api_key, timeout=60):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _request(self, method, path, body=None, query=None, timeout=None):
        url = self.url + path
        if query:
            # A list repeats its parameter (state=available&state=retryable); a JSON fragment
            # (args, metadata) travels as JSON text.
            url += "?" + urllib.parse.urlencode(
                {k: json.dumps(v) if isinstance(v, dict) else v for k, v in query.items()},
                doseq=True,
            )
        headers = {"authorization": f"Bearer {self.api_key}"}
        if body is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(
            url,
            data=None if body is None else json.dumps(body).encode("utf-8"),
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                problem = json.loads(error.read() or b"{}")
            except ValueError:
                problem = {"title": error.reason}
            lost = problem.get("type") == "urn:eddy:problem:lease-lost"
            raise (LeaseLost if lost else EddyError)(error.code, problem) from None

    def _post(self, path, body, timeout=None):
        return self._request("POST", path, body, timeout=timeout)

    # Producing
    def insert(self, kind, args, **options):
        """Inserts one job; options as the API names them (queue, priority, unique, ...)."""
        return self._post("/v1/jobs", {"kind": kind, "args": args, **options})["jobs"][0]

    def insert_many(self, jobs):
        """Inserts many jobs in one statement: [{"kind": ..., "args": ..., ...}, ...]."""
        return self._post("/v1/jobs", {"jobs": jobs})["jobs"]

    # Working
    def claim(self, kinds, queues=("default",), limit=1, lease_ms=30_000, wait_ms=0, worker="python"):
        body = {
            "kinds": list(kinds),
            "queues": list(queues),
            "limit": limit,
            "leaseMs": lease_ms,
            "waitMs": wait_ms,
            "worker": worker,
        }
        return self._post("/v1/claims", body, timeout=self.timeout + wait_ms / 1000)["jobs"]

    def complete(self, job, output=None):
        body = {"token": job["token"]}
        if output is not None:
            body["output"] = output
        return self._post(f"/v1/jobs/{job['id']}/complete", body)

    def fail(self, job, error, trace="", retry_at=None, discard=False):
        body = {"token": job["token"], "error": error, "trace": trace, "discard": discard}
        if retry_at is not None:
            body["retryAt"] = retry_at
        return self._post(f"/v1/jobs/{job['id']}/fail", body)

    def snooze(self, job, delay_ms):
        return self._post(f"/v1/jobs/{job['id']}/snooze", {"token": job["token"], "delayMs": delay_ms})

    def extend(self, job, extend_ms):
        return self._post(f"/v1/jobs/{job['id']}/lease", {"token": job["token"], "extendMs": extend_ms})

    # Reading (a key with the read scope) and managing (admin)
    def job(self, job_id):
        """The job, with its state, errors and metadata (`metadata["output"]` once completed)."""
        return self._request("GET", f"/v1/jobs/{job_id}")

    def jobs(self, **query):
        """A page of jobs: state=["discarded"], kind="echo", args={"user_id": 42}, limit=50,
        cursor=page["nextCursor"], ... as the API names them."""
        return self._request("GET", "/v1/jobs", query=query)

    def cancel(self, job_id):
        """{"outcome": "cancelled" | "cancelRequested" | "alreadyFinalized", "job": ...}"""
        return self._post(f"/v1/jobs/{job_id}/cancel", None)

    def retry(self, job_id):
        return self._post(f"/v1/jobs/{job_id}/retry", None)

    def delete(self, job_id):
        """Deletes the job; a running one is refused (EddyError, status 409)."""
        return self._request("DELETE", f"/v1/jobs/{job_id}")
