"""voicemail.conf reader/editor: parse, add/replace/remove one entry, every other byte kept."""
from __future__ import annotations

import os
import re
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- the parser is a single pass; it must read exactly what the original
# character-by-character reader read (kept here as the reference) -------------

_REF_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def _ref_strip_comment(line, in_block):
    out, i, n = [], 0, len(line)
    while i < n:
        if in_block:
            end = line.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            if line.startswith(";--", i):
                in_block, i = True, i + 3
                continue
            break
        out.append(c)
        i += 1
    return "".join(out), in_block


def _ref_parse(text):
    """[(name, header, end, [(key, value, line)])] as the first implementation read it."""
    lines = text.splitlines(keepends=True)
    secs = [["", -1, 0, []]]
    in_block = False
    for idx, raw in enumerate(lines):
        code, in_block = _ref_strip_comment(raw.rstrip("\r\n"), in_block)
        stripped = code.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _REF_SECTION.match(code)
        if m:
            secs[-1][2] = idx
            secs.append([m.group(1).strip(), idx, len(lines), []])
            continue
        if "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        if value.startswith(">"):
            value = value[1:]
        secs[-1][3].append((key.strip(), value.strip(), idx))
    secs[-1][2] = len(lines)
    return [tuple(x[:3]) + (x[3],) for x in secs]


def _shape(sections):
    return [(s.name, s.header, s.end, [(e.key, e.value, e.line) for e in s.entries]) for s in sections]


TRICKY = [
    OFFICE,
    "[a]\n1 => 1,A\\;B,,, ; c\n2=2;--x--;,B\n3=;--\n[b]\n--;4=4\n  [ c ] (+)\n5==6\n=7\n",
    "x=1\r\n;-- open\r\n[hidden]\r\ny=2 --; z = 3 ; w\r\n\\;=4\r\n[]\n[ok]\n#exec x=1\n\\\\;=5\n",
    "[s]\n;--;--\n--;a=b\n;--\n--;;--\n--;c=d\x0be=f\n\u2028[t]\x85g=>h\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_parse_reads_what_the_reference_reader_reads(text):
    assert _shape(vmconf.parse(text)) == _ref_parse(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="[]=>;-\\# \tab1\r\n\x0b\u2028", max_size=14), max_size=12).map("".join))
def test_parse_matches_the_reference_on_generated_text(text):
    assert _shape(vmconf.parse(text)) == _ref_parse(text)


def test_big_file_mailboxes_and_edits(tmp_path):
    """3,000 mailboxes: lookups, edits and removals give the same answers as
    the reference reading, and the bytes round-trip."""
    boxes = ["%d=%d,Name %d,u%d@x.example,,attach=yes|saycid=no" % (2000 + i, i, i, i) for i in range(3000)]
    text = OFFICE + "\n[big]\n" + "\n".join(boxes) + "\n\n[pbxaliases]\n" + \
        "".join("%d@device=%d@big\n" % (2000 + i, 2000 + i) for i in range(3000))
    assert _shape(vmconf.parse(text)) == _ref_parse(text)
    got = vmconf.mailboxes(text)
    assert list(got) == ["default", "big"] and len(got["big"]) == 3000
    assert got["big"]["4999"] == {"pwd": "2999", "name": "Name 2999", "email": "u2999@x.example", "pager": "",
                                  "options": {"attach": "yes", "saycid": "no"}}
    assert vmconf.find_mailbox(text, "2500") == ["big"] and vmconf.find_mailbox(text, "101") == ["default"]
    added = vmconf.set_entry(text, "big", "5000", "5000=1,New,,,")
    assert vmconf.find_mailbox(added, "5000") == ["big"] and vmconf.find_mailbox(text, "5000") == []
    removed, n = vmconf.remove_entry(added, "big", "5000")
    assert n == 1 and removed == text


def test_mailboxes_are_fresh_on_every_lookup():
    """Parses are shared between callers, the answers are not: changing what one
    caller got never shows in another caller's answer."""
    first = vmconf.mailboxes(OFFICE)
    box = first["default"]["105"]
    box["pwd"] = "0000"
    box["options"]["attach"] = "no"
    assert first["default"]["105"]["pwd"] == "9753"
    again = vmconf.mailboxes(OFFICE)
    assert again["default"]["105"]["options"]["attach"] == "yes"
    with pytest.raises(TypeError):
        again["default"]["105"] = {}  # the per-context mapping is read-only
    assert again == {"default": {k: again["default"][k] for k in again["default"]}}
    assert "105" in again["default"] and "104" not in again["default"]
    assert again["default"].get("104") is None and len(again["default"]) == 8


def test_read_mailboxes_follows_every_change_of_the_file(tmp_path):
    """Kept per file version: an atomic replace, an in-place rewrite of the same
    size with the old mtime put back, removal and re-creation are all seen."""
    path = tmp_path / "voicemail.conf"
    path.write_text("[default]\n101=1111,A,,,\n")
    assert vmconf.read_mailboxes(str(path))["default"]["101"]["pwd"] == "1111"
    with vmconf.Editor(str(path)) as vm:
        vm.write(vmconf.set_entry(vm.text, "default", "102", "102=2222,B,,,"))
    assert sorted(vmconf.read_mailboxes(str(path))["default"]) == ["101", "102"]
    st_before = os.stat(path)
    time.sleep(0.05)  # past the file system's clock tick, so the change time differs (not a timing check)
    with open(path, "r+") as fh:  # same size, same inode
        data = fh.read().replace("1111", "9999")
        fh.seek(0)
        fh.write(data)
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))
    assert os.stat(path).st_size == st_before.st_size and os.stat(path).st_mtime_ns == st_before.st_mtime_ns
    assert vmconf.read_mailboxes(str(path))["default"]["101"]["pwd"] == "9999"
    path.unlink()
    assert vmconf.read_mailboxes(str(path)) == {}
    path.write_text("[other]\n7=7,C,,,\n")
    assert list(vmconf.read_mailboxes(str(path))) == ["other"]
