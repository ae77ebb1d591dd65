"""Terraform proven by a real apply (issue 16, parts 2 and 3): `terraform apply`
of a mail repo's generated/terraform roots against an AWS emulator on loopback
(moto's server mode), then the Route53 records read back from the emulator
compared, record for record, with what `mailops dns records` declares; then
those read-back records served by a real DNS server (Knot) and checked with
`mailops dns check`.

Run through scripts/terraform-emulator-check, which makes the virtualenv
(moto[server], boto3) and builds mailops. For each repo (a two-host repo,
tests/fixtures/valid/two-hosts, whose host root makes a VPC and an instance,
Elastic IP, A and PTR record per host; the project's own example; and a
synthetic repo of 100 tenants; `--two-hosts`: the first only):

  1. the hosted zones exist in the emulator (each tenant's, and the host's),
     as they would in the operator's account, plus a key pair; the default
     VPC, subnet and an AMI come from the emulator;
  2. generated/terraform (every root: host/, dns-<shard>/) and
     generated/cloud-init are copied to a temp dir, with two test-only files
     in each root (never in generated/): the provider pointed at the
     emulator, and the zone id of a tenant whose file names one (the
     emulator makes its own ids);
  3. `terraform init` from the offline provider mirror, `validate`, `apply`:
     every resource but `aws_eip_domain_name` (the emulator lacks EC2's
     ModifyAddressAttribute; that resource is applied by `terraform test`
     with a mocked provider instead, step 7). The example repo is applied
     as the single root of the layout before sharding (host/main.tf and
     every dns_<domain>.tf in one folder, one state: the state an operator
     moves from), the 100-tenant repo root by root, four at a time (257 s
     on the shared 2-core machine; as one root, 249 s: the zone lookups and
     the waits for INSYNC dominate, not the number of roots);
  4. every record set of every zone read back with boto3, compared with the
     declared records: the same names, types, TTLs and values, nothing more;
     each host's A record holds the Elastic IP the apply output (with
     [[hosts]], one per host, and an MX per inbound host);
  5. (example repo) the single state split by the script `mailops dns shards
     --moves` prints (real `terraform state mv`); each root, given its part,
     plans no change against the emulator: every resource is in exactly the
     state of the root that declares it;
  6. the read-back records, as zone files, served by Knot on 127.0.0.78:53 (an address of its own);
     `mailops dns check --expect-ip <the Elastic IP>` must end all ok; and
     (example repo) checkdmarc, asking Knot on 127.0.0.77:53, must find every
     tenant's SPF, DMARC and MX valid;
  7. `terraform test` with `mock_provider "aws"` in the host root: the PTR
     resource names the host's A record and the Elastic IP's allocation.

Prints one `ok …` / `FAIL …: why` line per check and exits 1 on any failure.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("MAILOPS_BIN", REPO / "target" / "debug" / "mailops"))
TERRAFORM = os.environ.get("MAILOPS_TERRAFORM", "terraform")
MIRROR = Path(os.environ.get("MAILOPS_TF_PROVIDER_MIRROR", "/opt/tf-plugins"))
REGION = "ap-south-1"

results = []


def log(line):
    print(line, flush=True)


def check(name, fn):
    started = time.monotonic()
    try:
        detail = fn()
        results.append(True)
        log(f"ok {name}" + (f" ({detail})" if detail else "") + f" [{time.monotonic() - started:.0f} s]")
        return True
    except Exception as error:  # noqa: BLE001 - every failure is a FAIL line
        results.append(False)
        log(f"FAIL {name}: {str(error).strip()[:3000]}")
        return False


def run(*args, cwd=None, env=None, check_rc=True, timeout=900):
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=full, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(str(a) for a in args[:3])} …` exited {proc.returncode}:\n"
                           f"{proc.stderr.strip()[:2500]}\n{proc.stdout.strip()[-1000:]}")
    return proc


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout} s")


class Emulator:
    """moto's server on a loopback port, reset before each repo."""

    def __init__(self, work):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(work / "moto.log", "w")
        server = Path(sys.executable).parent / "moto_server"
        self.proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # moto imports every service's model before it listens: slow on a
        # machine busy with the e2e suite and the fuzz build (once over 30 s).
        def answers():
            if self.proc.poll() is not None:
                raise SystemExit(f"moto_server exited ({self.proc.returncode}): "
                                 + (work / "moto.log").read_text(errors="replace")[-2000:])
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        try:
            wait_for("moto_server to answer", answers, timeout=180)
        except TimeoutError as e:
            self.log.flush()
            raise TimeoutError(f"{e}; its log: " + (work / "moto.log").read_text(errors="replace")[-2000:]) from e

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def reset(self):
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


def declared(repo):
    """`mailops dns records --format json`: {(name, type): (ttl, [values])}."""
    records = json.loads(run(BIN, "-C", repo, "dns", "records", "--format", "json").stdout)
    out = {}
    for r in records:
        # An MX record set of several hosts is one value a line (DnsRecord).
        values = r["value"].split("\n") if r["type"] == "MX" else [r["value"]]
        out.setdefault((r["name"], r["type"]), (r["ttl"], []))[1].extend(values)
    return out


def declared_tlsa(repo):
    """{hostname: [TLSA values]} of mailops.toml: `[mail_host] tlsa` is the
    primary's (with its `[[hosts]]` entry's), each other host has its own."""
    import tomllib
    platform = tomllib.loads((Path(repo) / "mailops.toml").read_text())
    primary = platform["mail_host"]["hostname"]
    out = {}
    if platform["mail_host"].get("tlsa"):
        out[primary] = list(platform["mail_host"]["tlsa"])
    for host in platform.get("hosts", []):
        for value in host.get("tlsa", []):
            values = out.setdefault(host["hostname"], [])
            if value not in values:
                values.append(value)
    return out


def route53_text(value):
    """A TXT value as Route53 returns it (`"part" "part"`, escaped) → the text."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)


def read_back(emulator):
    """Every record set of every zone but SOA and NS: {(name, type): (ttl, [values])}."""
    r53 = emulator.client("route53")
    out = {}
    zones = [z for page in r53.get_paginator("list_hosted_zones").paginate() for z in page["HostedZones"]]
    for zone in zones:
        pages = r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
        for page in pages:
            for rrset in page["ResourceRecordSets"]:
                if rrset["Type"] in ("SOA", "NS"):
                    continue
                name = rrset["Name"].rstrip(".")
                values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
                if rrset["Type"] == "TXT":
                    values = [route53_text(v) for v in values]
                out[(name, rrset["Type"])] = (rrset.get("TTL"), values)
    return out


def roots_of(terraform_dir):
    """The root folders under a copy of generated/terraform: host/ first, then dns-<shard>/."""
    return sorted((d for d in terraform_dir.iterdir() if d.is_dir() and (d / "main.tf").exists()),
                  key=lambda d: (d.name != "host", d.name))


def prepare(repo, work, emulator, single=False):
    """The zones, the key pair, the copy of generated/ with the test-only overrides.

    With `single`, also the layout before sharding: one root (terraform/single)
    holding host/main.tf and every tenant's dns_<domain>.tf."""
    emulator.reset()
    r53 = emulator.client("route53")
    domains = sorted({name for (name, rtype) in declared(repo) if rtype == "MX"})
    platform_zone = re.search(r'data "aws_route53_zone" "platform" \{\s*name\s*=\s*"([^"]+)"',
                              (repo / "generated" / "terraform" / "host" / "main.tf").read_text()).group(1)
    zone_ids = {}
    for name in sorted(set(domains) | {platform_zone}):
        zone = r53.create_hosted_zone(Name=name, CallerReference=f"mailops-{name}")
        zone_ids[name] = zone["HostedZone"]["Id"].split("/")[-1]
    ec2 = emulator.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_key_pair(KeyName="mailops-test")
    if work.exists():
        shutil.rmtree(work)
    for folder in ("terraform", "cloud-init"):
        shutil.copytree(repo / "generated" / folder, work / folder)
    roots = roots_of(work / "terraform")
    if single:
        one = work / "terraform" / "single"
        one.mkdir()
        shutil.copy(work / "terraform" / "host" / "main.tf", one / "main.tf")
        for path in sorted((work / "terraform").glob("dns-*/dns_*.tf")):
            shutil.copy(path, one / path.name)
        roots.append(one)
    services = ("route53", "ec2", "iam", "sts", "ssm", "kms")
    endpoints = "\n".join(f'    {s} = "{emulator.url}"' for s in services)
    overridden = set()
    def provider(alias, region):
        return (f'provider "aws" {{\n{alias}  region                      = "{region}"\n'
                '  access_key                  = "test"\n'
                '  secret_key                  = "test"\n  skip_credentials_validation = true\n'
                f"  skip_metadata_api_check     = true\n  endpoints {{\n{endpoints}\n  }}\n}}\n")
    for root in roots:
        # Both configurations of every root: the default one and `us_east_1`
        # (the KMS keys of signed zones), so neither ever reaches AWS.
        (root / "emulator_override.tf").write_text(
            "# Test only: the AWS provider pointed at the emulator.\n"
            + provider("", REGION)
            + provider('  alias                       = "us_east_1"\n', "us-east-1"))
        # A tenant file may name its zone's id (`zone_id`), which its records
        # then carry as a literal; the emulator makes its own ids.
        overrides = []
        for path in sorted(root.glob("dns_*.tf")):
            text = path.read_text()
            literal = re.findall(r'resource "aws_route53_record" "([^"]+)" \{\s*zone_id\s*=\s*"[^"]+"', text)
            if literal:
                overridden.add(path.name)
            for name in literal:
                overrides.append(f'resource "aws_route53_record" "{name}" {{\n'
                                 f'  zone_id = "{zone_ids[path.name[4:-3]]}"\n}}\n')
        (root / "zones_override.tf").write_text("# Test only: the emulator's zone ids.\n" + "".join(overrides))
    (work / "cli.tfrc").write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    variables = {
        "ami_id": ami, "key_pair_name": "mailops-test", "vpc_id": vpc, "subnet_id": subnet,
        "mailops_release_url": "https://releases.example/mailops", "mailops_release_sha256": "0" * 64,
        "repo_url": "git@forge.example:acme/mail.git", "deploy_key_parameter": "/mailops/deploy-key",
    }
    if 'variable "vpc_id"' not in (work / "terraform" / "host" / "main.tf").read_text():
        # Several hosts ([[hosts]]): the root makes its own VPC and subnet.
        del variables["vpc_id"], variables["subnet_id"]
    return work / "terraform", variables, domains, len(overridden)


def terraform(tf, *args, timeout=900, check_rc=True):
    env = {"TF_CLI_CONFIG_FILE": str(tf.parent.parent / "cli.tfrc"), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1"}
    return run(TERRAFORM, *args, "-no-color", cwd=tf, env=env, timeout=timeout, check_rc=check_rc)


def targets_of(root):
    """-target= of every resource of a root but aws_eip_domain_name (see step 3)."""
    targets = []
    for path in sorted(root.glob("*.tf")):
        for rtype, name in re.findall(r'^resource "([^"]+)" "([^"]+)"', path.read_text(), re.M):
            if rtype != "aws_eip_domain_name":
                targets.append(f"-target={rtype}.{name}")
    return targets


def host_variables(root, variables):
    return [f"-var={k}={v}" for k, v in variables.items()] if root.name in ("host", "single") else []


def apply(root, variables):
    """init, validate and apply one root; (resources applied, outputs)."""
    terraform(root, "init", "-backend=false", "-input=false")
    terraform(root, "validate")
    targets = targets_of(root)
    if targets:
        # Route53 writes are waited on one by one (each change until INSYNC): more at once.
        terraform(root, "apply", "-auto-approve", "-input=false", "-compact-warnings", "-parallelism=32",
                  *targets, *host_variables(root, variables))
    outputs = json.loads(terraform(root, "output", "-json").stdout)
    return len(targets), outputs


def apply_roots(roots, variables):
    """Every root, four at a time (each its own state): (resources applied, the host's outputs)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda root: (root, apply(root, variables)), roots))
    count = sum(n for _, (n, _) in done)
    outputs = next(out for root, (_, out) in done if root.name in ("host", "single"))
    return count, outputs


def split_state(repo, tf, variables):
    """The single root's state split by `mailops dns shards --moves`; each root plans no change."""
    script = tf.parent / "moves.sh"
    script.write_text(run(BIN, "-C", repo, "dns", "shards", "--moves").stdout)
    env = {"STATE": str(tf / "single" / "terraform.tfstate"), "OUT": str(tf.parent / "split"),
           "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    moved = run("sh", script, env=env, cwd=tf.parent).stdout.strip().splitlines()[-1]
    roots = [r for r in roots_of(tf) if r.name != "single"]
    missing = [r.name for r in roots if not (tf.parent / "split" / f"{r.name}.tfstate").exists()
               and any(r.glob("dns_*.tf"))]
    if missing:
        raise RuntimeError(f"no state written for {missing}")

    def plan(root):
        state = tf.parent / "split" / f"{root.name}.tfstate"
        if state.exists():
            shutil.copy(state, root / "terraform.tfstate")
        terraform(root, "init", "-backend=false", "-input=false")
        targets = targets_of(root)
        proc = terraform(root, "plan", "-detailed-exitcode", "-input=false", "-lock=false", "-parallelism=32",
                         *targets, *host_variables(root, variables), check_rc=False)
        return root.name, proc
    with ThreadPoolExecutor(max_workers=4) as pool:
        plans = list(pool.map(plan, roots))
    changed = [f"{name} (exit {proc.returncode}):\n{proc.stdout[-1500:]}{proc.stderr[-800:]}"
               for name, proc in plans if proc.returncode != 0]
    if changed:
        raise RuntimeError("a root plans changes after the move:\n" + "\n".join(changed[:3]))
    return f"{moved}; {len(plans)} roots plan no change"


# checkdmarc asks port 53 only: Knot answers there too, on an address of its own.
CHECKDMARC_ADDRESS = "127.0.0.77"
# Knot answers `dns check` on a loopback address of its own, port 53: a port
# picked free for TCP may be taken for UDP (any resolver's source port, such as
# the end-to-end suite's Rspamd running beside this check), and Knot then
# never answers over UDP.
KNOT_ADDRESS = "127.0.0.78"


def checkdmarc(domains):
    """checkdmarc (PyPI, in the emulator's venv) on the records Knot serves: every
    tenant's SPF and DMARC record valid, and no error of any kind."""
    tool = Path(sys.executable).parent / "checkdmarc"
    proc = run(tool, "--nameserver", CHECKDMARC_ADDRESS, "--skip-tls", "--timeout", "3",
               "--format", "json", *domains, check_rc=False)
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkdmarc exited {proc.returncode}, no JSON ({error}):\n"
                           f"{proc.stderr[-1500:]}") from None
    if isinstance(reports, dict):
        reports = [reports]
    problems = []
    for report in reports:
        domain = report.get("domain")
        for part in ("spf", "dmarc"):
            result = report.get(part, {})
            if not result.get("valid") or result.get("error"):
                problems.append(f"{domain} {part}: {json.dumps(result)[:400]}")
        mx = report.get("mx", {})
        if mx.get("error") or not mx.get("hosts"):
            problems.append(f"{domain} mx: {json.dumps(mx)[:400]}")
    if len(reports) != len(domains):
        problems.append(f"{len(reports)} reports for {len(domains)} domains")
    if problems:
        raise RuntimeError("\n".join(problems[:20]))
    warnings = sum(len(r.get(part, {}).get("warnings", [])) for r in reports for part in ("spf", "dmarc"))
    return f"{len(reports)} domains: SPF, DMARC and MX valid; {warnings} warnings"


def serve_and_check(repo, records, ip, work, dmarc_domains=None):
    """The read-back records in Knot; `mailops dns check` against it, and
    checkdmarc on `dmarc_domains` (each its own check line)."""
    zones = work / "zones"
    zones.mkdir()
    origins = sorted({name.split(".", 1)[1] if rtype == "A" else name
                      for (name, rtype) in records if rtype in ("MX", "A")})
    lines = {o: [] for o in origins}
    for (name, rtype), (ttl, values) in sorted(records.items()):
        origin = max((o for o in origins if name == o or name.endswith("." + o)), key=len)
        for value in values:
            if rtype == "TXT":
                chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
                value = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
            lines[origin].append(f"{name}. {ttl} IN {rtype} {value}")
    if dmarc_domains:
        # A third party's SPF record a tenant includes (`include:_spf.bulkmail.example`) is
        # not the operator's to publish: stand in for it (`v=spf1 -all`), so that checkdmarc
        # can follow the include as it would on the internet.
        for (_, rtype), (_, values) in records.items():
            for value in values if rtype == "TXT" else []:
                for include in re.findall(r"\binclude:(\S+)", value):
                    if not any(include == o or include.endswith("." + o) for o in lines):
                        lines.setdefault(include.split(".", 1)[1], []).append(
                            f'{include}. 3600 IN TXT "v=spf1 -all"')
    # The PTR of every host's Elastic IP (aws_eip_domain_name, which the
    # emulator lacks: step 7), as AWS would serve it.
    for (host, rtype), (_, values) in sorted(records.items()):
        for address in values if rtype == "A" else []:
            reverse = ".".join(reversed(address.split(".")[:3])) + ".in-addr.arpa"
            lines.setdefault(reverse, []).append(f"{address.split('.')[3]}.{reverse}. 3600 IN PTR {host}.")
    port = 53
    listen = f"{KNOT_ADDRESS}@{port}" + (f", {CHECKDMARC_ADDRESS}@53" if dmarc_domains else "")
    conf = [f'server:\n  rundir: "{zones}"\n  listen: [ {listen} ]\n',
            f'database:\n  storage: "{zones}"\n',
            "log:\n  - target: stderr\n    any: error\n",
            f'template:\n  - id: default\n    storage: "{zones}"\n    file: "%s.zone"\n'
            "    zonefile-sync: -1\n    journal-content: none\n", "zone:\n"]
    for origin, body in lines.items():
        (zones / f"{origin}.zone").write_text(
            f"$ORIGIN {origin}.\n$TTL 3600\n@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 900 604800 300\n"
            f"@ NS ns.{origin}.\nns A 127.0.0.1\n" + "\n".join(body) + "\n")
        conf.append(f"  - domain: {origin}.\n")
    (zones / "knot.conf").write_text("".join(conf))
    knot = subprocess.Popen(["knotd", "-c", zones / "knot.conf"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(zones / "knot.log", "w"))
    try:
        first = origins[0]
        try:
            wait_for("knotd to answer", lambda: run("kdig", f"@{KNOT_ADDRESS}", "-p", port, "+short", "SOA", first,
                                                    check_rc=False).stdout.strip() != "")
        except Exception as error:
            log_text = (zones / "knot.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{error}; knotd's log: {log_text}") from None
        proc = run(BIN, "-C", repo, "dns", "check", "--nameserver", f"{KNOT_ADDRESS}:{port}",
                   "--expect-ip", ip, check_rc=False)
        if proc.returncode != 0:
            problems = [l for l in proc.stdout.splitlines() if l.strip() and not l.startswith("  ok")]
            raise RuntimeError(f"dns check exited {proc.returncode}:\n" + "\n".join(problems[:40]))
        if dmarc_domains:
            check("example repo: checkdmarc finds every tenant's SPF, DMARC and MX valid, served by Knot",
                  lambda: checkdmarc(dmarc_domains))
        return proc.stdout.strip().splitlines()[-1]
    finally:
        knot.terminate()
        knot.wait(timeout=20)


SINGLE_PTR_RUN = '''run "the_ptr_names_the_host_record_of_the_elastic_ip" {
  command = apply

  assert {
    condition     = aws_eip_domain_name.mail.domain_name == aws_route53_record.host.fqdn
    error_message = "the PTR does not name the host's A record"
  }
  assert {
    condition     = aws_eip_domain_name.mail.allocation_id == aws_eip.mail.allocation_id
    error_message = "the PTR is not set on the mail host's Elastic IP"
  }
  assert {
    condition     = aws_route53_record.host.records == toset([aws_eip.mail.public_ip])
    error_message = "the host's A record does not hold the Elastic IP"
  }
}
'''

# With [[hosts]]: every host's PTR, keyed by host name.
KEYED_PTR_RUN = '''run "each_ptr_names_the_host_record_of_its_elastic_ip" {
  command = apply

  assert {
    condition     = alltrue([for name, ptr in aws_eip_domain_name.mail : ptr.domain_name == aws_route53_record.host[name].fqdn])
    error_message = "a PTR does not name its host's A record"
  }
  assert {
    condition     = alltrue([for name, ptr in aws_eip_domain_name.mail : ptr.allocation_id == aws_eip.mail[name].allocation_id])
    error_message = "a PTR is not set on its host's Elastic IP"
  }
  assert {
    condition     = alltrue([for name, record in aws_route53_record.host : record.records == toset([aws_eip.mail[name].public_ip])])
    error_message = "a host's A record does not hold its Elastic IP"
  }
  assert {
    condition     = length(aws_eip_domain_name.mail) == length(local.hosts)
    error_message = "not every host has its PTR"
  }
}
'''


def mocked_ptr(tf, hosts=False):
    """`terraform test` with a mocked provider: the resource the emulator lacks
    (with `hosts`, keyed by host name: one per host)."""
    tests = tf / "tests"
    tests.mkdir()
    (tests / "ptr.tftest.hcl").write_text('''# Test only: aws_eip_domain_name (EC2 ModifyAddressAttribute), which the
# emulator does not implement, applied against a mocked provider.
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_data "aws_route53_zone" {
    defaults = { zone_id = "Z0MOCKED" }
  }
  mock_resource "aws_route53_record" {
    defaults = { fqdn = "mx.mocked.example" }
  }
}

variables {
  ami_id                 = "ami-0123456789abcdef0"
  key_pair_name          = "mailops-test"
  mailops_release_url    = "https://releases.example/mailops"
  mailops_release_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  repo_url               = "git@forge.example:acme/mail.git"
  deploy_key_parameter   = "/mailops/deploy-key"
}

''' + (KEYED_PTR_RUN if hosts else SINGLE_PTR_RUN))
    for name in ("emulator_override.tf", "zones_override.tf", "terraform.tfstate"):
        (tf / name).unlink(missing_ok=True)
    (tf / "teardown_override.tf").write_text(
        "# Test only: terraform test destroys what it applied.\n"
        'resource "aws_instance" "mail" {\n  lifecycle {\n    prevent_destroy = false\n  }\n}\n')
    terraform(tf, "init", "-backend=false", "-input=false")
    proc = terraform(tf, "test", "-filter=tests/ptr.tftest.hcl")
    return proc.stdout.strip().splitlines()[-1]


def one_repo(label, repo, emulator, work, single=False, split=False):
    state = {}

    def applied():
        tf, variables, domains, overridden = prepare(repo, work, emulator, single)
        if single:
            count, outputs = apply_roots([tf / "single"], variables)
            how = "as one root (the layout before sharding)"
        else:
            roots = roots_of(tf)
            count, outputs = apply_roots(roots, variables)
            how = f"in {len(roots)} roots"
        state.update(tf=tf, variables=variables, domains=domains, ip=outputs["public_ip"]["value"],
                     primary=outputs["hostname"]["value"],
                     # {hostname: Elastic IP}: each host's ([[hosts]]), or the one host's.
                     hosts={h["hostname"]: h["public_ip"] for h in outputs["hosts"]["value"].values()}
                     if "hosts" in outputs else {outputs["hostname"]["value"]: outputs["public_ip"]["value"]})
        return (f"{count} resources into the emulator {how}, {len(domains)} tenant zones"
                + (f", {overridden} zone id overridden" if overridden else ""))
    if not check(f"{label}: terraform init, validate and apply against the AWS emulator", applied):
        return

    def records_match():
        want = declared(repo)
        got = read_back(emulator)
        hosts = {key[0]: got[key][1] for key in got if key[1] == "A"}
        if hosts != {name: [ip] for name, ip in state["hosts"].items()}:
            raise RuntimeError(f"the hosts' A records: {hosts}, expected {state['hosts']}")
        state["records"] = got
        got = {k: v for k, v in got.items() if k[1] != "A"}
        # The host root's own record besides the A records: the SPF record of the
        # SRS domain (by default the primary host's name, [mail_host] srs), which
        # covers the envelope senders of forwarded mail from every host.
        hostname = state["primary"]
        spf = "v=spf1 " + " ".join(f"a:{h}" for h in sorted(state["hosts"])) + " -all"
        srs = got.pop((hostname, "TXT"), None)
        if srs is None or srs[1] != [spf]:
            raise RuntimeError(f"the SRS domain's SPF record at {hostname}: {srs}, expected {spf}")
        # And each host's DANE records at _25._tcp.<its hostname>: the primary's
        # `[mail_host] tlsa` (with its own `[[hosts]] tlsa`), another host's own.
        problems = []
        for host, tlsa in declared_tlsa(repo).items():
            key = (f"_25._tcp.{host}", "TLSA")
            published = sorted(got.pop(key, (None, []))[1])
            if published != sorted(tlsa):
                problems.append(f"{key}: Route53 {published} declared {sorted(tlsa)}")
        for key in sorted(set(want) | set(got)):
            if key not in got:
                problems.append(f"missing in Route53: {key}")
            elif key not in want:
                problems.append(f"in Route53, not declared: {key} {got[key]}")
            elif (got[key][0], sorted(got[key][1])) != (want[key][0], sorted(want[key][1])):
                problems.append(f"{key}: Route53 {got[key]} declared {want[key]}")
        if problems:
            raise RuntimeError("\n".join(problems[:30]))
        mx = sorted(v for (name, rtype), (_, values) in want.items() if rtype == "MX" for v in values)
        return (f"{len(want)} record sets equal, "
                + ", ".join(f"A {h} = {ip}" for h, ip in sorted(state["hosts"].items()))
                + f", its SRS SPF record {spf}"
                + (f", MX values {sorted(set(mx))}" if len(state["hosts"]) > 1 else ""))
    if not check(f"{label}: the Route53 records read back equal the declared ones", records_match):
        return
    if split:
        check(f"{label}: `mailops dns shards --moves` splits the single state; every root plans no change",
              lambda: split_state(repo, state["tf"], state["variables"]))
    # checkdmarc on the example tenants (the 100 synthetic ones are alike).
    dmarc_domains = sorted({name[len("_dmarc."):] for (name, rtype) in state["records"]
                            if name.startswith("_dmarc.")}) if split else None
    check(f"{label}: dns check passes on the records the emulator holds, served by Knot",
          lambda: serve_and_check(repo, state["records"], state["ip"], work, dmarc_domains))
    check(f"{label}: terraform test (mocked provider): the PTR of "
          + ("each host's Elastic IP names the host" if len(state["hosts"]) > 1 else "the Elastic IP names the host"),
          lambda: mocked_ptr(state["tf"] / "host", hosts=len(state["hosts"]) > 1))


def main():
    if not BIN.exists():
        log(f"FAIL setup: {BIN} does not exist (run cargo build)")
        return 1
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        log(f"FAIL setup: no hashicorp/aws provider in the mirror {MIRROR} (MAILOPS_TF_PROVIDER_MIRROR)")
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailops-tf-emulator-") as temp:
        work = Path(temp)
        emulator = Emulator(work)
        # `--two-hosts`: only the two-host repo (the quick check of [[hosts]]).
        only_two_hosts = "--two-hosts" in sys.argv[1:]
        try:
            # Several hosts (issue 18): the two-host fixture's host root (a VPC,
            # an instance, Elastic IP and A record per host at its private
            # address) applied; the tenant's MX per inbound host and an A per
            # host read back; dns check passes on them.
            two_hosts = work / "two-hosts"
            shutil.copytree(REPO / "tests" / "fixtures" / "valid" / "two-hosts", two_hosts)
            run(BIN, "-C", two_hosts, "build")
            one_repo("two-host repo", two_hosts, emulator, work / "two-hosts-tf")
            if only_two_hosts:
                return finish(started)
            one_repo("example repo", REPO, emulator, work / "example", single=True, split=True)
            synthetic = work / "synthetic"
            run("cargo", "run", "--quiet", "--example", "synth", "--", "--tenants", "100", "--mailboxes", "1",
                "--aliases", "2", "--out", synthetic, cwd=REPO)
            # The operator's own domain is one of the tenants (as webhizzy.in is in
            # the example): 100 zones in all. (The emulator's lookup of a zone by
            # name misses zones past its first page of 100.)
            (synthetic / "mailops.toml").write_text('[mail_host]\nhostname = "mx.t0.example"\n')
            run(BIN, "-C", synthetic, "build")
            one_repo("100-tenant repo", synthetic, emulator, work / "synthetic-tf")
        finally:
            emulator.stop()
    return finish(started)


def finish(started):
    passed = sum(results)
    log(f"timing total: {time.monotonic() - started:.0f} s")
    log(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
