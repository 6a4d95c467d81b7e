"""A results directory: results.jsonl, one JSON line per measured point, appended under a lock (the
Slurm form has many jobs writing at once), and the CSVs derived from it.

A point counts as measured, and a re-run skips it, when results.jsonl holds a record of the same
point id, commit and machine fingerprint whose status is final (ok, or invalid: nf-train or the
peer refused that point's config, and would again). Failed points are measured again.
"""
import csv
import fcntl
import json
import os
import tempfile

SCHEMA = 1
FINAL = ("ok", "invalid")


def locked(directory):
    """An exclusive lock on `directory` (its .lock file), held until the returned file is closed:
    `with locked(d): ...`. Concurrent Slurm tasks take it to append or to build shared inputs."""
    lock = open(os.path.join(directory, ".lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def measured(records, point_id, commit, fingerprint):
    """The final record of this point on this commit and machine among `records`, or None."""
    found = None
    for record in records:
        if (record["id"], record["commit"], record["machine"]["fingerprint"]) == (point_id, commit, fingerprint) \
                and record["status"] in FINAL:
            found = record
    return found


class Store:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "results.jsonl")

    def records(self):
        """Every record, oldest first; a torn last line (a job killed mid-write) is left out."""
        if not os.path.exists(self.path):
            return []
        out = []
        with open(self.path) as f:
            for number, line in enumerate(f, 1):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    if line.endswith("\n"):
                        raise ValueError(f"{self.path}:{number}: not a JSON line; remove or fix that line")
        return out

    def append(self, record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with locked(self.directory):
            self._cut_torn_line()
            with open(self.path, "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def _cut_torn_line(self):
        """A job killed mid-write leaves a last line without its newline: cut it, so the next
        record starts on a line of its own (records() leaves such a line out until then)."""
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)


def write_csv(path, rows, columns):
    """Rows (dicts) as CSV with these columns, written to a temp name of its own and renamed."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    os.replace(tmp, path)
