#!/usr/bin/env python3
"""Data-driven MLflow REST cases against a running keel server.

usage: mlflow_cases.py BASE_URL CASE_FILE...

Each case file is a JSON list of steps (format: tests/data/mlflow/README.md).
Files run in the order given, each with fresh variables. Every step is one
case: it passes when status and body match. One line per failing case goes
to stdout; the last line is "RESULT <passed> <failed>" for the shell runner.
Python 3 standard library only.
"""
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TIMEOUT = 60
STEP_KEYS = {"name", "comment", "method", "path", "query", "body", "raw_body", "upload_text",
             "upload_file", "status", "expect", "expect_absent", "expect_text", "expect_file",
             "save"}


class CaseError(Exception):
    pass


def substitute(value, env, strict=True):
    """Replaces ${name} in every string of value. A string that is exactly
    one ${name} takes the saved value itself, whatever its JSON type. Unknown
    names are an error when strict, else left as they are."""
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole and (whole.group(1) in env or strict):
            if whole.group(1) not in env:
                raise CaseError("unknown variable ${%s}" % whole.group(1))
            return env[whole.group(1)]

        def one(m):
            if m.group(1) not in env and not strict:
                return m.group(0)
            if m.group(1) not in env:
                raise CaseError("unknown variable ${%s}" % m.group(1))
            v = env[m.group(1)]
            return v if isinstance(v, str) else json.dumps(v)
        return VAR.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, env, strict) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env, strict) for k, v in value.items()}
    return value


def expand(value):
    """{"$repeat": T, "times": N}: a string T repeated N times, or a list of
    N copies of T with ${i} in its strings set to the index 0..N-1."""
    if isinstance(value, list):
        return [expand(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$repeat" in value:
        template, times = value["$repeat"], value["times"]
        if isinstance(template, str):
            return template * times
        return [expand(substitute(template, {"i": i}, strict=False)) for i in range(times)]
    return {k: expand(v) for k, v in value.items()}


def show(v):
    text = json.dumps(v, sort_keys=True) if not isinstance(v, (bytes, bytearray)) else repr(v)
    return text if len(text) <= 300 else text[:300] + "…"


def match(want, got, where, diffs):
    """Partial match of got against want; appends one line per mismatch."""
    if isinstance(want, str) and want.startswith("$"):
        if want == "$any_string":
            ok = isinstance(got, str)
        elif want == "$any_int":
            ok = isinstance(got, int) and not isinstance(got, bool)
        elif want.startswith("$regex:"):
            ok = isinstance(got, str) and re.search(want[len("$regex:"):], got) is not None
        else:
            ok = got == want
        if not ok:
            diffs.append("%s: want %s, got %s" % (where or "$", want, show(got)))
        return
    if isinstance(want, dict) and set(want) == {"$contains"}:
        if not isinstance(got, list):
            diffs.append("%s: want a list, got %s" % (where or "$", show(got)))
            return
        unused = list(range(len(got)))
        for item in want["$contains"]:
            hit = next((i for i in unused if not try_match(item, got[i])), None)
            if hit is None:
                diffs.append("%s: no element matches %s; got %s" % (where or "$", show(item),
                                                                   show(got)))
            else:
                unused.remove(hit)
        return
    if isinstance(want, dict):
        if not isinstance(got, dict):
            diffs.append("%s: want an object, got %s" % (where or "$", show(got)))
            return
        for k, v in want.items():
            path = "%s.%s" % (where, k) if where else k
            if k not in got:
                diffs.append("%s: missing (want %s)" % (path, show(v)))
            else:
                match(v, got[k], path, diffs)
        return
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            diffs.append("%s: want %s, got %s" % (where or "$", show(want), show(got)))
            return
        for i, (w, g) in enumerate(zip(want, got)):
            match(w, g, "%s.%d" % (where, i) if where else str(i), diffs)
        return
    same = (want == got and isinstance(want, bool) == isinstance(got, bool) and
            (want is None) == (got is None))
    if not same:
        diffs.append("%s: want %s, got %s" % (where or "$", show(want), show(got)))


def try_match(want, got):
    diffs = []
    match(want, got, "", diffs)
    return diffs


def lookup(doc, path):
    """Value at a dotted path ("run.info.run_id", "files.0.path"); KeyError if absent."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise KeyError(path)
    return cur


def send(base, step, env, data_dir):
    method = step.get("method", "GET")
    path = substitute(step["path"], env)
    url = base + urllib.parse.quote(path, safe="/:%?&=")
    if "query" in step:
        url += "?" + urllib.parse.urlencode(substitute(step["query"], env), doseq=True)
    headers = {}
    data = None
    if "body" in step:
        data = json.dumps(substitute(expand(step["body"]), env)).encode()
        headers["Content-Type"] = "application/json"
    elif "raw_body" in step:
        data = substitute(step["raw_body"], env).encode()
        headers["Content-Type"] = "application/json"
    elif "upload_text" in step:
        data = substitute(step["upload_text"], env).encode()
        headers["Content-Type"] = "application/octet-stream"
    elif "upload_file" in step:
        with open(os.path.join(data_dir, step["upload_file"]), "rb") as f:
            data = f.read()
        headers["Content-Type"] = "application/octet-stream"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def run_step(base, step, env, data_dir):
    """Returns a list of mismatch lines (empty: the case passed)."""
    unknown = set(step) - STEP_KEYS
    if unknown:
        raise CaseError("unknown step keys %s" % sorted(unknown))
    status, raw = send(base, step, env, data_dir)
    diffs = []
    want_status = step.get("status", 200)
    if status != want_status:
        diffs.append("status: want %d, got %d" % (want_status, status))
    try:
        doc = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        doc = None
    if "expect" in step:
        if doc is None:
            diffs.append("body is not JSON: %s" % show(raw[:300]))
        else:
            match(substitute(step["expect"], env), doc, "", diffs)
    for path in step.get("expect_absent", []):
        try:
            lookup(doc, substitute(path, env))
            diffs.append("%s: present (want absent): %s" % (path, show(lookup(doc, path))))
        except KeyError:
            pass
    if "expect_text" in step:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        match(substitute(step["expect_text"], env), text, "body", diffs)
    if "expect_file" in step:
        with open(os.path.join(data_dir, step["expect_file"]), "rb") as f:
            want = f.read()
        if raw != want:
            diffs.append("body: want the %d bytes of %s, got %d bytes %s" %
                         (len(want), step["expect_file"], len(raw), show(raw[:60])))
    if not diffs:
        for var, path in step.get("save", {}).items():
            try:
                env[var] = lookup(doc, path)
            except KeyError:
                diffs.append("save %s: no %s in response" % (var, path))
    if diffs and doc is not None and "expect" not in step:
        diffs.append("body: %s" % show(doc))
    return diffs


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base = argv[1].rstrip("/")
    passed = failed = 0
    for path in argv[2:]:
        data_dir = os.path.dirname(os.path.abspath(path))
        label = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                steps = json.load(f)
            if not isinstance(steps, list):
                raise CaseError("a case file must hold a JSON list of steps")
        except (OSError, ValueError, CaseError) as e:
            print("FAIL %s: cannot load: %s" % (label, e))
            failed += 1
            continue
        env = {}
        for i, step in enumerate(steps):
            name = "%s[%d] %s" % (label, i, step.get("name", "?"))
            try:
                diffs = run_step(base, step, env, data_dir)
            except (CaseError, OSError, KeyError, TypeError) as e:
                diffs = ["%s: %s" % (type(e).__name__, e)]
            if diffs:
                failed += 1
                try:
                    shown = substitute(step.get("path"), env)
                except CaseError:
                    shown = step.get("path")
                print("FAIL %s (%s %s): %s" % (name, step.get("method", "GET"), shown,
                                               "; ".join(diffs)))
            else:
                passed += 1
    print("RESULT %d %d" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
