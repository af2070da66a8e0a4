"""Tests that run FreePBX's own PHP are collected only where $RFAPI_FREEPBX_SRC names a
folder holding core, voicemail and findmefollow (and php-cli with pdo_mysql is
installed); CI has neither and runs the replay tier (tests/test_freepbx_oracle.py)."""
import os

if not os.environ.get("RFAPI_FREEPBX_SRC"):
    collect_ignore_glob = ["test_*.py"]
