"""Officers in the field (网格员): the live list, geofence alerts (电子围栏告警) and their stream.

- `geofence`  the scan (the database function geofence_scan, migration 0870) run by a worker
              thread beside the server on every new position and every CIVICGRID_TIMER_INTERVAL
              seconds; the hub that fans the database's alert notifications out to the page
- `api`       /api/officers, /api/alerts, /api/alerts/{id}/ack, /api/alerts/stream (Server-Sent Events)

Track playback is the `track` process (processes/patrol.py).
"""
