#!/usr/bin/env python3
"""Static review of deploy/docker/Dockerfile (no Docker engine here), in the
spirit of hadolint plus recsys-specific checks:

 - multi-stage on Debian 12: a build stage FROM debian:12 and a runtime stage
   FROM debian:12(-slim); no :latest;
 - the build stage COPYs and runs scripts/install-deps.sh, so its package list
   is exactly the script's, and builds with scripts/build.sh;
 - the runtime stage's apt-get install list equals what the binaries need: ldd
   on every binary the Dockerfile copies -> dpkg -S on each resolved library ->
   packages, minus those already in debian:12-slim (BASE_PACKAGES) and those
   pulled in as dependencies of listed packages (dpkg-query Depends); a missing
   package or an unneeded extra is an error;
 - hadolint-style: apt-get install with -y and --no-install-recommends, apt lists
   removed in the same RUN, no `cd` in RUN (DL3003), no sudo, COPY not ADD, a
   pipefail SHELL before RUNs, absolute WORKDIR, exec-form ENTRYPOINT/CMD, a
   non-root USER last;
 - Dockerfile.dockerignore keeps the sources and drops build trees, registries,
   state and .git.

  docker_check.py --dockerfile deploy/docker/Dockerfile --bin-dir build/bin --repo .
"""
import argparse
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys

# Packages of debian:12-slim's base system that the binaries link against.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def instructions(path):
    """[(line number, INSTRUCTION, argument text)] with continuations joined."""
    out, buf, start = [], "", 0
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


def needed_packages(binaries):
    """Packages owning the shared libraries the binaries load (ldd), found with
    dpkg -S on the resolved path (alternatives: libblas.so.3 -> OpenBLAS), else
    on the path ldd printed (merged /usr: dpkg knows /lib/x86_64-linux-gnu/...)."""
    libs = set()
    for b in binaries:
        r = subprocess.run(["ldd", b], capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s+(/\S+)", line)
            if m:
                libs.add(m.group(1))
    def owners(paths):
        """{path: [packages]} for the paths dpkg -S knows (one dpkg call)."""
        r = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True)
        found = {}
        for line in r.stdout.splitlines():
            pkgs_part, _, path = line.partition(": ")
            found[path.strip()] = [p.strip().split(":")[0] for p in pkgs_part.split(",")]
        return found

    pkgs = set()
    candidates = {lib: [os.path.realpath(lib), lib,
                        os.path.realpath(lib).replace("/usr/lib/", "/lib/", 1)] for lib in libs}
    known = owners(sorted({c for cs in candidates.values() for c in cs}))
    for lib, cs in sorted(candidates.items()):
        hit = next((known[c] for c in cs if c in known), None)
        if hit is None:
            raise SystemExit(f"dpkg -S cannot place {lib}")
        pkgs.update(hit)
    return pkgs, libs


def depends(pkg, seen=None):
    """pkg's installed Depends/Pre-Depends, transitively."""
    seen = set() if seen is None else seen
    r = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg],
                       capture_output=True, text=True)
    for alt in r.stdout.split(","):
        for choice in alt.split("|"):
            name = choice.strip().split(" ")[0].split(":")[0]
            if name and name not in seen:
                seen.add(name)
                depends(name, seen)
    return seen


def dockerignore_excludes(patterns, path):
    """Docker semantics for the simple patterns used: last match wins, ! negates."""
    excluded = False
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.rstrip("/")
        hit = fnmatch.fnmatch(path, pat) or (pat.startswith("**/") and
                                              (fnmatch.fnmatch(path, pat[3:]) or
                                               fnmatch.fnmatch(os.path.basename(path), pat[3:])))
        if hit:
            excluded = not neg
    return excluded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dockerfile", required=True)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--repo", required=True)
    args = ap.parse_args()
    problems = []
    ins = instructions(args.dockerfile)

    # Stages.
    stages = []  # (name, base, [instructions])
    args_default = {}
    for n, word, rest in ins:
        if word == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args_default[k] = v
        if word == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args_default.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append((name, base, []))
        elif stages:
            stages[-1][2].append((n, word, rest))
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    for name, base, _ in stages:
        if not re.fullmatch(r"debian:12(\.\d+)?(-slim)?(@sha256:[0-9a-f]{64})?", base):
            problems.append(f"stage {name}: base {base} is not debian:12")
    build, runtime = stages[0], stages[-1]

    # Build stage: install-deps.sh and build.sh.
    btext = "\n".join(f"{w} {r}" for _, w, r in build[2])
    if not re.search(r"^COPY\s+scripts/install-deps\.sh\s", btext, re.M):
        problems.append("build stage does not COPY scripts/install-deps.sh")
    if not re.search(r"^RUN\s+.*scripts/install-deps\.sh", btext, re.M):
        problems.append("build stage does not run scripts/install-deps.sh")
    if not re.search(r"^RUN\s+.*scripts/build\.sh", btext, re.M):
        problems.append("build stage does not run scripts/build.sh")

    # Runtime packages vs ldd.
    install_lists = []
    for n, word, rest in runtime[2]:
        if word == "RUN" and "apt-get install" in rest:
            seg = rest.split("apt-get install", 1)[1].split("&&")[0]
            install_lists.append([t for t in shlex.split(seg) if not t.startswith("-")])
    listed = {p for lst in install_lists for p in lst}
    copied = set()
    for n, word, rest in build[2]:
        copied.update(re.findall(r"build/bin/(recsys-[a-z]+)", rest))
    binaries = [os.path.join(args.bin_dir, b) for b in sorted(copied)]
    missing_bins = [b for b in binaries if not os.path.exists(b)]
    if not copied or missing_bins:
        problems.append(f"binaries to copy missing in {args.bin_dir}: {missing_bins or 'none copied'}")
    else:
        need, libs = needed_packages(binaries)
        covered = set(listed) | BASE_PACKAGES
        for p in listed:
            covered |= depends(p)
        lacking = sorted(need - covered)
        extra = sorted(listed - need)
        if lacking:
            problems.append(f"runtime stage lacks packages the binaries load: {lacking}")
        if extra:
            problems.append(f"runtime stage installs packages no binary loads: {extra}")
        print(f"runtime packages: {len(listed)} listed = ldd/dpkg -S of {len(binaries)} binaries "
              f"({len(libs)} libraries, {len(need)} packages, minus base image and dependencies)")

    # hadolint-style rules.
    saw_shell = False
    last_user = None
    for stage_name, _, body in stages:
        saw_shell = False
        for n, word, rest in body:
            where = f"line {n}"
            if word == "SHELL":
                saw_shell = "pipefail" in rest
            if word == "RUN":
                if "|" in rest.replace("||", "") and not saw_shell:
                    problems.append(f"{where}: RUN with a pipe but no SHELL [... -o pipefail ...] (DL4006)")
                if re.search(r"(^|&&|;)\s*cd\s", rest):
                    problems.append(f"{where}: cd in RUN; use WORKDIR (DL3003)")
                if "sudo " in rest:
                    problems.append(f"{where}: sudo (DL3004)")
                if "apt-get install" in rest:
                    if "--no-install-recommends" not in rest:
                        problems.append(f"{where}: apt-get install without --no-install-recommends (DL3015)")
                    if not re.search(r"apt-get install[^&]*\s-y\b", rest):
                        problems.append(f"{where}: apt-get install without -y (DL3014)")
                if ("apt-get" in rest or "install-deps.sh" in rest) and "rm -rf /var/lib/apt/lists" not in rest:
                    problems.append(f"{where}: apt lists not removed in the same RUN (DL3009)")
            if word == "ADD":
                problems.append(f"{where}: ADD; use COPY (DL3020)")
            if word == "WORKDIR" and not rest.startswith("/"):
                problems.append(f"{where}: relative WORKDIR (DL3000)")
            if word in ("ENTRYPOINT", "CMD"):
                try:
                    if not isinstance(json.loads(rest), list):
                        raise ValueError
                except ValueError:
                    problems.append(f"{where}: {word} not in exec (JSON) form (DL3025)")
            if word == "USER" and stage_name == runtime[0]:
                last_user = rest
            if word == "FROM" and ":latest" in rest:
                problems.append(f"{where}: :latest (DL3007)")
    if last_user is None or last_user.split(":")[0] in ("root", "0"):
        problems.append(f"runtime stage must end as a non-root USER (got {last_user})")

    # The ignore file.
    ignore = os.path.join(os.path.dirname(args.dockerfile), "Dockerfile.dockerignore")
    if not os.path.exists(ignore):
        problems.append("no Dockerfile.dockerignore next to the Dockerfile")
    else:
        pats = [l.strip() for l in open(ignore) if l.strip() and not l.startswith("#")]
        for keep in ("CMakeLists.txt", "protos", "common", "offline", "retrieval_service",
                     "ranking_service", "gateway", "bench", "tests", "scripts", "data",
                     "scripts/install-deps.sh", "data/ml-latest-small/README.txt"):
            if os.path.exists(os.path.join(args.repo, keep)) and dockerignore_excludes(pats, keep):
                problems.append(f"Dockerfile.dockerignore excludes {keep}, which the build needs")
        for drop in ("build", "build-deploy", ".git", "registry", "state", "out",
                     "tests/deploy/k8s/node_modules"):
            if not dockerignore_excludes(pats, drop):
                problems.append(f"Dockerfile.dockerignore keeps {drop} in the context")

    for p in problems:
        print(f"PROBLEM {p}")
    if not problems:
        print(f"stages: {', '.join(f'{n} FROM {b}' for n, b, _ in stages)}; runtime USER {last_user}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
