"""Fixtures: a real MariaDB world loaded with the fixture office, a real AMI
peer on a TCP port, a fwconsole stand-in, real spool/sounds trees, and the app.

* ``office_db``  (session): the office databases, shared by read-only tests.
* ``pbx``        : a fresh world (peer, files, config) over the shared databases.
* ``pbx_rw``     : the same over a private copy of the databases, for writes (one copy
                   per test process, rewound to the office before each test).
"""
from __future__ import annotations

import pytest

from tests.support import dbrewind, dbworld, world


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


@pytest.fixture(scope="session")
def office_clone(office_db):
    """This process's writable copy of the office, rewound to it before each test."""
    clone = dbrewind.ReusedClone(office_db)
    yield clone
    clone.close()


@pytest.fixture
def pbx_rw(office_clone, tmp_path):
    p = world.build(tmp_path / "pbx_rw", office_clone.take())
    yield p
    p.close()


# Modules whose module-scoped world is costly to build (a million call records, a private
# MariaDB, a gunicorn) or is shared by its tests in order (the contract's stateful run
# follows the operation tests on the same server): under pytest-xdist (deploy/test.sh)
# each runs whole on one worker, so its world is built once; every other test is
# scheduled on its own.
SHARED_WORLD_MODULES = ("test_cdr_scale.py", "test_cdr_export.py", "test_faults.py", "test_concurrency.py",
                        "test_contract.py", "test_fuzz.py")


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups above. xdist's own loadgroup reads a suffix it
    writes into each node id, which pytest 9 no longer keeps (node ids are computed), so
    the grouping is done here, where the scheduler splits the run into units."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorldScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if module.rsplit("/", 1)[-1] in SHARED_WORLD_MODULES else nodeid

    return SharedWorldScheduling(config, log)
