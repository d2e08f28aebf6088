#!/usr/bin/env python3
"""Checks deploy/monitoring without a Prometheus: the alerts are the ones smbgate promises, each
with a severity, its annotations and a runbook section; alerts_test.yaml fires and spares each;
the rules and the dashboard name only recording rules that exist and metrics of the metrics
specification (tests/monitoring/metrics_sample.txt); the dashboard is a Grafana dashboard whose
every panel has a query on the templated data source; the runbook has the first commands and
every NTSTATUS it promises.

    check_static.py            (from anywhere; paths are relative to the repository)

Prints one line per check and `RESULT passed=N failed=M`; exits 1 if any failed. Needs PyYAML.
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MON = os.path.join(ROOT, "deploy", "monitoring")
HERE = os.path.join(ROOT, "tests", "monitoring")

ALERTS = [
    "SmbgateAuthSLOBurnFast",
    "SmbgateAuthSLOBurnSlow",
    "SmbgateAuthLatencyHigh",
    "SmbgateSignatureOrDowngradeEvent",
    "SmbgateMountDown",
    "SmbgateSessionDown",
    "SmbgateReconnectStorm",
    "SmbgateCredentialsUnreadable",
    "SmbgateCredentialsRotationFailing",
    "SmbgateNTLMv1Enabled",
]
NTSTATUS = [
    "STATUS_LOGON_FAILURE",
    "STATUS_ACCOUNT_LOCKED_OUT",
    "STATUS_PASSWORD_EXPIRED",
    "STATUS_PASSWORD_MUST_CHANGE",
    "STATUS_ACCOUNT_DISABLED",
    "STATUS_ACCESS_DENIED",
    "STATUS_BAD_NETWORK_NAME",
    "STATUS_NETWORK_SESSION_EXPIRED",
    "STATUS_USER_SESSION_DELETED",
    "STATUS_INVALID_LOGON_HOURS",
    "STATUS_LOGON_TYPE_NOT_GRANTED",
]


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn):
        problems = []
        try:
            fn(problems)
        except Exception as e:  # a missing key is a failed check, not a crash
            problems.append(f"{type(e).__name__}: {e}")
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for p in problems[:20]:
                print(f"     - {p}")
        else:
            self.passed += 1
            print(f"ok   {name}")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rules_of(path):
    return [r for g in load_yaml(path)["groups"] for r in g["rules"]]


def github_slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def panels_of(dash):
    """Every panel, those inside (collapsed) rows included."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def main():
    c = Checker()
    records = rules_of(os.path.join(MON, "rules.yaml"))
    alerts = rules_of(os.path.join(MON, "alerts.yaml"))
    with open(os.path.join(MON, "dashboard.json")) as f:
        dash_text = f.read()
    with open(os.path.join(MON, "runbooks.md")) as f:
        runbook = f.read()
    anchors = {github_slug(m) for m in re.findall(r"^#+ (.+)$", runbook, re.M)}
    record_names = [r["record"] for r in records]

    def alert_list(p):
        names = [a["alert"] for a in alerts]
        if names != ALERTS:
            p.append(f"alerts {names}, want {ALERTS}")

    c.check("alerts.yaml has the ten alerts", alert_list)

    def alert_shape(p):
        for a in alerts:
            n = a["alert"]
            sev = (a.get("labels") or {}).get("severity")
            if sev not in ("critical", "warning"):
                p.append(f"{n}: severity {sev!r}")
            ann = a.get("annotations") or {}
            for k in ("summary", "description", "runbook_url"):
                if not str(ann.get(k, "")).strip():
                    p.append(f"{n}: no {k}")
            url = ann.get("runbook_url", "")
            anchor = url.split("#", 1)[1] if "#" in url else ""
            if anchor != n.lower():
                p.append(f"{n}: runbook_url {url} (anchor should be {n.lower()})")
            if anchor not in anchors:
                p.append(f"{n}: runbooks.md has no section #{anchor}")

    c.check("every alert has a severity, summary, description and a runbook_url into runbooks.md", alert_shape)

    def critical_ones(p):
        sev = {a["alert"]: a["labels"]["severity"] for a in alerts}
        for n in ("SmbgateSignatureOrDowngradeEvent", "SmbgateAuthSLOBurnFast", "SmbgateMountDown",
                  "SmbgateNTLMv1Enabled"):
            if sev.get(n) != "critical":
                p.append(f"{n} is {sev.get(n)}")

    c.check("security events, fast burn, mount down and NTLMv1 are critical", critical_ones)

    def record_names_ok(p):
        for n in record_names:
            if not re.fullmatch(r"smbgate:[a-z0-9_]+:[a-z0-9_]+", n):
                p.append(f"{n} is not smbgate:metric:operations")
        if len(set(record_names)) != len(record_names):
            p.append("a recording rule is defined twice")
        for w in ("5m", "30m", "1h", "6h"):
            if f"smbgate:auth_success:ratio_rate{w}" not in record_names:
                p.append(f"no success ratio over {w}")

    c.check("recording rules are named smbgate:metric:operations, the success ratio over 5m/30m/1h/6h", record_names_ok)

    def tests_cover(p):
        t = load_yaml(os.path.join(HERE, "alerts_test.yaml"))
        fires, spares = set(), set()
        for group in t["tests"]:
            by_alert = {}
            for art in group.get("alert_rule_test", []) or []:
                by_alert.setdefault(art["alertname"], []).append(bool(art.get("exp_alerts")))
            for name, fired in by_alert.items():
                if any(fired):
                    fires.add(name)
                else:
                    # a test whose series never fire this alert, not only an early eval_time
                    spares.add(name)
        for n in ALERTS:
            if n not in fires:
                p.append(f"no test fires {n}")
            if n not in spares:
                p.append(f"no test has series that leave {n} quiet")

    c.check("alerts_test.yaml fires every alert and has series that leave each quiet", tests_cover)

    with open(os.path.join(HERE, "metrics_sample.txt")) as f:
        families = set(re.findall(r"^# TYPE (\S+) ", f.read(), re.M))

    def names_exist(p):
        texts = {"rules.yaml": open(os.path.join(MON, "rules.yaml")).read(),
                 "alerts.yaml": open(os.path.join(MON, "alerts.yaml")).read(),
                 "dashboard.json": dash_text}
        for where, text in texts.items():
            for m in sorted(set(re.findall(r"\bsmbgate_[a-z0-9_]+", text))):
                base = re.sub(r"_(bucket|sum|count)$", "", m)
                if m not in families and base not in families:
                    p.append(f"{where}: {m} is not a metric smbgate exports")
            for m in sorted(set(re.findall(r"\bsmbgate:[a-z0-9_]+:[a-z0-9_]+", text))):
                if m not in record_names:
                    p.append(f"{where}: {m} is not a recording rule")

    c.check("rules, alerts and dashboard name only smbgate's metrics and existing recording rules", names_exist)

    dash = json.loads(dash_text)
    ds = "${datasource}"

    def dashboard_shape(p):
        if not 36 <= dash.get("schemaVersion", 0) <= 39:
            p.append(f"schemaVersion {dash.get('schemaVersion')}")
        if not dash.get("uid") or not dash.get("title"):
            p.append("no uid or title")
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        dsv = variables.get("datasource", {})
        if dsv.get("type") != "datasource" or dsv.get("query") != "prometheus":
            p.append("no Prometheus datasource variable")
        for name in ("job", "pod"):
            if name not in variables:
                p.append(f"no {name} variable")
        for v in variables.values():
            if v["type"] == "query" and v.get("datasource", {}).get("uid") != ds:
                p.append(f"variable {v['name']}: datasource {v.get('datasource')}")
        ids = [q["id"] for q in panels_of(dash)]
        if len(ids) != len(set(ids)):
            p.append("panel ids repeat")
        rows = [q["title"] for q in dash["panels"] if q["type"] == "row"]
        if rows != ["On call", "Debug"]:
            p.append(f"rows {rows}")

    c.check("dashboard.json: schemaVersion, uid, ${datasource}/job/pod variables, an on-call and a debug row", dashboard_shape)

    def every_panel_queries(p):
        n = 0
        for q in panels_of(dash):
            if q["type"] == "row":
                continue
            n += 1
            targets = q.get("targets") or []
            if not targets:
                p.append(f"panel {q['title']!r} has no query")
            if (q.get("datasource") or {}).get("uid") != ds:
                p.append(f"panel {q['title']!r}: datasource {q.get('datasource')}")
            for t in targets:
                if not str(t.get("expr", "")).strip():
                    p.append(f"panel {q['title']!r} target {t.get('refId')}: empty expr")
                if (t.get("datasource") or {}).get("uid") != ds:
                    p.append(f"panel {q['title']!r} target {t.get('refId')}: datasource {t.get('datasource')}")
        if n < 10:
            p.append(f"only {n} panels")

    c.check("dashboard.json: every panel has a query on ${datasource}", every_panel_queries)

    def oncall_row(p):
        top = dash["panels"]
        debug_at = [i for i, q in enumerate(top) if q["type"] == "row" and q["title"] == "Debug"][0]
        exprs = " ".join(t["expr"] for q in top[:debug_at] for t in q.get("targets", []))
        for want in ("smbgate:auth_success:ratio_rate5m", "smbgate:auth_success_objective:ratio",
                     "smbgate:auth_duration_seconds:p95_rate5m", "smbgate:auth_duration_objective:seconds",
                     "smbgate:auth_failures:rate5m", "smbgate:server_rtt_seconds:p95_rate5m",
                     "smbgate_bad_signatures_total", "smbgate_downgrade_refusals_total",
                     "smbgate_guest_sessions_refused_total", "smbgate_mounted", "smbgate_session_up",
                     "time() - smbgate_credentials_changed_timestamp_seconds"):
            if want not in exprs:
                p.append(f"on-call row lacks {want}")
        debug = " ".join(t["expr"] for q in top[debug_at].get("panels", []) for t in q.get("targets", []))
        for want in ("smbgate:smb_request_duration_seconds:p95_rate5m", "smbgate_smb_requests_total",
                     "smbgate:reconnects:rate5m", "smbgate_bytes_read_total", "smbgate_bytes_written_total",
                     "smbgate_fuse_operation_duration_seconds_bucket", "smbgate_fuse_operations_total"):
            if want not in debug:
                p.append(f"debug row lacks {want}")

    c.check("dashboard.json: the on-call and debug rows show what on call needs", oncall_row)

    def runbook_content(p):
        for want in ("--output json", "-c smbgate", "grep", "authentication", "/metrics", "smbgate_auth"):
            if want not in runbook:
                p.append(f"runbooks.md lacks {want!r}")
        for s in NTSTATUS:
            if f"### {s}" not in runbook:
                p.append(f"runbooks.md has no section on {s}")
        if "### Connect timeouts and refusals" not in runbook:
            p.append("runbooks.md has no section on connect timeouts and refusals")
        for link in re.findall(r"\]\(#([^)]+)\)", runbook):
            if link not in anchors:
                p.append(f"runbooks.md links to #{link}, which is not a heading")

    c.check("runbooks.md: the first commands, every NTSTATUS, links that resolve", runbook_content)

    def runbook_sections(p):
        sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", runbook, re.M | re.S))
        for n in ALERTS:
            text = sections.get(n)
            if text is None:
                p.append(f"no section ## {n}")
                continue
            for part in ("**What it means.**", "**First three commands**", "**Usual causes and fixes**"):
                if part not in text:
                    p.append(f"{n}: no {part}")
            block = re.search(r"```sh\n(.*?)```", text, re.S)
            commands = [ln for ln in (block.group(1).splitlines() if block else []) if ln.strip() and not ln.startswith("#")]
            if len(commands) < 3:
                p.append(f"{n}: {len(commands)} commands in its first sh block, want 3")

    c.check("runbooks.md: each alert's section says what it means, three commands, causes and fixes", runbook_sections)

    print(f"RESULT passed={c.passed} failed={c.failed}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
