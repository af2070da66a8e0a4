"""Tests of the test worlds (tests/support/dbworld.py) and the fixture office (tests/support/office.py)."""
from __future__ import annotations

import configparser
import hashlib
import re
import wave
from pathlib import Path

import MySQLdb
import pytest

from tests.support import dbworld, office, sqlscript

REPO = Path(__file__).resolve().parents[1]
SHARED_FREEPBX = REPO.parent / "shared" / "reference" / "freepbx"
NOW = 1717430400  # fixed anchor: Mon 2024-06-03 16:00 UTC


def _server_or_skip():
    try:
        conn = MySQLdb.connect(**dbworld.server_args())
    except MySQLdb.Error as exc:  # no test MariaDB: a failure, never a skip
        pytest.fail("test MariaDB not reachable: %s" % exc)
    conn.close()


@pytest.fixture(scope="module")
def loaded():
    """One world with the office loaded (read-only for the tests below)."""
    _server_or_skip()
    w = dbworld.create_world()
    try:
        cfg, cdr = dbworld.connect(w.config_db), dbworld.connect(w.cdr_db)
        try:
            office.load(cfg, cdr, now=NOW)
        finally:
            cfg.close()
            cdr.close()
        yield w
    finally:
        dbworld.drop_world(w)


def q(world, sql, params=(), which="config"):
    conn = dbworld.connect(world.config_db if which == "config" else world.cdr_db)
    try:
        cur = conn.cursor(MySQLdb.cursors.DictCursor)
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        conn.close()


def databases():
    conn = dbworld.connect()
    try:
        cur = conn.cursor()
        cur.execute("SHOW DATABASES")
        return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def text(v):
    return v.decode() if isinstance(v, bytes) else v


# ---------------------------------------------------------------------------
# dbworld: locations, schema, lifecycle
# ---------------------------------------------------------------------------

def test_reference_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("RFAPI_REFERENCE_DIR", str(tmp_path))
    assert dbworld.reference_dir() == tmp_path
    monkeypatch.delenv("RFAPI_REFERENCE_DIR")
    expected = REPO.parent / "shared" / "reference"
    if not expected.is_dir():
        expected = REPO / "tests" / "data"
    assert dbworld.reference_dir() == expected
    assert (dbworld.reference_dir() / "freepbx" / "schema-asterisk.sql").is_file()


def _vendored_pairs():
    """(vendored copy, original) for every reference file the tests use."""
    pairs = []
    for sub in ("freepbx", "ami"):
        for copy in sorted((REPO / "tests" / "data" / sub).iterdir()):
            pairs.append((copy, REPO.parent / "shared" / "reference" / sub / copy.name))
    return pairs


def test_vendored_reference_copies_are_byte_identical():
    """tests/data carries copies of the reference (schema, AMI transcripts) so the suite
    runs on a plain clone; where the shared reference is present they must be identical."""
    pairs = _vendored_pairs()
    names = {c.name for c, _ in pairs}
    assert {"schema-asterisk.sql", "schema-asteriskcdrdb.sql", "AMI.md", "db-gettree.txt"} <= names
    if SHARED_FREEPBX.is_dir():
        # Every transcript is vendored (the AMI peer replays them all); of freepbx/ only the schemas.
        # Captures the project recorded itself from the real Asterisk (tests/realpbx) sit
        # beside them; each says so in its header and has no original.
        originals = {p.name for p in (REPO.parent / "shared" / "reference" / "ami").iterdir()}
        vendored = {c.name for c, _ in pairs if c.parent.name == "ami"}
        assert originals <= vendored
        for copy, original in pairs:
            if copy.parent.name == "ami" and copy.name not in originals:
                # headed by the version of the Asterisk 20 that recorded it
                assert re.match(rb"# Asterisk 20\.\d+\.\d+ \(AMI \d+\.\d+\.\d+\)\n", copy.read_bytes()), copy.name
                continue
            assert copy.read_bytes() == original.read_bytes(), copy.name


def test_server_args_from_environment(monkeypatch):
    for var in ("RFAPI_TEST_DB_HOST", "RFAPI_TEST_DB_PORT", "RFAPI_TEST_DB_USER", "RFAPI_TEST_DB_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    assert dbworld.server_args() == {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": "",
                                     "charset": "utf8mb4"}
    monkeypatch.setenv("RFAPI_TEST_DB_HOST", "db.example")
    monkeypatch.setenv("RFAPI_TEST_DB_PORT", "3307")
    monkeypatch.setenv("RFAPI_TEST_DB_USER", "tester")
    monkeypatch.setenv("RFAPI_TEST_DB_PASSWORD", "pw")
    assert dbworld.server_args() == {"host": "db.example", "port": 3307, "user": "tester", "passwd": "pw",
                                     "charset": "utf8mb4"}


def test_split_sql_handles_comments_and_quotes():
    script = """-- a comment; with a semicolon
    CREATE TABLE a (x VARCHAR(5) DEFAULT 'a;b', y INT); # hash comment ; here
    /* block ; comment */ INSERT INTO a VALUES ('it''s;', 1);
    INSERT INTO a VALUES ("x\\";y", 2)
    """
    assert dbworld.split_sql(script) == [
        "CREATE TABLE a (x VARCHAR(5) DEFAULT 'a;b', y INT)",
        "INSERT INTO a VALUES ('it''s;', 1)",
        'INSERT INTO a VALUES ("x\\";y", 2)',
    ]


def test_schema_statements_never_name_the_real_databases():
    for filename, source in (("schema-asterisk.sql", "asterisk"), ("schema-asteriskcdrdb.sql", "asteriskcdrdb")):
        stmts = sqlscript.adapt_statements(dbworld.split_sql(dbworld.schema_path(filename).read_text()), source,
                                          "rfapi_tdeadbeef_x")
        assert stmts[0].startswith("CREATE DATABASE IF NOT EXISTS `rfapi_tdeadbeef_x` DEFAULT CHARACTER SET")
        assert stmts[1] == "USE `rfapi_tdeadbeef_x`"
        assert all(s.startswith("CREATE TABLE") for s in stmts[2:])
    with pytest.raises(ValueError):
        sqlscript.adapt_statements(["CREATE DATABASE `asterisk`", "INSERT INTO asterisk.admin VALUES (1)"],
                                  "asterisk", "rfapi_tx")
    with pytest.raises(ValueError):
        dbworld._check_name("asterisk")
    with pytest.raises(ValueError):
        dbworld.create_world(prefix="asterisk_")


def test_create_world_builds_every_reference_table():
    _server_or_skip()
    with dbworld.temporary_world() as w:
        assert re.match(r"^rfapi_t[0-9a-f]{8}_asterisk$", w.config_db)
        assert w.cdr_db == "rfapi_t%s_cdr" % w.tag and w.config_db == "rfapi_t%s_asterisk" % w.tag
        for db, filename in ((w.config_db, "schema-asterisk.sql"), (w.cdr_db, "schema-asteriskcdrdb.sql")):
            want = set(re.findall(r"CREATE TABLE IF NOT EXISTS `(\w+)`",
                                  dbworld.schema_path(filename).read_text()))
            got = {r["TABLE_NAME"] for r in q(w, "SELECT TABLE_NAME FROM information_schema.TABLES "
                                                 "WHERE TABLE_SCHEMA = %s", (db,))}
            assert got == want
        keys = {r["Key_name"] for r in q(w, "SHOW INDEX FROM cdr", which="cdr")}
        assert keys == {"calldate", "dst", "accountcode", "uniqueid", "did", "recordingfile", "linkedid"}
        coll = q(w, "SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                 (w.config_db,))
        assert coll == [{"c": "utf8mb4_unicode_ci"}]
    assert not set(w.databases) & databases()


def test_drop_world_removes_both_databases():
    _server_or_skip()
    w = dbworld.create_world()
    try:
        assert set(w.databases) <= databases()
    finally:
        dbworld.drop_world(w)
    assert not set(w.databases) & databases()
    dbworld.drop_world(w)  # dropping twice is harmless


def test_clone_world_equals_original_and_is_independent(loaded):
    clone = dbworld.clone_world(loaded)
    try:
        assert clone.tag != loaded.tag
        original = dbworld.dump_world(loaded)
        assert dbworld.dump_world(clone) == original
        assert sum(len(rows) for rows in original["config"].values()) > 900
        # Indexes and AUTO_INCREMENT counters survive the copy.
        for table, which in (("cdr", "cdr"), ("sip", "config"), ("music", "config"), ("incoming", "config")):
            strip = lambda rows: sorted((r["Key_name"], r["Column_name"], r["Non_unique"], r["Seq_in_index"])
                                        for r in rows)
            assert strip(q(clone, "SHOW INDEX FROM `%s`" % table, which=which)) == \
                strip(q(loaded, "SHOW INDEX FROM `%s`" % table, which=which))
        ai = "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
        assert {r["TABLE_NAME"]: r["AUTO_INCREMENT"] for r in q(clone, ai, (clone.config_db,))} == \
            {r["TABLE_NAME"]: r["AUTO_INCREMENT"] for r in q(loaded, ai, (loaded.config_db,))}
        # Writes to the clone do not reach the original.
        conn = dbworld.connect(clone.config_db, autocommit=True)
        conn.cursor().execute("UPDATE admin SET value = 'true' WHERE variable = 'need_reload'")
        conn.close()
        assert q(loaded, "SELECT value FROM admin WHERE variable = 'need_reload'") == [{"value": "false"}]
        assert dbworld.dump_world(loaded) == original
    finally:
        dbworld.drop_world(clone)
    assert not set(clone.databases) & databases()


def test_clone_keeps_a_raised_auto_increment_counter(loaded):
    clone = dbworld.clone_world(loaded)
    try:
        conn = dbworld.connect(clone.config_db, autocommit=True)
        cur = conn.cursor()
        cur.execute("INSERT INTO recordings (displayname, filename) VALUES ('tmp', 'custom/tmp')")
        cur.execute("DELETE FROM recordings WHERE displayname = 'tmp'")
        conn.close()
        clone2 = dbworld.clone_world(clone)
        try:
            ai = "SELECT AUTO_INCREMENT AS a FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s " \
                 "AND TABLE_NAME = 'recordings'"
            assert q(clone2, ai, (clone2.config_db,)) == q(clone, ai, (clone.config_db,)) == [{"a": 7}]
        finally:
            dbworld.drop_world(clone2)
    finally:
        dbworld.drop_world(clone)


def test_drop_stale_worlds_only_drops_old_or_empty_leftovers():
    _server_or_skip()
    prefix = "rfapi_stale"  # never matches the default rfapi_t<hex> names of concurrent runs
    fresh = dbworld.create_world(prefix=prefix)
    empty = "%s%s_cdr" % (prefix, "0badc0de")
    conn = dbworld.connect(autocommit=True)
    conn.cursor().execute("CREATE DATABASE `%s`" % empty)
    conn.close()
    try:
        dropped = dbworld.drop_stale_worlds(max_age_hours=6, prefix=prefix, empty_grace_seconds=0.05)
        assert dropped == [empty]
        assert set(fresh.databases) <= databases()
        dropped = dbworld.drop_stale_worlds(max_age_hours=0, prefix=prefix, empty_grace_seconds=0.05)
        assert dropped == sorted(fresh.databases)
        assert not (set(fresh.databases) | {empty}) & databases()
    finally:
        dbworld.drop_world(fresh)
        conn = dbworld.connect(autocommit=True)
        conn.cursor().execute("DROP DATABASE IF EXISTS `%s`" % empty)
        conn.close()


# ---------------------------------------------------------------------------
# The office in SQL
# ---------------------------------------------------------------------------

def test_row_counts_match_the_office(loaded):
    for table, rows in office.config_rows().items():
        assert q(loaded, "SELECT COUNT(*) AS n FROM `%s`" % table) == [{"n": len(rows)}], table
    assert q(loaded, "SELECT COUNT(*) AS n FROM users") == [{"n": len(office.EXTENSIONS)}]
    techs = {r["tech"]: r["n"] for r in q(loaded, "SELECT tech, COUNT(*) AS n FROM devices GROUP BY tech")}
    assert techs == {"pjsip": 12, "sip": 2}
    assert q(loaded, "SELECT COUNT(*) AS n FROM incoming") == [{"n": len(office.DIDS)}]
    assert q(loaded, "SELECT COUNT(*) AS n FROM cdr", which="cdr") == [{"n": len(office.cdr_rows(NOW))}]


def _writes_md_keywords(section_start, section_end):
    writes = dbworld.reference_dir() / "freepbx" / "WRITES.md"
    if not writes.is_file():  # tests/data carries only the schema files
        return None
    body = writes.read_text().split(section_start, 1)[1].split(section_end, 1)[0]
    return [(kw, int(flag)) for flag, kw in re.findall(r"^\| (\d+) \| (\w+) \|", body, re.M)]


def test_pjsip_extension_has_the_54_sip_rows_of_writes_md(loaded):
    rows = q(loaded, "SELECT id, keyword, data, flags FROM sip WHERE id = '101'")
    got = {r["keyword"]: (r["data"], r["flags"]) for r in rows}
    assert len(rows) == 54
    documented = _writes_md_keywords("**PJSIP (tech `pjsip`)", "**chan_sip")
    if documented is not None:
        assert len(documented) == 54
        assert sorted((k, f) for k, (_, f) in got.items()) == sorted(documented)
    ext = office.EXTENSIONS_BY_NUMBER["101"]
    assert got["sipdriver"] == ("chan_pjsip", 2)
    assert got["secret"] == (ext["secret"], 52) and re.match(r"^[0-9a-f]{32}$", ext["secret"])
    assert got["dtmfmode"] == ("rfc4733", 5)
    assert got["mailbox"] == ("101@device", 54)
    assert got["max_contacts"] == ("1", 21) and got["remove_existing"] == ("yes", 22)
    assert got["dial"] == ("PJSIP/101", 51) and got["account"] == ("101", 55)
    assert got["context"] == ("from-internal", 53)
    assert got["callerid"] == ("Alice Johnson <101>", 56)
    assert got["send_connected_line"] == ("no", 13)
    assert sorted((r["id"], r["keyword"], r["data"], r["flags"]) for r in rows) == sorted(office.sip_rows("101"))
    # max_contacts > 1 leaves remove_existing at "no"
    bob = {r["keyword"]: r["data"] for r in q(loaded, "SELECT keyword, data FROM sip WHERE id = '102'")}
    assert bob["max_contacts"] == "3" and bob["remove_existing"] == "no"


def test_chan_sip_extension_rows(loaded):
    rows = q(loaded, "SELECT keyword, data, flags FROM sip WHERE id = '201' ORDER BY flags")
    assert len(rows) == 36
    assert [r["flags"] for r in rows] == list(range(2, 37)) + [38]
    assert rows[0] == {"keyword": "sipdriver", "data": "chan_sip", "flags": 2}
    got = {r["keyword"]: r["data"] for r in rows}
    assert got["dtmfmode"] == "rfc2833" and got["host"] == "dynamic" and got["type"] == "friend"
    assert got["dial"] == "SIP/201" and got["mailbox"] == "201@device" and "max_contacts" not in got
    # chan_sip trunk rows share the table under tr-* ids
    ids = {r["id"] for r in q(loaded, "SELECT DISTINCT id FROM sip WHERE id LIKE 'tr-%%'")}
    assert ids == {"tr-peer-2", "tr-reg-2"}


def test_users_and_devices_rows(loaded):
    user = q(loaded, "SELECT * FROM users WHERE extension = '105'")[0]
    assert user == {"extension": "105", "password": "", "name": "Emma Davis", "voicemail": "default",
                    "ringtimer": 0, "noanswer": "", "recording": "", "outboundcid": "", "sipname": "",
                    "noanswer_cid": "", "busy_cid": "", "chanunavail_cid": "", "noanswer_dest": "",
                    "busy_dest": "", "chanunavail_dest": "", "mohclass": "default"}
    assert q(loaded, "SELECT voicemail FROM users WHERE extension = '104'") == [{"voicemail": "novm"}]
    assert q(loaded, "SELECT * FROM devices WHERE id = '111'") == [
        {"id": "111", "tech": "pjsip", "dial": "PJSIP/111", "devicetype": "fixed", "user": "111",
         "description": "Warehouse", "emergency_cid": "5551230111", "hint_override": None}]
    # virtual extensions: users row only
    for n in ("190", "191"):
        assert q(loaded, "SELECT COUNT(*) AS n FROM devices WHERE id = %s", (n,)) == [{"n": 0}]
        assert q(loaded, "SELECT COUNT(*) AS n FROM sip WHERE id = %s", (n,)) == [{"n": 0}]
    assert q(loaded, "SELECT outboundcid FROM users WHERE extension = '101'") == \
        [{"outboundcid": '"Alice Johnson" <5551230101>'}]
    vm = [e["number"] for e in office.EXTENSIONS if e["voicemail"]]
    assert len(vm) == 8 and [r["extension"] for r in q(
        loaded, "SELECT extension FROM users WHERE voicemail = 'default' ORDER BY extension")] == vm


def test_inbound_routes(loaded):
    assert q(loaded, "SELECT COUNT(*) AS n FROM incoming WHERE cidnum IS NULL") == [{"n": 0}]
    rows = q(loaded, "SELECT * FROM incoming ORDER BY extension, cidnum")
    by_key = {(r["extension"], r["cidnum"]): r for r in rows}
    assert by_key[("5551230100", "")]["destination"] == "timeconditions,2,1"
    assert by_key[("15551230100", "")]["destination"] == "ivr-1,s,1"
    assert by_key[("5551230102", "5559876543")]["destination"] == "from-did-direct,102,1"
    assert by_key[("5551230102", "")]["destination"] == "ext-local,vmu102,1"
    assert by_key[("5551230400", "")]["mohclass"] == "jazz"
    assert by_key[("", "")]["destination"] == "from-did-direct,109,1"
    assert all(r["destination"] for r in rows)
    assert by_key[("5551230101", "")] == dict(office.DIDS[2])


def test_call_flow_objects(loaded):
    members = q(loaded, "SELECT data, flags FROM queues_details WHERE id = '400' AND keyword = 'member' "
                        "ORDER BY flags")
    assert members == [{"data": "Local/%s@from-queue/n,0" % n, "flags": i} for i, n in enumerate(["102", "103", "104"])]
    assert q(loaded, "SELECT data FROM queues_details WHERE id = '400' AND keyword = 'strategy'") == \
        [{"data": "rrmemory"}]
    assert q(loaded, "SELECT grplist FROM ringgroups ORDER BY grpnum") == \
        [{"grplist": "101-102-107"}, {"grplist": "101-105-5551234567#"}]
    assert len(q(loaded, "SELECT * FROM ivr_entries WHERE ivr_id = 1")) >= 4
    assert q(loaded, "SELECT time FROM timegroups_details WHERE timegroupid = 1 ORDER BY id") == \
        [{"time": "08:30-17:30|mon-fri|*|*"}, {"time": "09:00-12:00|sat|*|*"}]
    dn = {r["dmode"]: r["dest"] for r in q(loaded, "SELECT dmode, dest FROM daynight WHERE ext = '0'")}
    assert dn["fc_description"] == "Snow Day Override" and dn["day"] and dn["night"]
    fc = {(r["modulename"], r["featurename"]): r for r in q(loaded, "SELECT * FROM featurecodes")}
    assert fc[("daynight", "toggle-mode-0")]["defaultcode"] == "*280"
    assert fc[("timeconditions", "toggle-mode-1")]["defaultcode"] == "*271"
    assert fc[("recordings", "edit-recording-2")]["defaultcode"] == "*292"
    assert q(loaded, "SELECT filename FROM recordings WHERE id = 4")[0]["filename"] == \
        b"custom/holiday-closed&custom/after-hours"
    assert [r["category"] for r in q(loaded, "SELECT category FROM music ORDER BY id")] == ["default", "jazz"]
    fm = q(loaded, "SELECT * FROM findmefollow WHERE grpnum = '101'")[0]
    assert fm["grplist"] == "101-5558675309#" and fm["strategy"] == "ringallv2-prim" and fm["pre_ring"] == 7
    assert fm["postdest"] == "ext-local,101,dest"
    routes = q(loaded, "SELECT r.name, s.seq FROM outbound_routes r JOIN outbound_route_sequence s "
                       "USING (route_id) ORDER BY s.seq")
    assert [r["name"] for r in routes] == ["Emergency", "US-Outbound", "International"]
    assert q(loaded, "SELECT emergency_route FROM outbound_routes WHERE route_id = 1") == [{"emergency_route": "YES"}]


def test_admin_ampusers_and_settings(loaded):
    assert {r["variable"]: r["value"] for r in q(loaded, "SELECT * FROM admin")} == \
        {"need_reload": "false", "version": office.FRAMEWORK_VERSION}
    users = {r["username"]: r for r in q(loaded, "SELECT * FROM ampusers")}
    for u in office.AMPUSERS:
        row = users[u["username"]]
        assert row["password_sha1"] == hashlib.sha1(u["password"].encode()).hexdigest()
        assert text(row["sections"]) == u["sections"]
    assert text(users["admin"]["sections"]) == "*"
    assert text(users["helpdesk"]["sections"]) == "extensions;did;99"
    settings = {r["keyword"]: r for r in q(loaded, "SELECT * FROM freepbx_settings")}
    assert settings["AMPMGRUSER"]["value"] == settings["AMPMGRUSER"]["defaultval"] == "admin"
    assert settings["AMPMGRPASS"]["value"] == settings["AMPMGRPASS"]["defaultval"] == "amp111"
    assert settings["ASTMANAGERPORT"]["value"] == "5038" and settings["ASTMANAGERPORT"]["type"] == "int"
    assert settings["ENABLECW"]["value"] == "1" and settings["ENABLECW"]["type"] == "bool"
    required = ["AMPMGRUSER", "AMPMGRPASS", "ASTMANAGERHOST", "ASTMANAGERPORT", "ASTMANAGERPROXYPORT",
                "ASTETCDIR", "ASTSPOOLDIR", "ASTVARLIBDIR", "ASTLOGDIR", "AMPWEBROOT", "AMPBIN", "MOHDIR",
                "MIXMON_DIR", "AMPEXTENSIONS", "AUTHTYPE", "CDRDBNAME", "CDRDBTABLENAME", "CDRDBHOST", "CDRDBPORT",
                "CDRDBUSER", "CDRDBPASS", "CDRDBTYPE", "CELDBNAME", "CELDBTABLENAME", "ASTCONFAPP",
                "SIPSECRETSIZE", "ASTSIPDRIVER", "CONCURRENCYLIMITDEFAULT", "CFRINGTIMERDEFAULT", "ENABLECW",
                "FOLLOWME_AUTO_CREATE", "FOLLOWME_DISABLED", "FOLLOWME_TIME", "FOLLOWME_PRERING",
                "FOLLOWME_RG_STRATEGY", "DEVICE_SIP_DTMF", "DEVICE_SIP_TRUSTRPID", "DEVICE_SIP_SENDRPID",
                "DEVICE_SIP_QUALIFYFREQ", "DEVICE_SIP_NAT", "DEVICE_QUALIFY", "DEVICE_SIP_CANREINVITE",
                "DEVICE_SIP_ENCRYPTION", "DEVICE_ALLOW", "DEVICE_DISALLOW", "DEVICE_CALLGROUP",
                "DEVICE_PICKUPGROUP"]
    assert not set(required) - set(settings)
    assert settings["ASTSPOOLDIR"]["value"] == "/var/spool/asterisk"
    assert q(loaded, "SELECT COUNT(*) AS n FROM modules WHERE enabled = 1")[0]["n"] == len(office.MODULES)


# ---------------------------------------------------------------------------
# CDR
# ---------------------------------------------------------------------------

def test_cdr_rows_are_deterministic_and_inside_the_week(loaded):
    rows = office.cdr_rows(NOW)
    assert rows == office.cdr_rows(NOW)
    assert 250 <= len(rows) <= 500
    assert len(office.cdr_rows(0)) == len(office.cdr_rows(NOW + 12345)) == len(rows)
    assert all(list(r) == list(office.CDR_COLUMNS) for r in rows)
    import datetime
    lo, hi = datetime.datetime.fromtimestamp(NOW - 7 * 86400), datetime.datetime.fromtimestamp(NOW)
    assert all(lo < r["calldate"] < hi for r in rows)
    dispositions = {r["disposition"] for r in rows}
    assert {"ANSWERED", "NO ANSWER", "BUSY"} <= dispositions
    inbound = [r for r in rows if r["did"]]
    assert {r["did"] for r in inbound} >= {"5551230100", "5551230101", "5551230400"}
    assert {r["dcontext"] for r in inbound} >= {"from-did-direct", "ext-did-0002", "from-trunk", "ext-queues"}
    outbound = [r for r in rows if r["dstchannel"].startswith(("PJSIP/carrier", "SIP/carrier"))]
    assert {len(r["dst"]) for r in outbound} >= {10, 11}
    recorded = [r for r in rows if r["recordingfile"]]
    assert recorded and all(r["recordingfile"].split("-")[3] == r["calldate"].strftime("%Y%m%d")
                            for r in recorded)
    groups = {}
    for r in rows:
        groups.setdefault(r["linkedid"], []).append(r)
    assert any(len(g) > 1 for g in groups.values())
    assert len({r["uniqueid"] for r in rows if r["dcontext"] == "from-queue"}) > 0
    # in the database, exactly these rows
    db_rows = q(loaded, "SELECT * FROM cdr", which="cdr")
    key = lambda r: (r["sequence"], r["uniqueid"])
    assert sorted(db_rows, key=key) == sorted(rows, key=key)


# ---------------------------------------------------------------------------
# Files, AstDB, live state
# ---------------------------------------------------------------------------

def _parse_conf(textdata):
    sections, current = {}, None
    for line in textdata.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        current.append(line)
    return sections


def test_voicemail_conf_has_the_exact_mailbox_lines():
    conf = office.voicemail_conf()
    sections = _parse_conf(conf)
    assert list(sections) == ["general", "zonemessages", "default", "pbxaliases"]
    assert sections["default"] == [
        "101=4821,Alice Johnson,alice.johnson@bayviewdental.example,,attach=yes|saycid=yes|envelope=yes|delete=no",
        "102=1357,Bob Smith,bob.smith@bayviewdental.example,,attach=yes|saycid=no|envelope=no|delete=no",
        "103=2468,Carol White,carol.white@bayviewdental.example,,attach=yes|saycid=no|envelope=no|delete=no",
        "105=9753,Emma Davis,emma.davis@bayviewdental.example,5551239876@sms.bayviewdental.example,"
        "tz=eastern|attach=yes|saycid=yes|envelope=no|delete=no",
        "107=8642,Grace Wilson,grace.wilson@bayviewdental.example,,attach=yes|saycid=no|envelope=no|delete=no",
        "109=1090,Front Desk,frontdesk@bayviewdental.example,,attach=yes|saycid=no|envelope=no|delete=no",
        "112=6112,Isabel Garcia,isabel.garcia@bayviewdental.example,,attach=yes|saycid=no|envelope=no|delete=no",
        "190=1900,General Mailbox,office@bayviewdental.example|alice.johnson@bayviewdental.example,,"
        "attach=yes|saycid=no|envelope=no|delete=no",
    ]
    assert sections["default"] == list(office.voicemail_lines().values())
    assert "format=wav49|wav" in sections["general"] and "pollfreq=10" in sections["general"]
    assert "101@device=101@default" in sections["pbxaliases"]
    assert "\n; charset=utf-8\n" in conf and conf.startswith("\n[general]\n")
    # Asterisk-style parsing (strict=False tolerates nothing special; ';' lines are comments)
    cp = configparser.ConfigParser(interpolation=None, comment_prefixes=(";",), strict=True)
    cp.optionxform = str
    cp.read_string(conf)
    assert cp["default"]["190"].split(",")[0] == "1900"


def test_build_spool_writes_app_voicemail_layout(tmp_path):
    msgs = office.build_spool(tmp_path, now=NOW)
    assert len(msgs) == len(office.SPOOL_MESSAGES)
    for box in ("101", "102", "105", "190", "109"):
        assert (tmp_path / "default" / box / "INBOX").is_dir() and (tmp_path / "default" / box / "Old").is_dir()
    on_disk = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert on_disk == sorted(f for m in msgs for f in m["files"])
    folders = {(m["box"], m["folder"]): [] for m in msgs}
    for m in msgs:
        folders[(m["box"], m["folder"])].append(m["stem"])
    assert folders[("101", "INBOX")] == ["msg0000", "msg0001"]
    assert folders[("101", "Urgent")] == ["msg0000"] and folders[("101", "Old")] == ["msg0000"]
    assert any("WAV" in m["formats"] for m in msgs) and any(m["formats"] == ["wav"] for m in msgs)
    urgent = next(m for m in msgs if m["folder"] == "Urgent")
    txt = (tmp_path / "default" / "101" / "Urgent" / "msg0000.txt").read_text()
    assert txt.startswith(";\n; Message Information file\n;\n[message]\norigmailbox=101\n")
    fields = dict(line.split("=", 1) for line in txt.splitlines()[4:])
    assert list(fields) == ["origmailbox", "context", "macrocontext", "exten", "rdnis", "priority", "callerchan",
                            "callerid", "origdate", "origtime", "category", "msg_id", "flag", "duration"]
    assert fields["flag"] == "Urgent" == urgent["flag"]
    assert fields["msg_id"] == urgent["msg_id"] and re.match(r"^\d+-[0-9a-f]{8}$", urgent["msg_id"])
    assert int(fields["origtime"]) == urgent["origtime"] == NOW - 3600
    assert fields["origdate"] == "Mon Jun  3 03:00:00 PM UTC 2024"
    assert len({m["msg_id"] for m in msgs}) == len(msgs)
    for m in msgs:
        with wave.open(str(Path(m["dir"]) / (m["stem"] + ".wav"))) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2) and w.getnframes() > 0
        if "WAV" in m["formats"]:
            data = (Path(m["dir"]) / (m["stem"] + ".WAV")).read_bytes()
            assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[20:22] == b"\x31\x00"


def test_build_sounds_writes_every_recording_file(tmp_path):
    mapping = office.build_sounds(tmp_path)
    for rec in office.RECORDINGS:
        for name in rec["filename"].split("&"):
            assert (tmp_path / "en" / (name + ".wav")).is_file()
            assert name in mapping
    assert set(mapping["custom/welcome"]["en"]) == {"wav", "gsm", "ulaw"}
    assert set(mapping["custom/welcome"]["fr"]) == {"wav"} and (tmp_path / "fr/custom/welcome.wav").is_file()
    gsm = (tmp_path / "en/custom/welcome.gsm").read_bytes()
    assert len(gsm) % 33 == 0 and all(gsm[i] >> 4 == 0xD for i in range(0, len(gsm), 33))
    with wave.open(str(tmp_path / "en/custom/main-menu.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    written = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(p for langs in mapping.values() for fmts in langs.values() for p in fmts.values())


def test_astdb_matches_the_office():
    db = office.astdb()
    assert db["/AMPUSER/101/cidname"] == "Alice Johnson" and db["/AMPUSER/101/cidnum"] == "101"
    assert db["/AMPUSER/101/outboundcid"] == '"Alice Johnson" <5551230101>'
    assert db["/AMPUSER/104/voicemail"] == "novm" and db["/AMPUSER/105/voicemail"] == "default"
    assert db["/DEVICE/111/emergency_cid"] == "5551230111" and "/DEVICE/101/emergency_cid" not in db
    assert db["/DEVICE/190/dial"] == "VIRTUAL/190" and db["/DEVICE/190/tech"] == "virtual"
    assert db["/AMPUSER/101/followme/ddial"] == "DIRECT" and db["/AMPUSER/103/followme/ddial"] == "EXTENSION"
    assert db["/AMPUSER/101/followme/grplist"] == "101-5558675309#"
    assert db["/CW/101"] == "ENABLED" and "/CW/110" not in db
    assert db["/DAYNIGHT/C0"] == "DAY" and db["/TC/1"] == "" and db["/TC/2"] == ""
    assert db["/CustomPresence/103"] == "away,lunch,Back at two" and db["/CustomPresence/101"] == "available,,"
    assert db["/DND/108"] == "YES"
    fm_users = {k.split("/")[2] for k in db if "/followme/" in k}
    assert fm_users == {e["number"] for e in office.EXTENSIONS if e["followme"]}
    assert all(isinstance(k, str) and k.startswith("/") and isinstance(v, str) for k, v in db.items())


def test_ami_state_is_consistent_with_the_office():
    import json
    state = office.ami_state(now=NOW)
    json.dumps(state)
    with_device = {e["number"] for e in office.EXTENSIONS if e["tech"] != "virtual"}
    assert set(state["hints"]) == with_device
    assert state["hints"]["103"] == {"context": "from-internal", "hint": "PJSIP/103&Custom:DND103,CustomPresence:103",
                                     "status": 0}
    assert state["hints"]["104"]["status"] == 1 and state["hints"]["106"]["status"] == 4
    assert state["hints"]["108"]["status"] == 2 and state["hints"]["201"]["hint"].startswith("SIP/201&")
    ep = state["pjsip_endpoints"]
    assert set(ep) == {e["number"] for e in office.EXTENSIONS if e["tech"] == "pjsip"}
    assert ep["101"]["password"] == office.EXTENSIONS_BY_NUMBER["101"]["secret"]
    assert ep["101"]["auth"] == "101-auth" and ep["101"]["aors"] == "101"
    assert ep["106"]["device_state"] == "Unavailable" and ep["106"]["contacts"] == []
    assert len(state["pjsip_contacts"]["102"]) == 2
    c = state["pjsip_contacts"]["101"][0]
    assert set(c) == {"uri", "via_addr", "via_port", "user_agent", "status", "roundtrip_usec", "expiration_time",
                      "call_id", "qualify_frequency"}
    assert ep["101"]["contacts"] == [c["uri"]] and c["expiration_time"] > NOW
    assert set(state["sip_peers"]) == {"201", "202"}
    assert set(state["sip_peers"]["201"]) >= {"ip", "port", "status", "useragent", "reg_contact", "dynamic"}
    assert state["sip_peers"]["202"]["status"] == "UNKNOWN"
    assert ep["104"]["mailboxes"] == "104@device" and ep["105"]["mailboxes"] == "105@default"
    assert ep["102"]["aor"]["max_contacts"] == 3 and ep["102"]["aor"]["remove_existing"] is False
    boxes = state["voicemail_boxes"]
    assert set(boxes) == {e["number"] + "@default" for e in office.EXTENSIONS if e["voicemail"]}
    assert (boxes["101@default"]["new"], boxes["101@default"]["old"], boxes["101@default"]["urgent"]) == (2, 1, 1)
    assert (boxes["109@default"]["new"], boxes["109@default"]["old"], boxes["109@default"]["messages"]) == (0, 0, [])
    spool = office.spool_messages(NOW)
    assert sorted(m["id"] for b in boxes.values() for m in b["messages"]) == sorted(m["msg_id"] for m in spool)
    m0 = next(m for m in spool if m["box"] == "101" and m["folder"] == "Urgent")
    assert {"folder": "Urgent", "callerid": m0["callerid"], "date": m0["origdate"], "duration": m0["duration"],
            "flag": "Urgent", "id": m0["msg_id"]} in boxes["101@default"]["messages"]
    assert boxes["105@default"]["timezone"] == "eastern"
    assert state["device_states"]["Custom:DND108"] == "BUSY"
    assert state["device_states"]["MWI:101@default"] == "INUSE" and state["device_states"]["MWI:105@default"] == \
        "NOT_INUSE"
    assert state["device_states"]["PJSIP/104"] == "INUSE" and state["device_states"]["SIP/202"] == "UNAVAILABLE"
    assert state["presence"]["CustomPresence:103"] == {"state": "away", "subtype": "lunch", "message": "Back at two"}


def test_defaults_share_one_anchor(tmp_path):
    """Without `now`, the spool and the AMI state describe the very same messages."""
    msgs = office.build_spool(tmp_path)
    boxes = office.ami_state()["voicemail_boxes"]
    assert sorted(m["msg_id"] for m in msgs) == sorted(m["id"] for b in boxes.values() for m in b["messages"])
    assert office.cdr_rows() == office.cdr_rows(office.ANCHOR)
