#!/bin/sh
# Every configuration key a parser accepts is documented in certgate.json(5), and every
# subcommand and handled signal in certgate(8).
#
# The accepted keys are read from the source: the configuration parsers validate each object
# with be_json_keys(obj, path, ARRAY, C, e) against a static NULL-terminated array of key
# names, and read each key with be_json_str/uint/bool/strv/obj(obj, path, "key", ..., C, e);
# "configuration" is the error code argument: BE_E_CONFIG, or a macro #defined to it in that
# file (request bodies are parsed with BE_E_MALFORMED and are not configuration).  The
# top-level keys are gw_config.c's own[] list and the adapters' names.  A key is documented
# when certgate.json.5 names it as a tagged paragraph's term: a line ".B key" (or .BR/.BI),
# as every key entry there is written.
. "${top_srcdir:-.}/tests/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not installed"
	exit 0
fi

python3 - "${top_srcdir:-.}" <<'PY'
import os
import re
import sys

top = sys.argv[1]
t = 0
failed = 0


def ok(cond, name, diag=None):
    global t, failed
    t += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (t, name))
    if not cond:
        failed += 1
        for line in (diag or "").splitlines():
            print("# " + line)


def strip_comments(src):
    """Removes C comments, keeping string literals (and line numbers) intact."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_args(src, start):
    """Arguments of the call whose '(' is at start, split at top-level commas."""
    depth, i, args, cur = 0, start, [], []
    while i < len(src):
        c = src[i]
        if c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            cur.append(src[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    return args


ARRAY = re.compile(r"const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\w*\s*\]\s*=\s*\{([^}]*)\}",
                   re.S)
CALL = re.compile(r"\bbe_json_(keys|str|uint|bool|strv|obj)\s*\(")
LIT = re.compile(r'"((?:[^"\\]|\\.)*)"')

keys = {}        # key -> "file:line" of one place accepting it
problems = []

for d in ("gateway", "backend", "protocols"):
    for f in sorted(os.listdir(os.path.join(top, d))):
        if not f.endswith(".c") or f == "be_json.c":
            continue
        path = os.path.join(d, f)
        src = strip_comments(open(os.path.join(top, path), encoding="utf-8").read())
        config_codes = {"BE_E_CONFIG"} | set(
            re.findall(r"^\s*#\s*define\s+(\w+)\s+BE_E_CONFIG\s*$", src, re.M))
        arrays = [(m.start(), m.group(1), m.group(2)) for m in ARRAY.finditer(src)]

        def add(key, pos):
            keys.setdefault(key, "%s:%d" % (path, src.count("\n", 0, pos) + 1))

        for m in CALL.finditer(src):
            args = call_args(src, m.end() - 1)
            if len(args) < 4 or args[-2] not in config_codes:
                continue
            if m.group(1) == "keys":
                name = args[2]
                # the nearest definition before the call: each parser declares its own
                found = [a for a in arrays if a[1] == name and a[0] < m.start()]
                if not found:
                    problems.append("%s: be_json_keys with array %s: definition not found"
                                    % (path, name))
                    continue
                body = found[-1][2]
                for item in [x.strip() for x in body.split(",") if x.strip()]:
                    lm = LIT.fullmatch(item)
                    if lm:
                        add(lm.group(1), found[-1][0])
                    elif item != "NULL":
                        problems.append("%s: array %s holds %s, not a string literal"
                                        % (path, name, item))
            else:
                lm = LIT.fullmatch(args[2])
                if lm:
                    add(lm.group(1), m.start())
                else:
                    problems.append("%s: be_json_%s key %s is not a string literal"
                                    % (path, m.group(1), args[2]))
        if path == os.path.join("gateway", "gw_config.c"):
            for pos, name, body in arrays:
                if name == "own":
                    for lm in LIT.finditer(body):
                        add(lm.group(1), pos)
        if d == "protocols":
            # adapters with a configuration section (an init hook): their name is a key
            for m in re.finditer(r"struct\s+gw_adapter\s+\w+\s*=\s*\{(.*?)\};", src, re.S):
                nm = re.search(r'\.name\s*=\s*"([^"]+)"', m.group(1))
                if nm and re.search(r"\.init\s*=", m.group(1)):
                    add(nm.group(1), m.start())

ok(not problems, "/man/keys/extraction: every configuration parser call was understood",
   "\n".join(problems))
# A broken extraction must not pass silently: the gateway, CA and profile parsers alone
# accept far more keys than this.
ok(len(keys) >= 60, "/man/keys/extraction: found %d configuration keys" % len(keys))

man = open(os.path.join(top, "man", "certgate.json.5"), encoding="utf-8").read()
terms = set()
for line in man.splitlines():
    m = re.match(r'^\.B[RI]?\s+"?([A-Za-z0-9_]+)"?(\s|$)', line)
    if m:
        terms.add(m.group(1))

for key in sorted(keys):
    ok(key in terms, "/man/keys/%s: documented in certgate.json(5)" % key,
       "accepted at %s, but no '.B %s' entry in man/certgate.json.5" % (keys[key], key))

# certgate(8): every subcommand of gw_main.c's table, and the signals serve handles.
page8 = open(os.path.join(top, "man", "certgate.8"), encoding="utf-8").read()
main_c = strip_comments(open(os.path.join(top, "gateway", "gw_main.c"), encoding="utf-8").read())
cmds = re.findall(r'\{\s*"([a-z-]+)"\s*,\s*gw_cmd_\w+\s*\}', main_c) + ["version", "help"]
ok(len(cmds) >= 8, "/man/commands/extraction: found %d subcommands" % len(cmds))
tagged = set()
for line in page8.splitlines():
    m = re.match(r"^\.B[RI]?\s+(.*)$", line)
    if m:
        for word in re.findall(r"[a-z][a-z\\-]*", m.group(1)):
            tagged.add(word.replace("\\-", "-"))
for c in cmds:
    ok(c in tagged, "/man/commands/%s: documented in certgate(8)" % c,
       "no '.B %s' entry in man/certgate.8" % c.replace("-", "\\-"))
for sig in re.findall(r"sigaddset\(&set,\s*(SIG[A-Z]+)\)", main_c):
    ok(re.search(r"^\.B[R]?\s+.*\b%s\b" % sig, page8, re.M) is not None,
       "/man/signals/%s: documented in certgate(8)" % sig)

print("1..%d" % t)
sys.exit(1 if failed else 0)
PY
