#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Self-test of ci/lava/lava.py on synthetic input: the KTAP-to-LAVA id
mapping, the comparison (it must name each kind of difference and fail),
the reading of lava-run's log (its "!"-tagged result lines) and of a
`lavacli results --json` list, and the job template rendering.  Exit 0 when
every check holds; make check runs it (ci/pinlab.sh, a host check)."""
import contextlib
import io
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lava  # noqa: E402

FAILED = []


def check(ok, what):
    if not ok:
        FAILED.append(what)
        print(f"not ok: {what}")


def run_compare(direct, cases):
    with tempfile.TemporaryDirectory() as d:
        kt, lc = os.path.join(d, "direct.ktap"), os.path.join(d, "cases")
        with open(kt, "w") as f:
            f.write(direct)
        with open(lc, "w") as f:
            f.write(cases)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = lava.compare(kt, lc)
        return rc, out.getvalue()


KTAP = """TAP version 13
1..4
# a diagnostic
ok 1 stock/oracle/ext4-shared: after fsync: disk shows the new bytes
not ok 2 stock/bad_input/pin zero length -> EINVAL
ok 3 stock: rdma # SKIP no rxe here
ok 4 stock: booted kernel matches label
1 passed, 1 failed, 1 skipped
"""

# The mapping: lossy, deterministic, at most 100 characters, injective.
check(lava.lava_id("stock/oracle/ext4-shared: after fsync") ==
      "stock_oracle_ext4-shared_after_fsync", "id of a plain name")
long = "stock/x/" + "a very long case name " * 10
lid = lava.lava_id(long)
check(len(lid) == 100 and lid == lava.lava_id(long), "a long name: 100 characters, stable")
check(lava.lava_id(long + "!") != lid, "two long names with one prefix: two ids")
try:
    lava.id_map([("a: b", "pass"), ("a, b", "pass")])
    check(False, "two names on one id are refused")
except ValueError:
    pass
res = lava.ktap_results(KTAP)
check(res == [("stock/oracle/ext4-shared: after fsync: disk shows the new bytes", "pass"),
              ("stock/bad_input/pin zero length -> EINVAL", "fail"),
              ("stock: rdma", "skip"), ("stock: booted kernel matches label", "pass")],
      "KTAP verdicts: ok, not ok, SKIP")

ids = lava.id_map(res)
same = "".join(f"{cid} {v}\n" for cid, (_, v) in ids.items())
rc, out = run_compare(KTAP, same)
check(rc == 1 and "0 differences" in out and "2 passed, 1 failed, 1 skipped" in out
      and "failed in both runs: stock/bad_input/pin zero length" in out,
      "same verdicts: no difference, the failed case still fails")
ok_ktap = KTAP.replace("not ok 2", "ok 2")
ok_cases = same.replace(" fail\n", " pass\n")
rc, out = run_compare(ok_ktap, ok_cases)
check(rc == 0 and "3 passed, 0 failed, 1 skipped" in out, "all the same and green: exit 0")
tampered = ok_cases.replace("stock_booted_kernel_matches_label pass",
                            "stock_booted_kernel_matches_label fail")
tampered = tampered.replace("stock_rdma skip\n", "") + "stock_extra pass\n"
rc, out = run_compare(ok_ktap, tampered)
check(rc == 1 and "verdict differs: stock: booted kernel matches label: direct pass, LAVA fail" in out
      and "missing in LAVA: stock: rdma (direct: skip)" in out
      and "only in LAVA: stock_extra (pass)" in out and "3 differences" in out,
      "a flipped, a missing and an extra case are each named")
rc, out = run_compare(ok_ktap, "")
check(rc == 1 and "missing in LAVA" in out, "no LAVA cases at all fails")

# lava-run's log: JSON lines, the results ones with YAML "!" tags.
log = "\n".join([
    json.dumps({"dt": "x", "lvl": "target", "msg": "pinlab-guest: running oracle"}),
    '{"dt": "x", "lvl": "results", "msg": {"case": "stock_a", "definition": "0_pinlab", '
    '"endtc": ! "12", "result": "pass", "starttc": ! "11"}}',
    '{"dt": "x", "lvl": "results", "msg": {"case": "login-action", "definition": "lava", '
    '"result": "pass"}}',
    '{"dt": "x", "lvl": "results", "msg": {"case": "stock_b", "definition": "1_other", '
    '"result": "fail"}}',
]) + "\n"
with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
    f.write(log)
try:
    check(lava.lava_log_results(f.name, "pinlab") == {"stock_a": "pass"},
          "the pinlab definition's cases from a tagged log line, no others")
    check(list(lava.log_records(f.name, "target")) == ["pinlab-guest: running oracle"],
          "the console from the target lines")
finally:
    os.unlink(f.name)

with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    json.dump([{"suite": "0_pinlab", "name": "stock_a", "result": "pass"},
               {"suite": "0_pinlab", "name": "stock_b", "result": "fail"}], f)
try:
    check(lava.lavacli_results(f.name) == {"stock_a": "pass", "stock_b": "fail"},
          "lavacli results --json")
finally:
    os.unlink(f.name)

# The job template renders to the images, in order, and the definition.
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    json.dump({"job_name": "pinlab t", "kernel_url": "file:///k", "append": "a=1 b",
               "ramdisk_url": "file:///r.cpio.gz", "tools_url": "file:///t.tar",
               "drives": [{"label": "ext4", "url": "file:///e.img", "compression": None},
                          {"label": "xfs", "url": "http://h/x.img.gz", "compression": "gz"}],
               "memory": 2048, "extra_options": ["-cpu max"], "boot_minutes": 5,
               "test_minutes": 50}, f)
try:
    job = lava.yaml.safe_load(lava.render_job(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "job.jinja2"), f.name))
    images = job["actions"][0]["deploy"]["images"]
    check(list(images) == ["kernel", "ramdisk", "ext4", "xfs"], "images in order")
    check(images["kernel"]["image_arg"] == '-kernel {kernel} -append "a=1 b"',
          "the command line in the kernel's image_arg")
    check(images["xfs"].get("compression") == "gz" and "compression" not in images["ext4"],
          "compression only where given")
    check(job["context"] == {"arch": "amd64", "no_kvm": True, "memory": 2048,
                             "extra_options": ["-cpu max"]}, "the context")
finally:
    os.unlink(f.name)

print(f"{'FAILED: ' + str(len(FAILED)) if FAILED else 'all'} checks"
      f"{'' if FAILED else ' passed'}")
sys.exit(1 if FAILED else 0)
