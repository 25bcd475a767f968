#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make lava's LAVA side: the job and device configuration rendered, KTAP
results as LAVA test cases, and the comparison of a LAVA job's cases with
the direct run's KTAP.

  lava.py job TEMPLATE VARS.json        the job (YAML) on stdout
  lava.py device DEVICE.jinja2 JOB.yaml TEMPLATE_DIR
                                        the device configuration on stdout
  lava.py lava < KTAP                   one "ID VERDICT" line per KTAP result
                                        (run in the guest by
                                        ci/lava/guest-test.sh, which calls
                                        lava-test-case ID --result VERDICT)
  lava.py map < KTAP                    "ID<TAB>KTAP name" per result
  lava.py results LAVA_LOG DEFINITION   the cases LAVA recorded for that test
                                        definition, "ID VERDICT" per line,
                                        from lava-run's log (YAML lines)
  lava.py console LAVA_LOG              the guest's console from that log
  lava.py lavacli RESULTS.json          the same from a lab: "ID VERDICT" per
                                        entry of `lavacli results JOB
                                        0_pinlab --json` (a list of
                                        {"name", "result", ...})
  lava.py compare DIRECT.ktap LAVA_CASES
                                        same cases, same verdicts, or one line
                                        per difference naming the KTAP case;
                                        "N passed, N failed, N skipped" (a
                                        difference counts as failed, and so
                                        does a case failed in both); exit 1
                                        on any failure

job: VARS.json holds the template's variables (ci/lava/job.jinja2 lists
them); the output is checked to be YAML with the keys lava-run needs.
device: what a LAVA server does when it schedules JOB.yaml: the device
dictionary DEVICE.jinja2 (which extends a device-type template) rendered
with the job's context as variables, TEMPLATE_DIR holding lava-server's
device-types (qemu.jinja2, base.jinja2; from the lava-server package,
never configured here).  Both need jinja2 and yaml (Debian's python3 with
lava-dispatcher's dependencies); the guest's commands (lava) need neither.

A KTAP name becomes a LAVA test case id deterministically, from the name
alone: every run of characters outside [A-Za-z0-9._-] is one "_" (the LAVA
server shows ids in URLs; the dispatcher rejects whitespace and rewrites
"/"), and an id longer than LAVA_MAX (the server's TestCase name field) is
cut and given the first 8 hex digits of the name's SHA-1.  A name that
occurs again in the same KTAP (it should not: report.py checks that leaf
names are unique per program) gets "#2", "#3", ... before the mapping.  Two
names that map to one id are an error, on both sides: a comparison must
never merge two cases.

Verdicts: "ok" is pass, "not ok" fail, "ok ... # SKIP" skip (report.py
prints a SKIP only where ci/allowed-skips allows it; any other skip is
already "not ok").
"""
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report import DIRECTIVE_RE, RESULT_RE  # noqa: E402  (ci/report.py's KTAP grammar)

# The host's commands need jinja2 and yaml; the guest's python3 may lack
# them.
try:
    import jinja2
    import yaml
    SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:
    jinja2 = yaml = None

LAVA_MAX = 100
VERDICTS = ("pass", "fail", "skip")


def lava_id(name):
    """The LAVA test case id of one KTAP result name."""
    cid = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "_"
    if len(cid) > LAVA_MAX:
        cid = cid[:LAVA_MAX - 9] + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return cid


def ktap_results(text):
    """[(name, verdict)] of every result line of a flat KTAP (report.py's)."""
    out, seen = [], {}
    for line in text.splitlines():
        m = RESULT_RE.match(line)
        if not m:
            continue
        rest = m.group("rest").strip()
        if rest.startswith("- "):
            rest = rest[2:]
        d = DIRECTIVE_RE.search(rest)
        name = rest[:d.start()].rstrip() if d else rest
        if m.group("not"):
            verdict = "fail"
        elif d and d.group("directive").upper() == "SKIP":
            verdict = "skip"
        else:
            verdict = "pass"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        out.append((name, verdict))
    return out


def id_map(results):
    """{id: (name, verdict)}; raises ValueError naming two names on one id."""
    ids = {}
    for name, verdict in results:
        cid = lava_id(name)
        if cid in ids:
            raise ValueError(f"'{ids[cid][0]}' and '{name}' map to one LAVA id '{cid}'")
        ids[cid] = (name, verdict)
    return ids


def log_records(path, lvl):
    """The "msg" of each record of level LVL in lava-run's log.  Each line
    is a YAML flow mapping: JSON but for the "!" tags lava-run writes on
    the signals' line numbers (results)."""
    key = f'"lvl": "{lvl}"'
    with open(path, errors="replace") as f:
        for line in f:
            if key not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                try:
                    rec = yaml.load(line, Loader=SafeLoader)
                except yaml.YAMLError:
                    continue
            if isinstance(rec, dict) and rec.get("lvl") == lvl:
                yield rec.get("msg")


def lava_log_results(path, definition):
    """{id: verdict} of the test cases lava-run logged for DEFINITION (its
    log names the definition "<index>_<name>")."""
    got = {}
    def_re = re.compile(r"^\d+_" + re.escape(definition) + "$")
    for msg in log_records(path, "results"):
        if not isinstance(msg, dict) or not def_re.match(str(msg.get("definition", ""))):
            continue
        cid, verdict = str(msg.get("case")), str(msg.get("result"))
        # A repeated id: the guest side refuses to send one.
        got[cid] = "fail" if cid in got else verdict
    return got


def lavacli_results(path):
    """{id: verdict} of the entries of a `lavacli results --json` list."""
    with open(path) as f:
        entries = json.load(f)
    if not isinstance(entries, list):
        raise ValueError(f"{path}: not a list of test case results")
    got = {}
    for e in entries:
        cid, verdict = str(e["name"]), str(e["result"])
        got[cid] = "fail" if cid in got else verdict
    return got


def compare(direct_path, lava_path):
    """Print each difference and the comparison's summary; 0 if none."""
    with open(direct_path, errors="replace") as f:
        direct = id_map(ktap_results(f.read()))
    lava = {}
    with open(lava_path) as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in VERDICTS + ("unknown",):
                print(f"not ok {lava_path}:{n}: malformed line {line.rstrip()!r}")
                return 1
            lava[fields[0]] = fields[1]
    diffs, failed = [], []
    counts = dict.fromkeys(VERDICTS, 0)
    for cid, (name, verdict) in direct.items():
        if cid not in lava:
            diffs.append(f"missing in LAVA: {name} (direct: {verdict})")
        elif lava[cid] != verdict:
            diffs.append(f"verdict differs: {name}: direct {verdict}, LAVA {lava[cid]}")
        else:
            counts[verdict] += 1
            if verdict == "fail":
                failed.append(f"failed in both runs: {name}")
    for cid in lava:
        if cid not in direct:
            diffs.append(f"only in LAVA: {cid} ({lava[cid]})")
    for d in diffs + failed:
        print(f"# {d}")
    print(f"# compared {len(direct)} direct cases with {len(lava)} LAVA cases: "
          f"{len(diffs)} differences")
    # A difference is a failure of the comparison; a case that failed in
    # both runs is still a failure.
    print(f"{counts['pass']} passed, {counts['fail'] + len(diffs)} failed, "
          f"{counts['skip']} skipped")
    return 1 if diffs or counts["fail"] or not direct else 0


def env_for(*dirs):
    # StrictUndefined: a variable the caller forgot is an error, not "".
    return jinja2.Environment(loader=jinja2.FileSystemLoader(list(dirs)),
                              undefined=jinja2.StrictUndefined,
                              trim_blocks=True, autoescape=False)


def render_job(template, vars_path):
    with open(vars_path) as f:
        variables = json.load(f)
    env = env_for(os.path.dirname(os.path.abspath(template)))
    text = env.get_template(os.path.basename(template)).render(**variables)
    job = yaml.safe_load(text)
    for key in ("device_type", "context", "actions"):
        if key not in job:
            raise ValueError(f"rendered job lacks '{key}'")
    return text


def render_device(device, job_path, template_dir):
    with open(job_path) as f:
        context = yaml.safe_load(f).get("context", {})
    # lava-server's templates test undefined variables with "default()":
    # the default Undefined, not the strict one.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([os.path.dirname(os.path.abspath(device)),
                                        template_dir]),
        trim_blocks=True, autoescape=False)
    text = env.get_template(os.path.basename(device)).render(**context)
    dev = yaml.safe_load(text)
    try:
        dev["actions"]["boot"]["methods"]["qemu"]["parameters"]["command"]
    except (KeyError, TypeError):
        raise ValueError(f"{device} did not render a qemu boot method") from None
    return text


def main(argv):
    if len(argv) >= 2 and argv[1] in ("lava", "map") and len(argv) == 2:
        try:
            ids = id_map(ktap_results(sys.stdin.read()))
        except ValueError as e:
            print(f"lava.py: {e}", file=sys.stderr)
            return 1
        if not ids:
            print("lava.py: no KTAP result on stdin", file=sys.stderr)
            return 1
        for cid, (name, verdict) in ids.items():
            print(f"{cid} {verdict}" if argv[1] == "lava" else f"{cid}\t{name}")
        return 0
    if len(argv) == 3 and argv[1] == "console":
        for msg in log_records(argv[2], "target"):
            print(msg)
        return 0
    if (len(argv) == 4 and argv[1] == "results") or (len(argv) == 3 and argv[1] == "lavacli"):
        try:
            got = (lava_log_results(argv[2], argv[3]) if argv[1] == "results"
                   else lavacli_results(argv[2]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"lava.py: {e}", file=sys.stderr)
            return 1
        for cid, verdict in got.items():
            print(f"{cid} {verdict}")
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        try:
            return compare(argv[2], argv[3])
        except (OSError, ValueError) as e:
            print(f"lava.py: {e}", file=sys.stderr)
            return 2
    if argv[1:2] in (["job"], ["device"]) and len(argv) == {"job": 4, "device": 5}[argv[1]]:
        try:
            if argv[1] == "job":
                sys.stdout.write(render_job(argv[2], argv[3]))
            else:
                sys.stdout.write(render_device(argv[2], argv[3], argv[4]))
        except (OSError, ValueError, jinja2.TemplateError, yaml.YAMLError) as e:
            print(f"lava.py: {e}", file=sys.stderr)
            return 1
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
