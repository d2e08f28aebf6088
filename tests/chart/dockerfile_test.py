#!/usr/bin/env python3
"""Checks deploy/Dockerfile without a container engine (none runs on the build machines): a
small parser reads its instructions per stage and asserts what the image promises. Runs
hadolint too when it is installed, and compares the runtime package list of
deploy/install-deps.sh with what build/smbgate links when that binary exists.

Prints one line per check and `RESULT passed=N failed=M`. Standard library only.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
results = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
        print(f"ok   dockerfile: {name}")
    else:
        results["failed"] += 1
        print(f"FAIL dockerfile: {name}{': ' + detail if detail else ''}")


def skip(name, why):
    results["skipped"] += 1
    print(f"skip dockerfile: {name} ({why})")


def instructions(text):
    """(INSTRUCTION, arguments) pairs: continuation lines joined, comments dropped."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or not line:
            continue  # comments (also inside continuations) and blank lines
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def stages(instrs):
    st = []
    for ins, args in instrs:
        if ins == "FROM":
            st.append({"from": args, "instrs": []})
        elif st:
            st[-1]["instrs"].append((ins, args))
    return st


def runs(stage):
    return [a for i, a in stage["instrs"] if i == "RUN"]


def packages(var):
    with open(os.path.join(ROOT, "deploy", "install-deps.sh")) as f:
        m = re.search(r'^' + var + r'="([^"]*)"', f.read(), re.M)
    return m.group(1).split() if m else []


def check_libraries(name, lists, flags):
    """Every library build/NAME links comes from a package of install-deps.sh's lists."""
    binary = os.path.join(ROOT, "build", name)
    what = f"install-deps.sh {flags} covers every library build/{name} links"
    if not (os.path.exists(binary) and shutil.which("ldd") and shutil.which("dpkg-query")):
        skip(what, f"no build/{name}, ldd or dpkg")
        return
    pkgs = {p for var in lists for p in packages(var)}
    allowed = pkgs | {"libc6", "libstdc++6", "libgcc-s1"}  # in every Debian image
    todo = list(pkgs)  # apt installs what they depend on, and so on down
    while todo:
        dep = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", todo.pop()], capture_output=True,
                             text=True).stdout
        for d in re.split(r"[,|]", dep):
            name = re.split(r"[\s(:]", d.strip())[0]
            if name and name not in allowed:
                allowed.add(name)
                todo.append(name)
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    unowned = []
    for lib in re.findall(r"=>\s*(/\S+)", out):
        real = os.path.realpath(lib)
        owners = set()
        for path in {lib, real, real.replace("/usr/lib/", "/lib/"), real.replace("/lib/", "/usr/lib/", 1)}:
            r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
            if r.returncode == 0:
                owners |= {o.split(":")[0].strip() for o in r.stdout.split(":", 1)[0].split(",")}
        if not owners & allowed:
            unowned.append(f"{os.path.basename(lib)} ({', '.join(sorted(owners)) or 'no package'})")
    check(what, not unowned, str(unowned))


def main():
    with open(DOCKERFILE) as f:
        text = f.read()
    instrs = instructions(text)
    st = stages(instrs)
    check("four stages: build, runtime, csi-node and the default (runtime)", len(st) == 4,
          f"{len(st)} stages")
    if len(st) != 4:
        return
    build, runtime, csi, default = st
    check("build stage FROM debian:12 AS build", build["from"].lower() == "debian:12 as build", build["from"])
    check("runtime stage FROM debian:12-slim AS runtime",
          runtime["from"].lower() == "debian:12-slim as runtime", runtime["from"])
    check("the last stage (the default target) is the runtime image",
          default["from"].lower() == "runtime" and not default["instrs"], default["from"])

    # The CSI node driver's image: the runtime plus the driver and its gRPC libraries.
    c_all = " ; ".join(runs(csi))
    check("csi-node stage FROM runtime AS csi-node", csi["from"].lower() == "runtime as csi-node",
          csi["from"])
    check("csi-node installs only install-deps.sh --csi-runtime",
          "install-deps.sh --csi-runtime" in c_all and "apt-get install" not in c_all, c_all[:160])
    c_copies = " ".join(a for i, a in csi["instrs"] if i == "COPY" and a.startswith("--from=build"))
    check("csi-node copies smbgate-csi-node from the build stage", "smbgate-csi-node" in c_copies)
    c_eps = [a for i, a in csi["instrs"] if i == "ENTRYPOINT"]
    check('csi-node ENTRYPOINT ["smbgate-csi-node"]',
          bool(c_eps) and c_eps[-1].replace(" ", "") == '["smbgate-csi-node"]', str(c_eps))

    b_runs = " ; ".join(runs(build))
    check("build stage runs deploy/install-deps.sh --build (the build part of CI's list)",
          re.search(r"(^|[\s;&])deploy/install-deps\.sh --build(\s*&&|\s*;|\s*$)", b_runs) is not None, b_runs[:120])
    check("build stage builds with CMake (tests off) and installs into a staging prefix",
          "cmake -S . -B" in b_runs and "cmake --build" in b_runs and "cmake --install" in b_runs
          and "DESTDIR=/staging" in b_runs and "-DSMBGATE_BUILD_TESTS=OFF" in b_runs)
    check("build stage compiles deploy/image/smbgate-fuse-fd.c",
          "deploy/image/smbgate-fuse-fd.c" in b_runs)

    r_runs = runs(runtime)
    r_all = " ; ".join(r_runs)
    check("runtime stage installs only install-deps.sh --runtime",
          "install-deps.sh --runtime" in r_all and "apt-get install" not in r_all, r_all[:160])
    copies_from = [a for i, a in runtime["instrs"] if i == "COPY" and a.startswith("--from=build")]
    dests = " ".join(copies_from)
    check("runtime copies smbgate, smbgate-fuse-fd and mount.smbgate from the build stage",
          "/staging/usr/local/bin/" in dests and "/usr/sbin/mount.smbgate" in dests)

    users = [a for i, a in runtime["instrs"] if i == "USER"]
    check("runs as uid/gid 65532 by default", users and users[-1] in ("65532", "65532:65532"), str(users))
    check("the user 65532 exists in /etc/passwd (useradd)", "--uid 65532" in r_all and "--gid 65532" in r_all)

    eps = [a for i, a in runtime["instrs"] if i == "ENTRYPOINT"]
    ok = False
    if eps:
        try:
            ok = json.loads(eps[-1]) == ["smbgate"]
        except ValueError:
            ok = False
    check('ENTRYPOINT ["smbgate"] (exec form)', ok, str(eps))

    labels = " ".join(a for i, a in runtime["instrs"] if i == "LABEL")
    want = ["title", "description", "version", "revision", "created", "source"]
    missing = [w for w in want if f"org.opencontainers.image.{w}=" not in labels]
    check("OCI labels org.opencontainers.image.*", not missing, f"missing {missing}")

    check("no HEALTHCHECK (Kubernetes probes /healthz and /readyz)",
          not any(i == "HEALTHCHECK" for i, _ in instrs))
    check("nothing downloaded outside the package manager (no ADD URL, curl, wget)",
          not any(i == "ADD" for i, _ in instrs) and not re.search(r"\b(curl|wget)\b", b_runs + r_all))

    # Every COPY source from the build context exists.
    missing_src = []
    for stage in st:
        for i, a in stage["instrs"]:
            if i != "COPY" or a.startswith("--from="):
                continue
            parts = shlex.split(a)
            for src in parts[:-1]:
                if not os.path.exists(os.path.join(ROOT, src)):
                    missing_src.append(src)
    check("every COPY source exists in the repository", not missing_src, str(missing_src))

    # One version everywhere.
    arg = re.search(r"^ARG VERSION=(\S+)", text, re.M)
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        cm = re.search(r"project\(smbgate VERSION (\S+)", f.read())
    with open(os.path.join(ROOT, "charts", "smbgate", "Chart.yaml")) as f:
        av = re.search(r'^appVersion:\s*"?([^"\s]+)"?', f.read(), re.M)
    with open(os.path.join(ROOT, "charts", "smbgate", "values.yaml")) as f:
        tag = re.search(r'^image:\n(?:  .*\n)*?  tag:\s*"?([^"\s]+)"?', f.read(), re.M)
    versions = {
        "Dockerfile ARG VERSION": arg and arg.group(1),
        "CMakeLists.txt": cm and cm.group(1),
        "Chart appVersion": av and av.group(1),
        "values image.tag": tag and tag.group(1),
    }
    check("one version: Dockerfile, CMake project, Chart appVersion, values image.tag",
          len(set(versions.values())) == 1 and None not in versions.values(), str(versions))

    # The package lists against what the binaries link.
    check_libraries("smbgate", ["RUNTIME"], "--runtime")
    check_libraries("smbgate-csi-node", ["RUNTIME", "CSI_RUNTIME"], "--runtime and --csi-runtime")

    if shutil.which("hadolint"):
        r = subprocess.run(["hadolint", DOCKERFILE], capture_output=True, text=True)
        check("hadolint", r.returncode == 0, r.stdout + r.stderr)
    else:
        skip("hadolint", "not installed")


main()
print(f"RESULT passed={results['passed']} failed={results['failed']}")
sys.exit(1 if results["failed"] else 0)
