"""District exchange (多网融合): what goes to Shunyi's platform and what comes back.

What lives here
- `outbox.py`     the delivery worker of `district_outbox` (rows written by a trigger on case_event in
                  the same transaction as each case change, db/migrations/1000): per case in order,
                  SKIP LOCKED, retries with backoff and jitter, dead letters, re-send, per-case state.
- `adapters.py`   the district's interface, chosen by configuration: signed JSON over HTTPS with a
                  field mapping file (`mappings/default.yml`), or Open311 GeoReport v2 (`open311.yml`).
- `inbound.py`    messages from the district (督办, 退回, closure confirmation, 回访), each a case event.
- `api.py`        routes under /api/exchange and the worker beside the server; `cli.py` `civicgrid exchange`.
- `sql/`          the part's longer statements.
"""
