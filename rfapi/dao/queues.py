"""queues_config / queues_details (FreePBX queues module)."""
from __future__ import annotations

CONFIG_COLUMNS = ("extension", "descr", "grppre", "alertinfo", "ringing", "maxwait", "password", "ivr_id", "dest",
                  "cwignore", "queuewait", "use_queue_context", "togglehint", "qnoanswer", "callconfirm",
                  "callconfirm_id", "qregex", "agentannounce_id", "joinannounce_id", "monitor_type", "monitor_heard",
                  "monitor_spoken", "callback_id")


def configs(db):
    return db.query("SELECT %s FROM queues_config ORDER BY CAST(extension AS UNSIGNED), extension"
                    % ", ".join(CONFIG_COLUMNS), missing_ok=True)


def details(db):
    """queues.conf options as rows; static agents are the `member` rows, flags = position."""
    return db.query("SELECT id, keyword, data, flags FROM queues_details ORDER BY id, keyword, flags, data",
                    missing_ok=True)
