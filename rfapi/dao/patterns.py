"""Outbound routes (core): outbound_routes, _sequence, _patterns, _trunks."""
from __future__ import annotations

ROUTE_COLUMNS = ("route_id", "name", "outcid", "outcid_mode", "password", "emergency_route", "intracompany_route",
                 "mohclass", "time_group_id", "dest", "time_mode", "calendar_id", "calendar_group_id", "timezone",
                 "notification_on")


def routes(db):
    """Routes in dial order (outbound_route_sequence.seq, lowest first); a route
    without a sequence row (never dialled by FreePBX) comes last."""
    cols = ", ".join("r.%s" % c for c in ROUTE_COLUMNS)
    return db.query("SELECT %s, s.seq FROM outbound_routes r "
                    "LEFT JOIN outbound_route_sequence s ON s.route_id = r.route_id "
                    "ORDER BY s.seq IS NULL, s.seq, r.route_id" % cols)


def patterns(db):
    # Outboundrouting::getRoutePatternsByID order.
    return db.query("SELECT route_id, match_pattern_prefix, match_pattern_pass, match_cid, prepend_digits "
                    "FROM outbound_route_patterns "
                    "ORDER BY route_id, match_pattern_prefix, match_pattern_pass, match_cid, prepend_digits")


def trunks(db):
    """Each route's trunks in failover order, with the trunk's name and technology."""
    return db.query("SELECT rt.route_id, rt.trunk_id, rt.seq, t.name, t.tech, t.disabled "
                    "FROM outbound_route_trunks rt LEFT JOIN trunks t ON t.trunkid = rt.trunk_id "
                    "ORDER BY rt.route_id, rt.seq, rt.trunk_id")
