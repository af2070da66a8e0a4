"""Real Apache (Debian's apache2, a private instance on loopback ports) in front of
a real gunicorn running rfapi on a unix socket, as on a PBX:

* the PBX-wide snippet (apache/rfapi.conf.in): auth passes through, 401 with
  WWW-Authenticate, the envelope intact, X-Forwarded-For honoured from Apache
  and ignored from a direct client, plain HTTP refused from the network, a
  multi-megabyte answer streamed through, Apache's wait longer than fwconsole's;
* the white-label vhost (apache/rfapi-vhost.conf.in, rendered by
  install.sh --white-label) over TLS: Host/SNI routing, only /api/v1 served.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import pytest

from tests.support.procs import free_port
from tests.test_gunicorn import (AUTH, REPO, Answer, Process, access_lines,
                                 nonlocal_address, request, start_gunicorn, wait_for_line, wait_until,
                                 can_connect)

APACHE_BIN = "/usr/sbin/apache2"
MODULE_DIR = Path("/usr/lib/apache2/modules")
SNIPPET = REPO / "apache" / "rfapi.conf.in"
VHOST = REPO / "apache" / "rfapi-vhost.conf.in"
INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"
# What install.sh enables for the snippet (tests/test_install.py checks it does).
SNIPPET_MODULES = ("proxy", "proxy_http", "headers", "authz_host")
CLIENT = "127.0.0.5"   # the test's client address: any 127/8 address is local on Linux
PROXY_TIMEOUT = "360"


def render(template: Path, **values: str) -> str:
    """The @KEY@ substitution install.sh performs."""
    text = template.read_text()
    for k, v in values.items():
        text = text.replace("@%s@" % k, v)
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, left
    return text


def upstream_for(bind: str) -> Tuple[str, str]:
    """(UPSTREAM, UPSTREAM_REVERSE) for a gunicorn bind, as install.sh computes them."""
    if bind.startswith("unix:"):
        return "unix:%s|http://localhost" % bind[5:], "http://localhost"
    return "http://" + bind, "http://" + bind


def render_snippet(bind: str) -> str:
    up, rev = upstream_for(bind)
    return render(SNIPPET, UPSTREAM=up, UPSTREAM_REVERSE=rev, TIMEOUT=PROXY_TIMEOUT)


def shared_dir() -> Path:
    """A directory Apache's workers (www-data) can traverse, unlike pytest's 0700 tmp:
    it holds gunicorn's socket and the DocumentRoot (the "FreePBX GUI")."""
    d = Path(tempfile.mkdtemp(prefix="rfapi-apache-", dir="/tmp"))
    d.chmod(0o755)
    (d / "htdocs").mkdir(mode=0o755)
    (d / "htdocs" / "index.html").write_text("FreePBX GUI stand-in\n")
    return d


class Apache:
    """A private Apache: own ServerRoot, config, logs and ports. Started as root
    like the real one; its workers run as www-data with group root, the way
    Apache runs as asterisk on a PBX and so may use the 0770 socket."""

    def __init__(self, root: Path, docroot: Path, listens: List[str], body: str, modules: Iterable[str] = (),
                 includes: Iterable[str] = ()):
        self.root = root
        self.listens = listens
        (root / "run").mkdir(parents=True, exist_ok=True)
        lines = [
            'ServerRoot "%s"' % root,
            'DefaultRuntimeDir "%s/run"' % root,
            'PidFile "%s/run/apache.pid"' % root,
            "Mutex file:%s/run default" % root,
            "ServerName localhost",
            "User www-data",
            "Group root",
            'ErrorLog "%s/error.log"' % root,
            "LogLevel warn",
            'LogFormat "%a \\"%r\\" %>s %B" short',
            'CustomLog "%s/access.log" short' % root,
            "LoadModule mpm_event_module %s/mod_mpm_event.so" % MODULE_DIR,
            "LoadModule authz_core_module %s/mod_authz_core.so" % MODULE_DIR,
        ]
        for m in modules:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODULE_DIR, m))
        lines += ['Include "%s"' % inc for inc in includes]
        lines += ["Listen %s" % l for l in listens]
        lines += ['DocumentRoot "%s"' % docroot,
                  '<Directory "%s">' % docroot, "    Require all granted", "</Directory>"]
        self.conf = root / "apache.conf"
        self.conf.write_text("\n".join(lines) + "\n" + body + "\n")
        self.proc: Optional[Process] = None

    def configtest(self) -> str:
        r = subprocess.run([APACHE_BIN, "-t", "-f", str(self.conf)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, out
        return out

    def start(self) -> "Apache":
        assert "Syntax OK" in self.configtest()
        self.proc = Process([APACHE_BIN, "-f", str(self.conf), "-DFOREGROUND"], self.root / "stdout.log")
        first = self.listens[0].split()[0]
        host, port = first.rsplit(":", 1)
        try:
            wait_until(lambda: can_connect((host, int(port))), 20, "Apache listening on %s" % first,
                       proc=self.proc.proc, log=self.root / "error.log")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def error_log(self) -> str:
        p = self.root / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""


@pytest.fixture
def stack():
    """Everything a test starts (gunicorn, Apache) and the socket dirs; all cleaned up."""
    things: List = []
    yield things
    for t in reversed(things):
        if isinstance(t, Path):
            shutil.rmtree(t, ignore_errors=True)
        else:
            t.stop()


def _add_users(pbx, count: int) -> None:
    """Bulk extensions in the private clone, so /pbx/framework/destinations is megabytes."""
    for start in range(0, count, 2000):
        rows = range(start, min(count, start + 2000))
        values = ", ".join(["(%s, %s, %s)"] * len(rows))
        params: List[str] = []
        for i in rows:
            params += [str(200000 + i), "Bulk user %05d with a fairly long display name" % i, "novm"]
        pbx.sql("INSERT INTO users (extension, name, voicemail) VALUES " + values, params)


def assert_same_openapi(proxied: Answer, direct: Answer, server: str) -> None:
    """Byte-identical apart from the server URL, which names what the client used."""
    got, want = proxied.json(), direct.json()
    assert want["servers"] == [{"url": "http://localhost"}]
    assert got["servers"] == [{"url": server}]
    got["servers"] = want["servers"]
    assert got == want
    assert len(proxied.body) > 100_000


# -- the PBX-wide snippet ---------------------------------------------------------------------------
def test_snippet_proxies_api_v1_to_gunicorn(pbx_rw, tmp_path, stack):
    pbx = pbx_rw
    _add_users(pbx, 20000)
    # fwconsole gives up after 3 s; Apache's own Timeout is 1 s: the ProxyPass
    # timeout must win so the client gets rfapi's 504 envelope, not Apache's page.
    pbx.ini.write_text(pbx.ini.read_text().replace("timeout = 10\n", "timeout = 3\n"))

    sdir = shared_dir()
    stack.append(sdir)
    sock = sdir / "rfapi.sock"
    bind = "unix:%s" % sock
    outside = nonlocal_address()
    direct_port = free_port(outside)
    # The config file's bind is the socket (what Apache uses); the extra TCP bind on
    # a non-loopback address plays a client reaching gunicorn without Apache.
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind,
                       cli_binds=(bind, "%s:%d" % (outside, direct_port)), wait_for=str(sock))
    stack.append(g)

    port, port_out = free_port(), free_port(outside)
    apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d" % port, "%s:%d" % (outside, port_out)],
                    "Timeout 1\n" + render_snippet(bind), modules=SNIPPET_MODULES)
    stack.append(apache.start())
    via = ("127.0.0.1", port)

    # Auth passes through; the envelope arrives intact; the client is the real one.
    r = request(via, "GET", "/api/v1/test", AUTH, source=CLIENT)
    assert r.status == 200, (r.body, apache.error_log())
    assert r.body == b'{"status":200,"message":"OK","data":{"method":"GET"}}'
    assert r.headers["content-type"] == "application/json"
    line = wait_for_line(g, r.headers["x-request-id"])
    assert (line["client"], line["user"], line["status"]) == (CLIENT, "api", 200)

    for method in ("POST", "PUT", "DELETE"):
        r = request(via, method, "/api/v1/test", AUTH, source=CLIENT)
        assert (r.status, r.json()["data"]) == (200, {"method": method})

    # No credentials: rfapi's 401, its challenge header and envelope, through Apache.
    r = request(via, "GET", "/api/v1/test", source=CLIENT)
    assert r.status == 401
    assert r.headers["www-authenticate"] == 'Basic realm="PBX API"'
    assert r.json() == {"status": 401, "message": "Unauthorized", "data": None}

    # A client's own X-Forwarded-For is not believed: Apache appends the real
    # address and rfapi takes that last hop.
    r = request(via, "GET", "/api/v1/test", dict(AUTH, **{"X-Forwarded-For": "203.0.113.9"}), source=CLIENT)
    assert r.status == 200
    assert wait_for_line(g, r.headers["x-request-id"])["client"] == CLIENT

    # A direct client (not the local proxy) forging the header is logged as itself.
    r = request((outside, direct_port), "GET", "/api/v1/test",
                dict(AUTH, **{"X-Forwarded-For": "203.0.113.9"}), source=outside)
    assert r.status == 200
    assert wait_for_line(g, r.headers["x-request-id"])["client"] == outside

    # Plain HTTP from the network is refused by Apache before rfapi sees it.
    seen = len(access_lines(g.log()))
    r = request((outside, port_out), "GET", "/api/v1/test", AUTH, source=outside)
    assert r.status == 403
    assert b'"status"' not in r.body
    assert len(access_lines(g.log())) == seen

    # Outside /api/v1/ it is Apache's own content, not rfapi.
    seen = len(access_lines(g.log()))
    r = request(via, "GET", "/api/v2/test", AUTH, source=CLIENT)
    assert r.status == 404 and "x-request-id" not in r.headers
    r = request(via, "GET", "/index.html", source=CLIENT)
    assert (r.status, r.body) == (200, b"FreePBX GUI stand-in\n")
    assert len(access_lines(g.log())) == seen

    # A multi-megabyte answer streams through unchanged.
    path = "/api/v1/pbx/framework/destinations"
    direct = request(str(sock), "GET", path, AUTH)
    proxied = request(via, "GET", path, AUTH, source=CLIENT)
    assert direct.status == proxied.status == 200
    assert len(proxied.body) > 2_000_000
    assert proxied.body == direct.body
    doc = proxied.json()
    assert doc["status"] == 200 and "Bulk user 19999 with a fairly long display name" in proxied.body.decode()
    # The OpenAPI document names the server the client used (Host preserved, scheme from Apache).
    api_doc = request(via, "GET", "/api/v1/openapi.json", source=CLIENT)
    assert api_doc.status == 200
    assert_same_openapi(api_doc, request(str(sock), "GET", "/api/v1/openapi.json"), "http://127.0.0.1:%d" % port)

    # Apply Config through Apache.
    r = request(via, "GET", "/api/v1/pbx/framework/reload", AUTH, source=CLIENT)
    assert r.status == 200, r.body
    assert r.json()["data"]["exit_code"] == 0

    # A reload slower than Apache's global Timeout: the ProxyPass timeout keeps
    # the connection, and the client gets rfapi's own 504 when fwconsole gives up.
    pbx.fwconsole_control(mode="hang", seconds=60, pidfile=str(tmp_path / "fw.pids"))
    r = request(via, "GET", "/api/v1/pbx/framework/reload", AUTH, source=CLIENT, timeout=60)
    assert r.status == 504
    assert r.json()["message"] == "Gateway Timeout: fwconsole did not finish in time"

    assert "AH01144" not in apache.error_log()   # no "No protocol handler" (modules missing)


# -- the white-label vhost ------------------------------------------------------------------------
def _self_signed(d: Path, name: str) -> Tuple[Path, Path]:
    cert, key = d / ("%s.crt" % name), d / ("%s.key" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % name, "-addext", "subjectAltName=DNS:%s" % name,
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return cert, key


class SNIConnection(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1 with a chosen SNI name, verified against ``cafile``."""

    def __init__(self, port: int, sni: str, cafile: Path, source: Optional[str] = None, timeout: float = 30,
                 check_hostname: bool = True):
        super().__init__("127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None)
        self.sni = sni
        self.ctx = ssl.create_default_context(cafile=str(cafile))
        self.ctx.check_hostname = check_hostname

    def connect(self):
        super().connect()
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.sni)


def https(port: int, name: str, cafile: Path, path: str, headers: Optional[Dict[str, str]] = None,
          check_hostname: bool = True) -> Answer:
    conn = SNIConnection(port, name, cafile, source=CLIENT, check_hostname=check_hostname)
    return request(None, "GET", path, headers, host_header=name, conn=conn)


def _fake_root(root: Path) -> Path:
    """The parts of a Debian Apache layout install.sh touches, under a temp root."""
    a = root / "etc" / "apache2"
    for d in ("conf-available", "conf-enabled", "mods-available", "mods-enabled", "sites-available",
              "sites-enabled"):
        (a / d).mkdir(parents=True, exist_ok=True)
    for f in Path("/etc/apache2/mods-available").iterdir():
        shutil.copy2(f, a / "mods-available" / f.name)
    return a


def _in_root(root: Path, path: Path) -> None:
    target = root / str(path).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)


def test_white_label_vhost_serves_only_the_api(pbx, tmp_path, stack):
    certs = tmp_path / "certs"
    certs.mkdir()
    wl_cert, wl_key = _self_signed(certs, "api.example.test")
    pbx_cert, pbx_key = _self_signed(certs, "pbx.test")

    sdir = shared_dir()
    stack.append(sdir)
    sock = sdir / "rfapi.sock"
    bind = "unix:%s" % sock
    port = free_port()

    # install.sh renders and enables the vhost (inside a temp root: no apachectl).
    root = tmp_path / "root"
    a = _fake_root(root)
    for f in (wl_cert, wl_key):
        _in_root(root, f)
    argv = [str(INSTALL), "--root", str(root), "--bind", bind, "--white-label", "api.example.test",
            "--cert", str(wl_cert), "--key", str(wl_key), "--port", str(port)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert out.returncode == 0, out.stdout.decode()
    site = a / "sites-available" / "zz-rfapi-api.example.test.conf"
    assert os.readlink(a / "sites-enabled" / "zz-rfapi-api.example.test.conf") == \
        "../sites-available/zz-rfapi-api.example.test.conf"
    up, rev = upstream_for(bind)
    assert site.read_text() == render(VHOST, SERVER_NAME="api.example.test", PORT=str(port),
                                      CERT_FILE=str(wl_cert), KEY_FILE=str(wl_key), UPSTREAM=up,
                                      UPSTREAM_REVERSE=rev, TIMEOUT=PROXY_TIMEOUT)
    enabled = sorted(p.name for p in (a / "mods-enabled").iterdir() if p.name.endswith(".load"))
    assert enabled == sorted("%s.load" % m for m in ("alias", "headers", "proxy", "proxy_http", "socache_shmcb",
                                                      "ssl"))
    # Idempotent: a second run leaves the file as it was.
    before = site.stat().st_mtime_ns
    assert subprocess.run(argv, stdout=subprocess.DEVNULL, timeout=60).returncode == 0
    assert site.stat().st_mtime_ns == before

    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind)
    stack.append(g)

    # The PBX's own HTTPS vhost (serving the "GUI") in sites-enabled, named like
    # SNG7's conf.d/ssl.conf (it sorts after "rfapi-"), next to the white-label
    # site exactly as install.sh enabled it; the PBX-wide snippet at server level.
    (a / "sites-available" / "ssl.conf").write_text("\n".join([
        "<VirtualHost *:%d>" % port,
        "    ServerName pbx.test",
        "    SSLEngine on",
        '    SSLCertificateFile "%s"' % pbx_cert,
        '    SSLCertificateKeyFile "%s"' % pbx_key,
        "</VirtualHost>", ""]))
    (a / "sites-enabled" / "ssl.conf").symlink_to("../sites-available/ssl.conf")
    body = "\n".join([render_snippet(bind), 'IncludeOptional "%s/sites-enabled/*.conf"' % a])
    apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d https" % port], body,
                    includes=['%s/mods-enabled/*.load' % a, "%s/mods-available/authz_host.load" % a])
    stack.append(apache.start())

    # The white-label name: its own certificate (verified), the API...
    r = https(port, "api.example.test", wl_cert, "/api/v1/test", AUTH)
    assert r.status == 200, (r.body, apache.error_log())
    assert r.json() == {"status": 200, "message": "OK", "data": {"method": "GET"}}
    assert wait_for_line(g, r.headers["x-request-id"])["client"] == CLIENT
    r = https(port, "api.example.test", wl_cert, "/api/v1/test")
    assert r.status == 401 and r.headers["www-authenticate"] == 'Basic realm="PBX API"'
    # Host and scheme reach rfapi: the document's server URL is the white-label one, over https.
    large = https(port, "api.example.test", wl_cert, "/api/v1/openapi.json")
    assert large.status == 200
    assert_same_openapi(large, request(str(sock), "GET", "/api/v1/openapi.json"), "https://api.example.test")

    # ...and nothing else of the PBX.
    for path in ("/", "/index.html", "/admin/config.php", "/ucp/", "/api/v1", "/api/v2/test"):
        r = https(port, "api.example.test", wl_cert, path, AUTH)
        assert r.status == 404, (path, r.status)
        assert b"FreePBX GUI stand-in" not in r.body and "x-request-id" not in r.headers

    # The PBX's own name still serves its GUI, and /api/v1 over HTTPS through the snippet.
    r = https(port, "pbx.test", pbx_cert, "/index.html")
    assert r.status == 200 and r.body == b"FreePBX GUI stand-in\n"
    r = https(port, "pbx.test", pbx_cert, "/api/v1/test", AUTH)
    assert r.status == 200 and r.json()["data"] == {"method": "GET"}
    doc = https(port, "pbx.test", pbx_cert, "/api/v1/openapi.json").json()
    assert doc["servers"] == [{"url": "https://pbx.test"}]
    # A name Apache does not know (or the bare IP) still lands on the PBX's vhost:
    # the white-label file sorts after FreePBX's, so it never becomes the default.
    r = https(port, "unknown.test", pbx_cert, "/index.html", check_hostname=False)
    assert r.status == 200 and r.body == b"FreePBX GUI stand-in\n"

    # uninstall.sh --white-label removes just that site.
    out = subprocess.run([str(UNINSTALL), "--root", str(root), "--white-label", "api.example.test"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert out.returncode == 0, out.stdout.decode()
    assert not site.exists() and not (a / "sites-enabled" / "zz-rfapi-api.example.test.conf").exists()
    assert (a / "mods-enabled" / "ssl.load").exists()


def test_white_label_refuses_bad_names_and_missing_certs(tmp_path):
    root = tmp_path / "root"
    _fake_root(root)
    for name, extra, why in (("bad name;x", [], "needs a host name"),
                             ("-x.example", [], "needs a host name"),
                             ("api.example.test", ["--cert", "/nonexistent.crt", "--key", "/nonexistent.key"],
                              "is not readable"),
                             ("api.example.test", [], "needs --cert FILE and --key FILE")):
        out = subprocess.run([str(INSTALL), "--root", str(root), "--white-label", name] + extra,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert out.returncode != 0 and why in out.stdout.decode(), (name, out.stdout)
    assert list((root / "etc" / "apache2" / "sites-available").iterdir()) == []
