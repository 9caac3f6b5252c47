#!/usr/bin/env python3
"""Guard for issue 28: every external program that the tests and scripts spawn is
installed by a set-up function of scripts/setup.sh, and that function runs before the
program is first used.

A green CI on a machine where earlier runs left packages installed cannot see a missing
install step; this check reads the code instead of the machine:

1. Finds what is spawned: `Command::new("x")` in Rust (tests/, examples/, src/),
   `executablePath` in Playwright's config, and every word in command position of the
   shell scripts (scripts/*.sh, .ci/run).
2. Each such program must be either in PROGRAMS below (installed by a named set-up
   function, whose `apt-get install` line must name its package) or in BASE (what a
   machine has before natter's set-up: coreutils, bash, python3, git, the Rust and
   Node.js toolchains).
3. Every script that uses a program of PROGRAMS calls its set-up function on an earlier
   line; test.sh calls each set-up function before its first test command (the Rust
   tests and Playwright spawn them too).

`--installed` (test.sh, after set-up) also checks that each program is really on this
machine: a misspelt package would otherwise pass the static check.
"""
import glob
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# program -> (Debian package, set-up function that installs it)
PROGRAMS = {
    "redis-server": ("redis-server", "setup_cluster_services"),
    "redis-cli": ("redis-server", "setup_cluster_services"),  # redis-tools, a dependency
    "initdb": ("postgresql", "setup_cluster_services"),
    "pg_ctl": ("postgresql", "setup_cluster_services"),
    "psql": ("postgresql", "setup_cluster_services"),
    "nginx": ("nginx", "setup_cluster_services"),
    "openssl": ("openssl", "setup_cluster_services"),
    "curl": ("curl", "setup_cluster_services"),
    "chromium": ("chromium", "setup_browser"),
    # From PyPI, into natter's own virtual environment (setup.sh's NATTER_VENV).
    "moto_server": ("moto[server]", "setup_s3"),
}

# Where set-up puts programs that are not on PATH (the virtual environment).
VENV_BIN = os.path.join(os.environ.get("NATTER_VENV", os.path.expanduser("~/.cache/natter-venv")), "bin")

# What a machine has before natter's set-up runs (Debian base, the toolchains the README
# asks for) and shell builtins/keywords.
BASE = set(
    """
    bash sh env cd echo printf exit set source . test [ [[ true false read trap wait kill
    exec shift local export unset return break continue type command eval declare let umask
    if then else elif fi for in do done while until case esac function select time
    ls cat sed awk grep mkdir rm mv cp ln chmod chown date sleep seq mktemp dirname basename
    head tail sort uniq wc tr cut tee touch id whoami readlink realpath xargs find stat du
    df nproc free ps pwd shopt pgrep pkill timeout setsid nohup runuser sudo tar gzip gunzip stdbuf
    python3 git cargo rustup rustc npm npx node apt-get dpkg apt-cache
    """.split()
)

# Installed by the script that uses them, from a registry (not Debian).
SELF_INSTALLED = {"wasm-bindgen", "wasm-opt", "cargo-leptos", "lighthouse",
                  "pip", "python"}  # the last two: the virtual environment's own

# Functions set-up scripts define and call like commands.
SHELL_FUNCS = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{", re.M)

PREFIXES = {"then", "do", "else", "if", "while", "until", "!", "exec", "time", "as_root",
            "as_pg", "sudo", "setsid", "nohup", "{", "elif", "stdbuf"}


def strip_comment(line):
    out, quote = [], None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;"):
            break
        out.append(ch)
    return "".join(out)


def shell_commands(path):
    """(line number, command word) for each command position in a shell script."""
    found, heredoc = [], None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, raw in enumerate(lines, 1):
        if heredoc:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?", raw)
        if m:
            heredoc = m.group(1)
        line = strip_comment(raw)
        # Quoted strings are data, except command substitutions inside them.
        line = re.sub(r"\$\(\([^)]*\)\)", "0", line)  # arithmetic
        subs = re.findall(r"\$\(([^()]*)", line)
        line = re.sub(r"'[^']*'", "''", line)
        # Double-quoted text is data too, but "$DIR/prog" in command position is a program.
        line = re.sub(r'"([^"]*)"', lambda m: m.group(0) if re.match(r"^\$\{?\w+\}?/", m.group(1)) else '""', line)
        line = re.sub(r"^\s*[\w|*.-]+\)", "", line)  # a case label
        line = re.sub(r"(\bin|;;)\s+[\w|*.-]+\)", r"\1 ", line)  # one on the case's line
        for segment in re.split(r"\|\||&&|[|;&`]|\$\(|\(|\)", line) + subs:
            words = re.sub(r"^\s*[\w|*.-]+\)", "", segment).split()  # a case label
            while words and (words[0] in PREFIXES or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
                words = words[1:]
            if words[:3] == ["-u", "postgres", "--"]:
                words = words[3:]
            if words and words[0] == "env":
                words = [w for w in words[1:] if not re.match(r"^[A-Za-z_]+=", w)]
            if not words:
                continue
            word = words[0].strip('"')
            if word.startswith("$") and "/" in word:
                word = os.path.basename(word)  # "$PG_BIN/initdb"
            elif word.startswith(("$", "-", "}", "]", "<", ">", "\"", "'")) or not word:
                continue
            elif "/" in word:
                if word.startswith(("/usr/bin/", "/usr/sbin/", "/bin/")):
                    word = os.path.basename(word)
                else:
                    continue  # a project script or binary
            if re.match(r"^[A-Za-z0-9_.+-]+$", word) and len(word) > 1 and not word.isdigit():
                found.append((n, word))
    return found, lines


def main():
    errors = []
    setup_text = open(os.path.join(ROOT, "scripts/setup.sh"), encoding="utf-8").read()
    funcs = set()
    scripts = sorted(glob.glob(os.path.join(ROOT, "scripts/*.sh"))) + [os.path.join(ROOT, ".ci/run")]
    for s in scripts:
        funcs |= set(SHELL_FUNCS.findall(open(s, encoding="utf-8").read()))

    # 2. each program's package is on its set-up function's install line (apt-get or pip).
    for prog, (pkg, fn) in PROGRAMS.items():
        body = re.search(r"^%s\(\) \{\n(.*?)^\}" % fn, setup_text, re.M | re.S)
        if not body:
            errors.append(f"setup.sh has no function {fn} (installs {prog})")
        elif not re.search(r"(apt-get|pip\"?) install[^\n]*(?<![\w-])%s(?![\w-])" % re.escape(pkg), body.group(1)):
            errors.append(f"setup.sh: {fn} does not apt-get or pip install {pkg} (for {prog})")

    # 1 and 3 for shell scripts.
    for s in scripts:
        rel = os.path.relpath(s, ROOT)
        cmds, lines = shell_commands(s)
        first_call = {}
        for n, text in enumerate(lines, 1):
            for fn in {f for _, f in PROGRAMS.values()}:
                called = re.search(r"(^|[\s;&(])%s\b(?!\s*\(\))" % fn, strip_comment(text))
                if called and fn not in first_call:
                    first_call[fn] = n
        for n, word in cmds:
            if word in BASE or word in funcs or word in SELF_INSTALLED:
                continue
            if word not in PROGRAMS:
                errors.append(f"{rel}:{n}: spawns '{word}', which no set-up function installs "
                              "(add it to PROGRAMS in scripts/check-setup.py and to setup.sh, "
                              "or to BASE if every machine has it)")
                continue
            fn = PROGRAMS[word][1]
            if rel == "scripts/setup.sh":
                continue
            if fn not in first_call or first_call[fn] > n:
                errors.append(f"{rel}:{n}: uses '{word}' before calling {fn}")

    # 1 for Rust and Playwright, 3 for test.sh's test commands.
    spawned = []
    for f in glob.glob(os.path.join(ROOT, "**/*.rs"), recursive=True):
        if "/target/" in f or "/node_modules/" in f:
            continue
        for m in re.finditer(r'Command::new\(\s*"([^"]+)"', open(f, encoding="utf-8").read()):
            spawned.append((os.path.relpath(f, ROOT), os.path.basename(m.group(1))))
    for f in glob.glob(os.path.join(ROOT, "end2end/*.ts")) + glob.glob(os.path.join(ROOT, "end2end/tests/*.ts")):
        for m in re.finditer(r"executablePath:\s*['\"]([^'\"]+)", open(f, encoding="utf-8").read()):
            spawned.append((os.path.relpath(f, ROOT), os.path.basename(m.group(1))))
    test_lines = open(os.path.join(ROOT, "scripts/test.sh"), encoding="utf-8").read().split("\n")
    first_test = next(n for n, t in enumerate(test_lines, 1) if re.match(r"^\s*(cargo (test|run|clippy)|\(cd end2end)", t))
    for rel, prog in spawned:
        if prog in BASE:
            continue
        if prog not in PROGRAMS:
            errors.append(f"{rel}: spawns '{prog}', which no set-up function installs")
            continue
        fn = PROGRAMS[prog][1]
        calls = [n for n, t in enumerate(test_lines, 1) if re.match(r"^\s*%s\b" % fn, t)]
        setup_all = [n for n, t in enumerate(test_lines, 1) if re.match(r"^\s*setup_all\b", t)]
        if fn in ("setup_browser",) and setup_all:
            calls += setup_all  # setup_all runs setup_browser
        if not calls or min(calls) > first_test:
            errors.append(f"{rel} spawns '{prog}', but test.sh calls {fn} only after its first test (line {first_test})")

    if "--installed" in sys.argv:
        for prog in PROGRAMS:
            if (shutil.which(prog) is None and not glob.glob(f"/usr/lib/postgresql/*/bin/{prog}")
                    and not os.access(os.path.join(VENV_BIN, prog), os.X_OK)):
                errors.append(f"'{prog}' is not installed although set-up ran ({PROGRAMS[prog][1]})")

    for e in errors:
        print("check-setup:", e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"check-setup: {len(PROGRAMS)} spawned programs, each installed before its first use")


if __name__ == "__main__":
    main()
