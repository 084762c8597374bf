#!/usr/bin/env python3
"""CPython interpreters from Debian unstable (sid), taken without installing.

    debian_sid.py fetch [3.14 3.15 ...]   fill the cache (what .ci/deps runs)
    debian_sid.py show                    print each interpreter's command

The packages (python3.X, its -dbg build python3.Xd, sid's libc6 and the
libraries the interpreters link) are fetched with `apt-get download` under
an apt configuration of their own (a private state folder, a sources list
naming the sid suite of the mirror the machine's apt sources name) and
unpacked with `dpkg -x` into one root in the cache,
${XDG_CACHE_HOME:-~/.cache}/pyheapsnap-tests/sid, never into the system.
An interpreter runs as

    ROOT/lib64/ld-linux-x86-64.so.2 --library-path LIBS ROOT/usr/bin/python3.X

with PYTHONHOME=ROOT/usr, so that sid's own libc serves it.  A second call
finds the root complete (a stamp names what is in it) and does nothing.
"""

import contextlib
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys

VERSIONS = ("3.14", "3.15")

# The libraries python3.X and python3.Xd and their extension modules link,
# besides their own packages (tcl/tk and their X11 closure left out).
LIBRARIES = ("libc6", "libgcc-s1", "zlib1g", "libexpat1", "libzstd1", "libffi8",
             "libbz2-1.0", "liblzma5", "libssl3t64", "libsqlite3-0", "libuuid1",
             "libncursesw6", "libtinfo6", "libreadline8t64", "libgdbm6t64",
             "libmpdec4", "libdb5.3t64")


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "pyheapsnap-tests", "sid")


def packages(version):
    return ["python%s" % version, "python%s-minimal" % version,
            "libpython%s-minimal" % version, "libpython%s-stdlib" % version,
            "python%s-dbg" % version, "libpython%s-dbg" % version]


class Unavailable(Exception):
    """Why sid's interpreters cannot be had here (the tests skip)."""


def mirror():
    """The Debian mirror the machine's own apt sources name (deb822 URIs:
    or one-line deb entries), for the suite that ships Debian itself."""
    found = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) \
            + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            m = re.match(r"^URIs:\s*(\S+)", line)
            if not m:
                m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s", line)
            if m:
                found.append(m.group(1).rstrip("/"))
    # The archive itself, not its security or update mirrors.
    for uri in found:
        if re.search(r"/debian$", uri):
            return uri
    raise Unavailable("no Debian mirror named in /etc/apt/sources.list*")


def keyring():
    for path in ("/usr/share/keyrings/debian-archive-keyring.gpg",
                 "/etc/apt/trusted.gpg.d"):
        if os.path.exists(path):
            return path
    raise Unavailable("no Debian archive keyring (package debian-archive-keyring)")


def run(argv, env=None, timeout=1800):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace").strip().splitlines()[-3:]
        raise Unavailable("%s failed (status %d): %s"
                          % (" ".join(argv[:2]), proc.returncode, " / ".join(tail)))
    return proc.stdout.decode(errors="replace")


def apt_env(state):
    """Writes an apt configuration that keeps everything inside state."""
    for d in ("lists/partial", "cache/archives/partial", "etc/apt.conf.d",
              "etc/preferences.d", "etc/trusted.gpg.d"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    open(os.path.join(state, "status"), "a").close()
    with open(os.path.join(state, "etc", "sources.list"), "w") as f:
        f.write("deb [signed-by=%s] %s sid main\n" % (keyring(), mirror()))
    conf = os.path.join(state, "apt.conf")
    with open(conf, "w") as f:
        for key, value in (("Dir::State", state), ("Dir::State::lists", state + "/lists"),
                           ("Dir::State::status", state + "/status"),
                           ("Dir::Cache", state + "/cache"), ("Dir::Etc", state + "/etc"),
                           ("Dir::Etc::sourcelist", state + "/etc/sources.list"),
                           ("Dir::Etc::sourceparts", "-"),
                           ("Dir::Etc::parts", state + "/etc/apt.conf.d"),
                           ("Dir::Etc::preferencesparts", state + "/etc/preferences.d"),
                           ("APT::Architecture", "amd64"),
                           ("Acquire::Languages", "none"),
                           # sid's Release is re-signed daily; a mirror
                           # snapshot may be older than its Valid-Until.
                           ("Acquire::Check-Valid-Until", "false"),
                           # An unreachable mirror is a skip, soon.
                           ("Acquire::http::Timeout", "30"),
                           ("Acquire::Retries", "1")):
            f.write('%s "%s";\n' % (key, value))
        f.write('APT::Architectures { "amd64"; };\n')
    env = dict(os.environ, APT_CONFIG=conf, DEBIAN_FRONTEND="noninteractive")
    env.pop("PYTHONHOME", None)
    return env


@contextlib.contextmanager
def locked(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def stamp_path(root, version):
    return os.path.join(root, ".complete-" + version)


def ensure(version):
    """The unpacked root holding python<version> and python<version>d,
    fetched and unpacked first if the cache lacks them.  Raises
    Unavailable saying why they cannot be had."""
    if os.uname().machine != "x86_64":
        raise Unavailable("sid interpreters are fetched for x86-64 only")
    base = cache_dir()
    root = os.path.join(base, "root")
    if os.path.exists(stamp_path(root, version)):
        return root
    for tool in ("apt-get", "dpkg"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed" % tool)
    with locked(os.path.join(base, "lock")):
        if os.path.exists(stamp_path(root, version)):
            return root
        state = os.path.join(base, "apt")
        env = apt_env(state)
        run(["apt-get", "update", "-q"], env=env)
        debs = os.path.join(base, "debs")
        os.makedirs(debs, exist_ok=True)
        wanted = packages(version) + list(LIBRARIES)
        # Only what sid has (libmpdec, libdb may come and go).
        have = []
        for pkg in wanted:
            try:
                run(["apt-cache", "show", "--no-all-versions", pkg], env=env, timeout=120)
                have.append(pkg)
            except Unavailable:
                if pkg in packages(version):
                    raise Unavailable("sid has no package %s" % pkg)
        proc = subprocess.run(["apt-get", "download", "-q"] + have, cwd=debs, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=3600)
        if proc.returncode != 0:
            tail = proc.stdout.decode(errors="replace").strip().splitlines()[-3:]
            raise Unavailable("apt-get download failed: %s" % " / ".join(tail))
        os.makedirs(root, exist_ok=True)
        for pkg in have:
            files = glob.glob(os.path.join(debs, pkg + "_*.deb"))
            if not files:
                raise Unavailable("apt-get download left no %s_*.deb in %s" % (pkg, debs))
            for deb in files:
                run(["dpkg", "-x", deb, root])
                os.unlink(deb)
        for exe in ("python" + version, "python" + version + "d"):
            if not os.access(os.path.join(root, "usr", "bin", exe), os.X_OK):
                raise Unavailable("sid's packages gave no usr/bin/%s" % exe)
        with open(stamp_path(root, version), "w") as f:
            f.write(" ".join(have) + "\n")
    return root


def library_path(root):
    dirs = [os.path.join(root, d) for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")]
    return ":".join(d for d in dirs if os.path.isdir(d))


def command(root, exe):
    """(argv prefix ending in the interpreter, extra environment)."""
    ld = os.path.join(root, "lib64", "ld-linux-x86-64.so.2")
    if not os.path.exists(ld):
        ld = os.path.join(root, "usr", "lib64", "ld-linux-x86-64.so.2")
    argv = [ld, "--library-path", library_path(root), os.path.join(root, "usr", "bin", exe)]
    return argv, {"PYTHONHOME": os.path.join(root, "usr")}


def main(argv):
    if not argv or argv[0] not in ("fetch", "show"):
        sys.stderr.write("usage: debian_sid.py fetch|show [3.X ...]\n")
        return 2
    versions = argv[1:] or list(VERSIONS)
    for v in versions:
        try:
            root = ensure(v)
        except (Unavailable, OSError, subprocess.SubprocessError) as e:
            sys.stderr.write("debian_sid: python%s from sid cannot be had: %s\n" % (v, e))
            continue
        for exe in ("python" + v, "python" + v + "d"):
            prefix, env = command(root, exe)
            if argv[0] == "show":
                print(" ".join("%s=%s" % kv for kv in env.items()), " ".join(prefix))
            else:
                print("debian_sid: %s ready in %s" % (exe, root))
    # What cannot be had is no failure here: its tests skip, saying why.
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
