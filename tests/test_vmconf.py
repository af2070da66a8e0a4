"""voicemail.conf reader/editor: parse, add/replace/remove one entry, every other byte kept."""
from __future__ import annotations

import os
import threading

import pytest

from rfapi.services import vmconf
from tests.support import office

OFFICE = office.voicemail_conf()


def test_parse_office_mailboxes():
    boxes = vmconf.mailboxes(OFFICE)
    assert list(boxes) == ["default"]
    assert sorted(boxes["default"], key=int) == ["101", "102", "103", "105", "107", "109", "112", "190"]
    assert boxes["default"]["105"] == {
        "pwd": "9753", "name": "Emma Davis", "email": "emma.davis@bayviewdental.example",
        "pager": "5551239876@sms.bayviewdental.example",
        "options": {"tz": "eastern", "attach": "yes", "saycid": "yes", "envelope": "no", "delete": "no"}}
    # '|' in the stored e-mail list reads back as ','
    assert boxes["default"]["190"]["email"] == "office@bayviewdental.example,alice.johnson@bayviewdental.example"
    assert vmconf.find_mailbox(OFFICE, "101") == ["default"]
    assert vmconf.find_mailbox(OFFICE, "104") == []


def test_parse_arrow_spaces_comments_and_block_comments():
    text = ("[general]\nformat=wav\n\n[sales](+)\n"
            "200 => 1111,Sales Desk,sales@x.example,,attach=yes ; trailing comment\n"
            ";201 => 2222,Commented Out,,,\n"
            ";-- a block comment\n202 => 3333,Inside Block,,,\n--;\n"
            "203=4444,Semi\\;colon,,,\n"
            "#include extra.conf\n")
    boxes = vmconf.mailboxes(text)
    assert list(boxes) == ["sales"]
    assert set(boxes["sales"]) == {"200", "203"}
    assert boxes["sales"]["200"]["options"] == {"attach": "yes"}
    assert boxes["sales"]["200"]["name"] == "Sales Desk"
    assert boxes["sales"]["203"]["name"] == "Semi;colon"


def test_mailbox_line_format_is_freepbx_savevoicemail():
    line = vmconf.mailbox_line("1001", "1234", "Alice, Jr", "a@x.example,b@x.example", "",
                               [("attach", "no"), ("saycid", "no"), ("envelope", "no"), ("delete", "no")])
    assert line == "1001=1234,Alice Jr,a@x.example|b@x.example,,attach=no|saycid=no|envelope=no|delete=no"


def test_add_then_remove_restores_exact_bytes():
    line = "150=1234,New Person,new@x.example,,attach=no|saycid=no|envelope=no|delete=no"
    added = vmconf.set_entry(OFFICE, "default", "150", line)
    before_lines = OFFICE.splitlines(keepends=True)
    after_lines = added.splitlines(keepends=True)
    assert len(after_lines) == len(before_lines) + 1
    # Inserted right after the last line of [default] (190), before the blank separator.
    idx = after_lines.index(line + "\n")
    assert after_lines[idx - 1].startswith("190=")
    assert after_lines[idx + 1] == "\n" and after_lines[idx + 2] == "[pbxaliases]\n"
    assert after_lines[:idx] + after_lines[idx + 1:] == before_lines
    removed, count = vmconf.remove_entry(added, "default", "150")
    assert count == 1 and removed == OFFICE


def test_replace_keeps_position_and_line_ending():
    text = "[default]\r\n; keep me\r\n101 => 1,A,,,\r\n102 => 2,B,,,\r\n\r\n[other]\r\n101=9,Z,,,\r\n"
    out = vmconf.set_entry(text, "default", "101", "101=5,A2,,,")
    assert out == "[default]\r\n; keep me\r\n101=5,A2,,,\r\n102 => 2,B,,,\r\n\r\n[other]\r\n101=9,Z,,,\r\n"
    added = vmconf.set_entry(text, "default", "103", "103=3,C,,,")
    assert added == "[default]\r\n; keep me\r\n101 => 1,A,,,\r\n102 => 2,B,,,\r\n103=3,C,,,\r\n\r\n[other]\r\n" \
                    "101=9,Z,,,\r\n"
    removed, n = vmconf.remove_entry(text, "other", "101")
    assert n == 1 and removed == "[default]\r\n; keep me\r\n101 => 1,A,,,\r\n102 => 2,B,,,\r\n\r\n[other]\r\n"


def test_missing_section_is_appended_and_file_without_final_newline():
    assert vmconf.set_entry("[general]\nformat=wav", "default", "1", "1=1,A,,,") == \
        "[general]\nformat=wav\n[default]\n1=1,A,,,\n"
    assert vmconf.set_entry("[general]\nformat=wav", "pbxaliases", "1@device", "x", create_section=False) == \
        "[general]\nformat=wav"
    assert vmconf.set_entry("[default]\n1=1,A,,,", "default", "2", "2=2,B,,,") == "[default]\n1=1,A,,,\n2=2,B,,,\n"


def test_remove_unknown_entry_is_a_no_op():
    out, n = vmconf.remove_entry(OFFICE, "default", "999")
    assert n == 0 and out == OFFICE


def test_editor_writes_atomically_keeps_mode_and_restores(tmp_path):
    path = tmp_path / "voicemail.conf"
    path.write_text(OFFICE)
    os.chmod(path, 0o664)
    ino = os.stat(path).st_ino
    with vmconf.Editor(str(path)) as vm:
        assert vm.text == OFFICE
        vm.write(vmconf.set_entry(vm.text, "default", "150", "150=1,X,,,"))
        assert "150=1,X,,," in path.read_text()
        assert os.stat(path).st_ino != ino          # replaced by rename, not rewritten in place
        assert os.stat(path).st_mode & 0o777 == 0o664
        vm.restore()
    assert path.read_bytes() == OFFICE.encode()
    assert os.stat(path).st_mode & 0o777 == 0o664
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_editor_serialises_writers(tmp_path):
    path = tmp_path / "voicemail.conf"
    path.write_text("[default]\n")
    errors = []

    def add(i):
        try:
            with vmconf.Editor(str(path)) as vm:
                vm.write(vmconf.set_entry(vm.text, "default", str(100 + i), "%d=1,N%d,,," % (100 + i, i)))
        except Exception as exc:  # pragma: no cover - shown on failure
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(vmconf.mailboxes(path.read_text())["default"], key=int) == [str(100 + i) for i in range(20)]


def test_editor_missing_directory_reads_empty_and_fails_on_write(tmp_path):
    with vmconf.Editor(str(tmp_path / "nope" / "voicemail.conf")) as vm:
        assert vm.text == ""
        with pytest.raises(FileNotFoundError):
            vm.write("[default]\n")
        vm.restore()  # nothing was written: a no-op


def test_editor_creates_a_missing_file_and_restore_removes_it(tmp_path):
    path = tmp_path / "voicemail.conf"
    with vmconf.Editor(str(path)) as vm:
        vm.write("[default]\n1=1,A,,,\n")
        assert path.read_text() == "[default]\n1=1,A,,,\n"
        assert os.stat(path).st_mode & 0o777 == 0o640
        vm.restore()
    assert not path.exists()
