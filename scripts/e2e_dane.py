"""The DANE phase of the end-to-end suite (issue 20): outbound DANE on a real
Postfix that uses the generated main.cf's SMTP-client settings
(`smtp_tls_security_level = dane`, `smtp_dns_support_level = dnssec`).

Everything runs in a network namespace of its own, so the suite's fixed ports
(25, 53, …) on the machine are not touched and nothing leaves it. In it:

  - Knot serves `dane-e2e.example`, which it signs itself (`dnssec-signing:
    on`): MX → mx.dane-e2e.example (127.0.0.79) with the TLSA record `3 1 1`
    of the test MX's key as `mailops tls tlsa` computes it, and
    wrong.dane-e2e.example whose MX has a TLSA record of another key. It also
    serves `plain-e2e.example`, unsigned, MX → the same test MX, with a TLSA
    record that must be ignored (it is not DNSSEC-validated);
  - unbound, on 127.0.0.1:53 as on the mail host, validates with the signed
    zone's DS (read from Knot with `keymgr … ds`) as its only trust anchor;
    the namespace's resolv.conf (`/etc/netns/<ns>/resolv.conf`, which `ip
    netns exec` mounts over /etc/resolv.conf) names it, with `trust-ad`;
  - the test MX: the suite's SMTP sink speaking STARTTLS with its certificate;
  - a sending Postfix whose smtp_* settings are exactly those of the main.cf
    that `mailops init` generates.

`run_dane(e2e)` (the `dane` phase of scripts/e2e.py) makes the namespace,
runs this file inside it (`--inside`), records its `ok`/`FAIL` lines as the
suite's results, then stops every process left in the namespace and deletes
it and its resolv.conf.
"""

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

ZONE = "dane-e2e.example"
PLAIN_ZONE = "plain-e2e.example"
MX = f"mx.{ZONE}"
WRONG = f"wrong.{ZONE}"
WRONG_MX = f"mx-wrong.{ZONE}"
PLAIN_MX = f"mx.{PLAIN_ZONE}"
KNOT_ADDRESS = "127.0.0.81"
MX_ADDRESS = "127.0.0.79"
RESOLVER = "127.0.0.1"
SENDER = "dane-test@sender.dane-e2e.invalid"
RESOLV_CONF = f"nameserver {RESOLVER}\noptions edns0 trust-ad\n"
# Self-test: `MAILOPS_E2E_BREAK=dane-may` runs the sending Postfix with
# `smtp_tls_security_level = may` (as before issue 20): the Verified and the
# wrong-TLSA checks fail.
BREAK = os.environ.get("MAILOPS_E2E_BREAK", "")


# ------------------------------------------------------------ outside: the namespace

def run_dane(e2e):
    """Run the checks inside a fresh network namespace; record their lines."""
    run_in_namespace(e2e, "dane", Path(__file__),
                     ("ip", "knotd", "keymgr", "kdig", "unbound", "postfix", "openssl"), RESOLV_CONF)


def run_in_namespace(e2e, label, script, tools, resolv_conf):
    """Run `script --inside` in a fresh network namespace whose resolv.conf is
    `resolv_conf`, its lines shown as they come; record the results it left
    in WORK/<label>/results.json as the suite's. Then stop every process left
    in the namespace and delete it and its resolv.conf."""
    namespace = f"mailops-{label}-{os.getpid()}"
    netns_etc = Path("/etc/netns") / namespace
    for tool in tools:
        if not shutil.which(tool):
            raise RuntimeError(f"`{tool}` is missing (scripts/install-mail-packages installs it)")
    recorded = e2e.WORK / label / "results.json"
    recorded.unlink(missing_ok=True)
    e2e.run("ip", "netns", "add", namespace)
    try:
        netns_etc.mkdir(parents=True, exist_ok=True)
        (netns_etc / "resolv.conf").write_text(resolv_conf)
        env = dict(os.environ, MAILOPS_BIN=str(e2e.BIN), MAILOPS_E2E_DIR=str(e2e.WORK),
                   PYTHONPATH=str(Path(__file__).resolve().parent))
        proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(script), "--inside"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env,
        )
        for line in proc.stdout:
            e2e.log(line.rstrip("\n"))
        proc.wait()
        # The checks' results, as the run inside recorded them.
        if not recorded.exists():
            e2e.results.append((f"{label}: setup", False))
            e2e.log(f"FAIL {label}: setup: the run in the namespace exited {proc.returncode} with no results")
            return
        done = json.loads(recorded.read_text())
        e2e.results.extend((name, ok) for name, ok in done["results"])
        e2e.timings.extend((name, seconds) for name, seconds in done["timings"])
    finally:
        stop_namespace(e2e, namespace)
        shutil.rmtree(netns_etc, ignore_errors=True)


def fresh_work(e2e, label):
    """Inside the namespace: an empty WORK/<label> with a log folder every
    service may write, and the namespace's loopback up."""
    base = e2e.WORK / label
    if base.exists():
        shutil.rmtree(base)
    (base / "log").mkdir(parents=True)
    os.chmod(base, 0o755)
    os.chmod(base / "log", 0o777)
    e2e.run("ip", "link", "set", "lo", "up")
    return base


def tail_logs(e2e, folder, names, lines=25):
    """The last lines of each of these logs in `folder` that exists."""
    for name in names:
        path = folder / name
        if path.exists():
            e2e.log(f"--- tail of {path}")
            for line in path.read_text(errors="replace").splitlines()[-lines:]:
                e2e.log(f"    {line}")


def stop_namespace(e2e, namespace):
    """Stop the processes started in the namespace (by their ids), delete it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = e2e.run("ip", "netns", "pids", namespace, check_rc=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), sig)
            except (ValueError, ProcessLookupError):
                pass
        if not pids:
            break
        time.sleep(1)
    e2e.run("ip", "netns", "del", namespace, check_rc=False)


# ------------------------------------------------------------- inside: the checks

class Dane:
    def __init__(self, e2e, base):
        self.e2e = e2e
        self.base = base
        self.logs = base / "log"
        self.pf = base / "postfix"
        self.knot_conf = base / "knot" / "knot.conf"

    def run(self, *args, **kwargs):
        return self.e2e.run(*args, **kwargs)

    # -- keys and records
    def certificate(self, name, host):
        key, cert = self.base / f"{name}.key", self.base / f"{name}.crt"
        self.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-days", "30", "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                 "-keyout", key, "-out", cert)
        return key, cert

    def tlsa(self, cert, host):
        """The TLSA record `mailops tls tlsa` prints for this certificate."""
        out = self.run(self.e2e.BIN, "tls", "tlsa", "--cert", cert, "--host", host, "--format", "json").stdout
        [record] = json.loads(out)
        if record["name"] != f"_25._tcp.{host}" or not record["value"].startswith("3 1 1 "):
            raise RuntimeError(f"mailops tls tlsa: {out}")
        return record["value"]

    def zones(self, good, wrong):
        zones = self.base / "knot" / "zones"
        zones.mkdir(parents=True, exist_ok=True)
        soa = "@ 5 SOA ns hostmaster 1 3600 600 86400 5\n@ 5 NS ns\nns 5 A " + KNOT_ADDRESS + "\n"
        (zones / f"{ZONE}.zone").write_text(
            f"$ORIGIN {ZONE}.\n$TTL 5\n{soa}"
            f"@ MX 10 mx\nmx A {MX_ADDRESS}\n_25._tcp.mx TLSA {good}\n"
            f"wrong MX 10 mx-wrong\nmx-wrong A {MX_ADDRESS}\n_25._tcp.mx-wrong TLSA {wrong}\n"
        )
        (zones / f"{PLAIN_ZONE}.zone").write_text(
            f"$ORIGIN {PLAIN_ZONE}.\n$TTL 5\n{soa}"
            f"@ MX 10 mx\nmx A {MX_ADDRESS}\n_25._tcp.mx TLSA {wrong}\n"
        )
        return zones

    # -- services
    def start_knot(self, zones):
        knot = self.knot_conf.parent
        (knot / "db").mkdir(parents=True, exist_ok=True)
        (knot / "run").mkdir(parents=True, exist_ok=True)
        self.knot_conf.write_text(
            f"server:\n  listen: {KNOT_ADDRESS}@53\n  rundir: {knot}/run\n"
            f"database:\n  storage: {knot}/db\n"
            "log:\n  - target: stderr\n    any: info\n"
            "template:\n  - id: default\n"
            f"    storage: {zones}\n    file: \"%s.zone\"\n"
            "    zonefile-sync: -1\n    journal-content: none\n"
            f"zone:\n  - domain: {ZONE}\n    dnssec-signing: on\n"
            f"  - domain: {PLAIN_ZONE}\n"
        )
        self.spawn("knot", ["knotd", "-c", self.knot_conf])
        self.e2e.wait_for(f"{ZONE} signed by Knot", lambda: "RRSIG" in self.dig(KNOT_ADDRESS, MX, "A"), timeout=30)

    def ds(self):
        """The signed zone's DS (SHA-256), as its parent would publish it."""
        out = self.run("keymgr", "-c", self.knot_conf, f"{ZONE}.", "ds").stdout
        records = [line for line in out.splitlines() if line.split()[4:5] == ["2"]]
        if len(records) != 1:
            raise RuntimeError(f"keymgr ds: {out}")
        return records[0]

    def start_unbound(self, ds):
        conf = self.base / "unbound.conf"
        stubs = "".join(f"stub-zone:\n  name: \"{z}.\"\n  stub-addr: {KNOT_ADDRESS}@53\n" for z in (ZONE, PLAIN_ZONE))
        conf.write_text(
            f"server:\n  interface: {RESOLVER}\n  port: 53\n  do-ip6: no\n"
            "  do-not-query-localhost: no\n  chroot: \"\"\n  username: \"\"\n"
            f"  directory: \"{self.base}\"\n  pidfile: \"{self.base}/unbound.pid\"\n"
            f"  use-syslog: no\n  logfile: \"{self.logs}/unbound.log\"\n  val-log-level: 2\n"
            "  cache-max-ttl: 1\n  cache-max-negative-ttl: 1\n"
            f"  trust-anchor: \"{ds}\"\n{stubs}"
            "remote-control:\n  control-enable: no\n"
        )
        self.run("unbound-checkconf", conf)
        self.spawn("unbound", ["unbound", "-d", "-c", conf])
        self.e2e.wait_for("unbound answers", lambda: "status: NOERROR" in self.dig(RESOLVER, MX, "A"), timeout=30)

    def start_postfix(self, client_settings):
        for d in ("spool", "data"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base / "data", "postfix", "postfix")
        self.pf.mkdir(parents=True, exist_ok=True)
        shutil.copy("/etc/postfix/master.cf", self.pf / "master.cf")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": f"{self.base}/spool",
            "data_directory": f"{self.base}/data",
            "maillog_file": f"{self.logs}/postfix.log",
            "maillog_file_prefixes": str(self.logs),
            "myhostname": "sender.dane-e2e.invalid",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            # A deferred message is retried when the test says so (postqueue -f).
            "queue_run_delay": "3600s",
            "minimal_backoff_time": "3600s",
            "maximal_backoff_time": "3600s",
            **client_settings,
        }
        if BREAK == "dane-may":
            settings["smtp_tls_security_level"] = "may"
        (self.pf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.run("postconf", "-c", self.pf, "-F", "*/*/chroot = n")
        self.run("postfix", "-c", self.pf, "check")
        self.run("postfix", "-c", self.pf, "start")

    def spawn(self, name, argv):
        with open(self.logs / f"{name}.log", "ab") as out:
            subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True)

    def dig(self, server, name, rtype):
        return self.run("kdig", f"@{server}", "+dnssec", "+time=2", "+retry=0", name, rtype, check_rc=False).stdout

    # -- mail
    def send(self, recipient, token):
        message = self.e2e.new_message(SENDER, [recipient], token, subject="dane")
        self.run("sendmail", "-C", self.pf, "-f", SENDER, "--", recipient, input_text=message.as_string())

    def log_lines(self, needle=""):
        path = self.logs / "postfix.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [line for line in lines if needle in line]

    def delivered_over_tls(self, sink, recipient):
        """Send a message to `recipient`; wait for it at the test MX, which
        must have received it over TLS."""
        token = uuid.uuid4().hex
        self.send(recipient, token)
        self.e2e.wait_for("the message at the test MX", lambda: sink.with_token(token), timeout=30)
        index = sink.messages.index(sink.with_token(token)[0])
        if not sink.encrypted[index]:
            raise RuntimeError(f"the message to {recipient} reached the test MX in clear")

    def delivery(self, recipient, status):
        return [line for line in self.log_lines(f"to=<{recipient}>") if f"status={status}" in line]

    def in_queue(self, recipient):
        listing = self.run("postqueue", "-c", self.pf, "-p", check_rc=False).stdout
        return recipient in listing

    def log_tails(self):
        tail_logs(self.e2e, self.logs, ("postfix.log", "knot.log", "unbound.log"))


def generated_client_settings(e2e, base):
    """The smtp_* (client) settings of the main.cf `mailops init` generates."""
    repo = base / "repo"
    e2e.run(e2e.BIN, "init", repo, "--hostname", "mx.dane-sender.example", "--domain", "client.example")
    main_cf = repo / "generated" / "postfix" / "main.cf"
    out = e2e.run("postconf", "-c", main_cf.parent, "-n").stdout
    settings = {}
    for line in out.splitlines():
        key, _, value = line.partition(" = ")
        if key.startswith("smtp_"):
            settings[key] = value
    return settings


def inside():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import e2e

    base = fresh_work(e2e, "dane")
    dane = Dane(e2e, base)
    sink = None
    try:
        with e2e.phase("dane: signed zone, resolver, test MX, sending Postfix"):
            settings = generated_client_settings(e2e, base)
            key, cert = dane.certificate("mx", MX)
            _, other_cert = dane.certificate("other", MX)
            good, wrong = dane.tlsa(cert, MX), dane.tlsa(other_cert, WRONG_MX)
            dane.start_knot(dane.zones(good, wrong))
            ds = dane.ds()
            dane.start_unbound(ds)
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert, key)
            sink = e2e.SmtpSink(25, host=MX_ADDRESS, tls=tls)
            sink.start()
            dane.start_postfix(settings)
        with e2e.phase("dane: checks"):
            checks(e2e, dane, sink, settings, ds)
    except Exception as error:  # noqa: BLE001
        e2e.results.append(("dane: setup", False))
        e2e.log(f"FAIL dane: setup: {str(error).strip()[:800]}")
    finally:
        if sink:
            sink.stop()
        if (dane.pf / "main.cf").exists():
            e2e.run("postfix", "-c", dane.pf, "stop", check_rc=False)
        if any(not ok for _, ok in e2e.results):
            dane.log_tails()
        (base / "results.json").write_text(json.dumps({"results": e2e.results, "timings": e2e.timings}))
    return 0 if e2e.results and all(ok for _, ok in e2e.results) else 1


def checks(e2e, dane, sink, settings, ds):
    check = e2e.check

    def generated():
        wanted = {"smtp_tls_security_level": "dane", "smtp_dns_support_level": "dnssec"}
        differing = {k: settings.get(k) for k, v in wanted.items() if settings.get(k) != v}
        if differing:
            raise RuntimeError(f"the generated main.cf has {differing}, not {wanted}")
        return ", ".join(f"{k} = {v}" for k, v in sorted(settings.items()) if k in wanted)
    check("dane: the generated main.cf's client settings are dane + dnssec", generated)

    def validated():
        signed = dane.dig(RESOLVER, f"_25._tcp.{MX}", "TLSA")
        plain = dane.dig(RESOLVER, PLAIN_MX, "A")
        flags = re.compile(r";; Flags: ([a-z ]+);")
        signed_flags, plain_flags = flags.search(signed), flags.search(plain)
        if not signed_flags or " ad" not in f" {signed_flags.group(1)}":
            raise RuntimeError(f"no AD bit for the signed TLSA: {signed[:600]}")
        if not plain_flags or " ad" in f" {plain_flags.group(1)}":
            raise RuntimeError(f"the unsigned zone was marked validated: {plain[:600]}")
        return f"trust anchor `{ds}`; the TLSA answer has AD, the unsigned zone's has none"
    check("dane: unbound validates the signed test zone with its DS as trust anchor", validated)

    def verified():
        recipient = f"someone@{ZONE}"
        dane.delivered_over_tls(sink, recipient)
        e2e.wait_for("status=sent in the log", lambda: dane.delivery(recipient, "sent"), timeout=10)
        lines = dane.log_lines(f"Verified TLS connection established to {MX}[{MX_ADDRESS}]:25")
        if not lines:
            raise RuntimeError(f"no `Verified TLS connection` line: {dane.log_lines('TLS connection')[-3:]}")
        return lines[-1].split(": ", 1)[-1][:140]
    check('dane: delivery to a TLSA-matching MX logs "Verified TLS connection"', verified)

    def kept_queued():
        token, recipient = uuid.uuid4().hex, f"someone@{WRONG}"
        dane.send(recipient, token)
        e2e.wait_for("the delivery attempt deferred", lambda: dane.delivery(recipient, "deferred"), timeout=30)
        e2e.wait_for("the message in the deferred queue", lambda: dane.in_queue(recipient), timeout=10)
        if sink.with_token(token):
            raise RuntimeError("the message reached the test MX despite the wrong TLSA record")
        if dane.delivery(recipient, "sent") or dane.delivery(recipient, "bounced"):
            raise RuntimeError(f"not kept: {dane.log_lines(f'to=<{recipient}>')}")
        reason = dane.delivery(recipient, "deferred")[-1].split("status=deferred", 1)[1].strip()
        return f"deferred {reason[:120]}; still queued"
    check("dane: wrong TLSA value: the message stays queued, never sent in clear", kept_queued)

    def insecure():
        dane.delivered_over_tls(sink, f"someone@{PLAIN_ZONE}")
        if dane.log_lines(f"Verified TLS connection established to {PLAIN_MX}"):
            raise RuntimeError("an unsigned zone's TLSA record was used")
        return "delivered over unauthenticated TLS: its unvalidated TLSA record is ignored"
    check("dane: an unsigned domain still gets its mail (opportunistic TLS)", insecure)


if __name__ == "__main__":
    if sys.argv[1:] != ["--inside"]:
        sys.exit("run through scripts/e2e dane")
    sys.exit(inside())
