"""`terraform plan` of a one-tenant change: one root vs the tenant's DNS shard.

1. A synthetic repo of N tenants (examples/synth), `dns_shards` 16, each
   tenant naming its hosted zone's id (`[dns] zone_id`: the emulator makes the
   ids, and at this scale a lookup by name lists every zone, per tenant).
2. moto's server holds the N zones and their records, put there with boto3
   (one change batch per zone), as an apply would have left them.
3. The states are crafted: one real apply of one tenant gives an
   `aws_route53_record` instance, copied for every record with its values
   (a plan refreshes each from the emulator anyway).
4. One tenant's TTL changes and `mailops build` runs; then `terraform plan`
   (a) in one root holding every dns_<domain>.tf and the whole state, and
   (b) in that tenant's DNS root with its shard's state. Each plan's requests
   are the lines the emulator logged while it ran.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "target" / "debug" / "mailops"
SYNTH = REPO / "target" / "debug" / "examples" / "synth"
TERRAFORM = os.environ.get("MAILOPS_TERRAFORM", "terraform")
MIRROR = Path(os.environ.get("MAILOPS_TF_PROVIDER_MIRROR", "/opt/tf-plugins"))
REGION = "ap-south-1"
SHARDS = 16


def run(*args, cwd=None, env=None, check=True):
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=full, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode not in (0, 2):
        sys.exit(f"{' '.join(str(a) for a in args[:3])} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def step(text):
    print(f"... {text}", file=sys.stderr, flush=True)


def requests_logged(log):
    """The requests in moto's log (werkzeug: one `"GET /path HTTP/1.1" 200 -` line each)."""
    with open(log) as f:
        return sum(1 for line in f if 'HTTP/1.1"' in line)


def shard_of(domain):
    import hashlib
    return int.from_bytes(hashlib.sha256(domain.encode()).digest()[:8], "big") % SHARDS


def main():
    n = int(sys.argv[1])
    work = Path(tempfile.mkdtemp(prefix="mailops-bench-tf-"))
    started = time.monotonic()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = work / "moto.log"
    server = subprocess.Popen([Path(sys.executable).parent / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.2)
        r53 = boto3.client("route53", endpoint_url=url, region_name=REGION,
                           aws_access_key_id="test", aws_secret_access_key="test")
        step("synthetic repo")
        repo = work / "repo"
        run(SYNTH, "--tenants", n, "--mailboxes", 1, "--aliases", 2, "--out", repo)
        (repo / "mailops.toml").write_text(
            f'[mail_host]\nhostname = "mx.webhizzy.in"\n\n[aws]\ndns_shards = {SHARDS}\n')
        # The zones, and each tenant file naming its zone's id.
        ids = {}
        for path in sorted((repo / "tenants").glob("*.toml")):
            domain = path.name[:-5]
            zone = r53.create_hosted_zone(Name=domain, CallerReference=domain)["HostedZone"]["Id"].split("/")[-1]
            ids[domain] = zone
            with open(path, "a") as f:
                f.write(f'\n[dns]\nzone_id = "{zone}"\n')
        step("mailops build")
        run(BIN, "-C", repo, "build")
        records = json.loads(run(BIN, "-C", repo, "dns", "records", "--format", "json").stdout)
        cli = work / "cli.tfrc"
        cli.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
        env = {"TF_CLI_CONFIG_FILE": str(cli), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        override = (f'provider "aws" {{\n  region = "{REGION}"\n  access_key = "test"\n  secret_key = "test"\n'
                    "  skip_credentials_validation = true\n  skip_metadata_api_check = true\n"
                    "  skip_requesting_account_id = true\n"
                    f'  endpoints {{\n    route53 = "{url}"\n    sts = "{url}"\n  }}\n}}\n')
        generated = repo / "generated" / "terraform"

        # One real record instance, as the template of the crafted state.
        sample = work / "sample"
        sample.mkdir()
        first = sorted(generated.glob("dns-*/dns_t1.example.tf"))[0]
        shutil.copy(first.parent / "main.tf", sample / "main.tf")
        shutil.copy(first, sample / first.name)
        (sample / "emulator_override.tf").write_text(override)
        step("one real apply (the state template)")
        run(TERRAFORM, "init", "-backend=false", "-input=false", cwd=sample, env=env)
        run(TERRAFORM, "apply", "-auto-approve", "-input=false", cwd=sample, env=env)
        template = next(r for r in json.loads((sample / "terraform.tfstate").read_text())["resources"]
                        if r["type"] == "aws_route53_record")
        sets = {}
        for r in records:
            sets.setdefault((r["name"], r["type"], r["ttl"]), []).append(r["value"])
        by_zone = {}
        for (name, rtype, ttl), values in sets.items():
            domain = name.split("._domainkey.")[-1].removeprefix("_dmarc.")
            if rtype == "TXT":
                # As the provider sends them: `"part""part"` (see src/emit/route53.rs).
                values = ['"' + '""'.join(v[i:i + 255].replace('"', '\\"') for i in range(0, len(v), 255)) + '"'
                          for v in values]
            by_zone.setdefault(domain, []).append(
                {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": ttl,
                                                           "ResourceRecords": [{"Value": v} for v in values]}})
        step("records into the emulator")
        for domain, changes in by_zone.items():
            if domain == "t1.example":
                continue  # applied for real above
            r53.change_resource_record_sets(HostedZoneId=ids[domain], ChangeBatch={"Changes": changes})
        populated = time.monotonic() - started

        def resources(files):
            out = []
            for path in files:
                text = path.read_text()
                for name, body in re.findall(r'resource "aws_route53_record" "([^"]+)" \{\n(.*?)\n\}', text, re.S):
                    fields = dict(re.findall(r'^\s*(\w+)\s*=\s*(.*)$', body, re.M))
                    domain = path.name[4:-3]
                    rname = json.loads(fields["name"])
                    rtype = json.loads(fields["type"])
                    instance = json.loads(json.dumps(template["instances"][0]))
                    attrs = instance["attributes"]
                    attrs.update(id=f"{ids[domain]}_{rname}_{rtype}", zone_id=ids[domain], name=rname, type=rtype,
                                 fqdn=rname, ttl=int(fields["ttl"]), records=json.loads(fields["records"]))
                    instance.pop("dependencies", None)
                    out.append({**template, "name": name, "instances": [instance]})
            return out

        def state(files):
            return {"version": 4, "terraform_version": template.get("terraform_version", "1.11.4"),
                    "serial": 1, "lineage": str(uuid.uuid4()), "outputs": {}, "resources": resources(files)}

        # States of the records as they are now, then the one-tenant change.
        all_files = sorted(generated.glob("dns-*/dns_*.tf"))
        single_state = state(all_files)
        changed = "t7.example"
        root_name = f"dns-{shard_of(changed):02d}"
        shard_state = state(sorted((generated / root_name).glob("dns_*.tf")))
        tenant = repo / "tenants" / f"{changed}.toml"
        tenant.write_text(tenant.read_text().replace("[dns]\n", "[dns]\nttl = 300\n"))
        run(BIN, "-C", repo, "build")

        single = work / "single"
        single.mkdir()
        shutil.copy(generated / root_name / "main.tf", single / "main.tf")
        for path in sorted(generated.glob("dns-*/dns_*.tf")):
            shutil.copy(path, single / path.name)
        sharded = work / root_name
        shutil.copytree(generated / root_name, sharded)
        results = []
        for label, root, st in (("one root, every tenant", single, single_state),
                                (f"sharded: {root_name} only", sharded, shard_state)):
            (root / "emulator_override.tf").write_text(override)
            (root / "terraform.tfstate").write_text(json.dumps(st))
            run(TERRAFORM, "init", "-backend=false", "-input=false", cwd=root, env=env)
            step(f"plan: {label}")
            before = requests_logged(log)
            t0 = time.monotonic()
            proc = run(TERRAFORM, "plan", "-detailed-exitcode", "-input=false", "-lock=false", "-no-color",
                       cwd=root, env=env)
            wall = time.monotonic() - t0
            requests = requests_logged(log) - before
            summary = next((l for l in proc.stdout.splitlines() if l.startswith("Plan:")), "no changes")
            results.append((label, len(st["resources"]), requests, wall, summary))
        print(f"tenants: {n}; {SHARDS} DNS roots; emulator populated in {populated:.0f} s")
        for label, count, requests, wall, summary in results:
            print(f"{label:28} {count:6} resources in state  {requests:7} API requests  "
                  f"{wall:7.1f} s  ({summary})")
        print(f"Route53's 5 requests/s: {results[0][2] / 5 / 60:.1f} min vs {results[1][2] / 5 / 60:.1f} min")
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
