"""fwconsole adapter and the reload routes: output, failure → 500, hang → 504 and no zombie."""
from __future__ import annotations

import os
import time

from tests.support.world import body


def test_reload_runs_fwconsole_json_and_clears_flag(pbx_rw):
    assert pbx_rw.post("pbx/framework/needreload").status_code == 200
    assert body(pbx_rw.get("pbx/framework/needreload"))["data"] is True
    r = pbx_rw.get("pbx/framework/reload")
    assert r.status_code == 200, body(r)
    data = body(r)["data"]
    assert data["exit_code"] == 0
    assert data["messages"] == ["Reload Started", "Retrieve conf files", "Reload Complete"]
    assert data["errors"] == []
    assert pbx_rw.fwconsole_calls() == [["reload", "--json"]]
    assert body(pbx_rw.get("pbx/framework/needreload"))["data"] is False


def test_reload_failure_is_500_with_output_tail(pbx):
    pbx.fwconsole_control(mode="fail", exit=255, error="Unable to connect to Asterisk")
    r = pbx.get("pbx/framework/reload")
    assert r.status_code == 500
    b = body(r)
    assert b["message"] == "fwconsole reload failed"
    assert b["data"]["exit_code"] == 255
    assert b["data"]["errors"] == ["Unable to connect to Asterisk"]
    assert any("Unable to connect to Asterisk" in line for line in b["data"]["output"])


def test_reload_error_line_with_exit_zero_is_a_failure(pbx):
    pbx.fwconsole_control(mode="error-line")
    r = pbx.get("pbx/framework/reload")
    assert r.status_code == 500
    assert body(r)["data"]["errors"] == ["Bad destination in inbound route"]


def test_reload_hang_is_504_and_process_group_killed(pbx, tmp_path):
    pidfile = tmp_path / "pids"
    pbx.fwconsole_control(mode="hang", seconds=60, pidfile=str(pidfile))
    pbx.ini.write_text(pbx.ini.read_text().replace("timeout = 10\n", "timeout = 1\n"))
    t0 = time.monotonic()
    r = pbx.get("pbx/framework/reload")
    elapsed = time.monotonic() - t0
    assert r.status_code == 504
    assert body(r)["message"] == "Gateway Timeout: fwconsole did not finish in time"
    assert 0.9 < elapsed < 5
    pid, child = (int(x) for x in pidfile.read_text().split())
    for p in (pid, child):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % p) as fh:
                    state = fh.read().split(")")[-1].split()[0]
            except FileNotFoundError:
                break  # gone and reaped
            if state == "Z" and p == child:
                break  # the sleep child is reaped by init once its parent died
            time.sleep(0.05)
        else:
            raise AssertionError("process %d still alive" % p)
    # Our direct child was reaped by the adapter: no zombie left behind.
    assert not os.path.exists("/proc/%d" % pid)


def test_missing_fwconsole_is_503(pbx):
    pbx.ini.write_text(pbx.ini.read_text().replace(str(pbx.fwconsole), str(pbx.fwconsole) + ".missing"))
    r = pbx.get("pbx/framework/reload")
    assert r.status_code == 503


def test_asterisk_reload_over_ami(pbx):
    r = pbx.get("pbx/asterisk/reload")
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["response"] == "Success"
    reloads = [a for a in pbx.peer.actions if a.name == "Reload"]
    assert len(reloads) == 1 and reloads[0].get("Module") is None


def test_ami_down_is_503_while_database_routes_work(pbx):
    pbx.peer.stop()
    r = pbx.get("pbx/asterisk/reload")
    assert r.status_code == 503
    assert body(r) == {"status": 503, "message": "Service Unavailable: Asterisk (AMI) is unreachable",
                       "data": None}
    assert pbx.get("pbx/framework/needreload").status_code == 200
