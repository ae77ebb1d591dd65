"""The MTA-STS phase of the end-to-end suite (issue 17): the generated nginx
config serving each tenant's MTA-STS policy and autoconfig file over HTTPS,
the records `mailops dns records` prints, checked with real tools.

Everything runs in a network namespace of its own (ports 53, 80 and 443 of the
machine are not touched). In it:

  - a repo made by `mailops init` (MTA-STS `enforce`, an alias domain, POP3
    on), built and installed (`mailops install --root`) into a host tree;
  - Knot serves the tenant's zones and the host's zone, made of exactly the
    records `mailops dns records --format json` prints (plus the host's A
    record, on 127.0.0.80), and unbound on 127.0.0.1:53 resolves through it
    (the namespace's resolv.conf names it): CNAMEs are followed;
  - a test CA (openssl) signs one certificate per line of the installed
    certificate list, where the host's certificate service would have Let's
    Encrypt's, in the lineage folders the config names;
  - nginx runs the generated `nginx/mailops.conf`, its three host paths (web
    root, ACME webroot, certificate folder) moved into the work folder.

Checks: checkdmarc (PyPI), resolving through unbound and trusting the test CA
(REQUESTS_CA_BUNDLE), finds the MTA-STS record, the policy it fetches and the
TLS-RPT record valid; the autoconfig XML names the mail host with the right
ports over HTTPS and HTTP; the SRV records resolve to the right ports; a
changed mode changes the record's id and the served policy with no nginx
reload; a name without a certificate gets no TLS handshake; BIMI: checkdmarc
finds the tenant's `default._bimi` record valid and the logo it fetches (from
a test web server for www.client.example, trusting the same CA) SVG Tiny PS;
a logo checkdmarc refuses, `mailops validate` refuses too.
"""

import hashlib
import http.server
import json
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

HOST_ZONE = "mtasts-e2e.example"
HOST = f"mx.{HOST_ZONE}"
DOMAIN = "client.example"
ALIAS = "client-old.example"
HOST_ADDRESS = "127.0.0.80"
KNOT_ADDRESS = "127.0.0.81"
# The tenant's own web server, which serves its BIMI logo.
WWW = f"www.{DOMAIN}"
WWW_ADDRESS = "127.0.0.82"
# nginx (the mail host's) holds 443 on every address of the namespace.
LOGO_URL = f"https://{WWW}:8443/brand/logo.svg"
RESOLVER = "127.0.0.1"
RESOLV_CONF = f"nameserver {RESOLVER}\n"
# The host paths of the generated nginx config (src/emit/nginx.rs).
WEB_ROOT = "/var/www/mailops"
ACME_ROOT = "/var/www/mailops-acme"
CERT_DIR = "/etc/letsencrypt/live"


# ------------------------------------------------------------ outside: the namespace

def run_mtasts(e2e):
    """Run the checks inside a fresh network namespace; record their lines."""
    import e2e_dane

    e2e_dane.run_in_namespace(e2e, "mtasts", Path(__file__),
                              ("ip", "knotd", "kdig", "unbound", "nginx", "openssl", "checkdmarc"), RESOLV_CONF)


# ------------------------------------------------------------- inside: the checks

class Site:
    def __init__(self, e2e, base):
        self.e2e = e2e
        self.base = base
        self.logs = base / "log"
        self.repo = base / "repo"
        self.root = base / "root"
        self.live = base / "live"
        self.acme = base / "acme"
        self.ca_key, self.ca = base / "ca.key", base / "ca.pem"

    def run(self, *args, **kwargs):
        return self.e2e.run(*args, **kwargs)

    def mailops(self, *args, **kwargs):
        return self.e2e.mailops(self.repo, *args, **kwargs)

    def spawn(self, name, argv):
        with open(self.logs / f"{name}.log", "ab") as out:
            return subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)

    # -- the repo
    def make_repo(self):
        self.run(self.e2e.BIN, "init", self.repo, "--hostname", HOST, "--domain", DOMAIN)
        platform = self.repo / "mailops.toml"
        text = platform.read_text()
        if "\n[mail_host]\n" not in f"\n{text}":
            raise RuntimeError(f"no [mail_host] in the mailops.toml of mailops init:\n{text}")
        platform.write_text(text.replace("[mail_host]\n", "[mail_host]\npop3 = true\n", 1))
        tenant = self.repo / "tenants" / f"{DOMAIN}.toml"
        tenant.write_text(tenant.read_text() + f'\n[dns.bimi]\nlogo = "{LOGO_URL}"\n')
        (self.repo / "bimi").mkdir(exist_ok=True)
        (self.repo / "bimi" / f"{DOMAIN}.svg").write_bytes(
            (self.e2e.REPO / "bimi" / "mehta-associates.example.svg").read_bytes())
        self.set_mode("enforce")

    def set_mode(self, mode):
        tenant = self.repo / "tenants" / f"{DOMAIN}.toml"
        lines = [line for line in tenant.read_text().splitlines()
                 if not line.startswith(("alias_domains =", "mta_sts =", "tls_rpt ="))]
        text = "\n".join(lines) + "\n"
        if "\n[dns]\n" not in text:
            text += "\n[dns]\n"
        head, rest = text.split("\n[dns]\n", 1)
        tenant.write_text(f'alias_domains = ["{ALIAS}"]\n{head}\n[dns]\nmta_sts = "{mode}"\n'
                          f'tls_rpt = ["mailto:tls-reports@{DOMAIN}"]\n{rest}')
        self.mailops("build")
        self.mailops("install", "--root", self.root, env={"MAILOPS_DB_PASSWORD": "e2e-unused"})

    def records(self):
        out = self.mailops("dns", "records", "--format", "json", DOMAIN).stdout
        return json.loads(out)

    # -- DNS
    def zone_files(self):
        zones = self.base / "knot" / "zones"
        zones.mkdir(parents=True, exist_ok=True)
        soa = "@ 5 SOA ns hostmaster 1 3600 600 86400 5\n@ 5 NS ns\nns 5 A " + KNOT_ADDRESS + "\n"
        bodies = {HOST_ZONE: [f"{HOST}. 5 IN A {HOST_ADDRESS}"], DOMAIN: [f"{WWW}. 5 IN A {WWW_ADDRESS}"],
                  ALIAS: []}
        for record in self.records():
            origin = max((z for z in bodies if record["name"] == z or record["name"].endswith("." + z)), key=len)
            value = record["value"]
            if record["type"] == "TXT":
                value = " ".join('"' + value[i:i + 255].replace("\\", "\\\\").replace('"', '\\"') + '"'
                                 for i in range(0, len(value), 255))
            for one in value.split("\n"):
                bodies[origin].append(f"{record['name']}. 5 IN {record['type']} {one}")
        for origin, lines in bodies.items():
            (zones / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 5\n{soa}" + "\n".join(lines) + "\n")
        return zones

    def start_knot(self):
        zones = self.zone_files()
        knot = zones.parent
        for d in ("db", "run"):
            (knot / d).mkdir(parents=True, exist_ok=True)
        conf = knot / "knot.conf"
        conf.write_text(
            f"server:\n  listen: {KNOT_ADDRESS}@53\n  rundir: {knot}/run\n"
            f"database:\n  storage: {knot}/db\n"
            "log:\n  - target: stderr\n    any: info\n"
            "template:\n  - id: default\n"
            f"    storage: {zones}\n    file: \"%s.zone\"\n"
            "    zonefile-sync: -1\n    journal-content: none\n"
            "zone:\n" + "".join(f"  - domain: {z}\n" for z in (HOST_ZONE, DOMAIN, ALIAS)))
        self.knot_conf = conf
        self.spawn("knot", ["knotd", "-c", conf])
        self.e2e.wait_for("Knot answers", lambda: HOST_ADDRESS in self.dig(KNOT_ADDRESS, HOST, "A"), timeout=30)

    def reload_knot(self):
        self.zone_files()
        self.run("knotc", "-c", self.knot_conf, "zone-reload", check_rc=False)

    def start_unbound(self):
        conf = self.base / "unbound.conf"
        stubs = "".join(f"stub-zone:\n  name: \"{z}.\"\n  stub-addr: {KNOT_ADDRESS}@53\n"
                        for z in (HOST_ZONE, DOMAIN, ALIAS))
        insecure = "".join(f"  domain-insecure: \"{z}.\"\n" for z in (HOST_ZONE, DOMAIN, ALIAS))
        conf.write_text(
            f"server:\n  interface: {RESOLVER}\n  port: 53\n  do-ip6: no\n"
            "  do-not-query-localhost: no\n  chroot: \"\"\n  username: \"\"\n"
            f"  directory: \"{self.base}\"\n  pidfile: \"{self.base}/unbound.pid\"\n"
            f"  use-syslog: no\n  logfile: \"{self.logs}/unbound.log\"\n"
            "  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n"
            f"{insecure}{stubs}"
            "remote-control:\n  control-enable: no\n")
        self.run("unbound-checkconf", conf)
        self.spawn("unbound", ["unbound", "-d", "-c", conf])
        self.e2e.wait_for("unbound answers", lambda: HOST_ADDRESS in self.dig(RESOLVER, HOST, "A"), timeout=30)

    def dig(self, server, name, rtype):
        return self.run("kdig", f"@{server}", "+short", "+time=2", "+retry=0", name, rtype, check_rc=False).stdout

    # -- certificates
    def make_ca(self):
        self.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-days", "2", "-subj", "/CN=mailops e2e test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", self.ca_key, "-out", self.ca)

    def certificates(self):
        """One certificate per line of the installed list, as the host's
        certificate service asks Let's Encrypt for: lineage mailops-<domain>."""
        listed = (self.root / WEB_ROOT.lstrip("/") / "certificates.list").read_text()
        made = []
        for line in listed.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            domain, *names = line.split()
            self.certificate(names, self.live / f"mailops-{domain}")
            made.append(f"{domain}: {' '.join(names)}")
        return made

    def certificate(self, names, folder):
        """A certificate for `names` from the test CA: (key, fullchain) in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        key, csr, cert = folder / "privkey.pem", folder / "req.csr", folder / "fullchain.pem"
        self.run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-subj", f"/CN={names[0]}", "-keyout", key, "-out", csr)
        ext = folder / "ext.cnf"
        san = ",".join(f"DNS:{n}" for n in names)
        ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
        self.run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
        return key, cert

    # -- the tenant's web server (not the mail host's): its BIMI logo
    def start_logo_server(self):
        self.www = self.base / "www"
        (self.www / "brand").mkdir(parents=True, exist_ok=True)
        self.serve_logo((self.repo / "bimi" / f"{DOMAIN}.svg").read_bytes())
        key, cert = self.certificate([WWW], self.base / "www-tls")
        www = self.www

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(www), **kwargs)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer((WWW_ADDRESS, 8443), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.logo_server = server

    def serve_logo(self, svg):
        (self.www / "brand" / "logo.svg").write_bytes(svg)

    # -- nginx
    def start_nginx(self):
        generated = (self.repo / "generated" / "nginx" / "mailops.conf").read_text()
        moved = generated
        for path, here in ((WEB_ROOT, self.root / WEB_ROOT.lstrip("/")), (ACME_ROOT, self.acme),
                           (CERT_DIR, self.live)):
            if path not in moved:
                raise RuntimeError(f"the generated nginx config no longer names {path}")
            moved = moved.replace(path, str(here))
        self.acme.mkdir(parents=True, exist_ok=True)
        nginx = self.base / "nginx"
        nginx.mkdir(parents=True, exist_ok=True)
        (nginx / "mailops.conf").write_text(moved)
        (nginx / "nginx.conf").write_text(
            "user root root;\nworker_processes 1;\n"
            f"pid {nginx}/nginx.pid;\nerror_log {self.logs}/nginx-error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"  access_log {self.logs}/nginx-access.log;\n"
            f"  client_body_temp_path {nginx}/body;\n  proxy_temp_path {nginx}/proxy;\n"
            f"  fastcgi_temp_path {nginx}/fastcgi;\n  uwsgi_temp_path {nginx}/uwsgi;\n"
            f"  scgi_temp_path {nginx}/scgi;\n"
            f"  include {nginx}/mailops.conf;\n"
            "}\n")
        self.nginx_conf = nginx / "nginx.conf"
        self.run("nginx", "-t", "-c", self.nginx_conf)
        self.nginx = self.spawn("nginx", ["nginx", "-c", self.nginx_conf, "-g", "daemon off;"])
        self.e2e.wait_for("nginx listens", lambda: (nginx / "nginx.pid").exists(), timeout=20)

    def fetch(self, url):
        context = ssl.create_default_context(cafile=str(self.ca))
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                             NoRedirect())
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()

    def log_tails(self):
        import e2e_dane

        e2e_dane.tail_logs(self.e2e, self.logs, ("nginx-error.log", "knot.log", "unbound.log"))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def inside():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import e2e
    import e2e_dane

    base = e2e_dane.fresh_work(e2e, "mtasts")
    e2e.run("ip", "addr", "add", f"{HOST_ADDRESS}/32", "dev", "lo", check_rc=False)
    e2e.run("ip", "addr", "add", f"{KNOT_ADDRESS}/32", "dev", "lo", check_rc=False)
    e2e.run("ip", "addr", "add", f"{WWW_ADDRESS}/32", "dev", "lo", check_rc=False)
    site = Site(e2e, base)
    try:
        with e2e.phase("mtasts: repo, zones, resolver, test CA, nginx"):
            site.make_repo()
            site.start_knot()
            site.start_unbound()
            site.make_ca()
            made = site.certificates()
            site.start_nginx()
            site.start_logo_server()
            e2e.log(f"    certificates from the test CA: {'; '.join(made)}")
        with e2e.phase("mtasts: checks"):
            checks(e2e, site)
    except Exception as error:  # noqa: BLE001
        e2e.results.append(("mtasts: setup", False))
        e2e.log(f"FAIL mtasts: setup: {str(error).strip()[:800]}")
    finally:
        logo_server = getattr(site, "logo_server", None)
        if logo_server:
            logo_server.shutdown()
        nginx = getattr(site, "nginx", None)
        if nginx:
            nginx.terminate()
            nginx.wait(timeout=10)
        if any(not ok for _, ok in e2e.results):
            site.log_tails()
        (base / "results.json").write_text(json.dumps({"results": e2e.results, "timings": e2e.timings}))
    return 0 if e2e.results and all(ok for _, ok in e2e.results) else 1


def checkdmarc(site, *domains):
    env = {"REQUESTS_CA_BUNDLE": str(site.ca)}
    proc = site.run("checkdmarc", "--nameserver", RESOLVER, "--timeout", "3", "--format", "json", *domains,
                    env=env, check_rc=False)
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkdmarc exited {proc.returncode}: {proc.stderr[-800:]}") from None
    return reports if isinstance(reports, list) else [reports]


def checks(e2e, site):
    check = e2e.check
    state = {}

    def sts_valid():
        records = {(r["name"], r["type"]): r["value"] for r in site.records()}
        problems, seen = [], []
        for report in checkdmarc(site, DOMAIN, ALIAS):
            domain, sts, rpt = report["domain"], report.get("mta_sts", {}), report.get("smtp_tls_reporting", {})
            if not sts.get("valid"):
                problems.append(f"{domain} MTA-STS: {json.dumps(sts)[:300]}")
                continue
            policy = sts["policy"]
            if (policy["mode"], policy["mx"], policy["max_age"]) != ("enforce", [HOST], 604800):
                problems.append(f"{domain} policy: {policy}")
            want_id = records.get((f"_mta-sts.{domain}", "TXT"), "").rsplit("id=", 1)[-1]
            if sts["id"] != want_id:
                problems.append(f"{domain} id {sts['id']}, dns records says {want_id}")
            if not rpt.get("valid") or rpt["tags"]["rua"]["value"] != [f"mailto:tls-reports@{DOMAIN}"]:
                problems.append(f"{domain} TLS-RPT: {json.dumps(rpt)[:300]}")
            seen.append(f"{domain} id={sts['id']}")
        if problems or len(seen) != 2:
            raise RuntimeError("; ".join(problems) or f"reports for {seen}")
        state["id"] = want_id
        return ", ".join(seen) + f"; policy mode enforce, mx {HOST}; rua mailto:tls-reports@{DOMAIN}"
    check("mtasts: checkdmarc validates the MTA-STS record, the policy fetched over HTTPS, and TLS-RPT"
          " (tenant and alias domain)", sts_valid)

    def autoconfig():
        seen = []
        for url in (f"https://autoconfig.{DOMAIN}/mail/config-v1.1.xml",
                    f"http://autoconfig.{DOMAIN}/mail/config-v1.1.xml",
                    f"https://autoconfig.{ALIAS}/mail/config-v1.1.xml"):
            status, ctype, body = site.fetch(url)
            if status != 200 or not ctype.startswith("application/xml"):
                raise RuntimeError(f"{url}: {status} {ctype}")
            provider = ET.fromstring(body).find("emailProvider")
            servers = sorted((s.get("type"), s.findtext("hostname"), int(s.findtext("port")),
                              s.findtext("socketType"), s.findtext("username"))
                             for s in provider.iter() if s.tag in ("incomingServer", "outgoingServer"))
            want = sorted([("imap", HOST, 993, "SSL", "%EMAILADDRESS%"),
                           ("pop3", HOST, 995, "SSL", "%EMAILADDRESS%"),
                           ("smtp", HOST, 587, "STARTTLS", "%EMAILADDRESS%")])
            if servers != want:
                raise RuntimeError(f"{url}: servers {servers}")
            seen.append(url.split("/mail")[0])
        return f"{', '.join(seen)}: imap {HOST}:993 SSL, pop3 :995 SSL, smtp :587 STARTTLS, %EMAILADDRESS%"
    check("mtasts: the autoconfig XML names the mail host with IMAP 993, POP3 995 and submission 587",
          autoconfig)

    def srv():
        found = {}
        for name, port in (("_submission._tcp", 587), ("_imaps._tcp", 993), ("_pop3s._tcp", 995)):
            answer = site.dig(RESOLVER, f"{name}.{DOMAIN}", "SRV").split()
            if answer != ["0", "1", str(port), f"{HOST}."]:
                raise RuntimeError(f"{name}.{DOMAIN} SRV: {answer}")
            found[name] = port
        return ", ".join(f"{k} {v}" for k, v in found.items()) + f" → {HOST}"
    check("mtasts: the RFC 6186 SRV records resolve to the mail host's ports", srv)

    def dns_check():
        proc = site.mailops("dns", "check", "--nameserver", f"{RESOLVER}:53", DOMAIN, check_rc=False)
        wanted = ("MTA-STS", "TLS-RPT", "autoconfig", "SRV")
        lines = [l for l in proc.stdout.splitlines() if any(w in l for w in wanted)]
        bad = [l for l in lines if not l.strip().startswith("ok")]
        if len(lines) < 2 * 7 or bad:
            raise RuntimeError(f"{len(lines)} lines, not ok: {bad[:6]} | {proc.stdout[-600:]}")
        return f"{len(lines)} records ok"
    check("mtasts: mailops dns check finds every MTA-STS, TLS-RPT, autoconfig and SRV record ok", dns_check)

    def changed_policy():
        pid = (site.base / "nginx" / "nginx.pid").read_text().strip()
        before = state.get("id")
        site.set_mode("testing")
        site.reload_knot()
        records = {(r["name"], r["type"]): r["value"] for r in site.records()}
        after = records[(f"_mta-sts.{DOMAIN}", "TXT")].rsplit("id=", 1)[-1]
        if not before or after == before:
            raise RuntimeError(f"the id stayed {before}")
        status, ctype, body = site.fetch(f"https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt")
        if status != 200 or "mode: testing\n" not in body or not ctype.startswith("text/plain"):
            raise RuntimeError(f"served {status} {ctype}: {body!r}")
        e2e.wait_for("the new record in DNS", lambda: after in site.dig(RESOLVER, f"_mta-sts.{DOMAIN}", "TXT"),
                     timeout=15)
        [report] = checkdmarc(site, DOMAIN)
        if report["mta_sts"].get("id") != after or report["mta_sts"]["policy"]["mode"] != "testing":
            raise RuntimeError(f"checkdmarc: {json.dumps(report['mta_sts'])[:300]}")
        if (site.base / "nginx" / "nginx.pid").read_text().strip() != pid:
            raise RuntimeError("nginx was restarted")
        return f"id {before} → {after}; mode testing served by the same nginx (pid {pid}), checkdmarc agrees"
    check("mtasts: a changed policy changes the record's id and is served with no nginx reload", changed_policy)

    def bimi():
        records = {(r["name"], r["type"]): r["value"] for r in site.records()}
        declared = records.get((f"default._bimi.{DOMAIN}", "TXT"))
        if declared != f"v=BIMI1; l={LOGO_URL}":
            raise RuntimeError(f"dns records: {declared!r}")
        good = (site.repo / "bimi" / f"{DOMAIN}.svg").read_bytes()
        [report] = checkdmarc(site, DOMAIN)
        found = report.get("bimi", {})
        image = found.get("image", {})
        if (not found.get("valid") or found.get("record") != declared or "error" in image
                or image.get("validation_errors") or image.get("sha256") != hashlib.sha256(good).hexdigest()):
            raise RuntimeError(f"checkdmarc: {json.dumps(found)[:600]}")
        # A logo receivers refuse: checkdmarc finds what is wrong with it when
        # served, and mailops refuses it in the repo before it is served.
        bad = good.replace(b'baseProfile="tiny-ps"', b'baseProfile="tiny"').replace(b"<title>", b"<desc>") \
                  .replace(b"</title>", b"</desc>")
        site.serve_logo(bad)
        try:
            [report] = checkdmarc(site, DOMAIN)
        finally:
            site.serve_logo(good)
        refused = report.get("bimi", {}).get("image", {}).get("validation_errors") or []
        if not any("tiny-ps" in e for e in refused) or not any("title" in e for e in refused):
            raise RuntimeError(f"checkdmarc took the changed logo: {json.dumps(report.get('bimi'))[:600]}")
        logo = site.repo / "bimi" / f"{DOMAIN}.svg"
        logo.write_bytes(bad)
        try:
            proc = site.mailops("validate", check_rc=False)
        finally:
            logo.write_bytes(good)
        if proc.returncode != 1 or "mailops::bimi::svg" not in proc.stderr \
                or "baseProfile" not in proc.stderr or "<title>" not in proc.stderr:
            raise RuntimeError(f"mailops validate exited {proc.returncode}: {proc.stderr[-600:]}")
        return (f"record {declared!r}; logo sha256 {image['sha256'][:12]}… SVG Tiny PS; the changed logo: "
                f"checkdmarc {refused}, mailops validate mailops::bimi::svg")
    check("mtasts: BIMI: checkdmarc finds the record valid and the logo it fetches SVG Tiny PS; "
          "a logo it refuses, mailops validate refuses too", bimi)

    def no_certificate():
        context = ssl.create_default_context(cafile=str(site.ca))
        with socket.create_connection((HOST_ADDRESS, 443), timeout=5) as sock:
            try:
                with context.wrap_socket(sock, server_hostname="mta-sts.unknown.example"):
                    raise RuntimeError("a TLS handshake for a name no tenant has succeeded")
            except ssl.SSLError as error:
                return f"handshake refused: {error.reason}"
    check("mtasts: a name that is no tenant's gets no TLS handshake", no_certificate)


if __name__ == "__main__":
    if sys.argv[1:] != ["--inside"]:
        sys.exit("run through scripts/e2e mtasts")
    sys.exit(inside())
