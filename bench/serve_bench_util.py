#!/usr/bin/env python3
"""serve_bench_util.py — the small helpers bench_serve.sh uses besides wrk.
Standard library only.

  bodies BUNDLE DATA N LINES CSV [COLUMN=VALUE]
      Takes the first N rows of the CSV file DATA (gzip when it ends in .gz)
      whose COLUMN equals VALUE (all rows without a filter) and writes:
      LINES, one request body per line, {"dataframe_records":[{…}]} with the
      row's values for the bundle's signature inputs only, typed as the
      signature says (int and float columns as JSON numbers, strings as
      strings, an empty cell as null), as a team's client would send them;
      and CSV, those rows as they are in DATA (header included), for
      `keel predict`.
  post URL BODY
      POSTs BODY (a file) once to URL/invocations; prints the first
      prediction; fails unless the answer is 200 with {"predictions": [...]}.
  close A B
      Exits 0 when the numbers A and B agree to 1e-6 (relative), else 1.
"""
import csv
import gzip
import http.client
import json
import sys
import urllib.parse


def bodies(bundle, data, n, lines_path, csv_path, filt=None):
    with open(f"{bundle}/keel.json") as f:
        inputs = json.load(f)["signature"]["inputs"]
    col, val = filt.split("=", 1) if filt else (None, None)
    opener = gzip.open if data.endswith(".gz") else open
    with opener(data, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        pos = {name: i for i, name in enumerate(header)}
        rows = []
        for row in reader:
            if col is None or row[pos[col]] == val:
                rows.append(row)
                if len(rows) == n:
                    break
    with open(lines_path, "w") as out:
        for row in rows:
            rec = {}
            for inp in inputs:
                cell = row[pos[inp["name"]]]
                if cell == "":
                    rec[inp["name"]] = None
                elif inp["type"] in ("int", "bool"):
                    rec[inp["name"]] = int(cell)
                elif inp["type"] == "float":
                    rec[inp["name"]] = float(cell)
                else:
                    rec[inp["name"]] = cell
            out.write(json.dumps({"dataframe_records": [rec]}, separators=(",", ":")) + "\n")
    with open(csv_path, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(rows)
    print(len(rows))


def post(url, body_path):
    u = urllib.parse.urlparse(url)
    body = open(body_path, "rb").read()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    if r.status != 200:
        sys.exit(f"POST {url}/invocations: {r.status} {text[:200]!r}")
    print(repr(float(json.loads(text)["predictions"][0])))


def main():
    cmd = sys.argv[1]
    if cmd == "bodies":
        bundle, data, n, lines_path, csv_path = sys.argv[2:7]
        bodies(bundle, data, int(n), lines_path, csv_path, sys.argv[7] if len(sys.argv) > 7 else None)
    elif cmd == "post":
        post(sys.argv[2], sys.argv[3])
    elif cmd == "close":
        a, b = float(sys.argv[2]), float(sys.argv[3])
        sys.exit(0 if abs(a - b) <= 1e-6 * max(1.0, abs(b)) else 1)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
