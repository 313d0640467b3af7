"""The Chalice app: HTTP routes only, registered from the blueprints in chalicelib/api."""

from chalice.app import Chalice

from chalicelib.api.blueprints import ROUTERS

app = Chalice(app_name="abo")
app.experimental_feature_flags.update({"BLUEPRINTS"})
for router in ROUTERS:
    app.register_blueprint(router.blueprint)
