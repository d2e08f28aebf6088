#!/usr/bin/env python3
"""Asks a running Prometheus (the HTTP API) about deploy/monitoring; used by tests/monitoring/run.sh.

    live_query.py queries URL JOB TIMEOUT   every recording rule and every dashboard query
                                           (variables substituted) returns data; every rule
                                           evaluates without error; the dashboard's job
                                           variable finds JOB; no security alert is active
    live_query.py wait-alert URL NAME TIMEOUT   exit 0 once alert NAME is pending or firing

`queries` prints each query with its first value, then `RESULT passed=N failed=M`. Waits are
bounded by TIMEOUT seconds. Standard library only.
"""
import json
import os
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MON = os.path.join(ROOT, "deploy", "monitoring")


def api(base, path, **params):
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body.get('error')}")
    return body["data"]


def query(base, expr):
    return api(base, "query", query=expr)


def first_value(data):
    """'{labels} value' of the first element of a query result, or None when empty."""
    res = data["result"]
    if data["resultType"] in ("scalar", "string"):
        return f"{{}} {res[1]}"
    if not res:
        return None
    m = {k: v for k, v in res[0]["metric"].items() if k != "__name__"}
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(m.items()))
    more = f" (+{len(res) - 1} more)" if len(res) > 1 else ""
    return f"{{{labels}}} {res[0]['value'][1]}{more}"


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def substitute(expr, job):
    # What Grafana would send with namespace and pod on "All" and one job chosen.
    for var, value in (("$__rate_interval", "5m"), ("$__interval", "15s"), ("$__range", "1h"),
                       ("${namespace}", ".*"), ("$namespace", ".*"), ("${pod}", ".*"), ("$pod", ".*"),
                       ("${job}", job), ("$job", job)):
        expr = expr.replace(var, value)
    return expr


def rule_names(base):
    groups = api(base, "rules")["groups"]
    return [r for g in groups for r in g["rules"]]


def run_queries(base, job, timeout):
    passed = failed = 0

    def ok(msg):
        nonlocal passed
        passed += 1
        print(f"ok   {msg}")

    def fail(msg):
        nonlocal failed
        failed += 1
        print(f"FAIL {msg}")

    with open(os.path.join(MON, "dashboard.json")) as f:
        dash = json.load(f)
    panel_queries = []
    for p in panels_of(dash):
        for t in p.get("targets") or []:
            panel_queries.append((p["title"], substitute(t["expr"], job)))

    # The rules Prometheus loaded (rules.yaml and alerts.yaml), once each has been evaluated.
    deadline = time.time() + timeout
    rules = []
    while time.time() < deadline:
        rules = rule_names(base)
        if rules and all(r.get("lastEvaluation", "0001").startswith("20") for r in rules):
            break
        time.sleep(1)
    records = [r for r in rules if r["type"] == "recording"]
    alerts = [r for r in rules if r["type"] == "alerting"]
    if len(records) < 10 or len(alerts) < 10:
        fail(f"Prometheus loaded {len(records)} recording rules and {len(alerts)} alerts")
    for r in rules:
        name = r.get("name")
        if r.get("health") != "ok":
            fail(f"rule {name} evaluates with an error: {r.get('lastError')}")
    if all(r.get("health") == "ok" for r in rules):
        ok(f"all {len(rules)} rules evaluate without error")

    # Every recording rule and dashboard query returns data. A series that needs a second
    # sample may take a scrape or an evaluation more: poll, bounded.
    todo = [("rule", r["name"], r["name"]) for r in records] + [("panel", t, e) for t, e in panel_queries]
    results = {}
    while time.time() < deadline:
        for kind, title, expr in todo:
            if (kind, expr) not in results or results[(kind, expr)] is None:
                results[(kind, expr)] = first_value(query(base, expr))
        if all(results.get((k, e)) is not None for k, _, e in todo):
            break
        time.sleep(1)
    for kind, title, expr in todo:
        v = results.get((kind, expr))
        what = f"rule {expr}" if kind == "rule" else f"panel {title!r}: {expr}"
        if v is None:
            fail(f"{what} => no data")
        else:
            ok(f"{what} => {v}")

    # The job variable finds the job.
    jobs = api(base, "label/job/values", **{"match[]": "smbgate_build_info"})
    if job in jobs:
        ok(f"variable job: label_values(smbgate_build_info, job) => {jobs}")
    else:
        fail(f"variable job: label_values(smbgate_build_info, job) => {jobs}, no {job}")

    # Alerts now: nothing that says tampering, NTLMv1 or a mount down.
    active = api(base, "alerts")["alerts"]
    print("     alerts now: " + (", ".join(f"{a['labels']['alertname']} ({a['state']})" for a in active) or "none"))
    bad = [a["labels"]["alertname"] for a in active
           if a["labels"]["alertname"] in ("SmbgateSignatureOrDowngradeEvent", "SmbgateNTLMv1Enabled", "SmbgateMountDown")]
    if bad:
        fail(f"alerts that a healthy mount must not raise: {bad}")
    else:
        ok("no security, NTLMv1 or mount-down alert on a healthy mount")

    print(f"RESULT passed={passed} failed={failed}")
    return 1 if failed else 0


def wait_alert(base, name, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for a in api(base, "alerts")["alerts"]:
            if a["labels"].get("alertname") == name and a["state"] in ("pending", "firing"):
                labels = {k: v for k, v in a["labels"].items() if k != "alertname"}
                print(f"{name} {a['state']} {labels} value {a.get('value')}")
                return 0
        time.sleep(1)
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "queries":
        sys.exit(run_queries(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    if len(sys.argv) == 5 and sys.argv[1] == "wait-alert":
        sys.exit(wait_alert(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
