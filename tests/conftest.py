"""Fixtures: a real MariaDB world loaded with the fixture office, a real AMI
peer on a TCP port, a fwconsole stand-in, real spool/sounds trees, and the app.

* ``office_db``  (session): the office databases, shared by read-only tests.
* ``pbx``        : a fresh world (peer, files, config) over the shared databases.
* ``pbx_rw``     : the same over a private clone of the databases, for writes.
"""
from __future__ import annotations

import pytest

from tests.support import dbworld, world


@pytest.fixture(scope="session")
def office_db():
    dbworld.drop_stale_worlds()
    w = dbworld.create_world()
    try:
        world.load_office(w)
        yield w
    finally:
        dbworld.drop_world(w)


@pytest.fixture
def pbx(office_db, tmp_path):
    p = world.build(tmp_path / "pbx", office_db)
    yield p
    p.close()


@pytest.fixture
def pbx_rw(office_db, tmp_path):
    clone = dbworld.clone_world(office_db)
    p = world.build(tmp_path / "pbx_rw", clone)
    try:
        yield p
    finally:
        p.close()
        dbworld.drop_world(clone)


# Modules whose module-scoped world is costly to build (a million call records, a private
# MariaDB, a gunicorn): under pytest-xdist (--dist loadgroup, deploy/test.sh) each such
# module runs on one worker, so its world is built once rather than once per worker.
SHARED_WORLD_MODULES = ("test_cdr_scale.py", "test_cdr_export.py", "test_faults.py", "test_concurrency.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        if module in SHARED_WORLD_MODULES:
            item.add_marker(pytest.mark.xdist_group(module))
