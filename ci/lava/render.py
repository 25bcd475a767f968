#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Render make lava's LAVA job and device dictionary (ci/lava/run-job.sh).

  render.py job TEMPLATE VARS.json          the job (YAML) on stdout
  render.py device DEVICE.jinja2 JOB.yaml TEMPLATE_DIR
                                            the device configuration on stdout

job: VARS.json holds the template's variables (ci/lava/job.jinja2 lists
them); the output is checked to be YAML with the keys lava-run needs.

device: what a LAVA server does when it schedules JOB.yaml: the device
dictionary DEVICE.jinja2 (which extends a device-type template) rendered
with the job's context as variables, TEMPLATE_DIR holding lava-server's
device-types (qemu.jinja2, base.jinja2; from the lava-server package,
never configured here).
"""
import json
import os
import sys

import jinja2
import yaml


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
    try:
        if len(argv) == 4 and argv[1] == "job":
            sys.stdout.write(render_job(argv[2], argv[3]))
            return 0
        if len(argv) == 5 and argv[1] == "device":
            sys.stdout.write(render_device(argv[2], argv[3], argv[4]))
            return 0
    except (OSError, ValueError, jinja2.TemplateError, yaml.YAMLError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
