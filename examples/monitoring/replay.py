"""replay.py CSV PORT START END [CHUNK] — replays ELEC2 rows through
keel serve as production traffic: each row is one /invocations request with
its own X-Request-Id, and after every CHUNK rows their true labels arrive
through POST /feedback (delayed labels). Prints one JSON line per chunk:
rows sent, the model version that answered, the accuracy of those
predictions, and the feedback response. Keep-alive, one connection."""
import csv
import http.client
import json
import sys
import time

path, port, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
chunk = int(sys.argv[5]) if len(sys.argv) > 5 else 500
features = ["day_of_week", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"]
rows = list(csv.DictReader(open(path)))[start:end]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def post(url, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request("POST", url, body=json.dumps(body), headers=h)
    r = conn.getresponse()
    return r.status, r.getheader("X-Model-Version"), r.read()


for at in range(0, len(rows), chunk):
    part = rows[at:at + chunk]
    versions, correct, labels = {}, 0, []
    for i, row in enumerate(part):
        rid = "elec-%d" % (start + at + i)
        rec = {k: (row[k] if k == "day_of_week" else float(row[k])) for k in features}
        status, version, body = post("/invocations", {"dataframe_records": [rec]},
                                     {"X-Request-Id": rid})
        if status != 200:
            sys.exit("request %s: %d %s" % (rid, status, body[:200]))
        p = json.loads(body)["predictions"][0]
        correct += (p >= 0.5) == (row["class"] == "1")
        versions[version] = versions.get(version, 0) + 1
        labels.append({"request_id": rid, "label": int(row["class"])})
    status, _, body = post("/feedback", {"feedback": labels})
    print(json.dumps({"rows": start + at + len(part), "versions": versions,
                      "accuracy": correct / len(part), "feedback_status": status,
                      "feedback": json.loads(body)}), flush=True)
    time.sleep(0.35)   # the monitor closes the window (tick 250 ms)
