"""The seed README's log aggregation example, as written, and the same query as a range scan
over "log:<milliseconds>" keys."""

import json
import time

from pybitcask import Bitcask


class LogAggregator:
    def __init__(self, data_dir):
        self.db = Bitcask(data_dir)

    def ingest_log(self, log_entry):
        # Fast writes for log entries
        timestamp = int(time.time() * 1000)  # millisecond precision
        key = f"log:{timestamp}"
        self.db.put(key, json.dumps(log_entry))

    def query_logs(self, start_time, end_time):
        # Simple time-range query
        results = []
        for key in self.db.keys():
            if key.startswith("log:"):
                ts = int(key.split(":")[1])
                if start_time <= ts <= end_time:
                    results.append(json.loads(self.db.get(key)))
        return results


class ScanningLogAggregator(LogAggregator):
    """Millisecond timestamps have 13 digits until the year 2286, so key order is time order
    and a time range is a key range."""

    def query_logs(self, start_time, end_time):
        return [json.loads(v) for v in self.db.values(start=f"log:{start_time}",
                                                      end=f"log:{end_time + 1}")]


if __name__ == "__main__":
    logs = LogAggregator("logs")
    start = int(time.time() * 1000)
    for i in range(20):
        logs.ingest_log({"level": "info", "message": f"request {i} served"})
        time.sleep(0.002)  # distinct milliseconds, so no entry overwrites another
    end = int(time.time() * 1000)
    found = logs.query_logs(start, end)
    print(len(found), "entries, first:", found[0])
    assert len(found) == 20
    logs.db.close()

    scanning = ScanningLogAggregator("logs")
    assert scanning.query_logs(start, end) == found
    assert scanning.query_logs(end + 1, end + 1000) == []
    print("range scan agrees:", len(scanning.query_logs(start, end)), "entries")
    scanning.db.close()
