"""Desktop QGIS (Debian's python3-qgis 3.22, headless) against a live `civicgrid serve`.

Run by tests/test_feeds.py under /usr/bin/python3 (Debian's QGIS bindings are built for its
Python 3.11, not our venv): python3 qgis_client.py BASE PUBLIC_LAYER AUTH_LAYER USER PASSWORD [WORK_DIR]
Opens the OGC API by its typed URL (`BASE/ogc`) with the OAPIF provider, the public layer without
credentials and the other with an HTTP Basic auth config (QgsAuthMethodConfig 'Basic', user name +
password, stored in a throwaway auth database), and prints one JSON line per layer: valid, QGIS's
feature count, the features actually read, the geometry type, and the provider's error if any.
"""
import atexit
import json
import os
import shutil
import sys
import tempfile

# QGIS's auth db and settings: in the caller's folder (argv[6], the test's tmp_path) or a temp dir removed at exit
work = sys.argv[6] if len(sys.argv) > 6 else tempfile.mkdtemp(prefix="civicgrid-qgis-")
if len(sys.argv) <= 6:
    atexit.register(shutil.rmtree, work, True)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = work
os.environ["HOME"] = work
os.environ.setdefault("XDG_RUNTIME_DIR", work)

from qgis.core import Qgis, QgsApplication, QgsAuthMethodConfig, QgsVectorLayer  # noqa: E402

base, public_layer, auth_layer, user, password = sys.argv[1:6]
app = QgsApplication([], False, work)
app.initQgis()
auth = QgsApplication.authManager()
auth.setMasterPassword("civicgrid-test-master", True)
config = QgsAuthMethodConfig()
config.setName("civicgrid")
config.setMethod("Basic")
config.setConfig("username", user)
config.setConfig("password", password)
if not auth.storeAuthenticationConfig(config):
    sys.exit("could not store the Basic auth config")


def read(layer_name, authcfg=None):
    uri = f"url='{base}/ogc' typename='{layer_name}'" + (f" authcfg={authcfg}" if authcfg else "")
    layer = QgsVectorLayer(uri, layer_name, "OAPIF")
    out = {"layer": layer_name, "valid": layer.isValid(), "qgis": Qgis.QGIS_VERSION}
    if layer.isValid():
        out["featureCount"] = layer.featureCount()
        out["read"] = sum(1 for _ in layer.getFeatures())
        out["geometryType"] = layer.wkbType()
    else:
        out["error"] = layer.error().summary() or layer.dataProvider() and layer.dataProvider().error().summary()
    print(json.dumps(out), flush=True)


read(public_layer)
read(auth_layer, config.id())
app.exitQgis()
